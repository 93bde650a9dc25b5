"""Soak: a live run sampled over time (resident memory, open file descriptors, threads, output FPS) and its leak verdict.

A leak shows as a trend, not a level: the first seconds load graphs, open files and start threads, so
everything is judged after a warm-up. Memory is judged by its Theil–Sen slope (the median of all pairwise
slopes), which a few allocator jumps or a busy neighbour on a shared machine cannot tilt, and by its
growth from the first to the last minute. File descriptors and threads are counts, so they must not
move at all. FPS is judged per window against the run's median, beside the load average it was taken at.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import psutil

SOAK_CLIP = "pair"  # two faces moving in one frame (runtime/clip.py)
SOAK_SIZE = (1280, 480)  # each face on a 640×480 half
GOAL_RSS_GROWTH_MB = 20.0  # after warm-up, over the whole run
GOAL_FPS_SPREAD = 0.05  # each window's FPS within 5 % of the run's median


@dataclass(frozen=True)
class Sample:
    t: float  # seconds since the pipeline started
    rss_mb: float
    fds: int
    threads: int
    frames_out: int
    fps: float  # frames written since the previous sample, per second
    load1: float  # the machine's 1-minute load average: FPS on a shared machine follows it


@dataclass(frozen=True)
class Verdict:
    warmup_s: float
    rss_slope_mb_per_min: float
    rss_growth_mb: float  # median RSS of the last window minus that of the first window after warm-up
    fds: tuple[int, int]  # (min, max) after warm-up
    threads: tuple[int, int]
    fps_median: float
    fps_windows: list[float]  # median FPS per window after warm-up
    fps_spread: float  # largest relative distance of a window from the median
    window_s: float

    @property
    def memory_flat(self) -> bool:
        return self.rss_growth_mb <= GOAL_RSS_GROWTH_MB

    @property
    def handles_constant(self) -> bool:
        return self.fds[0] == self.fds[1] and self.threads[0] == self.threads[1]

    @property
    def fps_steady(self) -> bool:
        return self.fps_spread <= GOAL_FPS_SPREAD

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "memory_flat": self.memory_flat, "handles_constant": self.handles_constant, "fps_steady": self.fps_steady}


@dataclass
class SoakRun:
    backend: str
    seconds: float
    samples: list[Sample] = field(default_factory=list)
    frames_in: int = 0
    frames_out: int = 0
    frames_dropped: int = 0
    faces_edited: int | None = 0  # None where the sampler cannot know (the studio's pages get frames, not counts)
    warnings: list[str] = field(default_factory=list)


def sample_process(process: psutil.Process, t: float, frames_out: int, fps: float) -> Sample:
    """One sample of `process` (this one, or a child such as the studio's server)."""
    return Sample(
        t=round(t, 3),
        rss_mb=process.memory_info().rss / 2**20,
        fds=process.num_fds(),
        threads=process.num_threads(),
        frames_out=frames_out,
        fps=fps,
        load1=os.getloadavg()[0],
    )


def theil_sen_slope(t: np.ndarray, y: np.ndarray) -> float:
    """Median of the slopes between every pair of points: robust to a minority of outliers and steps."""
    i, j = np.triu_indices(len(t), k=1)
    dt = t[j] - t[i]
    keep = dt > 0
    if not keep.any():
        return 0.0
    return float(np.median((y[j] - y[i])[keep] / dt[keep]))


def judge(samples: list[Sample], warmup_s: float, window_s: float = 60.0) -> Verdict:
    """The leak verdict on the samples taken after `warmup_s`; windows of `window_s` for FPS and growth."""
    kept = [s for s in samples if s.t >= warmup_s]
    if len(kept) < 3:
        raise ValueError(f"{len(kept)} samples after a {warmup_s:g} s warm-up: run longer or sample more often")
    t = np.array([s.t for s in kept])
    rss = np.array([s.rss_mb for s in kept])
    window_s = min(window_s, (t[-1] - t[0]) / 2)
    first, last = rss[t <= t[0] + window_s], rss[t >= t[-1] - window_s]
    edges = np.arange(t[0], t[-1], window_s)
    fps = np.array([s.fps for s in kept])
    windows = [float(np.median(fps[(t >= a) & (t < a + window_s)])) for a in edges if ((t >= a) & (t < a + window_s)).any()]
    median = float(np.median(fps))
    spread = max(abs(w - median) for w in windows) / median if median > 0 else float("inf")
    return Verdict(
        warmup_s=warmup_s,
        rss_slope_mb_per_min=60.0 * theil_sen_slope(t, rss),
        rss_growth_mb=float(np.median(last) - np.median(first)),
        fds=(min(s.fds for s in kept), max(s.fds for s in kept)),
        threads=(min(s.threads for s in kept), max(s.threads for s in kept)),
        fps_median=median,
        fps_windows=windows,
        fps_spread=float(spread),
        window_s=float(window_s),
    )


def soak(
    seconds: float,
    interval: float = 2.0,
    backend: str = "auto",
    fps: float = 25.0,
    on_sample: Callable[[Sample], None] | None = None,
) -> SoakRun:
    """Run the shipped model live on the two-face pattern for `seconds`, sampling this process every `interval` s."""
    from l2m_edge.runtime.backends import describe, load_backend
    from l2m_edge.runtime.demo import shipped_demo_checkpoint
    from l2m_edge.runtime.domains import domain_guesser
    from l2m_edge.runtime.pipeline import EditOptions, Pipeline
    from l2m_edge.runtime.sinks import NullSink
    from l2m_edge.runtime.sources import PatternSource

    engine = load_backend(shipped_demo_checkpoint(), backend=backend)
    pipeline = Pipeline(engine, EditOptions(target="smile", max_faces=2), domain_guesser=domain_guesser(engine))
    source = PatternSource(fps=fps, size=SOAK_SIZE, seconds=seconds, live=True, kind=SOAK_CLIP)
    sink = NullSink()  # counts the frames written; the sampler only reads the count
    run = SoakRun(backend=describe(engine), seconds=seconds)
    done = threading.Event()
    process = psutil.Process()

    def sample() -> None:
        t0 = last_t = time.perf_counter()
        last_count = 0
        while not done.wait(interval):
            now, count = time.perf_counter(), sink.frames
            item = sample_process(process, now - t0, count, (count - last_count) / (now - last_t))
            last_t, last_count = now, count
            run.samples.append(item)
            if on_sample is not None:
                on_sample(item)

    sampler = threading.Thread(target=sample, name="soak-sampler", daemon=True)
    sampler.start()
    try:
        result = pipeline.run(source, sink)
    finally:
        done.set()
        sampler.join()
    run.frames_in, run.frames_out, run.frames_dropped = result.frames_in, result.frames_out, result.frames_dropped
    run.faces_edited, run.warnings = result.faces_edited, list(result.warnings)
    return run
