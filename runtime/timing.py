"""Per-stage timings of the pipeline and their summary (p50/p90, FPS, share of each stage)."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

STAGES = ("capture", "track", "align", "masks", "infer", "style", "paste", "sink")  # style: the part of infer computing style codes (--style-every)
OVERHEAD_STAGES = ("track", "align", "masks", "paste")  # what the runtime adds around the model
# The work done per frame; capture is left out: it mostly waits for the camera (or the pacing of a
# live test pattern), which is frame interval, not work.
WORK_STAGES = ("track", "align", "masks", "classify", "infer", "paste", "sink")


@dataclass
class Timings:
    """Milliseconds per stage per frame, and each frame's capture → sink latency."""

    stages: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    latency: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, stage: str, ms: float) -> None:
        with self._lock:
            self.stages[stage].append(ms)

    def take_p50s(self) -> dict[str, float]:
        """Each stage's p50 (ms) since the last call, and forget them (a long-lived studio client keeps no history)."""
        with self._lock:
            recent = {name: round(float(np.percentile(values, 50)), 2) for name, values in self.stages.items() if values}
            self.stages.clear()
            self.latency.clear()
        return recent

    def summary(self, frames: int, wall_s: float, cpu_s: float | None = None) -> dict:
        """A JSON-ready dict: per-stage mean/p50/p90 (ms), glass-to-glass latency p50/p90/p99, FPS,
        the process's CPU time per frame (all threads, MediaPipe's and the runtime's included) and the overhead share."""
        with self._lock:
            stages = {name: np.asarray(values) for name, values in self.stages.items() if values}
            latency = np.asarray(self.latency)
        out: dict = {"frames": frames, "wall_s": round(wall_s, 3), "fps": round(frames / wall_s, 2) if wall_s > 0 else 0.0, "stages_ms": {}}
        if cpu_s is not None and frames:
            out["cpu_ms_per_frame"] = round(1000 * cpu_s / frames, 2)
        for name in [s for s in STAGES if s in stages] + sorted(set(stages) - set(STAGES)):
            v = stages[name]
            out["stages_ms"][name] = {"mean": round(float(v.mean()), 2), "p50": round(float(np.percentile(v, 50)), 2), "p90": round(float(np.percentile(v, 90)), 2)}
        if len(latency):
            out["latency_ms"] = {p: round(float(np.percentile(latency, q)), 2) for p, q in (("p50", 50), ("p90", 90), ("p99", 99))}
            out["latency_ms"]["max"] = round(float(latency.max()), 2)
        total = sum(float(v.sum()) for name, v in stages.items() if name in WORK_STAGES)
        overhead = sum(float(stages[n].sum()) for n in OVERHEAD_STAGES if n in stages)
        out["overhead_share"] = round(overhead / total, 3) if total > 0 else 0.0
        return out


def format_summary(summary: dict) -> str:
    """The summary as a short plain-text table."""
    lines = [f"{summary['frames']} frames in {summary['wall_s']:.2f} s: {summary['fps']:.1f} FPS"]
    if "latency_ms" in summary:
        lat = summary["latency_ms"]
        lines.append(f"glass-to-glass latency (frame captured → frame out): p50 {lat['p50']:.1f} ms, p90 {lat['p90']:.1f} ms, p99 {lat['p99']:.1f} ms")
    if "cpu_ms_per_frame" in summary:
        lines.append(f"CPU time {summary['cpu_ms_per_frame']:.1f} ms per frame (all threads)")
    lines.append(f"{'stage':<10}{'p50 ms':>9}{'p90 ms':>9}{'mean ms':>9}")
    for name, s in summary["stages_ms"].items():
        lines.append(f"{name:<10}{s['p50']:>9.2f}{s['p90']:>9.2f}{s['mean']:>9.2f}")
    lines.append(f"tracking + alignment + paste-back: {100 * summary['overhead_share']:.1f} % of the per-frame work (capture excluded)")
    return "\n".join(lines)
