"""Paste an edited crop back into the frame: feathered face-oval mask, colour matched, no seam.

Only pixels where the mask is non-zero change; every other pixel of the frame is copied
bit for bit (the blend is computed inside the mask's bounding box and only kept where alpha > 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .align import FACE_OVAL


@dataclass(frozen=True)
class Pasted:
    """Where a face went: the region of the frame and its alpha there (0 = untouched)."""

    y0: int
    y1: int
    x0: int
    x1: int
    alpha: np.ndarray  # float32 [y1−y0, x1−x0]


def oval_mask(landmarks: np.ndarray, frame_shape: tuple[int, ...], feather: float | None = None) -> Pasted | None:
    """The feathered face-oval mask clipped to the frame; alpha falls to exactly 0 at the oval's edge."""
    h, w = frame_shape[:2]
    polygon = landmarks[list(FACE_OVAL)].astype(np.float32)
    # The mask is drawn on a canvas around the whole oval with a zero margin (so the distance to the
    # outline is right at every side, also where the face leaves the frame), then clipped to the frame.
    cx0, cy0 = np.floor(polygon.min(0)).astype(int) - 1
    cx1, cy1 = np.ceil(polygon.max(0)).astype(int) + 2
    x0, y0, x1, y1 = max(cx0, 0), max(cy0, 0), min(cx1, w), min(cy1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    face_width = float(polygon[:, 0].max() - polygon[:, 0].min())
    feather = feather if feather is not None else max(2.0, 0.1 * face_width)
    filled = np.zeros((cy1 - cy0, cx1 - cx0), dtype=np.uint8)
    # fillPoly with 4 fractional bits keeps the sub-pixel outline steady while the face moves
    pts = np.round((polygon - [cx0, cy0]) * 16).astype(np.int32)
    cv2.fillPoly(filled, [pts], 255, lineType=cv2.LINE_8, shift=4)
    # distance from the outline, inside only: alpha is 0 outside, rising smoothly to 1 inwards
    distance = cv2.distanceTransform(filled, cv2.DIST_L2, 3)[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0]
    t = np.clip(distance / feather, 0.0, 1.0)
    alpha = (t * t * (3.0 - 2.0 * t)).astype(np.float32)
    return Pasted(int(y0), int(y1), int(x0), int(x1), alpha)


def match_colour(edit: np.ndarray, reference: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """`edit` (float BGR in [0,1]) with its Lab mean/std inside `weight` moved to those of `reference`.

    The model's colours drift from the frame's (lighting, camera, a model trained on other
    faces); matching statistics inside the face removes the drift and with it the visible seam.
    """
    w = weight[..., None]
    total = float(weight.sum())
    if total < 1.0:
        return edit
    lab_e = cv2.cvtColor(edit, cv2.COLOR_BGR2Lab)
    lab_r = cv2.cvtColor(reference, cv2.COLOR_BGR2Lab)
    mu_e = (lab_e * w).sum((0, 1)) / total
    mu_r = (lab_r * w).sum((0, 1)) / total
    sd_e = np.sqrt((((lab_e - mu_e) ** 2) * w).sum((0, 1)) / total) + 1e-3
    sd_r = np.sqrt((((lab_r - mu_r) ** 2) * w).sum((0, 1)) / total) + 1e-3
    gain = np.clip(sd_r / sd_e, 0.5, 2.0)
    matched = ((lab_e - mu_e) * gain + mu_r).astype(np.float32)
    return np.clip(cv2.cvtColor(matched, cv2.COLOR_Lab2BGR), 0.0, 1.0)


def paste_face(
    frame: np.ndarray, edited_crop: np.ndarray, matrix: np.ndarray, landmarks: np.ndarray, colour_match: bool = True
) -> Pasted | None:
    """Blend `edited_crop` (the model's output for the crop `matrix` maps the frame to) into `frame` in place."""
    region = oval_mask(landmarks, frame.shape)
    if region is None:
        return None
    y0, y1, x0, x1 = region.y0, region.y1, region.x0, region.x1
    inverse = cv2.invertAffineTransform(matrix)
    inverse[:, 2] -= (x0, y0)  # crop → this region's coordinates
    warped = cv2.warpAffine(edited_crop, inverse, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    base_u8 = frame[y0:y1, x0:x1]
    base = base_u8.astype(np.float32)
    edit = warped.astype(np.float32)
    if colour_match:
        edit = match_colour(edit / 255.0, base / 255.0, region.alpha) * 255.0
    a = region.alpha[..., None]
    blended = (base + a * (edit - base) + 0.5).clip(0, 255).astype(np.uint8)
    frame[y0:y1, x0:x1] = np.where(a > 0, blended, base_u8)
    return region
