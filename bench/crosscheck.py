"""Cross-check our OpenVINO numbers with OpenVINO's own `benchmark_app` on the same IR.

benchmark_app fills int64 inputs with random values (out of range for the domain gathers) and
treats images as u8, so the domain inputs are fed from .npy files (`-i name:file`) and the image
is declared f32 (`-iop image:f32`). Each IR is timed three ways, back to back, so the machine's
load is as alike as it can be on a shared machine:

* `ours`: the runtime's OpenVINO backend in a Python loop (what `l2m-edge bench` measures);
* `benchmark_app -hint latency` (synchronous API, one stream; threads = all cores, since the
  app refuses `-nthreads` together with a hint);
* `benchmark_app -hint none -nthreads N -nstreams 1` (the app then runs its asynchronous API
  with one request: the next inference is started from the completion callback).

Besides wall-clock medians, each records CPU milliseconds per inference (all threads): on a
shared machine other jobs stretch wall time, while the CPU work of one inference stays put, so
equal CPU time with unequal medians points at scheduling, not at different kernels.
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from l2m_edge.contract.signature import IMAGE, inputs_of
from l2m_edge.errors import BenchError

from .stats import latency_stats

_STAT = re.compile(r"\b(Median|Average|Min|Max):\s+([0-9.]+) (ms|us)")
_PROP = re.compile(r"\[ INFO \]\s+(NUM_STREAMS|INFERENCE_NUM_THREADS|INFERENCE_PRECISION_HINT|PERFORMANCE_HINT|ENABLE_CPU_PINNING): (.+)")
_COUNT = re.compile(r"Count:\s+(\d+) iterations")
_MODE = re.compile(r"Start inference (synchronously|asynchronously)")


def find_benchmark_app() -> Path:
    """benchmark_app beside this interpreter (the openvino wheel installs it), else on PATH."""
    beside = Path(sys.executable).with_name("benchmark_app")
    if beside.is_file():
        return beside
    found = shutil.which("benchmark_app")
    if found is None:
        raise BenchError("benchmark_app not found: it ships with the openvino wheel (pip install openvino)")
    return Path(found)


def write_input_files(inputs_npz: Path, folder: Path) -> list[str]:
    """One .npy per graph input from the benchmark's inputs; returns benchmark_app's `-i` arguments."""
    folder.mkdir(parents=True, exist_ok=True)
    args = []
    for name, array in inputs_of(np.load(inputs_npz)).items():
        path = folder / f"{name}.npy"
        np.save(path, array)
        args.append(f"{name}:{path}")
    return args


def _run_app_once(cmd: list[str], seconds: int) -> tuple[str, float]:
    """benchmark_app's output and the CPU seconds (user + system, all threads) it used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([*cmd, "-t", str(seconds)], capture_output=True, text=True, timeout=seconds * 4 + 120, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = done.stdout + done.stderr
    if done.returncode != 0 or "Median" not in out:
        tail = [line for line in out.splitlines() if "ERROR" in line] or out.strip().splitlines()[-1:]
        raise BenchError(f"benchmark_app failed: {tail[0] if tail else done.returncode}")
    return out, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def run_benchmark_app(
    xml: Path, inputs: list[str], seconds: float, infer_precision: str | None, hint: str = "latency", threads: int | None = None
) -> dict[str, Any]:
    """Run benchmark_app; its median/average/min/max, API mode, compiled properties and CPU ms per inference.

    CPU time per inference comes from two runs of different length (the difference cancels start-up
    and compilation), so it compares with our loop's even when other jobs stretch wall time.
    """
    cmd = [str(find_benchmark_app()), "-m", str(xml), "-d", "CPU", "-hint", hint, "-i", *inputs, "-iop", f"{IMAGE}:f32"]
    if hint == "none":
        cmd += ["-nthreads", str(threads or 0), "-nstreams", "1"]
    if infer_precision:
        cmd += ["-infer_precision", infer_precision]
    full = max(2, round(seconds))  # -t takes whole seconds
    short_out, short_cpu = _run_app_once(cmd, 1)
    out, cpu = _run_app_once(cmd, full)
    stats = {k.lower(): round(float(v) / (1000.0 if unit == "us" else 1.0), 4) for k, v, unit in _STAT.findall(out)}
    count, short_count = _count(out), _count(short_out)
    mode = _MODE.search(out)
    return {
        "command": " ".join([Path(cmd[0]).name, *cmd[1:], "-t", str(full)]),
        "api": ("sync" if mode.group(1) == "synchronously" else "async") if mode else None,
        "median_ms": stats["median"],
        "average_ms": stats.get("average"),
        "min_ms": stats.get("min"),
        "max_ms": stats.get("max"),
        "iters": count,
        "cpu_ms_per_call": round(1000.0 * (cpu - short_cpu) / (count - short_count), 3) if count > short_count else None,
        "compiled": {k: v.strip() for k, v in _PROP.findall(out)},
    }


def _count(out: str) -> int:
    match = _COUNT.search(out)
    return int(match.group(1)) if match else 0


def python_loop(artifact: Path, inputs_npz: Path, precision: str | None, threads: int | None, seconds: float) -> dict[str, Any]:
    """The runtime's OpenVINO backend timed in a loop, exactly as a benchmark row times it."""
    from l2m_edge.runtime.backends import load_backend

    args = tuple(inputs_of(np.load(inputs_npz)).values())
    backend = load_backend(artifact, backend="openvino", device="CPU", precision=precision, threads=threads or 0)
    for _ in range(5):
        backend.infer(*args)
    samples = []
    cpu_start = time.process_time()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        backend.infer(*args)
        samples.append((time.perf_counter() - start) * 1000)
    cpu_ms = (time.process_time() - cpu_start) * 1000 / len(samples)
    stats = latency_stats(samples)
    compiled = backend.compiled  # type: ignore[attr-defined]
    props = {k: str(compiled.get_property(k)) for k in ("NUM_STREAMS", "INFERENCE_NUM_THREADS", "INFERENCE_PRECISION_HINT", "PERFORMANCE_HINT", "ENABLE_CPU_PINNING")}
    backend.close()
    return {"api": "sync", "median_ms": round(stats["p50"], 3), "average_ms": round(stats["mean"], 3), "min_ms": round(stats["min"], 3), "max_ms": round(stats["max"], 3), "iters": len(samples), "cpu_ms_per_call": round(cpu_ms, 3), "compiled": props}


def crosscheck_ir(artifact: Path, inputs_npz: Path, precision: str, threads: int | None, seconds: float, work: Path) -> dict[str, Any]:
    """Ours vs benchmark_app (latency hint, and hint none + N threads) on one IR, back to back."""
    from l2m_edge.contract.manifest import read_manifest

    manifest = read_manifest(artifact)
    xml = artifact / manifest.file(".xml").path
    inputs = write_input_files(inputs_npz, work / "bench-app-inputs" / artifact.name)
    ov_precision = "f32" if precision == "fp32" else None  # fp16/int8 IRs run the CPU default, as their rows do
    ours = python_loop(artifact, inputs_npz, "fp32" if precision == "fp32" else None, threads, seconds)
    latency = run_benchmark_app(xml, inputs, seconds, ov_precision, "latency")
    pinned = run_benchmark_app(xml, inputs, seconds, ov_precision, "none", threads or 0)
    return {
        "preset": manifest.preset,
        "precision": precision,
        "ir": str(xml),
        "ours": ours,
        "benchmark_app_latency_hint": latency,
        "benchmark_app_hint_none": pinned,
        "ratio_latency_hint": round(latency["median_ms"] / ours["median_ms"], 3),
        "ratio_hint_none": round(pinned["median_ms"] / ours["median_ms"], 3),
    }


def run_crosscheck(settings: Any, checkpoint: Path | None, seconds: float = 10.0, progress: Any = None) -> dict[str, Any]:
    """Cross-check every OpenVINO precision of every preset in `settings`; a JSON-ready result."""
    import datetime as _dt

    from .artifacts import artifact_for, default_precisions
    from .environment import capture_environment, load_average
    from .harness import prepare_checkpoints, prepare_inputs

    settings.workdir.mkdir(parents=True, exist_ok=True)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    before = load_average()
    entries = []
    for preset, ckpt in prepare_checkpoints(settings, checkpoint).items():
        inputs = prepare_inputs(ckpt, 1, settings.workdir, settings.seed)
        for precision in settings.precisions or default_precisions("openvino", "cpu"):
            artifact = artifact_for(ckpt, "openvino", precision, 1, "cpu", settings.workdir)
            entry = crosscheck_ir(artifact.directory, inputs, precision, settings.threads, seconds, settings.workdir)
            entries.append(entry)
            if progress is not None:
                progress(entry)
    return {
        "schema": "l2m-edge.bench-crosscheck/1",
        "environment": capture_environment(settings.device_label),
        "settings": {"threads": settings.threads, "seconds_per_measurement": seconds, "batch": 1},
        "load_average": {"before": before, "after": load_average()},
        "started": started,
        "entries": entries,
    }
