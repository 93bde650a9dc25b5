"""Peak resident memory of the process measuring a row.

Each row runs in a fresh process by default, so its peak RSS (Linux VmHWM) is that row's alone:
the interpreter and imports (`baseline_rss_mb`, read before the model loads) plus what loading
and running the model added (`model_rss_mb` = peak − baseline). In-process runs reset the
high-water mark first (/proc/self/clear_refs) where the kernel allows it and say so.
"""

from __future__ import annotations

from pathlib import Path

import psutil

from l2m_edge.environment import torch_installed

_STATUS = Path("/proc/self/status")


def _status_kb(key: str) -> float | None:
    if not _STATUS.is_file():
        return None
    for line in _STATUS.read_text().splitlines():
        if line.startswith(key + ":"):
            return float(line.split()[1])
    return None


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mb() -> float:
    """High-water RSS of this process: VmHWM on Linux, peak working set on Windows, else current RSS."""
    hwm = _status_kb("VmHWM")
    if hwm is not None:
        return hwm / 1024
    info = psutil.Process().memory_info()
    return getattr(info, "peak_wset", info.rss) / 2**20


def reset_peak() -> bool:
    """Start a new high-water mark (Linux ≥ 4.0); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def gpu_peak_mb() -> float | None:
    """Peak CUDA memory torch allocated in this process (None without CUDA; other runtimes' pools are not seen)."""
    if not torch_installed():  # a device install: no torch pool to read
        return None
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.max_memory_allocated() / 2**20
