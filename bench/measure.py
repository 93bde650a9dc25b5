"""Measure one row: load, first inference, warm-up, timed calls, parity and peak memory.

`measure_row(task)` is the whole measurement of one backend × precision × preset × batch. The
harness runs it in a fresh process (`python -m l2m_edge.bench.worker`) so that load time, memory
and thread pools of one row never leak into the next.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from l2m_edge.contract.signature import inputs_of
from l2m_edge.errors import L2MError

from . import memory
from .stats import latency_stats, throughput_fps


@dataclass
class RowTask:
    """Everything a worker needs to measure one row, as plain JSON values."""

    backend: str
    precision: str
    preset: str
    batch: int
    device: str
    model_path: str  # checkpoint for torch rows, artifact directory for exported ones
    inputs_path: str  # .npz with the editor's inputs (by signature name) and the eager fp32 reference output
    warmup: int
    iters: int | None
    duration_s: float | None
    threads: int | None
    target: str | None = None
    artifact_bytes: int | None = None
    export_s: float | None = None
    export_cached: bool = False
    export_parity: dict[str, Any] | None = None
    isolated: bool = True
    mode: str = "model"  # model | pipeline
    source: str | None = None  # pipeline mode: the video
    frames: int | None = None  # pipeline mode: stop after this many frames
    realtime: bool = True  # pipeline mode: play the video like a camera (paced, stale frames dropped)
    style_every: int = 1  # pipeline mode: frames between a track's style codes (> 1: a split-style artifact)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def failed_row(task: RowTask, reason: str) -> dict[str, Any]:
    """A ❌ row: it stays in the table with its reason instead of vanishing."""
    return {
        "mode": task.mode,
        "backend": task.backend,
        "target": task.target,
        "precision": task.precision,
        "preset": task.preset,
        "batch": task.batch,
        "device": task.device,
        "status": "failed",
        "reason": " ".join(reason.split())[:500],
    }


def load_runner(task: RowTask) -> Any:
    """The backend of a row, through the one loader export parity and the app use: a checkpoint backend
    computes in the row's precision, an artifact in the precision its manifest records (an FP32 IR in f32)."""
    from l2m_edge.backends import get_backend, open_backend

    precision = task.precision if get_backend(task.backend).loads_checkpoints else None
    return open_backend(task.model_path, task.backend, device=task.device, precision=precision, threads=task.threads or 0)


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


def measure_row(task: RowTask) -> dict[str, Any]:
    """One complete row. Load and run errors become a failed row with the error as its reason."""
    if task.mode == "pipeline":
        from .pipeline_bench import measure_pipeline_row

        _import_runtime(task.backend)
        return measure_pipeline_row(task, str(task.source), task.frames)
    data = np.load(task.inputs_path)
    args = tuple(inputs_of(data).values())
    _import_runtime(task.backend)
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
        return failed_row(task, f"{type(exc).__name__}: {exc}")
    actual = str(getattr(runner, "precision", task.precision))
    parity = parity_of(data["reference"], np.asarray(output), actual)
    peak = memory.peak_rss_mb()
    reason = _parity_reason(parity, task.export_parity)
    row = {
        "mode": "model",
        "backend": task.backend,
        "target": task.target,
        "precision": task.precision,
        "actual_precision": actual,
        "preset": task.preset,
        "batch": task.batch,
        "device": str(getattr(runner, "device", task.device)),
        "status": "ok" if reason is None else "parity_failed",
        "reason": reason,
        "threads": runner.threads,
        "artifact_bytes": task.artifact_bytes,
        "export_s": task.export_s,
        "export_cached": task.export_cached,
        "load_s": round(load_s, 4),
        "first_inference_ms": round(first_ms, 3),
        "warmup": task.warmup,
        "iters": len(samples),
        "latency_ms": {k: round(v, 4) for k, v in latency_stats(samples).items()},
        "fps": round(throughput_fps(samples, task.batch), 3),
        # CPU time of the whole process (all threads) per call: on a shared machine wall time grows
        # with other people's load, CPU time much less (spin-waiting threads still add to it).
        "cpu_ms_per_call": round(cpu_ms, 3),
        "memory": {
            "method": "fresh process per row: peak = VmHWM, baseline = RSS after importing the runtime, model = peak - baseline" if task.isolated else ("in-process, high-water reset before the row" if peak_reset else "in-process, process high-water (includes earlier rows)"),
            "baseline_rss_mb": round(baseline, 1),
            "peak_rss_mb": round(peak, 1),
            "model_rss_mb": round(max(peak - baseline, 0.0), 1),
            "gpu_peak_mb": memory.gpu_peak_mb(),
        },
        "parity": parity,
        "export_parity": task.export_parity,
        "samples_ms": [round(s, 4) for s in samples],
    }
    runner.close()
    return row


def _import_runtime(backend: str) -> None:
    """Import the runtime library first, so the baseline RSS covers it and `model_rss_mb` is the model's own."""
    import importlib
    import importlib.util

    for module in {"onnxruntime": ("onnxruntime",), "openvino": ("openvino",), "tensorrt": ("tensorrt",)}.get(backend, ()) + ("torch",):
        if importlib.util.find_spec(module) is None:
            continue  # not installed (torch on a device install); load_runner reports a missing runtime as the row's reason
        try:
            importlib.import_module(module)
        except ImportError:
            pass


def _parity_reason(parity: dict[str, Any], export_parity: dict[str, Any] | None) -> str | None:
    """Why a row that ran is not ✅: its export's parity check or ours missed the bar (None: both passed)."""
    reasons = []
    if export_parity and export_parity.get("passed") is False:
        reasons.append(f"export parity failed ({'; '.join(export_parity.get('failures') or [])})")
    if parity["passed"] is False:
        reasons.append(f"benchmark-input parity failed against the {parity['bar']} bar ({'; '.join(parity['failures'])})")
    return "; ".join(reasons) or None
