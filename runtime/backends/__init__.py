"""Inference backends behind one protocol, and `load_backend`, the one way in.

`load_backend(model, backend="auto")` takes a checkpoint (.safetensors) or an exported
artifact (a directory with manifest.json, the manifest itself, or a file in it). Artifacts are
hash-checked against their manifest before loading. For a checkpoint and a backend that needs
an exported graph, the checkpoint is exported on the fly into a cache directory (once).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, Sequence

from l2m_edge.errors import BackendUnavailable

from .artifact import is_artifact, open_artifact
from .base import Backend, ModelInfo, check_inputs

BACKENDS = ("torch", "onnxruntime", "openvino", "tensorrt")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def choose_backend(model: str | os.PathLike, device: str | None = None) -> tuple[str, str]:
    """(backend name, why) for `--backend auto`: the fastest one that can run `model` here."""
    path = Path(model)
    on_cpu = (device or "").lower().startswith("cpu") or not _cuda()
    if is_artifact(path):
        from l2m_edge.export.targets import target_for_format

        fmt = open_artifact(path).manifest.format
        loader = target_for_format(fmt).backend
        if loader != "onnxruntime":
            return loader, f"a {fmt} artifact runs on {loader}"
        if not on_cpu:
            return "onnxruntime", "an ONNX artifact on a CUDA machine: onnxruntime with its CUDA/TensorRT providers"
        if _importable("openvino"):
            return "openvino", "an ONNX artifact on a CPU: OpenVINO compiles ONNX directly and is the fastest CPU runtime installed"
        return "onnxruntime", "an ONNX artifact on a CPU (OpenVINO is not installed)"
    if not on_cpu:
        return "torch", "a checkpoint on a CUDA machine: PyTorch with the Triton kernels (export a TensorRT engine for more)"
    if _importable("openvino"):
        return "openvino", "a checkpoint on a CPU: exported once to an OpenVINO IR (cached), the fastest CPU runtime installed"
    return "torch", "a checkpoint on a CPU without OpenVINO: PyTorch eager"


def load_backend(
    model: str | os.PathLike,
    backend: str = "auto",
    device: str | None = None,
    precision: str | None = None,
    providers: Sequence[str] | None = None,
    threads: int = 0,
) -> Backend:
    """A ready backend for `model`; `backend.reason` says why it was chosen.

    device: torch "cpu"/"cuda:0", OpenVINO "CPU"/"GPU"/"NPU"; precision: fp32|fp16|bf16, or int8
    (OpenVINO: an INT8 export) (None: the backend's default; with backend="auto" on OpenVINO, the
    fastest parity-passing precision measured here, `precision.choose_openvino_precision`; the
    backend reports what actually ran); providers: onnxruntime EPs; threads: CPU threads of the
    runtime (0: its default).
    """
    path = Path(model)
    if not path.exists():
        raise BackendUnavailable(f"{path}: no such checkpoint or artifact")
    if path.is_dir() and not is_artifact(path):
        raise BackendUnavailable(f"{path}: a folder with no manifest.json, so not an exported artifact; pass a .safetensors checkpoint or an `l2m-edge export` output")
    reason = "requested"
    auto = backend == "auto"
    if auto:
        backend, reason = choose_backend(path, device)
    if backend not in BACKENDS:
        raise BackendUnavailable(f"unknown backend {backend!r}; choose auto or one of {', '.join(BACKENDS)}")
    artifact = is_artifact(path)
    export_precision = None
    if backend == "openvino" and not artifact and precision in (None, "int8"):
        if precision is None and auto:
            from .precision import choose_openvino_precision

            try:
                choice = choose_openvino_precision(path, (device or "CPU").upper(), threads)
                export_precision, reason = choice.precision, f"{reason}; {choice.reason}"
            except BackendUnavailable:
                pass  # the plain export below fails with the same reason, and auto falls back to torch
        elif precision == "int8":
            export_precision = "int8"
        precision = None  # an int8 or fp16 IR computes at the device default; the backend reports what ran
    if backend == "torch":
        if artifact:
            raise BackendUnavailable(f"{path} is an exported artifact; the torch backend runs .safetensors checkpoints (use --backend auto)")
        from .torch_backend import TorchBackend

        result: Any = TorchBackend(path, device=device, precision=precision or "fp32", threads=threads)
    else:
        if not artifact:
            try:
                path = _export_for(path, backend, export_precision)
            except BackendUnavailable as exc:
                if not auto:
                    raise
                from .torch_backend import TorchBackend  # auto must still run: PyTorch runs any checkpoint

                fallback = TorchBackend(path, device="cpu" if (device or "cpu").lower() == "cpu" else device, threads=threads)
                fallback.reason = f"{reason}, but {exc}; fell back to PyTorch eager"
                return fallback
        if backend == "onnxruntime":
            from .onnxruntime_backend import OnnxRuntimeBackend

            result = OnnxRuntimeBackend(path, providers=providers, threads=threads)
        elif backend == "openvino":
            from .openvino_backend import OpenVINOBackend

            result = OpenVINOBackend(path, device=device or "CPU", precision=precision, threads=threads)
        else:
            from .tensorrt_backend import TensorRTBackend

            result = TensorRTBackend(path, device=device or "cuda:0")
    result.reason = reason
    return result


def _export_for(checkpoint: Path, backend: str, precision: str | None = None) -> Path:
    """The cached artifact of `checkpoint` for `backend`, exported on first use."""
    from .export_cache import cached_export

    return cached_export(checkpoint, backend, precision)


def describe(backend: Backend) -> str:
    """One line for logs and the HUD: name, device, precision that ran, and why it was chosen."""
    return f"{backend.name} on {backend.device}, {backend.precision} ({backend.reason})"


__all__ = ["BACKENDS", "Backend", "ModelInfo", "check_inputs", "choose_backend", "describe", "load_backend"]
