"""One frame as a source delivers it (its own module, so the live capture and the file sources share it without a circle)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Frame:
    index: int
    image: np.ndarray  # BGR uint8 [H, W, 3]
    timestamp: float  # seconds: media time for files, capture time for live sources
    captured: float | None = None  # time.perf_counter() when the frame existed (live sources): glass-to-glass latency starts here
