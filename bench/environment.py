"""The machine a result was measured on: every JSON carries it so results from several devices compare honestly."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

from l2m_edge.environment import package_versions, torch_installed

# The CPU flags a result records (`environment.cpu.isa`, in this order when present): those that decide
# which kernels run. Goals that apply to some CPUs only name these (`bench.report.CpuCondition`).
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "avx_vnni", "avx512_vnni", "amx_bf16", "amx_int8", "amx_fp16")


def _run(cmd: list[str], cwd: Path | None = None, timeout: float = 10.0) -> str | None:
    """stdout of a short command, None when it is missing or fails (a probe must never break a run)."""
    if shutil.which(cmd[0]) is None:
        return None
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def cpu_description() -> dict[str, Any]:
    """Model name, logical cores, cores this process may use, and the ISA flags that decide kernel choice."""
    model = platform.processor() or platform.machine()
    flags: list[str] = []
    mhz = None
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and value.strip():
                model = value.strip()
            elif key == "flags" and not flags:
                present = set(value.split())
                flags = [f for f in ISA_FLAGS if f in present]
            elif key == "cpu MHz" and mhz is None:
                mhz = float(value)
            elif key == "Model" and value.strip() and model == platform.machine():  # aarch64 (Jetson) /proc/cpuinfo
                model = value.strip()
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"model": model, "logical_cores": os.cpu_count(), "usable_cores": affinity, "isa": flags, "arch": platform.machine(), "mhz": mhz}


def gpu_description() -> list[dict[str, Any]]:
    """Every CUDA GPU with its driver, from torch when it sees one, else from nvidia-smi; [] without a GPU."""
    gpus: list[dict[str, Any]] = []
    smi = _run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader,nounits"])
    driver = None
    if smi:
        for line in smi.splitlines():
            parts = [p.strip() for p in line.split(",")]
            if len(parts) == 3:
                gpus.append({"name": parts[0], "driver": parts[1], "memory_mb": float(parts[2])})
                driver = parts[1]
    if torch_installed():  # a device install has none: nvidia-smi or the Jetson's release file answer
        import torch

        if torch.cuda.is_available() and not gpus:
            for i in range(torch.cuda.device_count()):
                props = torch.cuda.get_device_properties(i)
                gpus.append({"name": props.name, "driver": driver, "memory_mb": props.total_memory / 2**20, "cuda": torch.version.cuda})
    tegra = Path("/etc/nv_tegra_release")  # Jetson: no nvidia-smi on older JetPacks
    if not gpus and tegra.is_file():
        gpus.append({"name": "NVIDIA Jetson (integrated)", "driver": tegra.read_text(errors="replace").splitlines()[0].strip(), "memory_mb": None})
    return gpus


def power_mode() -> str | None:
    """Jetson power mode from `nvpmodel -q` (e.g. 'NV Power Mode: MAXN'); None where it is not readable."""
    out = _run(["nvpmodel", "-q"])
    if not out:
        return None
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    return "; ".join(lines[:2]) if lines else None


def git_commit(start: Path | None = None) -> str:
    """The checkout's commit (with '-dirty' when files differ), 'unknown' outside a checkout."""
    cwd = start or Path(__file__).resolve().parent
    commit = _run(["git", "rev-parse", "HEAD"], cwd=cwd)
    if not commit:
        return "unknown"
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd)
    return commit + ("-dirty" if dirty else "")


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages: results taken on a busy shared machine say so."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def capture_environment(device_label: str | None = None) -> dict[str, Any]:
    """Everything about the machine that a latency number depends on, as plain JSON values."""
    cpu = cpu_description()
    gpus = gpu_description()
    label = device_label or (gpus[0]["name"] if gpus else cpu["model"])
    torch_threads = None
    if torch_installed():
        import torch

        torch_threads = torch.get_num_threads()
    return {
        "device_label": label,
        "hostname": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "gpus": gpus,
        "memory_gb": _total_memory_gb(),
        "power_mode": power_mode(),
        "torch_threads": torch_threads,
        "packages": package_versions(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "L2M_EDGE_KERNELS", "CUDA_VISIBLE_DEVICES") if k in os.environ},
    }


def _total_memory_gb() -> float | None:
    try:
        import psutil

        return round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        return None
