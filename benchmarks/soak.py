"""Soak: the shipped model editing two faces live for a long time, sampled for leaks.

    python benchmarks/soak.py [--minutes 30] [--interval 5] [--warmup 300] [--out benchmarks]

Runs the live pipeline (the `pair` test pattern: two moving faces, 1280×480, paced at 25 fps like a
camera, stale frames dropped; the shipped demo checkpoint on `--backend auto`; `--sink null`) in this
process and samples it every `--interval` seconds: resident memory, open file descriptors, threads,
output FPS and the machine's load average. Writes soak.json (samples, verdict, CPU, load) and
soak.png. The goals: memory growth ≤ 20 MB after warm-up, constant descriptors and threads, every
minute's FPS within 5 % of the median (on a shared machine, read FPS beside the load it was taken at).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from l2m_edge.bench.environment import capture_environment, load_average
from l2m_edge.bench.soak import GOAL_FPS_SPREAD, GOAL_RSS_GROWTH_MB, Sample, SoakRun, Verdict, judge, soak
from l2m_edge.io import atomic_path


def _plot(run: SoakRun, verdict: Verdict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [s.t / 60 for s in run.samples]
    fig, axes = plt.subplots(4, 1, figsize=(9, 9), sharex=True)
    series = [
        ("RSS (MB)", [s.rss_mb for s in run.samples]),
        ("open file descriptors", [s.fds for s in run.samples]),
        ("threads", [s.threads for s in run.samples]),
        ("output FPS", [s.fps for s in run.samples]),
    ]
    for ax, (label, values) in zip(axes, series):
        ax.plot(minutes, values, lw=1)
        ax.set_ylabel(label)
        ax.axvline(verdict.warmup_s / 60, color="grey", ls=":", lw=1)
        ax.grid(alpha=0.3)
    load = axes[3].twinx()
    load.plot(minutes, [s.load1 for s in run.samples], color="tab:red", lw=0.8, alpha=0.6)
    load.set_ylabel("load average (1 min)", color="tab:red")
    axes[0].set_title(
        f"soak: {run.backend.split(' (')[0]}, two faces live; RSS slope {verdict.rss_slope_mb_per_min:+.2f} MB/min, growth {verdict.rss_growth_mb:+.1f} MB after warm-up",
        fontsize=9,
    )
    axes[3].set_xlabel("minutes")
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
    args = parser.parse_args()

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
    with atomic_path(args.out / "soak.json") as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n")
    _plot(run, verdict, args.out / "soak.png")
    print(json.dumps(record["verdict"], indent=1))
    return 0 if verdict.memory_flat and verdict.handles_constant else 1


if __name__ == "__main__":
    sys.exit(main())
