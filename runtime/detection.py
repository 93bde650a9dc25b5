"""Face detection that finds small and several faces: BlazeFace short-range on the frame and on tiles.

MediaPipe's short-range BlazeFace sees a 128² letterboxed copy of its input, so on a whole
640×480 frame it misses faces narrower than about 13 % of the long side (~80 px); its full-range
model sees 192² and, measured here, still missed two of four faces in a 2×2 photo collage and
costs 40–70 ms a call against 5–10 ms. Running the short-range model on overlapping square tiles
(side `TILE_SIDE`) as well as on the whole frame finds faces down to ~45 px at 640×480 and every
face of the collages (benchmarks/runtime.md). Detections of one face from several tiles are
merged (non-maximum suppression on the intersection over the smaller box, which also removes
the half-face a tile border cuts off).

`scan` runs every tile at once (stills); `step` runs the whole frame plus the next tile in a
round robin, so a live stream pays one tile per detection frame instead of all of them.
`kind="full-range"` runs the full-range model on the whole frame instead (for comparison).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

TILE_SIDE = 320  # short-range BlazeFace finds faces of ~13 %–75 % of this side in a tile
TILE_OVERLAP = 0.25  # neighbouring tiles share this fraction of a side: a face on a seam is whole in one
MERGE_OVERLAP = 0.5  # two boxes are one face when they share this much of the smaller one
TILE_MIN_SCORE = 0.6  # tiles see clutter up close: an orange sleeve scored 0.53 and its FaceMesh accepted it; real faces scored 0.55–0.97


@dataclass(frozen=True)
class Detection:
    score: float
    box: np.ndarray  # x0, y0, x1, y1 in frame pixels, float32


def tile_origins(width: int, height: int, side: int = TILE_SIDE) -> list[tuple[int, int]]:
    """Top-left corners of overlapping `side`² tiles covering a frame; none when the frame fits in one."""
    if max(width, height) <= side:
        return []
    stride = side * (1.0 - TILE_OVERLAP)

    def starts(length: int) -> list[int]:
        if length <= side:
            return [0]
        count = int(np.ceil((length - side) / stride)) + 1
        return [int(round(v)) for v in np.linspace(0, length - side, count)]

    return [(x, y) for y in starts(height) for x in starts(width)]


def overlap_of_smaller(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection area / the smaller box's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(w * h / smaller) if smaller > 0 else 0.0


def merge(detections: list[Detection]) -> list[Detection]:
    """One detection per face: the larger box wins (a tile seam cuts faces smaller), then the higher score."""
    keep: list[Detection] = []
    for det in sorted(detections, key=lambda d: (-float((d.box[2] - d.box[0]) * (d.box[3] - d.box[1])), -d.score)):
        if all(overlap_of_smaller(det.box, k.box) < MERGE_OVERLAP for k in keep):
            keep.append(det)
    return sorted(keep, key=lambda d: -d.score)


DETECTORS = ("tiles", "full-range")


class FaceDetector:
    """BlazeFace short-range (bundled in the MediaPipe wheel) over the frame and its tiles, or full-range on the frame."""

    def __init__(self, min_confidence: float = 0.5, kind: str = "tiles") -> None:
        os.environ.setdefault("GLOG_minloglevel", "2")
        import mediapipe as mp

        if kind not in DETECTORS:
            raise ValueError(f"unknown detector {kind!r}; choose one of {', '.join(DETECTORS)}")
        self.tiled = kind == "tiles"
        self._model = mp.solutions.face_detection.FaceDetection(model_selection=0 if self.tiled else 1, min_detection_confidence=min_confidence)
        self._next_tile = 0
        self.calls = 0  # model invocations, for tests and benchmarks

    def scan(self, rgb: np.ndarray) -> list[Detection]:
        """Every face the whole frame and all its tiles show."""
        h, w = rgb.shape[:2]
        found = self._run(rgb, 0, 0)
        for x, y in tile_origins(w, h) if self.tiled else []:
            found += self._tile(rgb, x, y)
        return merge(found)

    def step(self, rgb: np.ndarray) -> list[Detection]:
        """The whole frame and the next tile of the round robin: 2 model calls, whatever the frame size."""
        h, w = rgb.shape[:2]
        found = self._run(rgb, 0, 0)
        tiles = tile_origins(w, h) if self.tiled else []
        if tiles:
            x, y = tiles[self._next_tile % len(tiles)]
            self._next_tile += 1
            found += self._tile(rgb, x, y)
        return merge(found)

    def close(self) -> None:
        self._model.close()

    def _tile(self, rgb: np.ndarray, x: int, y: int) -> list[Detection]:
        return [d for d in self._run(rgb[y : y + TILE_SIDE, x : x + TILE_SIDE], x, y) if d.score >= TILE_MIN_SCORE]

    def _run(self, rgb: np.ndarray, x0: int, y0: int) -> list[Detection]:
        self.calls += 1
        h, w = rgb.shape[:2]
        result = self._model.process(np.ascontiguousarray(rgb))
        out = []
        for det in result.detections or []:
            rb = det.location_data.relative_bounding_box
            box = np.array([rb.xmin * w + x0, rb.ymin * h + y0, (rb.xmin + rb.width) * w + x0, (rb.ymin + rb.height) * h + y0], dtype=np.float32)
            out.append(Detection(float(det.score[0]), box))
        return out
