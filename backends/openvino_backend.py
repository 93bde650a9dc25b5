"""OpenVINO backend: an IR (or ONNX) artifact compiled for a device in the compute precision the registry resolved.

The one place the project's compute precision names (fp32, fp16, bf16) meet OpenVINO's
INFERENCE_PRECISION_HINT names (f32, f16, bf16), both ways.
"""

from __future__ import annotations

import os
from typing import Iterable

import numpy as np

from l2m_edge.contract.signature import IMAGE
from l2m_edge.errors import BackendUnavailable

from .artifact import Artifact
from .base import Outputs, run_in_chunks
from .graph import GraphBackend
from .openvino_core import openvino_core

# The project's compute precision names → OpenVINO's INFERENCE_PRECISION_HINT names.
OV_HINTS = {"fp32": "f32", "fp16": "f16", "bf16": "bf16"}
_OV_NAMES = {"f32": "fp32", "float32": "fp32", "f16": "fp16", "float16": "fp16", "bf16": "bf16", "bfloat16": "bf16"}


def precision_from_openvino(value: object) -> str:
    """An OpenVINO element type or hint ('f32', '<Type: 'bfloat16'>') in the project's names (fp32, bf16, …)."""
    text = str(value).lower().replace("<type: '", "").rstrip("'>")
    return _OV_NAMES.get(text, text)


def openvino_hint(precision: str | None) -> str | None:
    """OpenVINO's INFERENCE_PRECISION_HINT name of a compute precision (fp32 → f32); None stays None (the device's default)."""
    if precision is None:
        return None
    if precision not in OV_HINTS:
        raise BackendUnavailable(f"OpenVINO precision {precision!r} unsupported; choose {', '.join(OV_HINTS)} (int8 comes from an int8 export)")
    return OV_HINTS[precision]


def compile_config(precision: str | None, threads: int = 0) -> dict[str, str]:
    """The properties a graph is compiled with: the LATENCY hint, the compute precision's hint (None: the
    device's default) and the CPU threads (0: OpenVINO's choice). `bench profile` compiles with these too."""
    config = {"PERFORMANCE_HINT": "LATENCY"}
    hint = openvino_hint(precision)
    if hint is not None:
        config["INFERENCE_PRECISION_HINT"] = hint
    if threads:
        config["INFERENCE_NUM_THREADS"] = str(threads)
    return config


class OpenVINOBackend(GraphBackend):
    name = "openvino"
    formats = ("openvino", "onnx")

    def __init__(
        self, artifact: str | os.PathLike | Artifact, device: str | None = None, precision: str | None = None, threads: int = 0, stage: str | None = None
    ) -> None:
        """`precision` (the compute precision: fp32|fp16|bf16) sets INFERENCE_PRECISION_HINT; None keeps the
        device default (bf16 on CPUs with AMX/AVX512-BF16, else fp32). `compute_precision` is read back
        from the compiled model: what it actually runs, never what was asked. `stage`: one graph of a
        split-style artifact (`run` it; `open_backend` composes both)."""
        try:
            import openvino as ov
            import openvino.properties.hint as hints
        except ImportError as exc:
            raise BackendUnavailable(f"openvino is not importable ({exc}); pip install openvino") from None
        self._open(artifact, stage)
        manifest = self.artifact.manifest
        self.runtime = f"openvino {ov.__version__}"
        device = device or "CPU"
        core = openvino_core()
        if device.split(".")[0].split(":")[0] not in {d.split(".")[0] for d in core.available_devices} and not device.startswith(("AUTO", "HETERO", "MULTI")):
            raise BackendUnavailable(f"OpenVINO device {device!r} not found (available: {', '.join(core.available_devices)})")
        config = compile_config(precision, threads)
        path = self.artifact.path(".xml" if manifest.format == "openvino" else ".onnx", stage)
        try:
            self._compiled = core.compile_model(core.read_model(str(path)), device, config)
        except RuntimeError as exc:
            raise BackendUnavailable(f"OpenVINO could not compile {path.name} for {device}: {str(exc).splitlines()[0]}") from None
        self.requested_precision = precision or "device default"
        self.threads = _threads(self._compiled)
        self.compute_precision = precision_from_openvino(self._compiled.get_property(hints.inference_precision()))
        self.precision = "int8" if manifest.precision == "int8" else self.compute_precision
        self.device = device
        self.request = self._compiled.create_infer_request()
        batch = self._compiled.input(IMAGE).get_partial_shape()[0]
        self.max_batch = None if batch.is_dynamic else batch.get_length()
        self.reason = "requested"

    def compiled_properties(self, names: Iterable[str]) -> dict[str, str]:
        """Properties of the compiled model by name, as OpenVINO reports them (e.g. INFERENCE_PRECISION_HINT, NUM_STREAMS)."""
        return {name: str(self._compiled.get_property(name)) for name in names}

    def run(self, feed: dict[str, np.ndarray]) -> Outputs:
        """The graph's outputs by name for a feed in its signature's names."""
        ports = {name: self._compiled.output(name) for name in self.signature.output_names}
        # share_inputs: the request reads the feed's own (contiguous, checked) arrays instead of a copy; the
        # outputs are copied, since callers keep them past the next call
        return run_in_chunks(feed, self.max_batch, lambda chunk: _by_name(self.request.infer(chunk, share_inputs=True), ports), self.signature.outputs)

    def close(self) -> None:
        self.request = None  # type: ignore[assignment]
        self._compiled = None  # type: ignore[assignment]


def _threads(compiled: object) -> int | None:
    """The CPU threads the compiled model runs on, as OpenVINO reports them (None on a device that does not say)."""
    try:
        return int(compiled.get_property("INFERENCE_NUM_THREADS"))  # type: ignore[attr-defined]
    except (RuntimeError, TypeError, ValueError):
        return None


def _by_name(results: object, ports: dict[str, object]) -> Outputs:
    return {name: results[port] for name, port in ports.items()}  # type: ignore[index]
