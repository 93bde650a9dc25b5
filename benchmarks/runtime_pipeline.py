"""Runtime pipeline benchmark: the whole live path on the generated 640×480 clip (not a test).

Two modes per model:
  live  — the test pattern paced like a 30 fps camera; stale frames are dropped (what a webcam sees):
          output FPS, capture→output latency, per-stage times.
  file  — every frame processed in order (throughput ceiling).
Usage: python benchmarks/runtime_pipeline.py CKPT [CKPT …] [--seconds 10] [--backend openvino] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform

from l2m_edge.runtime.backends import describe, load_backend
from l2m_edge.runtime.pipeline import EditOptions, Pipeline
from l2m_edge.runtime.sinks import NullSink
from l2m_edge.runtime.sources import PatternSource
from l2m_edge.runtime.timing import format_summary


def measure(checkpoint: str, backend_name: str, seconds: float, live_fps: float) -> dict:
    backend = load_backend(checkpoint, backend=backend_name)
    rows = {"model": os.path.basename(checkpoint), "preset": backend.info.preset, "backend": describe(backend)}
    target = len(backend.info.domains) - 1
    for mode, source in (
        ("live", PatternSource(fps=live_fps, seconds=seconds, live=True)),
        ("file", PatternSource(fps=25.0, seconds=seconds, live=False)),
    ):
        pipeline = Pipeline(backend, EditOptions(target=target, source=str(1 - target)))
        warm = Pipeline(backend, EditOptions(target=target, source=str(1 - target)))
        warm.run(PatternSource(seconds=0.4), NullSink())  # MediaPipe and the backend warm up
        result = pipeline.run(source, NullSink())
        summary = dict(result.summary, frames_in=result.frames_in, frames_dropped=result.frames_dropped, faces_edited=result.faces_edited)
        rows[mode] = summary
        print(f"== {rows['model']} [{mode}] {rows['backend']}\n{format_summary(result.summary)}\n   frames in {result.frames_in}, dropped {result.frames_dropped}, faces edited {result.faces_edited}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--backend", default="openvino")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--live-fps", type=float, default=30.0)
    parser.add_argument("--json")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    results = {"cpus": os.cpu_count(), "load_average_before": load, "runs": [measure(c, args.backend, args.seconds, args.live_fps) for c in args.checkpoints]}
    results["load_average_after"] = os.getloadavg()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
