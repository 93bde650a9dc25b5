"""Style codes reused across frames: each tracked face's (style, style_delta) recomputed every K frames.

A face's style code describes who it is and its overall look, which change slowly while it is
tracked; the generator, which paints this frame's pixels, still runs on every frame. A track's code
is recomputed on its first frame (and when it is found again: maybe another person), when the
face's source domain or the target changes (δ depends on both), and once it has served K frames.
Strength is not part of the code (s' = s + α·δ), so a live strength change costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class _Code:
    style: np.ndarray  # [style_dim]
    delta: np.ndarray  # [style_dim]
    source: int
    target: int
    served: int = 0  # frames it was used for since it was computed


class StyleCodes:
    """The per-track codes of one pipeline; `every` = K (1: a fresh code every frame)."""

    def __init__(self, every: int) -> None:
        if every < 1:
            raise ValueError(f"style codes are recomputed every K ≥ 1 frames, got {every}")
        self.every = every
        self._codes: dict[int, _Code] = {}
        self.computed = 0
        self.reused = 0

    def due(self, track_id: int, source: int, target: int, fresh: bool) -> bool:
        """Whether this track's code must be computed for this frame."""
        code = self._codes.get(track_id)
        return fresh or code is None or code.served >= self.every or (code.source, code.target) != (source, target)

    def store(self, track_id: int, source: int, target: int, style: np.ndarray, delta: np.ndarray) -> None:
        self._codes[track_id] = _Code(style, delta, source, target)
        self.computed += 1

    def use(self, track_id: int) -> tuple[np.ndarray, np.ndarray]:
        """The track's code for this frame (one more frame served)."""
        code = self._codes[track_id]
        self.reused += code.served > 0  # a code's first frame is not a reuse
        code.served += 1
        return code.style, code.delta

    def keep_only(self, track_ids: set[int]) -> None:
        """Forget the codes of tracks no longer in the frame (a track found again is fresh anyway)."""
        for track_id in set(self._codes) - track_ids:
            del self._codes[track_id]
