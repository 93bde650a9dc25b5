"""What computing a tracked face's style code every K frames saves, per preset (not a test).

For each model: an OpenVINO FP32 export as one graph and as two (`--split-style`), run on one real
SynthFaces crop at batch 1. Three contenders run interleaved block by block (a block is K_MAX frames),
so the load of a shared machine falls on all alike:
  one graph       — the editor graph every frame (today's `--style-every 1`)
  split, K = 1    — style stage + generator stage every frame
  split, K = 4    — style stage on the block's first frame, generator stage every frame
Figures: process CPU ms per frame (OpenVINO's threads included) and wall ms, and the style stage's
share of the model (style ÷ (style + generator), CPU).
Usage: python benchmarks/style_reuse.py [--presets demo,realtime,mobile] [--rounds 30] [--json benchmarks/style_reuse.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

K_MAX = 4


def _checkpoint(preset: str, workdir: Path) -> Path:
    """The shipped demo checkpoint, or a seeded random-weight editor of `preset`."""
    import torch

    from l2m_edge.checkpoint import save_checkpoint
    from l2m_edge.model import build_editor
    from l2m_edge.runtime.demo import shipped_demo_checkpoint

    if preset == "demo":
        return shipped_demo_checkpoint()
    torch.manual_seed(0)
    return save_checkpoint(build_editor(preset, ("no_smile", "smile"), attribute="smile"), workdir / f"{preset}.safetensors")


def _block(run_frame, frames: int) -> tuple[float, float]:  # noqa: ANN001
    """(CPU ms, wall ms) per frame over `frames` calls of run_frame(i)."""
    w, c = time.perf_counter(), time.process_time()
    for i in range(frames):
        run_frame(i)
    return 1000 * (time.process_time() - c) / frames, 1000 * (time.perf_counter() - w) / frames


def measure(preset: str, rounds: int, workdir: Path) -> dict:
    from l2m_edge.backends import open_backend
    from l2m_edge.export import export_model
    from l2m_edge.export.calibration import parity_batch

    checkpoint = _checkpoint(preset, workdir)
    one = open_backend(export_model(checkpoint, "openvino", workdir / f"{preset}-one", precision="fp32", force=True))
    split = open_backend(export_model(checkpoint, "openvino", workdir / f"{preset}-split", precision="fp32", split_style=True, force=True))
    batch = parity_batch(one.info.img_size, len(one.info.domains), count=1, seed=4242, attribute=one.info.attribute)
    x, s, t, a = batch.image, batch.source_domain, np.ones(1, np.int64) - batch.source_domain, np.ones(1, np.float32)
    codes: list = []

    def split_frame(every: int):  # noqa: ANN202
        def frame(i: int) -> None:
            if i % every == 0:
                codes[:] = split.style_code(x, s, t)
            split.generate(x, *codes, a)

        return frame

    contenders = {
        "one graph": lambda i: one.infer(x, s, t, a),
        "split, K=1": split_frame(1),
        f"split, K={K_MAX}": split_frame(K_MAX),
        "style": lambda i: split.style_code(x, s, t),  # the style stage alone, for its share
    }
    for fn in contenders.values():  # warm-up
        _block(fn, K_MAX)
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    wall: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            c, w = _block(fn, K_MAX)
            cpu[name].append(c)
            wall[name].append(w)
    median = {name: round(float(np.median(v)), 3) for name, v in cpu.items()}
    median_wall = {name: round(float(np.median(v)), 3) for name, v in wall.items()}
    generator = median["split, K=1"] - median["style"]
    result = {
        "preset": preset,
        "img_size": one.info.img_size,
        "cpu_ms_per_frame": median,
        "wall_ms_per_frame": median_wall,
        "style_share_of_model_cpu": round(median["style"] / median["split, K=1"], 3),
        "generator_cpu_ms": round(generator, 3),
        f"K={K_MAX} saves vs one graph (CPU)": round(1 - median[f"split, K={K_MAX}"] / median["one graph"], 3),
        f"K={K_MAX} saves vs split K=1 (CPU)": round(1 - median[f"split, K={K_MAX}"] / median["split, K=1"], 3),
        "split K=1 vs one graph (CPU)": round(median["split, K=1"] / median["one graph"], 3),
        "rounds": rounds,
    }
    one.close()
    split.close()
    print(json.dumps(result))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="demo,realtime,mobile")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    flags = next((line.split(":", 1)[1].split() for line in open("/proc/cpuinfo") if line.startswith("flags")), [])
    machine = {
        "cpu": platform.processor() or next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?"),
        "cores": os.cpu_count(),
        "simd": [f for f in flags if f.startswith(("avx", "amx", "fma", "f16c"))],
        "load_average_before": os.getloadavg(),
    }
    workdir = Path(tempfile.mkdtemp(prefix="style-reuse-"))
    results = [measure(preset, args.rounds, workdir) for preset in args.presets.split(",")]
    machine["load_average_after"] = os.getloadavg()
    print(json.dumps(machine))
    if args.json is not None:
        from l2m_edge.io import write_text_atomic

        write_text_atomic(args.json, json.dumps({"machine": machine, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
