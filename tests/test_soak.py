"""The short soak: a minute of live two-face editing must not leak memory, file descriptors or threads.

It runs benchmarks/soak.py for a minute in a process of its own, as `l2m-edge run` is (the suite's
process holds other tests' threads and files, which come and go). The 30-minute record is
benchmarks/soak.json and soak.png. The studio's short soak: 30 pages visiting a real `l2m-edge studio`
child process, 50 here (the record, 200 visits: benchmarks/soak_studio.json and soak_studio.png).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from l2m_edge.bench.soak import Sample, judge, theil_sen_slope
from l2m_edge.bench.soak_studio import studio_soak

from runtime_helpers import finish_group, start_group

SOAK_SCRIPT = Path(__file__).parents[1] / "benchmarks" / "soak.py"

SHORT_SOAK_S = 60.0
WARMUP_S = 20.0  # graphs built, first tracks found, every thread started
# Allocator noise here is a few MB either way, which over 40 s is up to ~2 MB/min of fitted slope even on a
# busy machine; keeping one 128² float face crop per frame at 3 FPS would be ~35 MB/min.
LEAK_SLOPE_MB_PER_MIN = 10.0
STUDIO_VISITS, STUDIO_WARMUP_VISITS = 50, 20  # the allocator settles over the first visits; the threads are all there by the first
# After warm-up a visit moves the server's RSS by a few MB either way as the allocator reuses arenas, and
# the fitted slope stays under ~1 MB a visit (benchmarks/soak.md); a page's tracker with its MediaPipe
# graphs and buffers is ~4 MB, so a session kept per visit would be above this.
LEAK_MB_PER_VISIT = 3.0


def _series(rss: np.ndarray, fds: int = 7, threads: int = 19) -> list[Sample]:
    return [Sample(t=float(i), rss_mb=float(r), fds=fds, threads=threads, frames_out=3 * i, fps=3.0, load1=1.0) for i, r in enumerate(rss)]


def test_theil_sen_slope_ignores_a_few_jumps_that_least_squares_follows() -> None:
    t = np.arange(60.0)
    y = 500.0 + 0.1 * t
    y[50:56] += 80.0  # an allocator grabbing and returning an arena near the end
    assert theil_sen_slope(t, y) == pytest.approx(0.1, abs=1e-9)
    assert np.polyfit(t, y, 1)[0] > 0.5


def test_judge_sees_a_leak_as_slope_and_growth_and_a_flat_noisy_run_as_flat() -> None:
    rng = np.random.default_rng(0)
    flat = judge(_series(540 + rng.normal(0, 3, 120)), warmup_s=20, window_s=20)
    assert abs(flat.rss_slope_mb_per_min) < 3 and flat.memory_flat and flat.handles_constant
    leak = judge(_series(540 + 0.5 * np.arange(120) + rng.normal(0, 3, 120)), warmup_s=20, window_s=20)  # 30 MB/min
    assert leak.rss_slope_mb_per_min == pytest.approx(30, rel=0.1) and not leak.memory_flat


def test_judge_counts_any_change_of_descriptors_or_threads() -> None:
    samples = _series(np.full(60, 540.0))
    samples[45] = Sample(t=45.0, rss_mb=540.0, fds=8, threads=19, frames_out=135, fps=3.0, load1=1.0)
    assert not judge(samples, warmup_s=20).handles_constant
    assert judge(samples[:45], warmup_s=20).handles_constant


def test_a_minute_of_live_two_face_editing_leaks_no_memory_descriptors_or_threads(tmp_path: Path) -> None:
    cmd = [sys.executable, str(SOAK_SCRIPT), "--minutes", str(SHORT_SOAK_S / 60), "--interval", "1", "--warmup", str(WARMUP_S), "--out", str(tmp_path)]
    out, err = finish_group(start_group(cmd), timeout=600)
    assert (tmp_path / "soak.json").is_file(), f"the soak wrote no record: {err[-2000:]}"
    record = json.loads((tmp_path / "soak.json").read_text())
    run, verdict = record["run"], record["verdict"]
    series = {key: [(s["t"], s[key]) for s in record["samples"]] for key in ("fds", "threads")}
    assert run["frames_out"] > 20 and run["faces_edited"] >= run["frames_out"], f"both faces should be edited in most frames: {run}"
    assert verdict["fds"][0] == verdict["fds"][1], f"open file descriptors changed after warm-up: {series['fds']}"
    assert verdict["threads"][0] == verdict["threads"][1], f"thread count changed after warm-up: {series['threads']}"
    assert verdict["rss_slope_mb_per_min"] < LEAK_SLOPE_MB_PER_MIN, f"RSS grows {verdict['rss_slope_mb_per_min']:.1f} MB/min after warm-up"


def test_a_live_runs_timings_keep_a_bounded_window_and_summarise_the_latest_frames() -> None:
    from l2m_edge.runtime.timing import TIMING_WINDOW, Timings

    timings = Timings()
    for i in range(TIMING_WINDOW + 500):  # an hour at 25 FPS would be 90 000 frames
        timings.add("infer", 1000.0 if i < 500 else 10.0)
        timings.latency.append(float(i))
    assert len(timings.stages["infer"]) == len(timings.latency) == TIMING_WINDOW
    summary = timings.summary(frames=TIMING_WINDOW + 500, wall_s=10.0)
    assert summary["stages_ms"]["infer"]["mean"] == 10.0 and summary["latency_ms"]["max"] == TIMING_WINDOW + 499


def test_fifty_studio_visits_leak_no_memory_descriptors_or_threads() -> None:
    """Pages connect, edit two frames and leave (every other one dropping its socket mid-frame); the server keeps serving."""
    run = studio_soak(STUDIO_VISITS, frames_per_cycle=2)
    clean_visits = dropped_visits = STUDIO_VISITS // 2
    assert run.frames_out == 2 * clean_visits + dropped_visits, f"every frame but a dropped visit's last comes back edited: {run}"
    assert not run.warnings, f"the studio logged errors: {run.warnings}"
    kept = run.samples[STUDIO_WARMUP_VISITS:]
    assert len({s.fds for s in kept}) == 1, f"open file descriptors changed after warm-up: {[s.fds for s in run.samples]}"
    # the worker pool starts all its threads with the server, and the model runs on one of its own (a backend's
    # OpenMP team or TBB arena belongs to the calling thread): the same threads from the first visit on
    assert len({s.threads for s in run.samples}) == 1, f"thread count changed: {[s.threads for s in run.samples]}"
    per_visit = theil_sen_slope(np.arange(len(kept), dtype=float), np.array([s.rss_mb for s in kept]))
    assert per_visit < LEAK_MB_PER_VISIT, f"the server's RSS grows {per_visit:.2f} MB a visit after warm-up: {[round(s.rss_mb) for s in run.samples]}"
