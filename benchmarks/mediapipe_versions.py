"""Do MediaPipe 0.10.18 (the aarch64 pin) and 0.10.21 (the x86-64 pin) track faces alike?

    python benchmarks/mediapipe_versions.py record --out mp.npz        # in each interpreter
    python benchmarks/mediapipe_versions.py compare A.npz B.npz --out benchmarks/mediapipe_versions

`record` runs the project's tracker (`runtime.tracking.FaceTracker`, i.e. `l2m_edge.face_mesh`)
with whatever MediaPipe the interpreter has on real photos: `skimage.data.astronaut()` as shipped,
rotated, shrunk, mirrored, darkened and cropped, the camera man (`skimage.data.camera()`), frames
of the demo's astronaut and SynthFaces-actor clips (`runtime.clip`), each in static-image mode with
and without iris refinement; and the first `VIDEO_FRAMES` frames of both clips through a video-mode
tracker with the runtime's smoothing, as `l2m-edge run` tracks them. It stores the landmarks
(NaN where no face was found) and the MediaPipe version.

`compare` recomputes, from each file's landmarks, what the runtime draws from them in the 256²
aligned crop each version's landmarks give: the two high-pass masks (`l2m_edge.masks`) and the
feathered paste-back alpha (`runtime.composite`), and writes the landmark distance (px of the
frame), the masks' IoU above 0.5 and their mean and largest difference to `<out>.json` and
`<out>.md`, with the same figures for the first record against itself with every landmark moved
by `LANDMARK_TOLERANCE_PX` (what the tolerance allows the masks to do).
tests/test_mediapipe_versions.py holds the installed MediaPipe to the recorded 0.10.18 landmarks.

The tolerance, for two versions on one CPU. Across CPUs the kernels round differently: under qemu
on an emulated Neoverse N1, 0.10.18's points differ from x86's by 0.008 px on average and 0.31 px at
most on these cases (benchmarks/arm64.md). FaceMesh's own jitter on a still face with 2 grey levels of
sensor noise is ~0.3 px RMS (benchmarks/runtime.md), which the runtime smooths. Two versions on one
CPU gave 0 px here; 0.05 px lets a kernel change through and stays far below the jitter. A mask is not smooth in its landmarks (blobs are cut where they fall below
0.1; the paste alpha is a rasterised polygon), so one pixel may jump by 0.1–0.2 for a 0.01 px move:
the masks are held by IoU and mean difference, bounded by what a 0.05 px move of every point gives.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from l2m_edge.masks import masks_from_mediapipe
from l2m_edge.runtime.align import align_face, landmarks_in_crop
from l2m_edge.runtime.clip import astronaut_frame, actor_frame
from l2m_edge.runtime.composite import crop_oval, draw_crop_mask
from l2m_edge.runtime.tracking import FaceTracker

VIDEO_FRAMES = 12  # per clip, at 25 fps: the tracker's video mode follows the face from frame to frame
CROP = 256  # the official L2M-GAN size, where the masks' recipe is defined
FPS = 25.0
LANDMARK_TOLERANCE_PX = 0.05  # largest distance between two versions' points, px of the frame (module docstring)
MASK_IOU_MIN = 0.95  # every point moved by the tolerance gives IoU ≥ 0.96 on these cases
ALPHA_IOU_MIN = 0.98  # … and ≥ 0.99 for the paste alpha
MASK_MEAN_DIFF_MAX = 0.01  # mean |difference| over a 256² mask (high-pass and alpha): ≤ 0.002 at the tolerance


def _astronaut() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[..., ::-1])


def _rotated(image: np.ndarray, degrees: float, scale: float = 1.0) -> np.ndarray:
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, scale)
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


@lru_cache(maxsize=1)
def stills() -> dict[str, np.ndarray]:
    """Real photos (BGR uint8) for static-image mode: one face each, in poses and sizes a camera gives."""
    from skimage import data

    photo = _astronaut()
    gamma = (255.0 * (np.arange(256) / 255.0) ** 1.8).astype(np.uint8)
    shots = {
        "astronaut": photo,
        "astronaut_rot+20": _rotated(photo, 20.0),
        "astronaut_rot-30": _rotated(photo, -30.0),
        "astronaut_small": _rotated(photo, 0.0, 0.45),
        "astronaut_mirror": np.ascontiguousarray(photo[:, ::-1]),
        "astronaut_dark": gamma[photo],
        "astronaut_face_crop": cv2.resize(photo[20:276, 120:376], (480, 480), interpolation=cv2.INTER_CUBIC),
        "camera": cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2BGR),
    }
    for t in (0.0, 1.1, 2.3):
        shots[f"astronaut_clip_t{t:g}"] = astronaut_frame(t)
    for t in (0.0, 0.9, 1.7, 2.6):
        shots[f"actor_clip_t{t:g}"] = actor_frame(t)
    return shots


@lru_cache(maxsize=1)
def videos() -> dict[str, list[np.ndarray]]:
    """The demo's two clips, first `VIDEO_FRAMES` frames each."""
    return {name: [frame(i / FPS) for i in range(VIDEO_FRAMES)] for name, frame in (("astronaut_clip", astronaut_frame), ("actor_clip", actor_frame))}


def _first_face(tracker: FaceTracker, frame: np.ndarray, t: float, points: int) -> np.ndarray:
    faces = tracker.update(frame, t)
    return faces[0].landmarks.astype(np.float32) if faces else np.full((points, 2), np.nan, np.float32)


def track() -> dict[str, np.ndarray]:
    """Landmarks [frames, points, 2] of every case, keyed `still/<name>/<468|478>` and `video/<name>`."""
    out: dict[str, np.ndarray] = {}
    shots = stills()
    for refine, points in ((False, 468), (True, 478)):
        tracker = FaceTracker(still=True, refine_iris=refine)
        for name, image in shots.items():
            out[f"still/{name}/{points}"] = _first_face(tracker, image, 0.0, points)[None]
        tracker.close()
    for name, frames in videos().items():
        tracker = FaceTracker()  # what `l2m-edge run` makes for an attribute without eyes: video mode, smoothing
        out[f"video/{name}"] = np.stack([_first_face(tracker, frame, i / FPS, 468) for i, frame in enumerate(frames)])
        tracker.close()
    return out


def record(path: Path) -> Path:
    import mediapipe

    np.savez_compressed(path, mediapipe=np.array(mediapipe.__version__), **track())
    return path


def load(path: Path) -> tuple[str, dict[str, np.ndarray]]:
    with np.load(path) as f:
        return str(f["mediapipe"]), {k: f[k] for k in f.files if k != "mediapipe"}


def drawn(frame: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the runtime draws from a face's landmarks in its 256² crop: high-pass masks [2, S, S] and paste alpha [S, S], both in [0, 1]."""
    aligned = align_face(frame, landmarks, CROP)
    masks = masks_from_mediapipe(landmarks_in_crop(landmarks, aligned), CROP)[0]
    alpha = draw_crop_mask(crop_oval(landmarks, aligned.matrix), CROP).alpha.astype(np.float32) / 255.0
    return masks, alpha


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0.5, b > 0.5
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def frames_of(key: str) -> Iterator[np.ndarray]:
    kind, name = key.split("/")[:2]
    if kind == "still":
        yield stills()[name]
    else:
        yield from videos()[name]


def compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, dict]:
    """Per case: faces found by each, landmark distance (px), mask IoU and largest difference."""
    if a.keys() != b.keys():
        raise ValueError(f"the two records hold different cases: {sorted(a.keys() ^ b.keys())}")
    cases = {}
    for key in sorted(a):
        found_a, found_b = ~np.isnan(a[key][:, 0, 0]), ~np.isnan(b[key][:, 0, 0])
        row = {"frames": len(found_a), "found_a": int(found_a.sum()), "found_b": int(found_b.sum())}
        both = found_a & found_b
        if both.any():
            d = np.linalg.norm(a[key][both].astype(np.float64) - b[key][both], axis=-1)
            row |= {"landmark_max_px": float(d.max()), "landmark_mean_px": float(d.mean()), "face_width_px": float(np.ptp(a[key][both][0, :, 0]))}
            ious, alpha_ious, mask_diffs, alpha_diffs = [], [], [], []
            for frame, la, lb in zip((f for f, ok in zip(frames_of(key), both) if ok), a[key][both], b[key][both]):
                (ma, aa), (mb, ab) = drawn(frame, la), drawn(frame, lb)
                ious += [_iou(ma[0], mb[0]), _iou(ma[1], mb[1])]
                alpha_ious.append(_iou(aa, ab))
                mask_diffs.append(np.abs(ma - mb))
                alpha_diffs.append(np.abs(aa - ab))
            row |= {
                "mask_iou_min": min(ious),
                "mask_mean_abs_diff": max(float(d.mean()) for d in mask_diffs),
                "mask_max_abs_diff": max(float(d.max()) for d in mask_diffs),
                "alpha_iou_min": min(alpha_ious),
                "alpha_mean_abs_diff": max(float(d.mean()) for d in alpha_diffs),
                "alpha_max_abs_diff": max(float(d.max()) for d in alpha_diffs),
            }
        cases[key] = row
    return cases


def summary(cases: dict[str, dict]) -> dict[str, float]:
    rows = [r for r in cases.values() if "landmark_max_px" in r]
    return {
        "cases": len(cases),
        "frames_with_face_in_both": sum(min(r["found_a"], r["found_b"]) for r in cases.values()),
        "faces_found_differently": sum(r["found_a"] != r["found_b"] for r in cases.values()),
        "landmark_max_px": max(r["landmark_max_px"] for r in rows),
        "landmark_mean_px": float(np.mean([r["landmark_mean_px"] for r in rows])),
        **{k: min(r[k] for r in rows) for k in ("mask_iou_min", "alpha_iou_min")},
        **{k: max(r[k] for r in rows) for k in ("mask_mean_abs_diff", "mask_max_abs_diff", "alpha_mean_abs_diff", "alpha_max_abs_diff")},
    }


def within_tolerance(total: dict[str, float]) -> list[str]:
    """The figures of `summary` that break a tolerance, as one phrase each (empty: the two agree)."""
    bounds = [
        ("faces_found_differently", total["faces_found_differently"] == 0, "0"),
        ("landmark_max_px", total["landmark_max_px"] <= LANDMARK_TOLERANCE_PX, f"≤ {LANDMARK_TOLERANCE_PX}"),
        ("mask_iou_min", total["mask_iou_min"] >= MASK_IOU_MIN, f"≥ {MASK_IOU_MIN}"),
        ("alpha_iou_min", total["alpha_iou_min"] >= ALPHA_IOU_MIN, f"≥ {ALPHA_IOU_MIN}"),
        ("mask_mean_abs_diff", total["mask_mean_abs_diff"] <= MASK_MEAN_DIFF_MAX, f"≤ {MASK_MEAN_DIFF_MAX}"),
        ("alpha_mean_abs_diff", total["alpha_mean_abs_diff"] <= MASK_MEAN_DIFF_MAX, f"≤ {MASK_MEAN_DIFF_MAX}"),
    ]
    return [f"{name} {total[name]:.4g}, wanted {bound}" for name, ok, bound in bounds if not ok]


def displaced(record: dict[str, np.ndarray], px: float, seed: int = 0) -> dict[str, np.ndarray]:
    """Every landmark of `record` moved by `px` in a random direction."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, points in record.items():
        angle = rng.uniform(0.0, 2 * math.pi, points.shape[:-1])
        out[key] = (points + px * np.stack([np.cos(angle), np.sin(angle)], axis=-1)).astype(np.float32)
    return out


def _environment() -> dict[str, str]:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
    flags = " ".join(f for f in fields.get("Flags", "").split() if f.startswith(("avx", "fma", "f16c", "amx")))
    return {
        "cpu": f"{fields.get('Model name', '?').strip()}, flags {flags}",
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
    }


def _markdown(versions: tuple[str, str], cases: dict[str, dict], total: dict[str, float], sensitivity: dict[str, float], env: dict[str, str]) -> str:
    a, b = versions
    lines = [
        f"# MediaPipe {a} vs {b}: the tracker's landmarks and the masks drawn from them",
        "",
        "Made by `python benchmarks/mediapipe_versions.py` (record in each interpreter, then compare);",
        f"{env['machine']}, {env['cpu']}, Python {env['python']}, numpy {env['numpy']}, OpenCV {env['opencv']}.",
        "Landmark distances are in pixels of the frame; masks are compared in the 256² crop each version's",
        "landmarks align (high-pass masks: IoU of mask > 0.5, worst of both masks; mean and largest |difference|; paste alpha likewise).",
        "",
        f"Tolerance (why: the script's docstring): landmarks ≤ {LANDMARK_TOLERANCE_PX} px, high-pass mask IoU ≥ {MASK_IOU_MIN},",
        f"paste alpha IoU ≥ {ALPHA_IOU_MIN}, mean |difference| of either ≤ {MASK_MEAN_DIFF_MAX}. "
        + ("**Within it.**" if not within_tolerance(total) else "**Outside it:** " + "; ".join(within_tolerance(total))),
        "",
        "| | faces found differently | landmark max px | landmark mean px | mask IoU min | mask mean diff | mask max diff | alpha IoU min | alpha mean diff | alpha max diff |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        _summary_row(f"{a} vs {b}", total),
        _summary_row(f"{a} vs itself, every point moved {LANDMARK_TOLERANCE_PX} px", sensitivity),
        "",
        "| case | frames | faces found (a / b) | face width px | landmark max px | mask IoU min | mask max diff | alpha IoU min | alpha max diff |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, r in cases.items():
        if "landmark_max_px" not in r:
            lines.append(f"| {key} | {r['frames']} | {r['found_a']} / {r['found_b']} | – | – | – | – | – | – |")
            continue
        lines.append(
            f"| {key} | {r['frames']} | {r['found_a']} / {r['found_b']} | {r['face_width_px']:.0f} | {r['landmark_max_px']:.2g} | "
            f"{r['mask_iou_min']:.4f} | {r['mask_max_abs_diff']:.2g} | {r['alpha_iou_min']:.4f} | {r['alpha_max_abs_diff']:.2g} |"
        )
    return "\n".join(lines) + "\n"


def _summary_row(label: str, t: dict[str, float]) -> str:
    return (
        f"| {label} | {t['faces_found_differently']} | {t['landmark_max_px']:.3g} | {t['landmark_mean_px']:.3g} | {t['mask_iou_min']:.4f} | "
        f"{t['mask_mean_abs_diff']:.2g} | {t['mask_max_abs_diff']:.2g} | {t['alpha_iou_min']:.4f} | {t['alpha_mean_abs_diff']:.2g} | {t['alpha_max_abs_diff']:.2g} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="track every case with this interpreter's MediaPipe")
    rec.add_argument("--out", type=Path, required=True)
    cmp_ = sub.add_parser("compare", help="compare two records")
    cmp_.add_argument("a", type=Path)
    cmp_.add_argument("b", type=Path)
    cmp_.add_argument("--out", type=Path, required=True, help="stem: writes <out>.json and <out>.md")
    args = parser.parse_args(argv)
    if args.command == "record":
        print(record(args.out))
        return 0
    (va, a), (vb, b) = load(args.a), load(args.b)
    cases = compare(a, b)
    total, env = summary(cases), _environment()
    sensitivity = summary(compare(a, displaced(a, LANDMARK_TOLERANCE_PX)))
    record_ = {"a": va, "b": vb, "environment": env, "summary": total, "outside_tolerance": within_tolerance(total), "tolerance_displacement": sensitivity, "cases": cases}
    args.out.with_suffix(".json").write_text(json.dumps(record_, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(_markdown((va, vb), cases, total, sensitivity, env))
    print(json.dumps(total, indent=1))
    return 1 if within_tolerance(total) else 0


if __name__ == "__main__":
    sys.exit(main())
