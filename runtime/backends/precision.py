"""The precision `--backend auto` runs a checkpoint at on an OpenVINO CPU: measured here, parity-passing, remembered.

Which precision is fastest depends on the machine and the model, and guessing from CPU flags
gets it wrong both ways (measured on this AVX2-only EPYC: INT8 1.8× faster than fp32 for the
`mobile` preset, slower than fp32 for the 0.23-GMAC demo model, where the quantize/dequantize
steps cost more than the small convolutions save). So each candidate is exported through the
export registry — an export that misses its parity bar is refused there and drops out — and
the candidates are timed against each other in one interleaved run (ratios, not absolute
times, on a shared machine). The verdict is cached per checkpoint, device and OpenVINO build.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from l2m_edge.errors import BackendUnavailable, ExportInProgress
from l2m_edge.io import sha256_file, write_text_atomic

from .export_cache import cache_root, cached_export

# Artifact precisions tried: FP16-compressed weights computed at the device's default precision
# (bf16 on CPUs with AMX/AVX512-BF16, fp32 elsewhere), and NNCF INT8 calibrated on SynthFaces.
CANDIDATES = ("fp16", "int8")
TRIAL_ROUNDS = 30  # interleaved calls per candidate after warm-up


@dataclass(frozen=True)
class PrecisionChoice:
    precision: str  # the artifact precision to export and load
    reason: str
    median_ms: dict[str, float] = field(default_factory=dict)  # per candidate that passed parity
    refused: dict[str, str] = field(default_factory=dict)  # per candidate that did not export


def machine_signature(device: str) -> str:
    """The device's full name, its optimisation capabilities and the OpenVINO version: what the verdict depends on."""
    import openvino as ov

    from l2m_edge.backends.openvino_core import openvino_core

    core = openvino_core()
    name = str(core.get_property(device, "FULL_DEVICE_NAME"))
    caps = ",".join(sorted(str(c) for c in core.get_property(device, "OPTIMIZATION_CAPABILITIES")))
    return f"{name}|{caps}|{ov.__version__}"


def _choice_path(checkpoint: Path, device: str, signature: str) -> Path:
    key = hashlib.sha256(f"{sha256_file(checkpoint)}|{device}|{signature}".encode()).hexdigest()[:24]
    return cache_root() / "precision" / f"{key}.json"


def _time_candidates(artifacts: dict[str, Path], device: str, threads: int) -> dict[str, float]:
    """Median ms of one batch-1 call per artifact, calls interleaved so load on a shared machine hits all alike."""
    from l2m_edge.backends import open_backend

    backends = {p: open_backend(a, "openvino", device=device, threads=threads) for p, a in artifacts.items()}
    size = next(iter(backends.values())).info.img_size
    image = np.random.default_rng(0).uniform(-1, 1, (1, 3, size, size)).astype(np.float32)
    args = (image, np.zeros(1, np.int64), np.ones(1, np.int64), np.ones(1, np.float32))
    times: dict[str, list[float]] = {p: [] for p in backends}
    for round_ in range(TRIAL_ROUNDS + 3):
        for precision, backend in backends.items():
            t0 = time.perf_counter()
            backend.infer(*args)
            if round_ >= 3:  # warm-up rounds are not counted
                times[precision].append(1000 * (time.perf_counter() - t0))
    for backend in backends.values():
        backend.close()
    return {p: round(float(np.median(v)), 3) for p, v in times.items()}


def choose_openvino_precision(checkpoint: str | os.PathLike, device: str = "CPU", threads: int = 0) -> PrecisionChoice:
    """The fastest parity-passing artifact precision of `checkpoint` on this OpenVINO `device`, and why."""
    checkpoint = Path(checkpoint)
    path = _choice_path(checkpoint, device, machine_signature(device))
    if path.is_file():
        data = json.loads(path.read_text())
        return PrecisionChoice(data["precision"], data["reason"] + " (cached)", data["median_ms"], data["refused"])
    artifacts, refused, busy = {}, {}, False  # busy: a candidate another process is still exporting
    for precision in CANDIDATES:
        try:
            artifacts[precision] = cached_export(checkpoint, "openvino", precision)
        except BackendUnavailable as exc:
            refused[precision] = str(exc)
            busy = busy or isinstance(exc, ExportInProgress)
    if not artifacts:
        raise BackendUnavailable(next(iter(refused.values())))
    median = _time_candidates(artifacts, device, threads)
    best = min(median, key=median.__getitem__)
    others = ", ".join(f"{p} {ms:.2f} ms" for p, ms in median.items() if p != best)
    reason = f"{best} measured fastest here ({median[best]:.2f} ms a face vs {others or 'no other candidate'}; parity passed)"
    if refused:
        reason += "; " + "; ".join(f"{p} refused: {why}" for p, why in refused.items())
    choice = PrecisionChoice(best, reason, median, refused)
    if not busy:  # a candidate another process is still exporting gets its chance next time
        write_text_atomic(path, json.dumps({"precision": best, "reason": reason, "median_ms": median, "refused": refused}, indent=2))
    return choice
