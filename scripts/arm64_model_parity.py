"""The editor graph alone on both machines: the same face crops in, the outputs out (scripts/arm64_check.sh).

    python arm64_model_parity.py inputs --work DIR                  # x86: the clip's aligned faces → DIR/model_inputs.npz
    python arm64_model_parity.py infer --work DIR --backend NAME --platform P   # each machine → DIR/model_out/P-NAME.npy

`run`'s frames differ between the machines by more than the graph does, since each machine's
tracker places the crop a little differently; fed identical crops, the graph's outputs are held to
the precision's parity bar (scripts/arm64_compare.py). Imports nothing of torch: it runs in the root.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ARTIFACT_FOR = {"onnxruntime": "art-onnx", "openvino": "art-openvino"}
SOURCE, TARGET = "no_smile", "smile"


def make_inputs(work: Path) -> Path:
    import cv2

    from l2m_edge.backends import open_artifact
    from l2m_edge.runtime.align import align_face, crop_to_tensor
    from l2m_edge.runtime.tracking import FaceTracker

    manifest = open_artifact(work / ARTIFACT_FOR["onnxruntime"]).manifest
    size = manifest.inputs[0].shape[-1]
    tracker = FaceTracker()
    crops = []
    for i, path in enumerate(sorted((work / "clip").glob("*.png"))):
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        faces = tracker.update(frame, i / 25.0)
        crops += [align_face(frame, face.landmarks, size, manifest.framing).crop for face in faces]
    tracker.close()
    n = len(crops)
    out = work / "model_inputs.npz"
    np.savez(out, image=crop_to_tensor(crops), source=np.full(n, manifest.domains.index(SOURCE)), target=np.full(n, manifest.domains.index(TARGET)), strength=np.ones(n, np.float32))
    return out


def infer(work: Path, backend: str, platform: str) -> Path:
    from l2m_edge.backends import open_backend

    feed = np.load(work / "model_inputs.npz")
    engine = open_backend(work / ARTIFACT_FOR[backend], backend)
    outputs = [engine.infer(feed["image"][i : i + 1], feed["source"][i : i + 1], feed["target"][i : i + 1], feed["strength"][i : i + 1]) for i in range(len(feed["image"]))]
    engine.close()
    (work / "model_out").mkdir(exist_ok=True)
    out = work / "model_out" / f"{platform}-{backend}.npy"
    np.save(out, np.concatenate(outputs))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("inputs").add_argument("--work", type=Path, required=True)
    run = sub.add_parser("infer")
    run.add_argument("--work", type=Path, required=True)
    run.add_argument("--backend", choices=sorted(ARTIFACT_FOR), required=True)
    run.add_argument("--platform", required=True)
    args = parser.parse_args(argv)
    print(make_inputs(args.work) if args.command == "inputs" else infer(args.work, args.backend, args.platform))
    return 0


if __name__ == "__main__":
    sys.exit(main())
