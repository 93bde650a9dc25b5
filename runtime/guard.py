"""The reconstruction guard: does this model represent this face at all?

An editor trained on other faces (the shipped SynthFaces demo on a real photo) turns any face
into one of its own: its "edit" is a smudge, and nothing else in the pipeline can tell. At
α = 0 L2M-GAN must give the input back, so the PSNR of that output against the input inside
the face oval measures how well the model represents the face. It is measured once per track
(one extra row in the first batch of the track) and a track below `MIN_PSNR_DB` gets a warning
that says what to do.

The PSNR is taken on the face's coarse structure (blurred, on a 16×16 grid): a small model
loses fine texture even on faces it represents, which full-resolution PSNR mixes in. Measured
with the shipped demo model (64², SynthFaces) on the demo clips: a SynthFaces face 31.1–31.6 dB
(20.8 dB at full resolution), the real astronaut 23.2–23.4 dB (17.8 dB): an 8 dB gap instead of 3.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_PSNR_DB = 27.0
STRUCTURE_GRID = 16  # the coarse grid the structure is compared on


@dataclass(frozen=True)
class GuardReading:
    track_id: int
    psnr_db: float

    @property
    def represented(self) -> bool:
        return self.psnr_db >= MIN_PSNR_DB


def masked_psnr(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> float:
    """PSNR (dB, peak 255) of two uint8 images [S,S,3] where `weight` [S,S] (any scale) is > 0, weighted by it."""
    w = weight.astype(np.float64)[..., None]
    total = float(w.sum()) * 3
    if total <= 0:
        return float("nan")
    mse = float((((a.astype(np.float64) - b.astype(np.float64)) ** 2) * w).sum() / total)
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def structure_psnr(reconstruction: np.ndarray, face: np.ndarray, alpha: np.ndarray) -> float:
    """Masked PSNR of two uint8 crops after a blur of σ = side/32 and an area resize to 16×16."""
    side = face.shape[0]

    def coarse(image: np.ndarray) -> np.ndarray:
        blurred = cv2.GaussianBlur(image, (0, 0), side / 32) if image.ndim == 3 else image
        return cv2.resize(blurred, (STRUCTURE_GRID, STRUCTURE_GRID), interpolation=cv2.INTER_AREA)

    return masked_psnr(coarse(reconstruction), coarse(face), coarse(alpha))


def guard_warning(readings: list[GuardReading]) -> str | None:
    """One line for the user when some face is not represented by the model, else None."""
    poor = [r for r in readings if not r.represented]
    if not poor:
        return None
    worst = min(r.psnr_db for r in poor)
    return (
        f"this model does not represent {'this face' if len(readings) == 1 else f'{len(poor)} of {len(readings)} faces'}: "
        f"its reconstruction at strength 0 matches the face's structure at only {worst:.1f} dB PSNR (a represented face gives ≥ {MIN_PSNR_DB:g} dB), "
        "so its edits will not look like this person. Import official weights (`l2m-edge import`) or train on real faces (`l2m-edge train --data …`)."
    )
