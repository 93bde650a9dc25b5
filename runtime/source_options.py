"""The options of a live source: what is asked of a camera (`--camera-size`, `--camera-fps`) and how
long a stream is waited for and reopened (`--connect-timeout`, `--reconnect-for`).

Parsing and defaults only, without OpenCV, so the CLI reads its defaults and checks its usage here
before anything heavy is imported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from l2m_edge.checks import require_number
from l2m_edge.errors import SourceError

MAX_SIDE = 16384  # pixels: beyond any camera, and a bound on what a typo can allocate


@dataclass(frozen=True)
class CameraRequest:
    """The size and frame rate asked of a camera (`--camera-size WxH --camera-fps N`); None: the camera's own."""

    size: tuple[int, int] | None = None
    fps: float | None = None

    def __post_init__(self) -> None:
        if self.fps is not None:
            require_number("--camera-fps", self.fps, above=0, at_most=1000)
        if self.size is not None and not all(isinstance(v, int) and 0 < v <= MAX_SIDE for v in self.size):
            raise SourceError(f"--camera-size {self.size}: width and height must be whole numbers of pixels from 1 to {MAX_SIDE}")

    def __bool__(self) -> bool:
        return self.size is not None or self.fps is not None

    def describe(self) -> str:
        size = f"{self.size[0]}×{self.size[1]}" if self.size else "its own size"
        return size + (f" @ {self.fps:g} fps" if self.fps else "")


def size_problem(text: str) -> str | None:
    """What is wrong with a `WxH` size (a sentence), or None (the CLI's usage check and `parse_size` share it)."""
    match = re.fullmatch(r"\s*(\d{1,5})\s*[x×X]\s*(\d{1,5})\s*", text)
    if match is None:
        return f"{text!r} is not a size; give WIDTHxHEIGHT in pixels, e.g. 1280x720"
    if not all(0 < int(v) <= MAX_SIDE for v in match.groups()):
        return f"{text!r}: width and height must be from 1 to {MAX_SIDE} pixels"
    return None


def parse_size(text: str) -> tuple[int, int]:
    """`1280x720` → (1280, 720)."""
    problem = size_problem(text)
    if problem is not None:
        raise SourceError(f"--camera-size {problem}")
    width, height = re.findall(r"\d+", text)
    return int(width), int(height)


@dataclass(frozen=True)
class StreamOptions:
    """Timeouts and reconnection of a live source.

    A source that stops delivering is reopened after `first_wait_s`, then after twice as long each
    time up to `max_wait_s`, until it delivers again or has been silent for `reconnect_for_s`
    (0: never reconnect; the run then ends at the first outage, as a file ends).
    """

    connect_timeout_s: float = 10.0
    read_timeout_s: float = 5.0
    reconnect_for_s: float = 30.0
    first_wait_s: float = 0.25
    max_wait_s: float = 4.0

    def __post_init__(self) -> None:
        require_number("--connect-timeout", self.connect_timeout_s, above=0, at_most=600)
        require_number("read timeout", self.read_timeout_s, above=0, at_most=600)
        require_number("--reconnect-for", self.reconnect_for_s, at_least=0, at_most=86400)
        require_number("first reconnect wait", self.first_wait_s, above=0)
        require_number("longest reconnect wait", self.max_wait_s, at_least=self.first_wait_s)
