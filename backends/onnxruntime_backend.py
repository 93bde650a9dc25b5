"""onnxruntime backend: an exported ONNX graph on the best execution provider available."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import psutil

from l2m_edge.contract.signature import IMAGE
from l2m_edge.errors import BackendUnavailable

from .artifact import Artifact
from .base import Outputs, run_in_chunks
from .graph import GraphBackend

# Fastest first; the first that this onnxruntime build offers is used unless providers are given.
PREFERRED_PROVIDERS = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "OpenVINOExecutionProvider",
    "CoreMLExecutionProvider",
    "DmlExecutionProvider",
    "CPUExecutionProvider",
)

_NP_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64}


def available_providers() -> list[str]:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise BackendUnavailable(f"onnxruntime is not importable ({exc}); pip install onnxruntime") from None
    return list(ort.get_available_providers())


def choose_providers(requested: Sequence[str] | None = None) -> list[str]:
    """The requested providers (each must exist here), or every available one in speed order."""
    available = available_providers()
    if requested:
        missing = [p for p in requested if p not in available]
        if missing:
            raise BackendUnavailable(f"onnxruntime providers {missing} are not available here (have {', '.join(available)})")
        return list(requested)
    return [p for p in PREFERRED_PROVIDERS if p in available] or available


class OnnxRuntimeBackend(GraphBackend):
    name = "onnxruntime"
    formats = ("onnx", "tensorrt", "jetson")

    def __init__(
        self,
        artifact: str | os.PathLike | Artifact,
        device: str | None = None,
        precision: str | None = None,
        threads: int = 0,
        providers: Sequence[str] | None = None,
        stage: str | None = None,
    ) -> None:
        """`device` names one execution provider (e.g. CPUExecutionProvider); `providers` a list of them;
        neither: every available one, fastest first. `precision` is the artifact's (the registry's rule).
        `stage`: one graph of a split-style artifact (`run` it; `open_backend` composes both)."""
        import onnxruntime as ort

        self._open(artifact, stage)
        self.precision = self.compute_precision = precision or self.artifact.manifest.precision
        self.runtime = f"onnxruntime {ort.__version__}"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        chosen = choose_providers(providers or ([device] if device else None))
        try:
            self.session = ort.InferenceSession(str(self.artifact.path(".onnx", stage)), options, providers=chosen)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise BackendUnavailable(f"onnxruntime could not load {self.artifact.directory}: {str(exc).splitlines()[0]}") from None
        self.device = self.session.get_providers()[0]
        # what its CPU provider runs on: 0 asks for one thread per physical core
        self.threads = options.intra_op_num_threads or psutil.cpu_count(logical=False)
        self.requested_precision = None  # onnxruntime computes in what the graph holds
        self._types = {i.name: _NP_TYPES.get(i.type, np.float32) for i in self.session.get_inputs()}
        batch = next((i.shape[0] for i in self.session.get_inputs() if i.name == IMAGE), None)
        self.max_batch = batch if isinstance(batch, int) else None  # a static-batch export runs batch by batch
        self.reason = "requested"

    def run(self, feed: dict[str, np.ndarray]) -> Outputs:
        """The graph's outputs by name for a feed in its signature's names."""
        feed = {name: array.astype(self._types[name], copy=False) for name, array in feed.items()}
        names = list(self.signature.output_names)
        return run_in_chunks(feed, self.max_batch, lambda chunk: dict(zip(names, self.session.run(names, chunk))), self.signature.outputs)

    def close(self) -> None:
        self.session = None  # type: ignore[assignment]
