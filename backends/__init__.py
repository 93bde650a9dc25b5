"""Inference backends behind one protocol, their registry, and `open_backend`: the one way to run a model.

Export parity, `verify`, the benchmark and the live runtime all load artifacts here, so what an
export certifies is what users run, in the precision its manifest records. This layer reads the
artifact contract (signature, manifest) and never imports the exporter: turning a checkpoint into
an artifact on the fly is the runtime's job (`l2m_edge.runtime.backends.load_backend`).
"""

from __future__ import annotations

import os
from pathlib import Path

from l2m_edge.contract.signature import STAGES
from l2m_edge.errors import BackendUnavailable

from .artifact import Artifact, is_artifact, open_artifact
from .base import Backend, ModelInfo, StagedBackend, check_inputs
from .registry import BACKENDS, CHECKPOINT, BackendEntry, BackendStatus, backend_for_format, backend_names, backend_status, get_backend


def open_backend(
    model: str | os.PathLike | Artifact,
    backend: str | None = None,
    *,
    device: str | None = None,
    precision: str | None = None,
    threads: int = 0,
    **options: object,
) -> Backend:
    """`model` (an artifact, or a checkpoint for the PyTorch backends) loaded on a registered backend.

    backend: a registry name, None for the default runner of the artifact's format; device: that
    runtime's device name (None: its default); precision: None applies the registry's rule to the
    manifest (an FP32 IR computes in f32), a value overrides it where the runtime can; options:
    backend-specific loader arguments (onnxruntime `providers`).
    """
    artifact = model if isinstance(model, Artifact) else None
    if artifact is None:
        path = Path(model)
        if not path.exists():
            raise BackendUnavailable(f"{path}: no such checkpoint or artifact")
        artifact = open_artifact(path) if is_artifact(path) else None
    format = artifact.manifest.format if artifact is not None else CHECKPOINT
    entry = get_backend(backend) if backend is not None else backend_for_format(format)
    status = entry.status()
    if not status.usable:
        raise BackendUnavailable(f"backend {entry.name!r} cannot run here: {status.detail}")
    if format not in entry.formats:
        what = "a .safetensors checkpoint" if format == CHECKPOINT else f"an exported {format} artifact"
        loads = " or ".join(".safetensors checkpoints" if f == CHECKPOINT else f"{f} artifacts" for f in entry.formats)
        raise BackendUnavailable(f"{model} is {what}; the {entry.name} backend runs {loads} (use --backend auto)")
    compute = entry.precision_for(artifact.manifest if artifact is not None else None, precision)
    loader = entry.loader_class()
    if artifact is not None and artifact.manifest.split:  # one graph per stage, composed
        from .split import SplitBackend

        graphs = (loader(artifact, device=device, precision=compute, threads=threads, stage=s, **dict(entry.options), **options) for s in STAGES)
        return SplitBackend(*graphs)
    return loader(artifact if artifact is not None else model, device=device, precision=compute, threads=threads, **dict(entry.options), **options)


__all__ = [
    "BACKENDS",
    "Artifact",
    "Backend",
    "BackendEntry",
    "BackendStatus",
    "ModelInfo",
    "StagedBackend",
    "backend_for_format",
    "backend_names",
    "backend_status",
    "check_inputs",
    "get_backend",
    "is_artifact",
    "open_artifact",
    "open_backend",
]
