"""Cross-check our OpenVINO numbers with OpenVINO's own `benchmark_app` on the same IR.

benchmark_app fills int64 inputs with random values (out of range for the domain gathers) and
treats images as u8, so the domain inputs are fed from .npy files (`-i name:file`) and the image
is declared f32 (`-iop image:f32`). Each IR is timed three ways, interleaved over several rounds
(ours, app, app, ours, app, app, …) so that the machine's load is as alike as it can be on a
shared machine; the summary is the median of the per-round medians, with the spread (min–max over
the rounds) beside it, and ours ÷ benchmark_app per round:

* `ours`: the runtime's OpenVINO backend in a Python loop (what `l2m-edge bench` measures);
* `benchmark_app -hint latency` (synchronous API, one stream; threads = all cores, since the
  app refuses `-nthreads` together with a hint);
* `benchmark_app -hint none -nthreads N -nstreams 1` (the app then runs its asynchronous API
  with one request: the next inference is started from the completion callback).

Besides wall-clock medians, each records CPU milliseconds per inference (all threads): on a
shared machine other jobs stretch wall time, while the CPU work of one inference stays put, so
equal CPU time with unequal medians points at scheduling, not at different kernels.

`bench report` reads a cross-check file beside the result files and puts the verdict in a column
beside every OpenVINO row of the same device, preset and precision (`crosscheck_summary`).
"""

from __future__ import annotations

import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from l2m_edge.contract.signature import IMAGE, inputs_of
from l2m_edge.errors import BenchError

from .artifacts import openvino_ir
from .stats import latency_stats

_STAT = re.compile(r"\b(Median|Average|Min|Max):\s+([0-9.]+) (ms|us)")
_PROP = re.compile(r"\[ INFO \]\s+(NUM_STREAMS|INFERENCE_NUM_THREADS|INFERENCE_PRECISION_HINT|PERFORMANCE_HINT|ENABLE_CPU_PINNING): (.+)")
_COUNT = re.compile(r"Count:\s+(\d+) iterations")
_MODE = re.compile(r"Start inference (synchronously|asynchronously)")

CROSSCHECK_SCHEMA = "l2m-edge.bench-crosscheck/2"
AGREEMENT = 0.10  # ours ÷ benchmark_app within 10 % counts as agreeing


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


def app_command(xml: Path, inputs: list[str], infer_precision: str | None, hint: str = "latency", threads: int | None = None) -> list[str]:
    """benchmark_app's command line for one IR (without `-t`): `hint` latency, or none with N threads and one stream."""
    cmd = [str(find_benchmark_app()), "-m", str(xml), "-d", "CPU", "-hint", hint, "-i", *inputs, "-iop", f"{IMAGE}:f32"]
    if hint == "none":
        cmd += ["-nthreads", str(threads or 0), "-nstreams", "1"]
    if infer_precision:
        cmd += ["-infer_precision", infer_precision]
    return cmd


def start_up_cost(cmd: list[str]) -> tuple[int, float]:
    """(iterations, CPU s) of a 1-second run: what a longer run's start-up and compilation cost, to subtract."""
    out, cpu = _run_app_once(cmd, 1)
    return _count(out), cpu


def run_benchmark_app(cmd: list[str], seconds: float, start_up: tuple[int, float] | None = None) -> dict[str, Any]:
    """Run benchmark_app; its median/average/min/max, API mode, compiled properties and CPU ms per inference.

    CPU time per inference subtracts a 1-second run's (`start_up`: start-up and compilation), so it
    compares with our loop's even when other jobs stretch wall time.
    """
    full = max(2, round(seconds))  # -t takes whole seconds
    out, cpu = _run_app_once(cmd, full)
    stats = {k.lower(): round(float(v) / (1000.0 if unit == "us" else 1.0), 4) for k, v, unit in _STAT.findall(out)}
    count = _count(out)
    short_count, short_cpu = start_up or (0, 0.0)
    mode = _MODE.search(out)
    return {
        "command": " ".join([Path(cmd[0]).name, *cmd[1:], "-t", str(full)]),
        "api": ("sync" if mode.group(1) == "synchronously" else "async") if mode else None,
        "median_ms": stats["median"],
        "average_ms": stats.get("average"),
        "min_ms": stats.get("min"),
        "max_ms": stats.get("max"),
        "iters": count,
        "cpu_ms_per_call": _cpu_per_call(cpu - short_cpu, count - short_count) if start_up else None,
        "compiled": {k: v.strip() for k, v in _PROP.findall(out)},
    }


def _cpu_per_call(cpu_s: float, calls: int) -> float | None:
    """CPU ms per call from the difference of two runs; None when other jobs made the difference meaningless (≤ 0)."""
    return round(1000.0 * cpu_s / calls, 3) if calls > 0 and cpu_s > 0 else None


def _count(out: str) -> int:
    match = _COUNT.search(out)
    return int(match.group(1)) if match else 0


class OurLoop:
    """The runtime's OpenVINO backend, loaded once and timed in a loop exactly as a benchmark row times it."""

    def __init__(self, artifact: Path, inputs_npz: Path, threads: int | None) -> None:
        from l2m_edge.backends.openvino_backend import OpenVINOBackend
        from l2m_edge.runtime.backends import load_backend

        self.args = tuple(inputs_of(np.load(inputs_npz)).values())
        # no precision asked: the manifest's compute precision, as the row's (the backend registry's rule)
        backend = load_backend(artifact, backend="openvino", device="CPU", threads=threads or 0)
        if not isinstance(backend, OpenVINOBackend):  # a split-style artifact loads as two graphs
            backend.close()
            raise BenchError(f"{artifact}: not one OpenVINO graph ({type(backend).__name__}); cross-check a one-graph IR")
        self.backend = backend
        for _ in range(5):
            self.backend.infer(*self.args)

    def run(self, seconds: float) -> dict[str, Any]:
        samples = []
        cpu_start = time.process_time()
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            self.backend.infer(*self.args)
            samples.append((time.perf_counter() - start) * 1000)
        cpu_ms = (time.process_time() - cpu_start) * 1000 / len(samples)
        stats = latency_stats(samples)
        props = self.backend.compiled_properties(("NUM_STREAMS", "INFERENCE_NUM_THREADS", "INFERENCE_PRECISION_HINT", "PERFORMANCE_HINT", "ENABLE_CPU_PINNING"))
        return {"api": "sync", "median_ms": round(stats["p50"], 3), "average_ms": round(stats["mean"], 3), "min_ms": round(stats["min"], 3), "max_ms": round(stats["max"], 3), "iters": len(samples), "cpu_ms_per_call": round(cpu_ms, 3), "compiled": props}

    def close(self) -> None:
        self.backend.close()


def _spread(values: list[float]) -> dict[str, Any]:
    """Median of per-round figures with their min–max (the run-to-run spread)."""
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3), "rounds": len(values)}


def crosscheck_ir(artifact: Path, inputs_npz: Path, precision: str, threads: int | None, seconds: float, work: Path, rounds: int = 3) -> dict[str, Any]:
    """Ours vs benchmark_app (hint none + N threads + one stream, and hint latency) on one IR, interleaved over `rounds`
    (`precision`: the artifact's, the entry's label; all three compute in what the manifest records)."""
    from l2m_edge.backends.openvino_backend import openvino_hint
    from l2m_edge.contract.manifest import read_manifest

    manifest = read_manifest(artifact)
    xml, compute_precision = openvino_ir(artifact)  # what its row computes in
    inputs = write_input_files(inputs_npz, work / "bench-app-inputs" / artifact.name)
    ov_precision = openvino_hint(compute_precision)
    pinned_cmd = app_command(xml, inputs, ov_precision, "none", threads or 0)
    latency_cmd = app_command(xml, inputs, ov_precision, "latency")
    pinned_start, latency_start = start_up_cost(pinned_cmd), start_up_cost(latency_cmd)
    ours = OurLoop(artifact, inputs_npz, threads)
    measured = []
    try:
        for _ in range(rounds):
            measured.append({
                "ours": ours.run(seconds),
                "benchmark_app_hint_none": run_benchmark_app(pinned_cmd, seconds, pinned_start),
                "benchmark_app_latency_hint": run_benchmark_app(latency_cmd, seconds, latency_start),
            })
    finally:
        ours.close()
    entry = {"preset": manifest.preset, "precision": precision, "ir": str(xml), "threads": threads, "seconds": seconds, "rounds": measured}
    return {**entry, "summary": crosscheck_summary(entry)}


def crosscheck_summary(entry: dict[str, Any]) -> dict[str, Any]:
    """Per-round medians summarised: ours, benchmark_app (hint none, hint latency), ours ÷ app, CPU ms per call, agreement.

    Reads a `/1` entry (one round, no `rounds`) as well as a `/2` one."""
    rounds = entry.get("rounds") or [{k: entry[k] for k in ("ours", "benchmark_app_hint_none", "benchmark_app_latency_hint")}]

    def figure(tool: str, key: str = "median_ms") -> list[float]:
        return [r[tool][key] for r in rounds if r[tool].get(key)]

    ratio = [r["ours"]["median_ms"] / r["benchmark_app_hint_none"]["median_ms"] for r in rounds]
    ratio_latency = [r["ours"]["median_ms"] / r["benchmark_app_latency_hint"]["median_ms"] for r in rounds]
    cpu_ours, cpu_app = figure("ours", "cpu_ms_per_call"), figure("benchmark_app_hint_none", "cpu_ms_per_call")
    summary = {
        "ours_ms": _spread(figure("ours")),
        "app_ms": _spread(figure("benchmark_app_hint_none")),
        "app_latency_hint_ms": _spread(figure("benchmark_app_latency_hint")),
        "ours_over_app": _spread(ratio),
        "ours_over_app_latency_hint": _spread(ratio_latency),
        "cpu_ms_ours": _spread(cpu_ours) if cpu_ours else None,
        "cpu_ms_app": _spread(cpu_app) if cpu_app else None,
    }
    summary["agrees"] = abs(summary["ours_over_app"]["median"] - 1.0) <= AGREEMENT
    return summary


def run_crosscheck(settings: Any, checkpoint: Path | None, seconds: float = 10.0, progress: Any = None, rounds: int = 3) -> dict[str, Any]:
    """Cross-check every OpenVINO precision of every preset in `settings`; a JSON-ready result."""
    from .harness import over_openvino_irs

    def measure(preset: str, precision: str, artifact: Path, inputs: Path, environment: dict[str, Any]) -> dict[str, Any]:
        return crosscheck_ir(artifact, inputs, precision, settings.threads, seconds, settings.workdir, rounds)

    return over_openvino_irs(settings, checkpoint, CROSSCHECK_SCHEMA, measure, {"seconds_per_measurement": seconds, "rounds": rounds}, progress)
