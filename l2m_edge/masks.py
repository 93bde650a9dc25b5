"""Face masks for high-pass generators (w_hpf > 0), drawn from landmarks: no second network.

StarGAN v2 and the official L2M-GAN compute two masks from the 98 heatmaps of a face-alignment
network (FAN, WFLW layout), `core/wing.py: preprocess`: each landmark's heatmap is truncated
below 0.1, normalised to peak 1, raised to a power and shifted per face part, then summed:

  mask 0 (skip at 32²)       lower face line (contour 8–24), eyebrows, nose, nostrils, eyes, lips
  mask 1 (skips at 64²/128²) eyes and nose only (no face line, eyebrows or mouth)

The eye heatmaps are moved down by 8 and 24 px (at 256²), so mask 1 also covers the upper cheeks.
Here the same per-part recipe is applied to Gaussian blobs centred on landmarks we already have:
MediaPipe's face mesh (the tracker's 478 points) mapped onto the 98 WFLW positions, or the exact
points SynthFaces draws. A blob's σ is 1 px of FAN's 64² heatmap (4 px at 256²); shifts and σ
scale with the mask size. Shifts below are in image rows, positive = down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


WFLW_POINTS = 98
REFERENCE_SIZE = 256  # the size StarGAN v2's preprocess works at: shifts below are pixels of it
SIGMA = 4.0  # px at 256²: FAN heatmaps have σ = 1 px at 64², upsampled 4×
TRUNCATE = 0.1  # heatmap values below this are dropped before the power


@dataclass(frozen=True)
class PartOp:
    """One face part of the WFLW layout: its points, the row shift and power, and which masks get it."""

    points: tuple[int, ...]
    shift: float  # rows at 256², + = down
    power: float
    in_mask1: bool


def _span(start: int, stop: int) -> tuple[int, ...]:
    return tuple(range(start, stop))


# WFLW indices: contour 0–32, eyebrows 33–50, nose bridge 51–54, nostrils 55–59, eyes 60–75,
# outer lips 76–87, inner lips 88–95, pupils 96/97. The upper contour (0–7, 25–32), the eyebrows'
# outer ends (33, 46) and the mouth corners (76, 82) are dropped, as in `preprocess`.
PARTS = (
    PartOp(_span(8, 25), 0, 3, False),  # chin / lower face line
    PartOp(_span(34, 46) + _span(47, 51), 7, 2, False),  # eyebrows, pulled towards the eyes
    PartOp((51,), 0, 1, True),  # nose root
    PartOp(_span(52, 55), -4, 1, True),  # nose bridge to tip, up 4
    PartOp(_span(55, 60), -8, 4, True),  # nostrils, up 8
    PartOp(_span(60, 76), 8, 3, True),  # eyes, down 8 (sharpened) ...
    PartOp(_span(60, 76), 24, 1, True),  # ... plus down 24: the upper cheeks
    PartOp(_span(77, 82), 8, 4, False),  # upper lip, down 8
    PartOp(_span(83, 88), -8, 4, False),  # lower lip, up 8
    PartOp(_span(88, 96), 2, 3, False),  # inner lips, down 2
    PartOp((96, 97), 0, 1, True),  # pupils, as detected
)

# MediaPipe face-mesh indices for each WFLW point ("left" = image left). The contour is resampled
# by arc length along the mesh's jaw line (ear to ear through the chin).
MEDIAPIPE_JAW = (234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454)
MEDIAPIPE_FOR_WFLW = {
    # eyebrows: image-left upper edge outer→inner, lower edge inner→outer; image-right mirrored
    33: 70, 34: 63, 35: 105, 36: 66, 37: 107, 38: 55, 39: 65, 40: 52, 41: 53,
    42: 336, 43: 296, 44: 334, 45: 293, 46: 300, 47: 283, 48: 282, 49: 295, 50: 285,
    51: 168, 52: 197, 53: 5, 54: 4,  # nose root → tip
    55: 98, 56: 97, 57: 2, 58: 326, 59: 327,  # nostrils, left → right
    60: 33, 61: 160, 62: 159, 63: 158, 64: 133, 65: 153, 66: 145, 67: 144,  # image-left eye
    68: 362, 69: 385, 70: 386, 71: 387, 72: 263, 73: 373, 74: 374, 75: 380,  # image-right eye
    76: 61, 77: 40, 78: 37, 79: 0, 80: 267, 81: 270, 82: 291, 83: 321, 84: 314, 85: 17, 86: 84, 87: 91,
    88: 78, 89: 81, 90: 13, 91: 311, 92: 308, 93: 402, 94: 14, 95: 178,
    96: 468, 97: 473,  # iris centres (refined mesh, 478 points)
}  # fmt: skip
# Every blob of PARTS flattened: its WFLW point, row shift (as an xy offset), power, mask-1 membership.
_POINTS = [p for part in PARTS for p in part.points]
_SHIFTS = np.array([[0.0, part.shift] for part in PARTS for _ in part.points])
_POWERS = np.array([[part.power] for part in PARTS for _ in part.points])
_IN_MASK1 = np.array([[part.in_mask1] for part in PARTS for _ in part.points])
_EYE_RINGS = {96: _span(60, 68), 97: _span(68, 76)}  # pupils from the eye outline on a 468-point mesh


def resample_polyline(points: np.ndarray, n: int) -> np.ndarray:
    """`n` points equally spaced by arc length along a polyline [K, 2], ends included."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    at = np.concatenate([[0.0], np.cumsum(seg)])
    t = np.linspace(0.0, at[-1], n)
    return np.stack([np.interp(t, at, points[:, 0]), np.interp(t, at, points[:, 1])], axis=1)


def wflw_from_mediapipe(landmarks: np.ndarray) -> np.ndarray:
    """MediaPipe face-mesh points [478 or 468, 2] → the 98 WFLW points [98, 2], same coordinates."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.ndim != 2 or landmarks.shape[0] < 468 or landmarks.shape[1] < 2:
        raise ValueError(f"expected MediaPipe face-mesh landmarks [468 or 478, 2], got {landmarks.shape}")
    out = np.empty((WFLW_POINTS, 2))
    out[:33] = resample_polyline(landmarks[list(MEDIAPIPE_JAW), :2], 33)
    for wflw, mesh in MEDIAPIPE_FOR_WFLW.items():
        if mesh < len(landmarks):
            out[wflw] = landmarks[mesh, :2]
    if len(landmarks) < 478:
        for pupil, ring in _EYE_RINGS.items():
            out[pupil] = out[list(ring)].mean(0)
    return out


def _blob_offsets(size: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    sigma = SIGMA * size / REFERENCE_SIZE
    radius = sigma * math.sqrt(-2 * math.log(TRUNCATE))  # where the heatmap falls to TRUNCATE
    r = int(math.ceil(radius)) + 1
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    return dx.ravel(), dy.ravel(), sigma, radius


def face_masks(wflw: np.ndarray, size: int) -> np.ndarray:
    """The two masks of one face or a batch: WFLW points [98, 2] or [N, 98, 2] in pixels of a
    `size`² crop → float32 [N, 2, size, size] in [0, 1]."""
    points = np.asarray(wflw, dtype=np.float64)
    if points.ndim == 2:
        points = points[None]
    if points.ndim != 3 or points.shape[1:] != (WFLW_POINTS, 2):
        raise ValueError(f"expected WFLW landmarks [98, 2] or [N, 98, 2], got {np.shape(wflw)}")
    if not np.isfinite(points).all():
        raise ValueError("landmarks contain NaN or inf")
    dx, dy, sigma, radius = _blob_offsets(size)
    out = np.zeros((len(points), 2, size * size), dtype=np.float64)
    for n, face in enumerate(points):
        centres = face[_POINTS] + _SHIFTS * (size / REFERENCE_SIZE)
        base = np.rint(centres).astype(np.int64)
        xs = base[:, :1] + dx  # [blobs, window]
        ys = base[:, 1:] + dy
        d2 = (xs - centres[:, :1]) ** 2 + (ys - centres[:, 1:]) ** 2
        value = np.exp(-_POWERS * d2 / (2 * sigma**2)) * (d2 <= radius**2)
        inside = (xs >= 0) & (xs < size) & (ys >= 0) & (ys < size) & (value > 0)
        flat = ys * size + xs
        out[n, 0] = np.bincount(flat[inside], value[inside], minlength=size * size)
        in1 = inside & _IN_MASK1
        out[n, 1] = np.bincount(flat[in1], value[in1], minlength=size * size)
    return np.clip(out, 0.0, 1.0).astype(np.float32).reshape(len(points), 2, size, size)


def masks_from_mediapipe(landmarks: list[np.ndarray] | np.ndarray, size: int) -> np.ndarray:
    """Masks of faces whose MediaPipe landmarks are given in pixels of their `size`² crops."""
    batch = [landmarks] if isinstance(landmarks, np.ndarray) and landmarks.ndim == 2 else list(landmarks)
    if not batch:
        return np.zeros((0, 2, size, size), dtype=np.float32)
    return face_masks(np.stack([wflw_from_mediapipe(lm) for lm in batch]), size)
