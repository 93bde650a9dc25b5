"""Fade a face's edit in when its track is found and out when it is lost, instead of popping.

A track that loses its face keeps its last edit pasted where it was, fading to nothing over
`FADE_SECONDS`; a face found after the stream began fades in over the same time. Faces present
on the first frame start at full weight (nothing popped on), and stills (`seconds=0`) never fade.
"""

from __future__ import annotations

FADE_SECONDS = 0.15


class Fader:
    """Per-track edit weight in [0, 1] from the frames' timestamps."""

    def __init__(self, seconds: float = FADE_SECONDS) -> None:
        self.seconds = seconds
        self._weights: dict[int, float] = {}
        self._last_t: float | None = None

    def update(self, present: set[int], t: float) -> dict[int, float]:
        """Weights of every track still visible in this frame (present ones, and lost ones fading out)."""
        first = self._last_t is None
        dt = 0.0 if first else max(0.0, t - self._last_t)  # type: ignore[operator]
        self._last_t = t
        step = 1.0 if self.seconds <= 0 else dt / self.seconds
        weights = {}
        for track_id in present:
            previous = self._weights.get(track_id, 1.0 if first or self.seconds <= 0 else 0.0)
            weights[track_id] = min(1.0, previous + step)
        for track_id, previous in self._weights.items():
            if track_id not in present and previous - step > 0:
                weights[track_id] = previous - step
        self._weights = weights
        return dict(weights)
