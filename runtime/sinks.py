"""Frame sinks: window, video file, image folder, virtual camera, null.

A sink opens on its first frame (so it takes the source's size). The pipeline ends it in a
`finally`: `close()` when the run ended (source end, `q`, Ctrl-C) — the file is then complete and
playable — or `abort()` when it failed. File sinks hold their output's lock from construction
(a second writer is refused at once), write under a temporary name and rename only a complete
file onto the target: a failed or disk-full run leaves the previous file as it was.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from pathlib import Path
from typing import Mapping, Protocol, Sequence

import cv2
import numpy as np

from l2m_edge.errors import L2MError, OutputError
from l2m_edge.io import OutputLock, StagedFile, atomic_path, check_absent, check_output_dir, check_output_file, output_errors

from .stills import StillFormat, path_identity, restore_format

FRAME_GLOB = "frame_[0-9][0-9][0-9][0-9][0-9][0-9].png"  # what a folder sink names frame i: frame_{i:06d}.png
VIDEO_SUFFIXES = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


class SinkError(L2MError):
    """An output that cannot be opened or written (no display, no virtual camera, bad path)."""


class Sink(Protocol):
    description: str

    def write(self, frame: np.ndarray, index: int) -> None: ...

    def poll_key(self) -> int | None:
        """The key pressed since the last call (window only)."""
        ...

    def close(self) -> None:
        """The run ended: finish the output."""
        ...

    def abort(self) -> None:
        """The run failed: release the output, keeping whatever it replaced."""
        ...


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

    abort = close


class VideoSink:
    """A video at the source's fps and size, finalised into a temporary and renamed once complete.

    Without `replace` an existing file is refused, and one that appears meanwhile is kept.
    """

    def __init__(self, path: str | os.PathLike, fps: float, replace: bool = True) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in VIDEO_SUFFIXES:
            raise SinkError(f"{self.path}: unknown video type; use one of {', '.join(VIDEO_SUFFIXES)}")
        check_output_file(self.path)
        if not replace:
            check_absent(self.path)
        self.replace = replace
        self.fps = fps
        self.description = str(self.path)
        self.frames = 0
        self._lock = OutputLock(self.path, inside=False).acquire()
        self._staged: StagedFile | None = None
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None

    def write(self, frame: np.ndarray, index: int) -> None:
        size = (frame.shape[1], frame.shape[0])
        if self._writer is None:
            fourcc = cv2.VideoWriter_fourcc(*VIDEO_SUFFIXES[self.path.suffix.lower()])
            self._staged = StagedFile(self.path, self.replace)
            self._writer = cv2.VideoWriter(str(self._staged.tmp), fourcc, self.fps, size)
            if not self._writer.isOpened():
                raise SinkError(f"{self.path}: OpenCV cannot write this video here (codec {VIDEO_SUFFIXES[self.path.suffix.lower()]}){_full_disk(self.path)}")
            self._size = size
        elif size != self._size:
            raise SinkError(f"{self.path}: frame {index} is {size[0]}×{size[1]}, the video is {self._size[0]}×{self._size[1]}; write differently sized images to a folder")
        self._writer.write(frame)
        self.frames += 1

    def poll_key(self) -> int | None:
        return None

    def close(self) -> None:
        try:
            if self._writer is not None:
                self._writer.release()
                self._writer = None
                self._check_complete()
            if self._staged is not None:
                self._staged.commit()
                self._staged = None
        except BaseException:
            self.abort()
            raise
        self._lock.release()

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._staged is not None:
            self._staged.abort()
            self._staged = None
        self._lock.release()

    def _check_complete(self) -> None:
        """Read the finished temporary back: OpenCV's writer fails silently (a full disk gives a file without its index)."""
        assert self._staged is not None
        capture = cv2.VideoCapture(str(self._staged.tmp))
        readable = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
        capture.release()
        if readable < max(1, self.frames - 1):  # the container's count may round by one; a lost index reads as 0
            raise OutputError(
                f"{self.path}: the video could not be finished{_full_disk(self.path)}: {readable} of {self.frames} frames readable; "
                "the previous file (if any) is unchanged — free space or write elsewhere"
            )


def _full_disk(path: Path) -> str:
    """' (the disk is full)' when under 1 MiB is free where `path` goes: the likely cause of a silent writer failure."""
    with output_errors(path.parent):
        free = os.statvfs(path.parent)
    return " (the disk is full)" if free.f_bavail * free.f_frsize < 1 << 20 else ""


class ImageFolderSink:
    """Lossless PNGs `frame_000000.png`, … (or the source's image names for `l2m-edge edit`).

    With `formats` (an ImageSource's), each image gets its input's grayscale/alpha back. Without
    `replace`, a folder already holding one of the names is refused before any frame is written.
    """

    def __init__(
        self, directory: str | os.PathLike, names: list[str] | None = None, formats: Mapping[int, StillFormat] | None = None, replace: bool = True,
    ) -> None:
        self.directory = Path(directory)
        if not replace:
            taken = [self.directory / n for n in names] if names is not None else sorted(self.directory.glob(FRAME_GLOB))
            for path in taken:
                check_absent(path)
        self.directory = check_output_dir(directory)
        self._lock = OutputLock(self.directory, inside=True).acquire()
        self.replace = replace
        self.names = names
        self.formats = formats or {}
        self.description = f"{self.directory}/"
        self.frames = 0

    def write(self, frame: np.ndarray, index: int) -> None:
        name = self.names[index] if self.names is not None else f"frame_{index:06d}.png"
        path = self.directory / name
        with atomic_path(path, self.replace) as tmp:
            if not cv2.imwrite(str(tmp), restore_format(frame, self.formats.get(index))):
                raise SinkError(f"{path}: cannot write the image (disk full?)")
        self.frames += 1

    def poll_key(self) -> int | None:
        return None

    def close(self) -> None:
        self._lock.release()

    abort = close


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

    abort = close


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

    abort = close


def open_sink(spec: str | os.PathLike, fps: float, replace: bool = True, inputs: Sequence[Path] = ()) -> Sink:
    """`window`, `null`, `virtualcam`, a video path (.mp4/.avi/…) or a folder (`dir/`, or an existing one).

    `replace`: whether existing output files may be replaced. A file among `inputs`, or a folder
    holding one, is refused even so: the run would write over what it is reading.
    """
    text = str(spec)
    if text == "window":
        return WindowSink()
    if text == "null":
        return NullSink()
    if text == "virtualcam":
        return VirtualCamSink(fps)
    path = Path(text)
    folder = text.endswith(("/", os.sep)) or path.is_dir() or not path.suffix
    written = [path / p.name for p in inputs if fnmatch.fnmatchcase(p.name, FRAME_GLOB)] if folder else [path]
    clash = {path_identity(p) for p in written} & {path_identity(p) for p in inputs}
    if clash:
        raise SinkError(f"{path}: {'holds frames' if folder else 'is the file'} the run reads, which it would write over; write the edit elsewhere")
    if folder:
        return ImageFolderSink(path, replace=replace)
    return VideoSink(path, fps, replace)

