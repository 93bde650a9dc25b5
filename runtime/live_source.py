"""A live source read by a grabbing thread that keeps only the newest frame, and reopens the source when it drops.

OpenCV's readers queue what arrives (an RTSP reader serves seconds-old frames once the consumer
falls behind); here a thread reads as fast as the source delivers and keeps one frame, so `read()`
always returns the newest one, and the frames nobody took are counted in `frames_skipped`.

A read that fails (the stream ended, the network dropped, the camera was unplugged, nothing
arrived within the read timeout) starts an outage: the thread reopens the source with
exponential backoff until a frame arrives again or `reconnect_for_s` has passed, when it gives up
and `read()` returns None (the run ends as at the end of a file, so a file sink is finalised).
Outages, recoveries and the time spent offline are counted in `health`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

from l2m_edge.errors import SourceError

from .capture import Opener
from .source_options import CameraRequest, StreamOptions
from .frame import Frame

ANNOUNCED_FPS_RANGE = (1.0, 240.0)  # outside it a reader's fps is a placeholder (0, 90000), not the source's rate
FALLBACK_FPS = 30.0
CLOSE_WAIT_S = 1.0  # how long close() waits for the grabbing thread to release the capture


@dataclass
class StreamHealth:
    """What a live source went through: frames grabbed, outages, recoveries, seconds without frames."""

    frames_grabbed: int = 0
    outages: int = 0  # times it stopped delivering
    reconnects: int = 0  # times it came back
    reconnect_attempts: int = 0
    offline_s: float = 0.0
    online_s: float = 0.0  # seconds from the first frame to the last, outages excluded

    @property
    def measured_fps(self) -> float | None:
        return round(self.frames_grabbed / self.online_s, 2) if self.online_s > 0 and self.frames_grabbed > 1 else None


class LiveSource:
    """A camera, network stream or GStreamer pipeline (see `capture.opener_for`) read by a grabbing thread."""

    live = True

    def __init__(self, opener: Opener, description: str, request: CameraRequest | None = None, options: StreamOptions | None = None) -> None:
        self.description = description
        self.requested = request or CameraRequest()
        self.options = options or StreamOptions()
        self.health = StreamHealth()
        self.frames_skipped = 0
        self.stopped_early: str | None = None
        self._opener = opener
        cap = opener()
        try:
            ok, first = cap.read()
            if not ok or first is None:
                raise SourceError(f"{description}: opened but no frame arrived within {self.options.read_timeout_s:g} s")
            self.size = (first.shape[1], first.shape[0])
            if self.requested.size and self.size != self.requested.size:
                asked = self.requested.size
                raise SourceError(
                    f"{description} delivers {self.size[0]}×{self.size[1]}, not the {asked[0]}×{asked[1]} asked for: "
                    f"ask for a size it offers (`v4l2-ctl --list-formats-ext` for a camera; a stream's size is set on the camera), or leave out --camera-size"
                )
        except BaseException:
            cap.release()
            raise
        announced = cap.get(cv2.CAP_PROP_FPS)
        low, high = ANNOUNCED_FPS_RANGE
        self.fps = float(announced) if low <= announced <= high else (self.requested.fps or FALLBACK_FPS)
        self._cond = threading.Condition()
        self._newest: tuple[np.ndarray, float] | None = (first, time.perf_counter())
        self.health.frames_grabbed = 1
        self._ended = False
        self._closing = threading.Event()
        self._index = 0
        self._t0 = self._newest[1]
        self._thread = threading.Thread(target=self._grab, args=(cap,), name=f"grab {description}", daemon=True)
        self._thread.start()

    def read(self) -> Frame | None:
        """The newest frame not yet returned, waiting for one; None once the source gave up or was closed."""
        with self._cond:
            while self._newest is None and not self._ended:
                self._cond.wait()
            if self._newest is None:
                return None
            image, captured = self._newest
            self._newest = None
        frame = Frame(self._index, image, captured - self._t0, captured)
        self._index += 1
        return frame

    def close(self) -> None:
        """Stop grabbing. A read in progress (a stalled stream) ends within the read timeout; the thread then
        releases the capture itself, so closing never waits for a silent camera."""
        self._closing.set()
        with self._cond:
            self._ended = True
            self._cond.notify_all()
        self._thread.join(timeout=CLOSE_WAIT_S)

    def _grab(self, cap: cv2.VideoCapture) -> None:
        """The grabbing thread: owns the capture (read, release, reopen) until the source is closed or gives up."""
        try:
            self._grab_until_closed(cap)
        except Exception as exc:  # noqa: BLE001 — a reader that raises ends the source with its reason, never leaves read() waiting
            self._give_up(f"{self.description}: reading failed ({type(exc).__name__}: {exc})")

    def _grab_until_closed(self, cap: cv2.VideoCapture | None) -> None:
        last_frame = self._t0
        offline_since: float | None = None
        try:
            while cap is not None and not self._closing.is_set():
                ok, image = cap.read()
                now = time.perf_counter()
                if ok and image is not None:
                    if offline_since is not None:
                        self.health.offline_s += now - offline_since
                        self.health.reconnects += 1
                        offline_since = None
                    else:
                        self.health.online_s += now - last_frame
                    last_frame = now
                    if (image.shape[1], image.shape[0]) != self.size:
                        self._give_up(f"{self.description} changed size from {self.size[0]}×{self.size[1]} to {image.shape[1]}×{image.shape[0]}; the frames before were kept")
                        return
                    self._offer(image, now)
                    continue
                if offline_since is None:
                    offline_since = now
                    self.health.outages += 1
                cap.release()
                cap = self._reopen(offline_since)
                if cap is None and not self._closing.is_set():
                    self.health.offline_s += time.perf_counter() - offline_since
                    self._give_up(self._gave_up_reason())
        finally:
            if cap is not None:
                cap.release()

    def _offer(self, image: np.ndarray, captured: float) -> None:
        with self._cond:
            if self._newest is not None:
                self.frames_skipped += 1  # nobody took it before a newer one arrived, as a camera's frame is lost
            self._newest = (image, captured)
            self.health.frames_grabbed += 1
            self._cond.notify_all()

    def _reopen(self, offline_since: float) -> cv2.VideoCapture | None:
        """The source opened again, waiting longer between attempts; None once `reconnect_for_s` has passed (or on close)."""
        wait = self.options.first_wait_s
        while True:
            left = offline_since + self.options.reconnect_for_s - time.perf_counter()
            if left <= 0 or self._closing.wait(min(wait, left)):
                return None
            self.health.reconnect_attempts += 1
            try:
                return self._opener()
            except SourceError:
                wait = min(2 * wait, self.options.max_wait_s)

    def _gave_up_reason(self) -> str:
        if self.options.reconnect_for_s == 0:
            return f"{self.description} stopped delivering frames after frame {self.health.frames_grabbed} (reconnection is off: --reconnect-for 0)"
        return (
            f"{self.description} stopped delivering frames and did not come back within {self.options.reconnect_for_s:g} s "
            f"({self.health.reconnect_attempts} reconnect attempts); raise --reconnect-for to wait longer"
        )

    def _give_up(self, reason: str) -> None:
        with self._cond:
            self.stopped_early = reason
            self._ended = True
            self._cond.notify_all()
