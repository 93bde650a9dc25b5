"""The live pipeline's engine: a producer and its stages, each in a thread of its own, joined by bounded hand-offs.

Live, a full hand-off drops its oldest item, so every stage takes the newest frame and latency never
builds behind a slow one; lossless (a file), a put waits, so every item goes through in order. The end
marker is never dropped. The first error in any thread stops them all and is raised in the caller's
thread, which drains the last hand-off (a window's events need the main thread).
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterator, Sequence

END = object()  # what a producer leaves behind its last item
POLL_SECONDS = 0.1  # how often a blocked put or get looks at the stop flag


class Handoff:
    """A bounded queue between two threads that gives way to `stop`."""

    def __init__(self, size: int, lossless: bool, stop: threading.Event) -> None:
        self._queue: queue.Queue = queue.Queue(max(1, size))
        self.lossless = lossless
        self.stop = stop
        self.dropped = 0  # items a live put pushed out unread

    def put(self, item: Any) -> None:
        while not self.stop.is_set():
            if not self.lossless and item is not END:
                try:
                    self._queue.put_nowait(item)
                    return
                except queue.Full:
                    if self._drop_oldest():
                        continue
                    return  # the end is waiting: nothing after it is read
            try:
                self._queue.put(item, timeout=POLL_SECONDS)
                return
            except queue.Full:
                continue

    def _drop_oldest(self) -> bool:
        """Make room by dropping the oldest item; False when that item is the end, which stays."""
        try:
            stale = self._queue.get_nowait()
        except queue.Empty:
            return True
        if stale is END:
            self._queue.put_nowait(stale)
            return False
        self.dropped += 1
        return True

    def get(self) -> Any:
        """The next item, or END once stopped."""
        while not self.stop.is_set():
            try:
                return self._queue.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
        return END


class _Stopped(Exception):
    """Raised by a producer's `emit` once the run is stopped."""


Stage = tuple[str, Callable[[Any], Any]]  # a thread's name and what it does to each item


class StageThreads:
    """`produce(emit)` in one thread, each stage in its own after it; iterate `run()` for what the last gives.

    Once stopped, `emit` raises and so ends the producer; `stop` is shared with whoever may end the run early (a window's `q`, the caller's Ctrl-C)."""

    def __init__(self, produce: Callable[[Callable[[Any], None]], None], stages: Sequence[Stage], size: int, lossless: bool,
                 stop: threading.Event | None = None) -> None:
        self.stop = stop if stop is not None else threading.Event()
        self._handoffs = [Handoff(size, lossless, self.stop) for _ in range(len(stages) + 1)]
        self._errors: list[BaseException] = []
        self._threads = [threading.Thread(target=self._guarded(self._producer(produce)), name="capture", daemon=True)]
        for (name, fn), q_in, q_out in zip(stages, self._handoffs, self._handoffs[1:]):
            self._threads.append(threading.Thread(target=self._guarded(self._stage(fn, q_in, q_out)), name=name, daemon=True))

    @property
    def dropped(self) -> int:
        return sum(handoff.dropped for handoff in self._handoffs)

    @property
    def error(self) -> BaseException | None:
        """The first error a thread raised (a KeyboardInterrupt counts as a stop, not an error)."""
        errors = [exc for exc in self._errors if not isinstance(exc, KeyboardInterrupt)]
        return errors[0] if errors else None

    def run(self) -> Iterator[Any]:
        """Start the threads and yield what the last stage gives, until the producer's end or a stop."""
        self.stop.clear()
        for thread in self._threads:
            thread.start()
        while True:
            item = self._handoffs[-1].get()
            if item is END:
                return
            yield item

    def close(self, timeout: float = 5.0) -> None:
        """Stop every thread and wait for them (each gives way within POLL_SECONDS unless its own work holds it)."""
        self.stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)

    def _producer(self, produce: Callable[[Callable[[Any], None]], None]) -> Callable[[], None]:
        first = self._handoffs[0]

        def emit(item: Any) -> None:
            first.put(item)
            if self.stop.is_set():
                raise _Stopped  # ends a producer that would go on forever (a live source)

        def loop() -> None:
            try:
                produce(emit)
            except _Stopped:
                return
            first.put(END)

        return loop

    @staticmethod
    def _stage(fn: Callable[[Any], Any], q_in: Handoff, q_out: Handoff) -> Callable[[], None]:
        def loop() -> None:
            while True:
                item = q_in.get()
                if item is END:
                    q_out.put(END)
                    return
                q_out.put(fn(item))

        return loop

    def _guarded(self, fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # handed to the caller's thread, which raises it
                self._errors.append(exc)
                self.stop.set()

        return run
