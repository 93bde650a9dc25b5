"""A long-lived child process watched from outside (a studio under a soak, a server under a test).

It runs in a session of its own, so Ctrl-C and a kill reach everything it started, with SIGINT at the
default (a parent started in the background has it ignored, and children inherit that). Its stdout and
stderr are read in a thread as they come: a child that logs a lot (MediaPipe writes a few lines to
stderr for every tracker it builds) never stalls on a full pipe, and a wait for a line keeps its deadline
instead of blocking in a read.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time

import psutil

from l2m_edge.errors import BenchError


def default_sigint() -> None:
    """A child's `preexec_fn`: SIGINT back at the default, whatever the parent inherited."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL `proc`'s process group and every descendant that left it (torchrun puts each rank in a session of its own)."""
    try:
        descendants = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for child in descendants:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    proc.wait()


class WatchedChild:
    """`cmd` started now; `lines` is everything it printed so far, stdout and stderr interleaved."""

    def __init__(self, cmd: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True, preexec_fn=default_sigint)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="child-output", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            with self._changed:
                self.lines.append(raw.decode(errors="replace").rstrip())
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 60.0) -> re.Match:
        """The `count`-th line matching `pattern`, waiting for it; BenchError with the output's tail past `timeout`
        or once the child has ended without it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [m for m in (re.search(pattern, line) for line in self.lines) if m]
                if len(found) >= count:
                    return found[count - 1]
                remaining = deadline - time.monotonic()
                ended = self.proc.poll() is not None and not self._reader.is_alive()
                if remaining <= 0 or ended:
                    tail = "\n".join(self.lines[-30:])
                    raise BenchError(f"{self.proc.args[0]} printed no line matching {pattern!r} ({count} wanted, exit {self.proc.poll()}):\n{tail}")
                self._changed.wait(min(remaining, 1.0))

    def interrupt(self, timeout: float = 30.0) -> int:
        """Ctrl-C to the child's group; its exit code once it has ended and its output is all read (killed past `timeout`)."""
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
            self.proc.wait(timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            kill_group(self.proc)
        self._reader.join(timeout)
        return self.proc.wait()

    def kill(self) -> None:
        kill_group(self.proc)

    def __enter__(self) -> WatchedChild:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.kill()
