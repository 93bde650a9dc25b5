"""The demo clip: a real photo shipped with scikit-image (`astronaut`) moved by a smooth pan, zoom
and tilt, so the demo and the tests have a real face in motion without any download.
Every frame is a pure function of its time, so the clip is the same on every machine."""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from l2m_edge.errors import OutputError
from l2m_edge.io import atomic_path


@lru_cache(maxsize=1)
def _photo() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[..., ::-1])  # RGB → BGR, 512×512


def clip_frame(t: float, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """The frame at time `t` seconds: BGR uint8 of `size` (width, height)."""
    w, h = size
    photo = _photo()
    zoom = (1.45 + 0.2 * math.sin(2 * math.pi * t / 3.7)) * w / 640  # face ~140–200 px wide at 640×480
    angle = 7.0 * math.sin(2 * math.pi * t / 2.9)  # degrees
    cx = 250 + 22 * math.sin(2 * math.pi * t / 4.3)  # the photo point shown at the frame centre
    cy = 165 + 12 * math.sin(2 * math.pi * t / 3.1 + 1.0)
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, zoom)
    matrix[:, 2] += (w / 2 - cx, h / 2 - cy)
    return cv2.warpAffine(photo, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def clip_frames(seconds: float = 4.0, fps: float = 25.0, size: tuple[int, int] = (640, 480)) -> Iterator[np.ndarray]:
    for i in range(int(round(seconds * fps))):
        yield clip_frame(i / fps, size)


def write_clip(path: str | os.PathLike, seconds: float = 4.0, fps: float = 25.0, size: tuple[int, int] = (640, 480)) -> Path:
    """Write the clip as a video (mp4v for .mp4, MJPG for .avi), atomically."""
    path = Path(path)
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
    with atomic_path(path) as tmp:  # the temporary keeps the suffix: the writer picks its container by it
        writer = cv2.VideoWriter(str(tmp), fourcc, fps, size)
        try:
            for frame in clip_frames(seconds, fps, size):
                writer.write(frame)
        finally:
            writer.release()
        capture = cv2.VideoCapture(str(tmp))
        complete = capture.isOpened() and int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) > 0
        capture.release()
        if not complete:
            raise OutputError(f"{path}: the clip could not be written (disk full?)")
    return path
