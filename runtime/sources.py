"""Frame sources: cameras and streams (`live_source`), video file, image, folder of images, and the moving test pattern.

`open_source` turns a `--source` string (`source_uri`) into one of them. Every live source — a
camera index, /dev/videoN, csi://N, a GStreamer pipeline, rtsp:// or http(s):// — is one
`LiveSource` (grabbing thread, newest frame only, reconnection), so the code a webcam runs is the
code the local-stream tests drive. `source_report` is what a run reports about its source.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from l2m_edge.checks import require_number
from l2m_edge.errors import SourceError

from .capture import opener_for
from .clip import clip_frame
from .frame import Frame
from .live_source import LiveSource, StreamHealth
from .source_options import CameraRequest, StreamOptions
from .source_uri import IMAGE_SUFFIXES, parse_source
from .stills import StillFormat, read_still

__all__ = ["Frame", "ImageSource", "LiveSource", "PatternSource", "Source", "SourceReport", "VideoCaptureSource", "open_source", "source_report"]


class Source(Protocol):
    fps: float
    size: tuple[int, int]  # width, height
    live: bool  # a live source drops stale frames; a file is processed frame by frame
    description: str
    stopped_early: str | None  # why reading ended before the source's announced end

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


class VideoCaptureSource:
    """A video file read through cv2.VideoCapture, every frame in order.

    `realtime=True` plays it like a camera: frame k exists from `k / fps` seconds after the
    first read, a read returns the newest frame that exists (waiting for it if none is new), and
    the frames passed over meanwhile are skipped undecoded and counted in `frames_skipped`, as a
    camera's frames are lost when nobody takes them. Live latency is then measurable without a camera.
    """

    def __init__(self, spec: str | os.PathLike, realtime: bool = False) -> None:
        self.live = realtime
        self.frames_skipped = 0
        self.description = f"{spec}{' (paced like a camera)' if realtime else ''}"
        if not Path(spec).is_file():
            raise SourceError(f"{spec}: no such video file")
        self._cap = cv2.VideoCapture(str(spec))
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"{spec}: cannot be decoded as a video (unsupported or damaged file)")
        first_ok, first = self._cap.read()
        if not first_ok or first is None:
            self._cap.release()
            raise SourceError(f"{self.description}: opened but no frame could be read")
        self._pending: np.ndarray | None = first
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 1.0 <= fps <= 240.0 else 30.0
        self.size = (first.shape[1], first.shape[0])
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.expected_frames = count if count > 0 else None
        self.stopped_early: str | None = None
        self._index = 0
        self._t0: float | None = None

    def read(self) -> Frame | None:
        if self.live:
            return self._read_paced()
        if not self._decode_next():
            return None
        frame = Frame(self._index, self._image, self._index / self.fps)
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
        if self.expected_frames and self._index < self.expected_frames:
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
            still = read_still(path) if path.is_file() else None
            if still is None:
                self.failures.append(f"{path}: {'not a readable image' if path.is_file() else 'no such file'}")
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
    SIZE = (640, 480)

    def __init__(self, fps: float = 25.0, size: tuple[int, int] = SIZE, seconds: float | None = None, live: bool = False, kind: str = "astronaut") -> None:
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


def open_source(
    spec: str | int | os.PathLike,
    fps: float = 25.0,
    live: bool | None = None,
    seconds: float | None = None,
    realtime: bool = False,
    camera: CameraRequest | None = None,
    stream: StreamOptions | None = None,
) -> Source:
    """A source for any `--source` string (`source_uri.parse_source`); `realtime` paces a video file like a camera.

    `camera` is asked of a camera (refused in one line when it delivers another size; a stream's
    size is checked, not asked) and sets the test pattern's size and rate; files and images keep their own.
    """
    uri = parse_source(str(spec))
    if seconds is not None:
        require_number("--seconds", seconds, above=0)
    request = camera or CameraRequest()
    if request and not (uri.live or uri.kind == "pattern"):
        raise SourceError(f"{spec}: --camera-size and --camera-fps are asked of a camera or stream; a {uri.kind} has its own (leave them out)")
    if uri.kind == "pattern":
        return PatternSource(fps=request.fps or fps, size=request.size or PatternSource.SIZE, seconds=seconds, live=bool(live) or realtime)
    if uri.live:
        opener, description = opener_for(uri, request, stream or StreamOptions())
        return LiveSource(opener, description, request, stream)
    path = Path(uri.target)
    if uri.kind == "folder":
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        return ImageSource(images, description=str(path))
    if uri.kind == "image":
        return ImageSource([path])
    return VideoCaptureSource(path, realtime=realtime)


@dataclass(frozen=True)
class SourceReport:
    """What the source gave during a run (for the run's report): its size and rate, what was asked, and its outages."""

    description: str
    size: tuple[int, int]
    fps: float  # announced by the source (the rate a file sink is written at)
    requested: CameraRequest
    health: StreamHealth | None  # live sources only

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"description": self.description, "size": list(self.size), "fps": round(self.fps, 3)}
        if self.requested:
            out["requested"] = {"size": list(self.requested.size) if self.requested.size else None, "fps": self.requested.fps}
        if self.health is not None:
            h = self.health
            out.update(measured_fps=h.measured_fps, frames_grabbed=h.frames_grabbed, outages=h.outages, reconnects=h.reconnects,
                       reconnect_attempts=h.reconnect_attempts, offline_s=round(h.offline_s, 2))
        return out

    def gave(self) -> str:
        """What the source gives (and what was asked of it): the line a run starts with."""
        gave = f"{self.description}: {self.size[0]}×{self.size[1]} @ {self.fps:g} fps"
        return gave + (f" (asked {self.requested.describe()})" if self.requested else "")

    def line(self) -> str:
        """What the source gave, with the rate measured and the outages of a live source: the line a run ends with."""
        if self.health is None:
            return self.gave()
        h = self.health
        measured = f", {h.measured_fps:g} fps measured" if h.measured_fps else ""
        return f"{self.gave()}{measured}; {h.outages} outage(s), {h.reconnects} reconnected, {h.offline_s:.1f} s without frames"


def source_report(source: Source) -> SourceReport:
    return SourceReport(source.description, source.size, source.fps, getattr(source, "requested", CameraRequest()), getattr(source, "health", None))
