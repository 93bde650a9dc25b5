"""PyTorch rows of the benchmark: the checkpoint itself, eager or through torch.compile.

These are the baseline every exported backend is compared with, so they run the model exactly
as a Python user would: `load_editor`, `torch.inference_mode`, no exporter in between. They follow
the runtime's Backend protocol (name, device, precision, info, reason, infer, close), so the
pipeline mode runs them too.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from l2m_edge.checkpoint import load_editor
from l2m_edge.errors import BackendUnavailable
from l2m_edge.runtime.backends.base import ModelInfo

TORCH_BACKENDS = ("torch", "torch-compile")
_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class TorchRunner:
    """Eager (`torch`) or compiled (`torch-compile`) editor; `precision` is what autocast runs."""

    def __init__(self, checkpoint: str | os.PathLike, backend: str = "torch", device: str | None = None, precision: str = "fp32", threads: int | None = None) -> None:
        if backend not in TORCH_BACKENDS:
            raise BackendUnavailable(f"unknown torch variant {backend!r}; choose {', '.join(TORCH_BACKENDS)}")
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if device.lower() in ("cpu", "gpu"):
            device = "cuda" if device.lower() == "gpu" else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendUnavailable(f"torch device {device!r} requested but no CUDA device is visible")
        if precision not in _DTYPES:
            raise BackendUnavailable(f"torch runs {', '.join(_DTYPES)}, not {precision!r}")
        if precision == "fp16" and not device.startswith("cuda"):
            raise BackendUnavailable("torch fp16 needs a CUDA device (CPU fp16 kernels are reference-only); use fp32 or bf16")
        if threads:
            torch.set_num_threads(threads)
        self.name = backend
        self.device = device
        self.precision = precision
        self.threads = torch.get_num_threads()
        self._dtype = _DTYPES[precision]
        self.editor = load_editor(checkpoint, device=device)
        # Freezing folds the weights into the graph as constants (and prepacks them for oneDNN on a
        # CPU); without it inductor re-lays-out conv weights every call and can lose to eager on a CPU.
        self._forward = torch.compile(self.editor, options={"freezing": True}) if backend == "torch-compile" else self.editor
        config = self.editor.config
        self.info = ModelInfo(config.img_size, tuple(self.editor.domains), self.editor.attribute, config.name)
        self.reason = "requested"

    def infer(self, image: np.ndarray, source: np.ndarray, target: np.ndarray, strength: np.ndarray) -> np.ndarray:
        dev = torch.device(self.device)
        with torch.inference_mode(), torch.autocast(dev.type, dtype=self._dtype, enabled=self._dtype != torch.float32):
            out = self._forward(
                torch.from_numpy(image).to(dev),
                torch.from_numpy(source).to(dev),
                torch.from_numpy(target).to(dev),
                torch.from_numpy(strength).to(dev),
            )
        return out.float().cpu().numpy()  # .cpu() waits for the GPU, so timings cover the whole call

    def close(self) -> None:
        self._forward = None  # type: ignore[assignment]
        self.editor = None  # type: ignore[assignment]
