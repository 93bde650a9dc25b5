"""Generated clips, so the demo, the tests and the benchmarks have faces in motion without any download.

- `astronaut`: a real photo shipped with scikit-image (`astronaut`) moved by a smooth pan, zoom and tilt.
- `actor`: a SynthFaces face (the kind the shipped demo model was trained on) moving across a
  640×480 frame and turning (roll, and a yaw mimicked by narrowing the face), so the demo shows
  a real edit by that model.
- `still`: the astronaut photo standing still with fresh sensor noise in every frame (σ = 2
  grey levels), the reference clip for landmark jitter and edit flicker.
- `pair`: two faces in one frame, the actor clip on the left half and the astronaut clip on the
  right, each moving on its own (the soak runs it for two tracks at once).

Every frame is a pure function of its time, so a clip is the same on every machine.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np

from l2m_edge.errors import OutputError
from l2m_edge.io import atomic_path

ACTOR_SEED, ACTOR_INDEX = 7, 3  # a held-out-style SynthFaces identity, no glasses, not smiling
ACTOR_SIDE = 320  # pixels the actor's square portrait is drawn at
STILL_NOISE = 2.0  # grey levels of sensor noise in the `still` clip


@lru_cache(maxsize=1)
def _photo() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[..., ::-1])  # RGB → BGR, 512×512


def astronaut_frame(t: float, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """The astronaut clip's frame at time `t` seconds: BGR uint8 of `size` (width, height)."""
    w, h = size
    photo = _photo()
    zoom = (1.45 + 0.2 * math.sin(2 * math.pi * t / 3.7)) * w / 640  # face ~140–200 px wide at 640×480
    angle = 7.0 * math.sin(2 * math.pi * t / 2.9)  # degrees
    cx = 250 + 22 * math.sin(2 * math.pi * t / 4.3)  # the photo point shown at the frame centre
    cy = 165 + 12 * math.sin(2 * math.pi * t / 3.1 + 1.0)
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, zoom)
    matrix[:, 2] += (w / 2 - cx, h / 2 - cy)
    return cv2.warpAffine(photo, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


@lru_cache(maxsize=1)
def actor_portrait() -> tuple[np.ndarray, np.ndarray]:
    """The actor's square portrait (BGR uint8, not smiling) and its soft-edged alpha (float32)."""
    from l2m_edge.data.face_renderer import render_image, sample_identity

    identity = sample_identity(ACTOR_SEED, ACTOR_INDEX)
    portrait = np.ascontiguousarray(render_image(identity, "smile", False, ACTOR_SIDE)[..., ::-1])
    yy, xx = np.mgrid[0:ACTOR_SIDE, 0:ACTOR_SIDE].astype(np.float32) / (ACTOR_SIDE - 1) - 0.5
    r = np.sqrt((xx / 0.48) ** 2 + (yy / 0.5) ** 2)
    alpha = np.clip((1.0 - r) / 0.12, 0.0, 1.0)  # the portrait's square edge melts into the backdrop
    return portrait, alpha


def actor_frame(t: float, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """The actor clip's frame at time `t`: the SynthFaces face moving, rolling and turning over a backdrop."""
    w, h = size
    portrait, alpha = actor_portrait()
    unit = h / 480
    scale = unit * (0.95 + 0.12 * math.sin(2 * math.pi * t / 3.3))  # face ~160–190 px wide at 640×480
    roll = math.radians(10.0 * math.sin(2 * math.pi * t / 2.7))
    turn = 1.0 - 0.12 * (0.5 + 0.5 * math.sin(2 * math.pi * t / 2.3))  # cos(yaw): yaw up to ~30°
    cx = w / 2 + unit * 90 * math.sin(2 * math.pi * t / 4.1)
    cy = h / 2 + unit * 30 * math.sin(2 * math.pi * t / 3.1 + 0.7)
    rot = np.array([[math.cos(roll), -math.sin(roll)], [math.sin(roll), math.cos(roll)]]) @ np.diag([scale * turn, scale])
    matrix = np.hstack([rot, (np.array([cx, cy]) - rot @ np.array([ACTOR_SIDE / 2, ACTOR_SIDE / 2]))[:, None]]).astype(np.float32)
    face = cv2.warpAffine(portrait, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    a = cv2.warpAffine(alpha, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)[..., None]
    return (face * a + _backdrop(size) * (1.0 - a) + 0.5).astype(np.uint8)


@lru_cache(maxsize=4)
def _backdrop(size: tuple[int, int]) -> np.ndarray:
    """A soft grey-blue wall behind the actor (float32 BGR)."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    shade = 0.75 + 0.25 * (1.0 - yy / h) - 0.1 * np.abs(xx / w - 0.5)
    return (shade[..., None] * np.array([170, 150, 135], np.float32)).astype(np.float32)


def still_frame(t: float, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """The still clip's frame at time `t`: the astronaut at rest, new sensor noise in every frame (seeded by t)."""
    rng = np.random.default_rng(int(round(t * 1000)))
    frame = astronaut_frame(0.0, size).astype(np.float32) + rng.normal(0.0, STILL_NOISE, (size[1], size[0], 3)).astype(np.float32)
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8)


def pair_frame(t: float, size: tuple[int, int] = (1280, 480)) -> np.ndarray:
    """The pair clip's frame at time `t`: the actor clip beside the astronaut clip, each at half the width."""
    w, h = size
    half = (w // 2, h)
    return np.ascontiguousarray(np.concatenate([actor_frame(t, half), astronaut_frame(t, (w - w // 2, h))], axis=1))


CLIPS: dict[str, Callable[[float, tuple[int, int]], np.ndarray]] = {"astronaut": astronaut_frame, "actor": actor_frame, "still": still_frame, "pair": pair_frame}


def clip_frame(t: float, size: tuple[int, int] = (640, 480), kind: str = "astronaut") -> np.ndarray:
    """The frame at time `t` seconds of the clip `kind` (one of `CLIPS`): BGR uint8 of `size` (width, height)."""
    return CLIPS[kind](t, size)


def clip_frames(seconds: float = 4.0, fps: float = 25.0, size: tuple[int, int] = (640, 480), kind: str = "astronaut") -> Iterator[np.ndarray]:
    for i in range(int(round(seconds * fps))):
        yield clip_frame(i / fps, size, kind)


def write_clip(path: str | os.PathLike, seconds: float = 4.0, fps: float = 25.0, size: tuple[int, int] = (640, 480), kind: str = "astronaut") -> Path:
    """Write the clip as a video (mp4v for .mp4, MJPG for .avi), atomically."""
    path = Path(path)
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
    with atomic_path(path) as tmp:  # the temporary keeps the suffix: the writer picks its container by it
        writer = cv2.VideoWriter(str(tmp), fourcc, fps, size)
        try:
            for frame in clip_frames(seconds, fps, size, kind):
                writer.write(frame)
        finally:
            writer.release()
        capture = cv2.VideoCapture(str(tmp))
        complete = capture.isOpened() and int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) > 0
        capture.release()
        if not complete:
            raise OutputError(f"{path}: the clip could not be written (disk full?)")
    return path


def read_video(path: str | os.PathLike) -> tuple[list[np.ndarray], float, tuple[int, int]]:
    """Every frame of a video file (BGR), its fps and its (width, height)."""
    cap = cv2.VideoCapture(str(path))
    fps, size = cap.get(cv2.CAP_PROP_FPS), (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames, fps, size


def write_y4m(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: int = 25) -> Path:
    """Frames as raw Y4M, what Chromium's fake camera plays (`--use-file-for-fake-video-capture`), atomically.

    The header says `C420`: Chromium refuses FFmpeg's default `C420mpeg2`.
    """
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        for index, frame in enumerate(frames):
            if index == 0:
                f.write(f"YUV4MPEG2 W{frame.shape[1]} H{frame.shape[0]} F{fps}:1 Ip A1:1 C420\n".encode())
            f.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path
