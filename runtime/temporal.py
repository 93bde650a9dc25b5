"""Temporal quality on a still face: landmark jitter and edit flicker, measured on the real pipeline.

A person in front of a camera who keeps still sees two faults that per-frame metrics miss:
landmarks that wander (the mask and the crop shake) and an edit that shimmers from frame to
frame. On the `still` clip (the astronaut at rest, fresh sensor noise every frame) this measures

- landmark jitter: RMS distance (px) of each smoothed landmark from its mean position, over the clip;
- edit flicker: the mean absolute frame-to-frame change inside the face (grey levels), for the
  edited frames and for the input frames (which flicker only by the sensor noise); the goal is
  edited ≤ 1.2 × input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .backends import Backend
from .pipeline import EditOptions, Pipeline
from .sources import PatternSource

FLICKER_GOAL = 1.2  # edited flicker / input flicker


class CollectingSink:
    """Keeps every output frame in memory (a few seconds of 640×480 for the measurement)."""

    description = "memory"

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def write(self, frame: np.ndarray, index: int) -> None:
        self.frames.append(frame)

    def poll_key(self) -> int | None:
        return None

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class TemporalQuality:
    frames: int
    landmark_jitter_px: float
    flicker_input: float  # grey levels per frame inside the face
    flicker_edited: float

    @property
    def flicker_ratio(self) -> float:
        return self.flicker_edited / self.flicker_input if self.flicker_input > 0 else float("inf")

    def as_dict(self) -> dict[str, float]:
        return {
            "frames": self.frames,
            "landmark_jitter_px": round(self.landmark_jitter_px, 3),
            "flicker_input": round(self.flicker_input, 3),
            "flicker_edited": round(self.flicker_edited, 3),
            "flicker_ratio": round(self.flicker_ratio, 3),
            "flicker_goal": FLICKER_GOAL,
        }


def landmark_jitter(series: list[np.ndarray]) -> float:
    """RMS (px) of every landmark's distance from its own mean position over the series."""
    stack = np.stack(series).astype(np.float64)
    return float(np.sqrt(((stack - stack.mean(0)) ** 2).sum(-1).mean()))


def flicker(frames: list[np.ndarray], inside: np.ndarray) -> float:
    """Mean absolute change between consecutive frames where `inside` (bool [H, W]) is set, grey levels."""
    diffs = [np.abs(b[inside].astype(np.int16) - a[inside].astype(np.int16)).mean() for a, b in zip(frames, frames[1:])]
    return float(np.mean(diffs))


def measure_still(backend: Backend, options: EditOptions, seconds: float = 3.0, fps: float = 25.0) -> TemporalQuality:
    """Run the pipeline over the `still` clip (every frame, in order) and measure jitter and flicker."""
    source = PatternSource(fps=fps, seconds=seconds, kind="still")
    inputs = CollectingSink()
    tap = PatternSource(fps=fps, seconds=seconds, kind="still")
    while (frame := tap.read()) is not None:
        inputs.write(frame.image, frame.index)
    edited = CollectingSink()
    opts = EditOptions(**{**options.__dict__, "record": True, "lossless": True})
    result = Pipeline(backend, opts).run(source, edited)
    series = [records[0].landmarks for records in result.records if records and records[0].landmarks is not None]
    regions = [records[0].region for records in result.records if records and records[0].region is not None]
    if len(series) < 3 or not regions:
        raise ValueError("the still clip's face was not tracked and edited in enough frames to measure")
    inside = np.zeros(inputs.frames[0].shape[:2], bool)
    for region in regions:  # every pixel any frame's edit touched
        inside[region.y0 : region.y1, region.x0 : region.x1] |= region.alpha > 0
    return TemporalQuality(len(series), landmark_jitter(series), flicker(inputs.frames, inside), flicker(edited.frames, inside))
