"""Soak: the shipped model editing two faces live for a long time, sampled for leaks.

    python benchmarks/soak.py [--minutes 30] [--interval 5] [--warmup 300] [--out benchmarks]
    python benchmarks/soak.py --studio-cycles 200 [--frames 3] [--warmup-cycles 50] [--out benchmarks]

Runs the live pipeline (the `pair` test pattern: two moving faces, 1280×480, paced at 25 fps like a
camera, stale frames dropped; the shipped demo checkpoint on `--backend auto`; `--sink null`) in this
process and samples it every `--interval` seconds: resident memory, open file descriptors, threads,
output FPS and the machine's load average. Writes soak.json (samples, verdict, CPU, load) and
soak.png. The goals: memory growth ≤ 20 MB after warm-up, constant descriptors and threads, every
minute's FPS within 5 % of the median (on a shared machine, read FPS beside the load it was taken at).

With --studio-cycles, `l2m-edge studio` runs as a child process instead and that many pages visit it
one after another (bench/soak_studio.py: a few real JPEG frames each, every other page dropping its
connection mid-frame); the server is sampled after each page left. Writes soak_studio.json and
soak_studio.png; the same memory, descriptor and thread goals.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

from l2m_edge.bench.environment import capture_environment, load_average
from l2m_edge.bench.soak_studio import studio_soak
from l2m_edge.bench.soak import GOAL_FPS_SPREAD, GOAL_RSS_GROWTH_MB, Sample, SoakRun, Verdict, judge, soak, theil_sen_slope
from l2m_edge.io import atomic_path, write_json_atomic


def _plot(run: SoakRun, verdict: Verdict, path: Path, what: str, per_cycle: bool = False) -> None:
    """The four series against minutes, or against the studio's page visits (`per_cycle`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = list(range(1, len(run.samples) + 1)) if per_cycle else [s.t / 60 for s in run.samples]
    warmup_x = sum(s.t < verdict.warmup_s for s in run.samples) + 1 if per_cycle else verdict.warmup_s / 60
    fig, axes = plt.subplots(4, 1, figsize=(9, 9), sharex=True)
    series = [
        ("RSS (MB)", [s.rss_mb for s in run.samples]),
        ("open file descriptors", [s.fds for s in run.samples]),
        ("threads", [s.threads for s in run.samples]),
        ("edited FPS during the visit" if per_cycle else "output FPS", [s.fps for s in run.samples]),
    ]
    for ax, (label, values) in zip(axes, series):
        ax.plot(x, values, lw=1)
        ax.set_ylabel(label)
        ax.axvline(warmup_x, color="grey", ls=":", lw=1)
        ax.grid(alpha=0.3)
    load = axes[3].twinx()
    load.plot(x, [s.load1 for s in run.samples], color="tab:red", lw=0.8, alpha=0.6)
    load.set_ylabel("load average (1 min)", color="tab:red")
    axes[0].set_title(
        f"soak: {run.backend.split(' (')[0]}, {what}; RSS slope {verdict.rss_slope_mb_per_min:+.2f} MB/min, growth {verdict.rss_growth_mb:+.1f} MB after warm-up",
        fontsize=9,
    )
    axes[3].set_xlabel("page visits (connect, frames, disconnect)" if per_cycle else "minutes")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=300.0, help="seconds left out of the verdict (RSS climbs for the first minutes as tracks come and go)")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    parser.add_argument("--studio-cycles", type=int, default=0, help="soak `l2m-edge studio` with this many page visits instead of a live run")
    parser.add_argument("--frames", type=int, default=3, help="JPEG frames each studio page sends")
    parser.add_argument("--warmup-cycles", type=int, default=50, help="studio visits left out of the verdict")
    args = parser.parse_args()
    if args.studio_cycles:
        return _studio(args)

    environment = {**capture_environment(), "load_average_start": load_average()}

    def progress(sample: Sample) -> None:
        print(f"{sample.t:8.0f} s  rss {sample.rss_mb:7.1f} MB  fds {sample.fds:4d}  threads {sample.threads:3d}  fps {sample.fps:5.2f}  load {sample.load1:5.2f}", flush=True)

    run = soak(args.minutes * 60, interval=args.interval, backend=args.backend, on_sample=progress)
    environment["load_average_end"] = load_average()
    verdict = judge(run.samples, args.warmup)
    record = {
        "what": "live run of the shipped demo checkpoint on the two-face pattern (1280×480, paced at 25 fps), sink null",
        "goals": {"rss_growth_mb": GOAL_RSS_GROWTH_MB, "fds_and_threads": "constant", "fps_spread": GOAL_FPS_SPREAD},
        "environment": environment,
        "verdict": verdict.as_dict(),
        "run": {k: v for k, v in asdict(run).items() if k != "samples"},
        "samples": [asdict(s) for s in run.samples],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out / "soak.json", record)
    _plot(run, verdict, args.out / "soak.png", "two faces live")
    print(json.dumps(record["verdict"], indent=1))
    return 0 if verdict.memory_flat and verdict.handles_constant else 1


def _studio(args: argparse.Namespace) -> int:
    environment = {**capture_environment(), "load_average_start": load_average()}

    def progress(sample: Sample) -> None:
        print(f"{sample.t:8.1f} s  rss {sample.rss_mb:7.1f} MB  fds {sample.fds:4d}  threads {sample.threads:3d}  load {sample.load1:5.2f}", flush=True)

    run = studio_soak(args.studio_cycles, args.frames, backend=args.backend, on_sample=progress)
    environment["load_average_end"] = load_average()
    if not 0 <= args.warmup_cycles < args.studio_cycles - 2:
        raise SystemExit(f"--warmup-cycles {args.warmup_cycles}: give fewer than --studio-cycles minus 2")
    verdict = judge(run.samples, run.samples[args.warmup_cycles].t)
    kept = run.samples[args.warmup_cycles :]
    record = {
        "what": f"`l2m-edge studio` (shipped demo checkpoint, --backend {args.backend}) visited by {args.studio_cycles} pages one after another, "
        f"{args.frames} SynthFaces actor JPEGs (640×480) each; odd visits drop the socket mid-frame, even ones close cleanly; sampled after each visit",
        "goals": {"rss_growth_mb": GOAL_RSS_GROWTH_MB, "fds_and_threads": "constant"},
        "warmup_cycles": args.warmup_cycles,
        "environment": environment,
        "verdict": verdict.as_dict(),
        "rss_slope_mb_per_visit": theil_sen_slope(np.arange(len(kept), dtype=float), np.array([s.rss_mb for s in kept])),
        "run": {k: v for k, v in asdict(run).items() if k != "samples"},
        "samples": [asdict(s) for s in run.samples],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out / "soak_studio.json", record)
    _plot(run, verdict, args.out / "soak_studio.png", f"{args.studio_cycles} studio page visits", per_cycle=True)
    print(json.dumps(record["verdict"], indent=1))
    return 0 if verdict.memory_flat and verdict.handles_constant else 1


if __name__ == "__main__":
    sys.exit(main())
