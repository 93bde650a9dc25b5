"""Frame sources: camera, video file, image, folder of images, and the moving test pattern.

Cameras and video files share one capture class (`VideoCaptureSource`), so the code a webcam
runs is the code the video tests drive.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from l2m_edge.checks import require_number
from l2m_edge.errors import SourceError

from .clip import clip_frame
from .stills import StillFormat, read_still

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass
class Frame:
    index: int
    image: np.ndarray  # BGR uint8 [H, W, 3]
    timestamp: float  # seconds: media time for files, capture time for live sources
    captured: float | None = None  # time.perf_counter() when the frame existed (live sources): glass-to-glass latency starts here


class Source(Protocol):
    fps: float
    size: tuple[int, int]  # width, height
    live: bool  # a live source drops stale frames; a file is processed frame by frame
    description: str
    stopped_early: str | None  # why reading ended before the source's announced end

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


class VideoCaptureSource:
    """A camera (int index, live) or a video file, read through cv2.VideoCapture.

    `realtime=True` plays a file like a camera: frame k exists from `k / fps` seconds after the
    first read, a read returns the newest frame that exists (waiting for it if none is new), and
    the frames passed over meanwhile are skipped undecoded and counted in `frames_skipped`, as a
    camera's frames are lost when nobody takes them. Live latency is then measurable without a camera.
    """

    def __init__(self, spec: int | str | os.PathLike, realtime: bool = False) -> None:
        camera = isinstance(spec, int)
        self.live = camera or realtime
        self._paced = realtime and not camera
        self.frames_skipped = 0
        self.description = f"camera {spec}" if camera else f"{spec}{' (paced like a camera)' if realtime else ''}"
        if not camera and not Path(spec).is_file():
            raise SourceError(f"{spec}: no such video file")
        self._cap = cv2.VideoCapture(spec if camera else str(spec))
        if not self._cap.isOpened():
            self._cap.release()
            if camera:
                raise SourceError(f"camera {spec} cannot be opened (no such device, or in use); try another index or a video file")
            raise SourceError(f"{spec}: cannot be decoded as a video (unsupported or damaged file)")
        first_ok, first = self._cap.read()
        if not first_ok or first is None:
            self._cap.release()
            raise SourceError(f"{self.description}: opened but no frame could be read")
        self._pending: np.ndarray | None = first
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 1.0 <= fps <= 240.0 else 30.0
        self.size = (first.shape[1], first.shape[0])
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)) if not camera else 0
        self.expected_frames = count if count > 0 else None
        self.stopped_early: str | None = None
        self._camera = camera
        self._index = 0
        self._t0: float | None = None if self._paced else time.perf_counter()

    def read(self) -> Frame | None:
        if self._paced:
            return self._read_paced()
        if not self._decode_next():
            return None
        now = time.perf_counter()
        t = now - self._t0 if self._camera else self._index / self.fps  # type: ignore[operator]
        frame = Frame(self._index, self._image, t, now if self._camera else None)
        self._index += 1
        return frame

    def _read_paced(self) -> Frame | None:
        now = time.perf_counter()
        if self._t0 is None:
            self._t0 = now
        newest = int((now - self._t0) * self.fps)  # the newest frame that exists by now
        if newest < self._index:  # nothing new yet: wait for the next frame, as a camera read does
            time.sleep(self._t0 + self._index / self.fps - now)
            newest = self._index
        while self._index < newest:  # frames nobody took in time are gone
            if self._pending is not None:
                self._pending = None
            elif not self._cap.grab():
                return self._ended()
            self._index += 1
            self.frames_skipped += 1
        if not self._decode_next():
            return None
        frame = Frame(self._index, self._image, self._index / self.fps, self._t0 + self._index / self.fps)
        self._index += 1
        return frame

    def _decode_next(self) -> bool:
        if self._pending is not None:
            self._image, self._pending = self._pending, None
            return True
        ok, image = self._cap.read()
        if not ok or image is None:
            self._ended()
            return False
        self._image = image
        return True

    def _ended(self) -> None:
        if self._camera:
            self.stopped_early = f"{self.description}: stopped delivering frames after frame {self._index}"
        elif self.expected_frames and self._index < self.expected_frames:
            self.stopped_early = f"{self.description}: stopped at frame {self._index} of {self.expected_frames} (the rest cannot be decoded; truncated file?)"
        return None

    def close(self) -> None:
        self._cap.release()


class ImageSource:
    """One image or a sorted folder of images, each a frame.

    An unreadable file does not end the batch: it is skipped and named in `failures`, so the
    good images are all processed and the caller reports the bad ones (and fails) at the end.
    `formats[index]` tells what the 8-bit BGR frame dropped (alpha, grayscale, 16 bits).
    """

    live = False
    stopped_early = None

    def __init__(self, paths: list[Path], fps: float = 1.0, description: str = "") -> None:
        if not paths:
            raise SourceError(f"{description or 'image list'}: no images ({', '.join(IMAGE_SUFFIXES)})")
        self.paths = paths
        self.fps = fps
        self.description = description or str(paths[0])
        self.failures: list[str] = []
        self.formats: dict[int, StillFormat] = {}
        self._index = 0
        self._next = self._advance()
        if self._next is None:
            raise SourceError(f"{self.description}: no readable image ({self.failures[0]})")
        self.size = (self._next.image.shape[1], self._next.image.shape[0])

    def _advance(self) -> Frame | None:
        """The next readable image as a frame (its index is its position in `paths`); bad files are recorded."""
        while self._index < len(self.paths):
            index, path = self._index, self.paths[self._index]
            self._index += 1
            try:
                still = read_still(path)
            except SourceError as exc:  # not a regular file, or too large to decode
                self.failures.append(str(exc))
                continue
            if still is None:
                self.failures.append(f"{path}: {'not a readable image' if path.exists() else 'no such file'}")
                continue
            image, self.formats[index] = still
            return Frame(index, image, index / self.fps)
        return None

    def read(self) -> Frame | None:
        frame, self._next = self._next, None
        return frame if frame is not None else self._advance()

    def close(self) -> None:
        pass


class PatternSource:
    """The demo clip generated on the fly: a real face moving smoothly, endless or `seconds` long.

    With `live=True` frames are paced at `fps` like a camera (for latency benchmarks), and a
    frame that was not taken in time is lost, as it would be from a camera.
    """

    stopped_early = None

    def __init__(self, fps: float = 25.0, size: tuple[int, int] = (640, 480), seconds: float | None = None, live: bool = False, kind: str = "astronaut") -> None:
        self.fps = fps
        self.size = size
        self.live = live
        self.kind = kind
        self.total = int(round(seconds * fps)) if seconds is not None else None
        self.description = f"test pattern ({kind}) {size[0]}×{size[1]} @ {fps:g} fps"
        self._index = 0
        self._t0: float | None = None

    def read(self) -> Frame | None:
        if self.live:
            now = time.perf_counter()
            if self._t0 is None:
                self._t0 = now
            due = self._t0 + self._index / self.fps
            if due > now:
                time.sleep(due - now)
            else:
                self._index = int((now - self._t0) * self.fps)  # a camera does not wait either
        if self.total is not None and self._index >= self.total:
            return None
        t = self._index / self.fps
        captured = self._t0 + t if self._t0 is not None else None
        frame = Frame(self._index, clip_frame(t, self.size, self.kind), t, captured)
        self._index += 1
        return frame

    def close(self) -> None:
        pass


def source_files(spec: str | int | os.PathLike) -> list[Path]:
    """The files a source spec reads (a folder's images, a video or image file; none for a camera or the pattern)."""
    path = Path(str(spec))
    if str(spec) == "pattern" or str(spec).isdigit() or "://" in str(spec):
        return []
    return sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if path.is_dir() else [path]


def open_source(spec: str | int | os.PathLike, fps: float = 25.0, live: bool | None = None, seconds: float | None = None, realtime: bool = False) -> Source:
    """`0` (camera index), `video.mp4`, `image.jpg`, `folder/`, or `pattern`; `realtime` paces a video file like a camera."""
    text = str(spec)
    if "://" in text:
        raise SourceError(f"{text}: URL sources (rtsp://, http://, …) are not supported; save the stream to a video file and pass its path")
    if seconds is not None:
        require_number("--seconds", seconds, above=0)
    if text == "pattern":
        return PatternSource(fps=fps, seconds=seconds, live=bool(live) or realtime)
    if text.isdigit():
        return VideoCaptureSource(int(text))
    path = Path(text)
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        return ImageSource(images, description=str(path))
    if not path.exists():
        raise SourceError(f"{path}: no such file, folder or camera index")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource([path])
    return VideoCaptureSource(path, realtime=realtime)
