"""Latency statistics with the field names the native runner prints, so both land in one table."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

# The native C++ runner prints exactly these keys under `latency_ms`; keep them in step.
LATENCY_KEYS = ("min", "mean", "std", "p50", "p90", "p95", "p99", "max")


def latency_stats(samples_ms: Sequence[float]) -> dict[str, float]:
    """min, mean, std (population), percentiles (linear interpolation) and max of per-call latencies in ms."""
    values = np.asarray(samples_ms, dtype=np.float64)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError("latency statistics need at least one finite sample")
    p50, p90, p95, p99 = np.percentile(values, [50, 90, 95, 99])
    return {
        "min": float(values.min()),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "p50": float(p50),
        "p90": float(p90),
        "p95": float(p95),
        "p99": float(p99),
        "max": float(values.max()),
    }


def throughput_fps(samples_ms: Sequence[float], batch: int) -> float:
    """Frames per second of a closed loop: batch frames per call over the mean call time."""
    mean_ms = float(np.mean(samples_ms))
    return batch * 1000.0 / mean_ms if mean_ms > 0 else math.inf
