"""OpenVINO backend: an IR (or ONNX) artifact compiled for a device with a chosen inference precision."""

from __future__ import annotations

import os

import numpy as np

from l2m_edge.contract.signature import EDITED, IMAGE
from l2m_edge.errors import BackendUnavailable

from .artifact import open_artifact
from .base import check_inputs

# OpenVINO element type names → the project's precision names.
_PRECISION_NAMES = {"f32": "fp32", "f16": "fp16", "bf16": "bf16", "float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}
_HINTS = {"fp32": "f32", "fp16": "f16", "bf16": "bf16"}


class OpenVINOBackend:
    name = "openvino"

    def __init__(self, artifact: str | os.PathLike, device: str = "CPU", precision: str | None = None, threads: int = 0) -> None:
        """`precision` (fp32|fp16|bf16) sets INFERENCE_PRECISION_HINT; None keeps the device default
        (bf16 on CPUs with AMX/AVX512-BF16, else fp32). `self.precision` reports what the compiled
        model actually runs."""
        try:
            import openvino as ov
        except ImportError as exc:
            raise BackendUnavailable(f"openvino is not importable ({exc}); pip install openvino") from None
        self.artifact = open_artifact(artifact, formats=("openvino", "onnx"))
        self.info = self.artifact.info
        manifest = self.artifact.manifest
        self.signature = manifest.signature
        core = ov.Core()
        if device.split(".")[0].split(":")[0] not in {d.split(".")[0] for d in core.available_devices} and not device.startswith(("AUTO", "HETERO", "MULTI")):
            raise BackendUnavailable(f"OpenVINO device {device!r} not found (available: {', '.join(core.available_devices)})")
        config: dict[str, str] = {"PERFORMANCE_HINT": "LATENCY"}
        if precision is not None:
            if precision not in _HINTS:
                raise BackendUnavailable(f"OpenVINO precision {precision!r} unsupported; choose {', '.join(_HINTS)} (int8 comes from an int8 export)")
            config["INFERENCE_PRECISION_HINT"] = _HINTS[precision]
        if threads:
            config["INFERENCE_NUM_THREADS"] = str(threads)
        path = self.artifact.path(".xml") if manifest.format == "openvino" else self.artifact.path(".onnx")
        try:
            model = core.read_model(str(path))
            self.compiled = core.compile_model(model, device, config)
        except RuntimeError as exc:
            raise BackendUnavailable(f"OpenVINO could not compile {path.name} for {device}: {str(exc).splitlines()[0]}") from None
        ran = str(self.compiled.get_property("INFERENCE_PRECISION_HINT"))
        ran = _PRECISION_NAMES.get(ran.lower().replace("<type: '", "").rstrip("'>"), ran)
        self.compute_precision = ran
        self.precision = "int8" if manifest.precision == "int8" else ran
        self.device = device
        self.request = self.compiled.create_infer_request()
        batch = self.compiled.input(IMAGE).get_partial_shape()[0]
        self.max_batch = None if batch.is_dynamic else batch.get_length()
        self.reason = "requested"

    def infer(
        self, image: np.ndarray, source: np.ndarray, target: np.ndarray, strength: np.ndarray, masks: np.ndarray | None = None
    ) -> np.ndarray:
        feed = self.signature.feed(*check_inputs(self.info, image, source, target, strength, masks))
        n = len(feed[IMAGE])
        step = self.max_batch or max(n, 1)
        outs = []
        for i in range(0, n, step):
            result = self.request.infer({name: array[i : i + step] for name, array in feed.items()})
            outs.append(np.asarray(result[self.compiled.output(EDITED)], dtype=np.float32))
        return np.concatenate(outs) if outs else np.zeros_like(feed[IMAGE])

    def close(self) -> None:
        self.request = None  # type: ignore[assignment]
        self.compiled = None  # type: ignore[assignment]
