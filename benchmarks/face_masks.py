"""The high-pass masks drawn from landmarks: a picture over a real face and their cost per frame.

    python benchmarks/face_masks.py [--out benchmarks]

Writes face_masks.png (the astronaut aligned in the official CelebA-HQ framing, with the MediaPipe
points mapped to the 98 WFLW positions, mask 0 and mask 1 over the face; below, a SynthFaces face
with its exact landmarks) and face_masks.json (milliseconds per face at 256² and 128², wall and CPU
time, with the CPU it ran on). The masks replace StarGAN v2's FAN network with arithmetic on
landmarks the tracker already has.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np

from l2m_edge.data.synthfaces import SynthFaces, render_image
from l2m_edge.masks import face_masks, masks_from_mediapipe, wflw_from_mediapipe
from l2m_edge.runtime.align import align_face, landmarks_in_crop
from l2m_edge.runtime.tracking import FaceTracker


def _overlay(bgr: np.ndarray, mask: np.ndarray) -> np.ndarray:
    heat = cv2.applyColorMap((mask * 255).astype(np.uint8), cv2.COLORMAP_JET)
    alpha = (0.65 * mask)[..., None]
    return (bgr * (1 - alpha) + heat * alpha).astype(np.uint8)


def _row(bgr: np.ndarray, wflw: np.ndarray, masks: np.ndarray) -> np.ndarray:
    points = bgr.copy()
    for x, y in wflw:
        cv2.circle(points, (int(round(x)), int(round(y))), 2, (0, 255, 0), -1, cv2.LINE_AA)
    return np.hstack([points, _overlay(bgr, masks[0]), _overlay(bgr, masks[1])])


def _cpu() -> str:
    """lscpu's model name, CPU count and vector flags (what numpy's kernels can use)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return platform.processor() or "unknown"
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    flags = [f for f in fields.get("Flags", "").split() if f.startswith(("avx", "amx", "fma"))]
    return f"{fields.get('Model name', '?').strip()}, {fields.get('CPU(s)', '?').strip()} CPUs, flags {' '.join(flags)}"


def _time(fn, repeats: int = 200) -> dict[str, float]:
    fn()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        fn()
    return {"wall_ms": 1000 * (time.perf_counter() - wall) / repeats, "cpu_ms": 1000 * (time.process_time() - cpu) / repeats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    from skimage import data

    frame = np.ascontiguousarray(data.astronaut()[..., ::-1])
    tracker = FaceTracker(smoothing=False)
    try:
        face = tracker.update(frame, 0.0)[0]
    finally:
        tracker.close()
    aligned = align_face(frame, face.landmarks, 256, "celeba-hq")
    points = landmarks_in_crop(face.landmarks, aligned)
    real = _row(aligned.crop, wflw_from_mediapipe(points), masks_from_mediapipe(points, 256)[0])
    synth = SynthFaces(2, 256)
    drawn = np.ascontiguousarray(render_image(synth.identity(1), "smile", True, 256)[..., ::-1])
    exact = synth.landmarks(1)
    args.out.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out / "face_masks.png"), np.vstack([real, _row(drawn, exact, face_masks(exact, 256)[0])]))

    timings = {f"{size}": _time(lambda s=size: masks_from_mediapipe(points * s / 256, s)) for size in (256, 128)}
    report = {
        "what": "masks_from_mediapipe for one face (478 MediaPipe points → 98 WFLW → two soft masks), per call",
        "cpu": _cpu(),
        "numpy": np.__version__,
        "per_face_ms": timings,
        "note": "shared 2-vCPU machine: other jobs ran at the same time",
    }
    (args.out / "face_masks.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
