"""Measure one model row: load, first inference, warm-up, timed calls, parity and peak memory.

`measure_model_row(task)` is the whole measurement of one backend × precision × preset × batch. The
harness runs it in a fresh process (`python -m l2m_edge.bench.worker`) so that load time, memory
and thread pools of one row never leak into the next.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from l2m_edge.contract.signature import inputs_of
from l2m_edge.errors import L2MError

from . import memory
from .rows import FailedRow, ModelRow
from .stats import latency_stats, throughput_fps
from .task import RowTask, load_runner


def _timed_loop(infer: Any, args: tuple[np.ndarray, ...], iters: int | None, duration_s: float | None) -> list[float]:
    samples: list[float] = []
    deadline = time.perf_counter() + duration_s if duration_s else math.inf
    while True:
        start = time.perf_counter()
        infer(*args)
        samples.append((time.perf_counter() - start) * 1000.0)
        if iters is not None and len(samples) >= iters:
            break
        if duration_s and time.perf_counter() >= deadline:
            break
    return samples


def parity_of(reference: np.ndarray, output: np.ndarray, ran: str) -> dict[str, Any]:
    """Errors against PyTorch eager fp32, judged by the export room's bar for the precision that ran."""
    from l2m_edge.export.parity import compare, threshold_for

    figures = compare(output, reference)
    try:
        bar = threshold_for(ran)
    except L2MError:  # a precision the export room sets no bar for: report figures, no verdict
        return {**_json_figures(figures), "bar": ran, "min_psnr_of_range_db": None, "min_psnr_db": None, "passed": None, "failures": []}
    failures = bar.failures(figures)
    return {**_json_figures(figures), "bar": ran, "min_psnr_of_range_db": bar.min_psnr_of_range, "min_psnr_db": bar.min_psnr, "passed": not failures, "failures": failures}


def _json_figures(figures: dict[str, float]) -> dict[str, float | None]:
    """JSON has no infinity: identical outputs record PSNR as null (max_abs 0 says why)."""
    return {k: (None if math.isinf(v) else round(v, 2 if k.startswith("psnr") else 6)) for k, v in figures.items()}


def measure_model_row(task: RowTask) -> ModelRow | FailedRow:
    """One complete row. Load and run errors become a failed row with the error as its reason."""
    data = np.load(task.inputs_path)
    args = tuple(inputs_of(data).values())
    peak_reset = True if task.isolated else memory.reset_peak()
    baseline = memory.rss_mb()
    try:
        start = time.perf_counter()
        runner = load_runner(task)
        load_s = time.perf_counter() - start
        start = time.perf_counter()
        output = runner.infer(*args)
        first_ms = (time.perf_counter() - start) * 1000.0
        for _ in range(task.warmup):
            runner.infer(*args)
        cpu_start = time.process_time()
        samples = _timed_loop(runner.infer, args, task.iters, task.duration_s)
        cpu_ms = (time.process_time() - cpu_start) * 1000.0 / len(samples)
    except Exception as exc:  # a row that cannot run is reported, and the run goes on
        return task.failed(f"{type(exc).__name__}: {exc}")
    actual = str(getattr(runner, "precision", task.precision))
    parity = parity_of(data["reference"], np.asarray(output), actual)
    peak = memory.peak_rss_mb()
    reason = _parity_reason(parity, task.export_parity)
    row = ModelRow(
        backend=task.backend, target=task.target, precision=task.precision, actual_precision=actual, preset=task.preset,
        batch=task.batch, device=str(getattr(runner, "device", task.device)), status="ok" if reason is None else "parity_failed",
        reason=reason, round=task.round, threads=runner.threads, artifact_bytes=task.artifact_bytes, export_s=task.export_s,
        export_cached=task.export_cached, load_s=round(load_s, 4), first_inference_ms=round(first_ms, 3), warmup=task.warmup,
        iters=len(samples), latency_ms={k: round(v, 4) for k, v in latency_stats(samples).items()},
        fps=round(throughput_fps(samples, task.batch), 3), cpu_ms_per_call=round(cpu_ms, 3),
        memory={
            "method": "fresh process per row: peak = VmHWM, baseline = RSS after importing the runtime, model = peak - baseline" if task.isolated else ("in-process, high-water reset before the row" if peak_reset else "in-process, process high-water (includes earlier rows)"),
            "baseline_rss_mb": round(baseline, 1),
            "peak_rss_mb": round(peak, 1),
            "model_rss_mb": round(max(peak - baseline, 0.0), 1),
            "gpu_peak_mb": memory.gpu_peak_mb(),
        },
        parity=parity, export_parity=task.export_parity, samples_ms=[round(s, 4) for s in samples],
    )
    runner.close()
    return row


def _parity_reason(parity: dict[str, Any], export_parity: dict[str, Any] | None) -> str | None:
    """Why a row that ran is not ✅: its export's parity check or ours missed the bar (None: both passed)."""
    reasons = []
    if export_parity and export_parity.get("passed") is False:
        reasons.append(f"export parity failed ({'; '.join(export_parity.get('failures') or [])})")
    if parity["passed"] is False:
        reasons.append(f"benchmark-input parity failed against the {parity['bar']} bar ({'; '.join(parity['failures'])})")
    return "; ".join(reasons) or None
