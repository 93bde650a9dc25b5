"""The calling thread's alternate signal stack, kept across native code that leaves it dangling.

OpenVINO's CPU plugin (2026.4 and earlier) gives the thread that loads it a fresh 3-page signal stack
(`sigaltstack`) and, when the plugin is destroyed, unmaps that stack, putting the previous one back
only if its own is still current. Two plugins (one per `ov.Core`) released in the order they were
made therefore leave the thread's signal stack on unmapped memory. The kernel writes every signal
frame for a handler installed with SA_ONSTACK (all of Python's, and torch's SIGCHLD handler for its
DataLoader workers) at that address, into whatever is mapped there by then: in the test suite, a
worker's 12 KB shared-memory batch (benchmarks/memory_fault.md). `keep_signal_stack()` around such
code puts the thread's own stack back, so a plugin's stack is never the current one when it is unmapped.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

SS_DISABLE = 2  # Linux <signal.h>


class _StackT(ctypes.Structure):
    _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int), ("ss_size", ctypes.c_size_t)]


@dataclass(frozen=True)
class SignalStack:
    address: int  # 0 when disabled
    size: int
    flags: int

    @property
    def disabled(self) -> bool:
        return bool(self.flags & SS_DISABLE) or not self.address


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def signal_stack() -> SignalStack | None:
    """The calling thread's alternate signal stack (None where it cannot be read: not Linux)."""
    libc = _libc()
    if libc is None:
        return None
    current = _StackT()
    if libc.sigaltstack(None, ctypes.byref(current)) != 0:
        return None
    return SignalStack(current.ss_sp or 0, current.ss_size, current.ss_flags)


def dangling_signal_stack() -> SignalStack | None:
    """The calling thread's signal stack if it points at memory no longer mapped (Linux), else None."""
    stack = signal_stack()
    if stack is None or stack.disabled:
        return None
    for line in Path("/proc/self/maps").read_text().splitlines():
        low, high = (int(x, 16) for x in line.split(maxsplit=1)[0].split("-"))
        if low <= stack.address < high:
            return None
    return stack


def _install(stack: SignalStack) -> None:
    libc = _libc()
    assert libc is not None
    wanted = _StackT(None, SS_DISABLE, 0) if stack.disabled else _StackT(stack.address, 0, stack.size)
    libc.sigaltstack(ctypes.byref(wanted), None)


@contextmanager
def keep_signal_stack() -> Iterator[None]:
    """Run the block, then give the calling thread back the signal stack it had before (Linux; elsewhere a no-op)."""
    before = signal_stack()
    try:
        yield
    finally:
        if before is not None and signal_stack() != before:
            _install(before)
