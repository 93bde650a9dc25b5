"""`load_backend`: the app's way in — a checkpoint or an artifact, on the backend `auto` picks or one named.

Backends themselves live in `l2m_edge.backends` (registry, protocol, loaders). This module adds
what the live runtime needs on top: choosing the fastest usable backend for `--backend auto`, and
exporting a checkpoint on the fly (once, cached) for a backend that runs an exported graph.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from l2m_edge.backends import Backend, ModelInfo, StagedBackend, backend_for_format, get_backend, is_artifact, open_artifact, open_backend
from l2m_edge.environment import TRAIN_EXTRA_HINT, torch_installed
from l2m_edge.errors import BackendUnavailable

from ..defaults import ARTIFACT_ONLY_PRECISION, DEFAULT_BACKEND


def _cuda() -> bool:
    """Whether this machine has a CUDA device, asked of the driver (no torch: a device install has none)."""
    from l2m_edge.backends.cuda import cuda_device_count

    return cuda_device_count() > 0


def _onnxruntime_on_cuda() -> bool:
    """Whether this onnxruntime build brings a CUDA or TensorRT execution provider (PyPI's aarch64 one does not)."""
    from l2m_edge.backends.onnxruntime_backend import available_providers

    return bool({"CUDAExecutionProvider", "TensorrtExecutionProvider"} & set(available_providers()))


def _usable(name: str) -> bool:
    return get_backend(name).status().usable


def choose_backend(model: str | os.PathLike, device: str | None = None) -> tuple[str, str]:
    """(backend name, why) for `--backend auto`: the fastest one that can run `model` here."""
    path = Path(model)
    on_cpu = (device or "").lower().startswith("cpu") or not _cuda()
    if is_artifact(path):
        fmt = open_artifact(path).manifest.format
        loader = backend_for_format(fmt).name
        if fmt != "onnx":
            return loader, f"a {fmt} artifact runs on {loader}"
        if not on_cpu and _onnxruntime_on_cuda():
            return loader, f"an ONNX artifact on a CUDA machine: {loader} with its CUDA/TensorRT providers"
        if _usable("openvino"):
            return "openvino", "an ONNX artifact on a CPU: OpenVINO compiles ONNX directly and is the fastest CPU runtime installed"
        return loader, "an ONNX artifact on a CPU (OpenVINO is not installed)"
    if not on_cpu:
        return "torch", "a checkpoint on a CUDA machine: PyTorch with the Triton kernels (export a TensorRT engine for more)"
    if _usable("openvino"):
        return "openvino", "a checkpoint on a CPU: exported once to an OpenVINO IR (cached), the fastest CPU runtime installed"
    return "torch", "a checkpoint on a CPU without OpenVINO: PyTorch eager"


def load_backend(
    model: str | os.PathLike,
    backend: str = DEFAULT_BACKEND,
    device: str | None = None,
    precision: str | None = None,
    providers: Sequence[str] | None = None,
    threads: int = 0,
    split_style: bool = False,
) -> Backend:
    """A ready backend for `model`; `backend.reason` says why it was chosen.

    device: torch "cpu"/"cuda:0", OpenVINO "CPU"/"GPU"/"NPU", onnxruntime a provider; precision: the
    compute precision fp32|fp16|bf16, or the artifact precision int8 for a checkpoint exported on the
    fly (None: an artifact computes as its manifest records; a checkpoint in the backend's default,
    exported at its target's default precision, or with backend="auto" on OpenVINO at the fastest
    parity-passing precision measured here, `precision.choose_openvino_precision`; the backend
    reports what actually ran); providers: onnxruntime EPs; threads: CPU threads of the runtime (0:
    its default); split_style: a checkpoint exported on the fly is exported as two graphs (style and
    generator) so the pipeline can reuse style codes (`--style-every K`).
    """
    path = Path(model)
    if not path.exists():
        raise BackendUnavailable(f"{path}: no such checkpoint or artifact")
    if path.is_dir() and not is_artifact(path):
        raise BackendUnavailable(f"{path}: a folder with no manifest.json, so not an exported artifact; pass a .safetensors checkpoint or an `l2m-edge export` output")
    if not is_artifact(path) and not torch_installed():
        raise BackendUnavailable(f"{path.name}: a .safetensors checkpoint needs torch, {TRAIN_EXTRA_HINT}")
    reason = "requested"
    auto = backend == DEFAULT_BACKEND
    if auto:
        backend, reason = choose_backend(path, device)
    entry = get_backend(backend)
    if not is_artifact(path) and not entry.loads_checkpoints:
        artifact_precision, precision = (precision, None) if precision == ARTIFACT_ONLY_PRECISION else (None, precision)
        if artifact_precision is None and precision is None and auto and backend == "openvino":
            from .precision import choose_openvino_precision

            try:
                choice = choose_openvino_precision(path, (device or "CPU").upper(), threads)
                artifact_precision, reason = choice.precision, f"{reason}; {choice.reason}"
            except BackendUnavailable:
                pass  # the plain export below fails with the same reason, and auto falls back to torch
        try:
            path = _export_for(path, backend, artifact_precision, split_style)
        except BackendUnavailable as exc:
            if not auto:
                raise
            # auto must still run: PyTorch runs any checkpoint
            fallback = open_backend(path, "torch", device="cpu" if (device or "cpu").lower() == "cpu" else device, threads=threads)
            fallback.reason = f"{reason}, but {exc}; fell back to PyTorch eager"
            return fallback
    options = {"providers": providers} if providers and "onnx" in entry.native else {}
    result = open_backend(path, backend, device=device, precision=precision, threads=threads, **options)
    result.reason = reason
    return result


def _export_for(checkpoint: Path, backend: str, precision: str | None = None, split_style: bool = False) -> Path:
    """The cached artifact of `checkpoint` for `backend`, exported on first use."""
    from .export_cache import cached_export

    return cached_export(checkpoint, backend, precision, split_style)


def describe(backend: Backend) -> str:
    """One line for logs and the HUD: name, device, precision that ran, and why it was chosen."""
    return f"{backend.name} on {backend.device}, {backend.precision} ({backend.reason})"


__all__ = ["Backend", "ModelInfo", "StagedBackend", "choose_backend", "describe", "load_backend"]
