"""The optional overlay: FPS, latency, target attribute, strength, backend, edit on/off."""

from __future__ import annotations

import cv2
import numpy as np


def draw_hud(frame: np.ndarray, lines: list[str]) -> None:
    """Write `lines` top-left on a dark band, in place (the HUD is meant for eyes, not for files)."""
    scale = max(0.4, frame.shape[0] / 960)
    height = int(22 * scale / 0.5)
    band = frame[: height * len(lines) + 6, : int(frame.shape[1] * 0.62)]
    band[:] = (band.astype(np.uint16) * 2 // 5).astype(np.uint8)
    for i, text in enumerate(lines):
        y = height * (i + 1)
        cv2.putText(frame, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
