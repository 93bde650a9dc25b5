"""One studio client: its own stream state and controls on the shared model, newest frame first.

A client has at most one frame being edited and one waiting; a newer frame replaces the waiting
one (reported back as dropped, so the page frees its slot), so a slow model drops frames instead of
building latency. The edit runs in worker threads in two steps, decode → track, then infer (one client
at a time on the shared backend) → composite → encode, so a client's next frame is tracked while its
frame before is edited (as `Pipeline.run`'s stage threads overlap).
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import threading
import time
from concurrent.futures import Executor
from typing import Callable

import cv2
import numpy as np

from ..guard import guard_warning
from ..sources import Frame, Source
from ..stages import Controls, EditModel, EditStream, Job
from .protocol import BEFORE, ControlsMessage, FrameMessage, ProtocolError, check_jpeg, pack_reply

JPEG_QUALITY = 85


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None elsewhere (musl, macOS)."""
    return getattr(ctypes.CDLL(None), "malloc_trim", None)


def return_freed_memory() -> None:
    """Hand the heap's free pages back to the system. A page's session (its MediaPipe graphs, buffers) is freed
    into glibc's per-thread arenas, which keep it: 400 visits took the studio from 540 to ~900 MB resident;
    trimmed after each, 200 visits stay near 550 MB (benchmarks/soak.md)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class SourceFeed:
    """The server's own source read in a thread, only its newest frame kept (a camera's frames are never queued)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.ended: str | None = None
        self._newest: Frame | None = None
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="studio-source", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self.source.read()
                if frame is None:
                    self.ended = self.source.stopped_early or f"the source {self.source.description} ended"
                    break
                if frame.captured is None:
                    frame.captured = time.perf_counter()
                with self._changed:
                    self._newest = frame
                    self._changed.notify_all()
        except Exception as exc:  # a camera unplugged: every client is told why
            self.ended = f"the source {self.source.description} failed: {exc}"
        with self._changed:
            self._changed.notify_all()

    def newest_after(self, index: int, timeout: float = 5.0) -> Frame | None:
        """The newest frame with an index above `index`, waiting for one; None when the source ended."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._newest is None or self._newest.index <= index:
                remaining = deadline - time.monotonic()
                if self.ended or remaining <= 0:
                    return None
                self._changed.wait(remaining)
            return self._newest

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
        self.source.close()


class ClientSession:
    def __init__(self, model: EditModel, model_thread: Executor, feed: SourceFeed | None, quality: int = JPEG_QUALITY) -> None:
        self.controls: Controls = model.controls()
        self.stream: EditStream = model.stream(self.controls, share_guesser=False)
        self.feed = feed
        self.quality = quality
        self._model_thread = model_thread
        self._pending: FrameMessage | None = None
        self._ready = asyncio.Event()
        self._index = -1  # the last frame index edited (a server source's frames are sent once each)
        self.dropped = 0  # frames replaced while waiting
        self.stats_sent = time.monotonic()  # when the page last had the stats
        self.compare = False  # send a server source's frame before the edit too
        self._tracking, self._editing = threading.Lock(), threading.Lock()  # held by each step: close() waits for both

    # -- the event loop's side ----------------------------------------------------------------
    def offer(self, message: FrameMessage) -> int | None:
        """Queue `message` as the next frame; returns the id of the waiting frame it replaced."""
        if (self.feed is None) != bool(message.jpeg):
            raise ProtocolError("this studio shows its own source: the page sends requests without images" if self.feed else "a frame message carries no JPEG")
        if message.jpeg:
            check_jpeg(message.jpeg)
        replaced = self._pending.frame_id if self._pending is not None else None
        self.dropped += replaced is not None
        self._pending = message
        self._ready.set()
        return replaced

    async def next(self) -> FrameMessage:
        await self._ready.wait()
        self._ready.clear()
        message, self._pending = self._pending, None
        assert message is not None
        return message

    def apply(self, message: ControlsMessage) -> None:
        """Controls act on the next frame: each stage reads them once per frame."""
        if message.target is not None:
            self.controls.target = message.target
        if message.strength is not None:
            self.controls.strength = message.strength
        if message.edit is not None:
            self.controls.enabled = message.edit
        if message.faces is not None:
            self.controls.largest_only = message.faces == "largest"
        if message.compare is not None:
            self.compare = message.compare

    def stats(self) -> dict:
        """Per-stage p50 ms since the last report, the guard's warning, frames dropped here, the controls in force."""
        c = self.controls
        return {
            "type": "stats",
            "stages_ms": self.stream.timings.take_p50s(),
            "guard": guard_warning(list(self.stream.infer.guarded.values())),
            "dropped": self.dropped,
            "controls": {"target": c.target, "strength": c.strength, "edit": c.enabled, "faces": "largest" if c.largest_only else "all"},
        }

    # -- the worker threads' side: two steps, so one frame is tracked while the one before it is edited ----------
    def prepare(self, message: FrameMessage) -> Job | None:
        """Decode (or take the server source's newest frame), track and align; None when the server's source gave no new frame."""
        with self._tracking:
            return self._prepare(message)

    def _prepare(self, message: FrameMessage) -> Job | None:
        started = time.perf_counter()
        if self.feed is not None:
            frame = self.feed.newest_after(self._index)
            if frame is None:
                return None
            started = time.perf_counter()
        else:
            image = cv2.imdecode(np.frombuffer(message.jpeg, np.uint8), cv2.IMREAD_COLOR)
            if image is None:
                raise ProtocolError("the frame's JPEG does not decode")
            frame = Frame(self._index + 1, image, started)
            self.stream.timings.add("decode", 1000 * (time.perf_counter() - started))
        self._index = frame.index
        return self.stream.track(Job(frame, started))

    def finish(self, message: FrameMessage, job: Job) -> list[bytes]:
        """Infer (on the model's own thread, one client at a time), composite and encode: the reply, and the
        server source's frame before the edit when the page compares (the page has its camera's own)."""
        with self._editing:
            job = self._model_thread.submit(self.stream.infer, job).result()
            image = self.stream.composite(job).image
        t0 = time.perf_counter()
        _, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        done = time.perf_counter()
        self.stream.timings.add("encode", 1000 * (done - t0))
        replies = [pack_reply(message.frame_id, message.captured_ms, 1000 * (done - job.captured), jpeg.tobytes())]
        if self.feed is not None and self.compare:
            _, before = cv2.imencode(".jpg", job.frame.image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            replies.append(pack_reply(message.frame_id, message.captured_ms, 0.0, before.tobytes(), BEFORE))
        return replies

    def close(self) -> None:
        """Free the stream's state once neither step is running (a page that left mid-frame)."""
        with self._tracking, self._editing:
            self.stream.close()
        return_freed_memory()
