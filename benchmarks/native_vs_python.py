"""Latency of the native runner next to the Python OpenVINO backend on one artifact (benchmarks/native.md).

Both run the same OpenVINO IR with the same settings (PERFORMANCE_HINT=LATENCY, the given threads and
precision hint); the difference is what Python adds around `infer`. Usage:

    python benchmarks/native_vs_python.py --preset mobile --threads 2 --iters 200
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from l2m_edge.bench.stats import latency_stats
from l2m_edge.contract.manifest import Manifest, describe_file, write_manifest
from l2m_edge.contract.signature import editor_signature
from l2m_edge.export.openvino_ir import export_openvino
from l2m_edge.export.to_onnx import export_onnx
from l2m_edge.model import build_editor
from l2m_edge.backends.native import build_runner, run_runner
from l2m_edge.backends.openvino_backend import OpenVINOBackend


def random_weight_artifact(preset: str, directory: Path) -> Path:
    """An FP32 IR of a seeded random-weight editor. Built without `export_model`, whose PyTorch parity
    bar (1e-4) random mobile weights miss (3e-4: untrained activations are large); latency is unaffected."""
    torch.manual_seed(0)
    editor = build_editor(preset, ("no_smile", "smile"), attribute="smile").eval()
    directory.mkdir(parents=True)
    onnx_path = export_onnx(editor, directory / "model.onnx")
    export_openvino(onnx_path, directory / "model.xml", "fp32")
    onnx_path.unlink()
    signature = editor_signature(editor.config, batch=1)
    write_manifest(directory, Manifest(
        format="openvino", target="openvino", precision="fp32", compute_precision="fp32", files=[describe_file(directory, "model.xml"), describe_file(directory, "model.bin")],
        inputs=list(signature.inputs), outputs=list(signature.outputs), preset=preset,
        config=json.loads(editor.config.to_json()), domains=list(editor.domains), attribute="smile", checkpoint_sha256="random-weights",
        tools={}, options={},
    ))
    return directory


def python_latency(artifact: Path, image: np.ndarray, precision: str | None, threads: int, warmup: int, iters: int) -> dict:
    backend = OpenVINOBackend(artifact, device="CPU", precision=precision, threads=threads)
    source, target, strength = np.array([0]), np.array([1]), np.array([1.0], dtype=np.float32)
    samples = []
    for i in range(warmup + iters):
        start = time.perf_counter()
        backend.infer(image, source, target, strength)
        if i >= warmup:
            samples.append((time.perf_counter() - start) * 1000)
    stats = latency_stats(samples)
    result = {"runner": "python", "precision": precision or "default", "actual_precision": backend.precision, "latency_ms": stats, "fps": 1000 / stats["mean"]}
    backend.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="mobile")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2, help="alternate native and Python this many times (shared CPUs drift)")
    args = parser.parse_args()

    runner = build_runner().runner
    work = Path(tempfile.mkdtemp(prefix="native-bench-"))
    artifact = random_weight_artifact(args.preset, work / "ov")
    size = json.loads((artifact / "manifest.json").read_text())["config"]["img_size"]
    image = (np.random.default_rng(0).random((1, 3, size, size)) * 2 - 1).astype("<f4")
    image.tofile(work / "image.bin")

    rows = []
    for round_ in range(args.rounds):
        for precision in ("fp32", None):
            native = run_runner(runner, artifact, work / "image.bin", precision=precision or "default", threads=args.threads, warmup=args.warmup, iters=args.iters)
            rows.append({"round": round_, **native})
            rows.append({"round": round_, **python_latency(artifact, image, precision, args.threads, args.warmup, args.iters)})
    print(json.dumps({"preset": args.preset, "threads": args.threads, "iters": args.iters, "load_average": os.getloadavg(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
