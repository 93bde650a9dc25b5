"""PyTorch backend: runs a checkpoint directly (Triton kernels on CUDA through the model's dispatch)."""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np
import torch

from l2m_edge.checkpoint import load_editor
from l2m_edge.contract.signature import editor_signature
from l2m_edge.errors import BackendUnavailable

from .base import ModelInfo, check_inputs, check_style_codes

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class TorchBackend:
    def __init__(
        self,
        checkpoint: str | os.PathLike,
        device: str | None = None,
        precision: str | None = None,
        threads: int = 0,
        compile: bool = False,
    ) -> None:
        """`threads` > 0 sets torch's intra-op threads (process-wide): on a small CPU shared with the
        tracker's threads, fewer torch threads avoid OpenMP spin-waiting against them.
        `compile` runs the editor through torch.compile (name "torch-compile")."""
        if threads > 0:
            torch.set_num_threads(threads)
        precision = precision or "fp32"
        device = {"gpu": "cuda"}.get((device or "").lower(), device) or ("cuda" if torch.cuda.is_available() else "cpu")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendUnavailable(f"torch device {device!r} requested but no CUDA device is visible; use --device cpu")
        if precision not in _DTYPES:
            raise BackendUnavailable(f"torch backend precision {precision!r} unsupported; choose {', '.join(_DTYPES)}")
        if precision == "fp16" and not device.startswith("cuda"):
            raise BackendUnavailable("fp16 needs a CUDA device for the torch backend; use fp32 or bf16 on a CPU")
        self.editor = load_editor(checkpoint, device=device)
        # Freezing folds the weights into the graph as constants (and prepacks them for oneDNN on a
        # CPU); without it inductor re-lays-out conv weights every call and can lose to eager on a CPU.
        self._forward = torch.compile(self.editor, options={"freezing": True}) if compile else self.editor
        self.name = "torch-compile" if compile else "torch"
        self.runtime = f"torch {torch.__version__}"
        self.device = str(device)
        self.precision = self.compute_precision = precision
        self.threads = torch.get_num_threads()
        self.requested_precision = None  # autocast runs `precision` itself: no runtime hint to report
        self._dtype = _DTYPES[precision]
        config = self.editor.config
        self.info = ModelInfo(
            config.img_size, tuple(self.editor.domains), self.editor.attribute, config.name, self.editor.framing, config.uses_masks
        )
        self.signature = editor_signature(config, batch=None)
        self.style_dim = config.style_dim
        self.reason = "requested"

    def infer(
        self, image: np.ndarray, source: np.ndarray, target: np.ndarray, strength: np.ndarray, masks: np.ndarray | None = None
    ) -> np.ndarray:
        feed = self.signature.feed(**check_inputs(self.info, image=image, source=source, target=target, strength=strength, masks=masks))  # type: ignore[arg-type]
        return self._call(self._forward, *feed.values())

    def style_code(self, image: np.ndarray, source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(style, style_delta) of `Editor.style_stage` (eager, also under torch-compile)."""
        checked = check_inputs(self.info, image=image, source=source, target=target)
        return self._call(self.editor.style_stage, checked["image"], checked["source"], checked["target"])  # type: ignore[arg-type]

    def generate(
        self, image: np.ndarray, style: np.ndarray, style_delta: np.ndarray, strength: np.ndarray, masks: np.ndarray | None = None
    ) -> np.ndarray:
        """`Editor.generate`: the edit from given style codes (eager, also under torch-compile)."""
        checked = check_inputs(self.info, image=image, strength=strength, masks=masks)
        codes = check_style_codes(len(checked["image"]), self.style_dim, style=style, style_delta=style_delta)  # type: ignore[arg-type]
        masks = checked["masks"]
        return self._call(self.editor.generate, checked["image"], *codes.values(), checked["strength"], *(() if masks is None else (masks,)))  # type: ignore[arg-type]

    def _call(self, fn: Callable[..., Any], *arrays: np.ndarray) -> Any:
        """`fn` on the arrays as tensors on the model's device, in its precision; numpy back (a tensor or a tuple)."""
        dev = self.editor.style_encoder.heads.weight.device
        with torch.inference_mode(), torch.autocast(dev.type, dtype=self._dtype, enabled=self._dtype != torch.float32):
            out = fn(*(torch.from_numpy(array).to(dev) for array in arrays))
        # .cpu() waits for a GPU, so timings cover the whole call
        return tuple(t.float().cpu().numpy() for t in out) if isinstance(out, tuple) else out.float().cpu().numpy()

    def close(self) -> None:
        self._forward = None  # type: ignore[assignment]
        self.editor = None  # type: ignore[assignment]
