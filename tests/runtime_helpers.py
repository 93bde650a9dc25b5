"""Small real inputs for the runtime tests (the astronaut photo, a no-face photo, two faces in one frame), what an in-process CLI call gave, and child processes that cannot outlive a failing test."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from l2m_edge.bench.child import default_sigint, kill_group

# Where the astronaut's face is in skimage.data.astronaut() (512×512): eyes ~(204,101)/(247,104), chin ~(221,177).
ASTRONAUT_FACE_BOX = (170, 55, 280, 190)  # x0, y0, x1, y1 of the whole face oval, with a margin


def astronaut_bgr() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[..., ::-1])


def coffee_bgr() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.coffee()[..., ::-1])


def two_faces_bgr() -> np.ndarray:
    """Two crops of the astronaut's head side by side: a 640×360 frame with two faces."""
    head = astronaut_bgr()[20:290, 90:360]  # 270×270 around the face
    head = cv2.resize(head, (320, 320))
    frame = np.full((360, 640, 3), 128, np.uint8)
    frame[20:340, 0:320] = head
    frame[20:340, 320:640] = head[:, ::-1]  # mirrored, so the two are not pixel copies
    return frame


def cameraman_bgr() -> np.ndarray:
    """skimage's `camera` (a photographer, greyscale, 512×512) as BGR."""
    from skimage import data

    return cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2BGR)


def two_people_bgr() -> np.ndarray:
    """1024×512: the astronaut beside her mirror image — two real faces ~100 px wide, side by side."""
    photo = astronaut_bgr()
    return np.ascontiguousarray(np.concatenate([photo, photo[:, ::-1]], axis=1))


def four_people_bgr() -> np.ndarray:
    """1024×1024, 2×2: the astronaut and the cameraman, each beside a mirror image — four real faces."""
    top = np.concatenate([astronaut_bgr(), astronaut_bgr()[:, ::-1]], axis=1)
    bottom = np.concatenate([cameraman_bgr(), cameraman_bgr()[:, ::-1]], axis=1)
    return np.ascontiguousarray(np.concatenate([top, bottom], axis=0))


@dataclass
class Ran:
    """What an in-process `l2m-edge` call gave: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith(("error:", "skipped:")) or "Invalid value" in line]


def video_started(video: Path) -> bool:
    """Whether a run writing `video` has put frames into its temporary file yet (l2m_edge.io's naming)."""
    return any(p.stat().st_size > 0 for p in video.parent.glob(f".{video.stem}.*.tmp{video.suffix}"))


@contextlib.contextmanager
def writing_video(cmd: list[str], video: Path, timeout: float = 90) -> Iterator[subprocess.Popen[str]]:
    """A child `l2m-edge run … --sink VIDEO`, given once its temporary video holds frames (or it ended).

    Its SIGINT is at the default, and it is killed on any way out, so a failing test leaves no process behind.
    """
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"),
                            preexec_fn=default_sigint)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None and not video_started(video):
            time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def start_group(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`cmd` in a session of its own, so that `kill_group` takes it with everything it started."""
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True, preexec_fn=default_sigint)


def finish_group(proc: subprocess.Popen[bytes], timeout: float = 300) -> tuple[str, str]:
    """The child's (stdout, stderr) once it ends; on a timeout or any other way out, it is killed with its group."""
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        kill_group(proc)
    return out.decode(), err.decode()


# The studio's fake camera: the demo's SynthFaces actor at a third of its speed, played forth and back
# (no jump where the camera loops). A webcam sees small motion between frames; the demo clip replayed
# at the few frames a second a shared machine edits would jump further than any tracker follows.
CAMERA_TIMES = [0.03 * i for i in range(30)]


def camera_frames() -> list[np.ndarray]:
    from l2m_edge.runtime.clip import actor_frame

    forth = [actor_frame(t) for t in CAMERA_TIMES]
    return forth + forth[::-1]


def flip_middle_byte(path: Path) -> None:
    """Corrupt a file the way a bad copy does: one byte in its middle inverted."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
