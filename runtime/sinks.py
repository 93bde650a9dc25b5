"""Frame sinks: window, video file, image folder, virtual camera, null.

A sink opens on its first frame (so it takes the source's size) and is always closed in a
`finally`: a video written up to an error or Ctrl-C is a complete, playable file.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from l2m_edge.errors import L2MError

VIDEO_SUFFIXES = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


class SinkError(L2MError):
    """An output that cannot be opened or written (no display, no virtual camera, bad path)."""


class Sink(Protocol):
    description: str

    def write(self, frame: np.ndarray, index: int) -> None: ...

    def poll_key(self) -> int | None:
        """The key pressed since the last call (window only)."""
        ...

    def close(self) -> None: ...


class NullSink:
    description = "null"

    def __init__(self) -> None:
        self.frames = 0

    def write(self, frame: np.ndarray, index: int) -> None:
        self.frames += 1

    def poll_key(self) -> int | None:
        return None

    def close(self) -> None:
        pass


class VideoSink:
    """A video at the source's fps and size; written beside the target and renamed on close."""

    def __init__(self, path: str | os.PathLike, fps: float) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in VIDEO_SUFFIXES:
            raise SinkError(f"{self.path}: unknown video type; use one of {', '.join(VIDEO_SUFFIXES)}")
        self.fps = fps
        self.description = str(self.path)
        self.frames = 0
        self._tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None

    def write(self, frame: np.ndarray, index: int) -> None:
        size = (frame.shape[1], frame.shape[0])
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(*VIDEO_SUFFIXES[self.path.suffix.lower()])
            self._writer = cv2.VideoWriter(str(self._tmp), fourcc, self.fps, size)
            if not self._writer.isOpened():
                raise SinkError(f"{self.path}: OpenCV cannot write this video here (codec {VIDEO_SUFFIXES[self.path.suffix.lower()]})")
            self._size = size
        elif size != self._size:
            raise SinkError(f"{self.path}: frame {index} is {size[0]}×{size[1]}, the video is {self._size[0]}×{self._size[1]}; write differently sized images to a folder")
        self._writer.write(frame)
        self.frames += 1

    def poll_key(self) -> int | None:
        return None

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            os.replace(self._tmp, self.path)


class ImageFolderSink:
    """Lossless PNGs `frame_000000.png`, … (or the source's image names for `l2m-edge edit`)."""

    def __init__(self, directory: str | os.PathLike, names: list[str] | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.names = names
        self.description = f"{self.directory}/"
        self.frames = 0

    def write(self, frame: np.ndarray, index: int) -> None:
        name = self.names[index] if self.names is not None else f"frame_{index:06d}.png"
        path = self.directory / name
        if not cv2.imwrite(str(path), frame):
            raise SinkError(f"{path}: cannot write the image")
        self.frames += 1

    def poll_key(self) -> int | None:
        return None

    def close(self) -> None:
        pass


class WindowSink:
    """An OpenCV window; keys are read here (cv2.waitKey) and handed to the pipeline's controls."""

    def __init__(self, title: str = "l2m-edge") -> None:
        # Without a display OpenCV's Qt backend aborts the whole process, so refuse before touching it.
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise SinkError("no display to open a window on (DISPLAY is not set); use --sink out.mp4, --sink dir/ or --sink null")
        self.title = title
        self.description = "window"
        self._key: int | None = None
        self._opened = False

    def write(self, frame: np.ndarray, index: int) -> None:
        try:
            if not self._opened:
                cv2.namedWindow(self.title, cv2.WINDOW_AUTOSIZE)
                self._opened = True
            cv2.imshow(self.title, frame)
            key = cv2.waitKey(1)
        except cv2.error as exc:
            raise SinkError(f"cannot open a window ({str(exc).strip().splitlines()[-1][:80]}); no display? use --sink out.mp4 or --sink null") from None
        if key >= 0:
            self._key = key & 0xFF

    def poll_key(self) -> int | None:
        key, self._key = self._key, None
        return key

    def close(self) -> None:
        if self._opened:
            cv2.destroyWindow(self.title)
            self._opened = False


class VirtualCamSink:
    """A virtual camera (v4l2loopback, OBS, …) through pyvirtualcam, the optional `virtualcam` extra."""

    def __init__(self, fps: float) -> None:
        try:
            import pyvirtualcam  # noqa: F401
        except ImportError:
            raise SinkError("the virtual camera needs pyvirtualcam, the optional 'virtualcam' extra: pip install pyvirtualcam") from None
        self.fps = fps
        self.description = "virtualcam"
        self._cam = None

    def write(self, frame: np.ndarray, index: int) -> None:
        import pyvirtualcam

        if self._cam is None:
            try:
                self._cam = pyvirtualcam.Camera(width=frame.shape[1], height=frame.shape[0], fps=self.fps, fmt=pyvirtualcam.PixelFormat.BGR)
            except RuntimeError as exc:
                raise SinkError(f"no virtual camera device ({str(exc).splitlines()[0]}); on Linux load v4l2loopback, elsewhere install OBS") from None
            self.description = f"virtualcam {self._cam.device}"
        self._cam.send(np.ascontiguousarray(frame))

    def poll_key(self) -> int | None:
        return None

    def close(self) -> None:
        if self._cam is not None:
            self._cam.close()
            self._cam = None


def open_sink(spec: str | os.PathLike, fps: float) -> Sink:
    """`window`, `null`, `virtualcam`, a video path (.mp4/.avi/…) or a folder (`dir/`, or an existing one)."""
    text = str(spec)
    if text == "window":
        return WindowSink()
    if text == "null":
        return NullSink()
    if text == "virtualcam":
        return VirtualCamSink(fps)
    path = Path(text)
    if text.endswith(("/", os.sep)) or path.is_dir() or not path.suffix:
        return ImageFolderSink(path)
    return VideoSink(path, fps)
