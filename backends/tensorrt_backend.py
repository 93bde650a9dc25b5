"""TensorRT backend: a serialized engine from a `tensorrt` / `jetson` artifact, run on CUDA.

TensorRT is imported only when this backend is asked for; where it (or a CUDA device) is
missing the error is one line. Buffers are torch CUDA tensors, so no extra CUDA binding is needed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from l2m_edge.contract.signature import IMAGE
from l2m_edge.errors import BackendUnavailable

from .artifact import Artifact, open_artifact
from .base import GraphBackend, Outputs, run_in_chunks


def _import_tensorrt():  # noqa: ANN202 - the module type is only known once imported
    try:
        import tensorrt as trt
    except ImportError:
        raise BackendUnavailable(
            "tensorrt is not installed: use --backend openvino/onnxruntime here, or install TensorRT (JetPack on Jetson; NVIDIA's pip index on x86)"
        ) from None
    return trt


def _engine_path(artifact: Artifact, stage: str | None) -> Path:
    """The serialized engine (of `stage`): hashed in a `tensorrt` artifact; built on the device for a `jetson` bundle."""
    if artifact.manifest.format != "jetson":
        return artifact.path(".engine", stage)
    engine = artifact.directory / artifact.manifest.options.get("engine", "model.engine")
    if not engine.is_file():
        raise BackendUnavailable(f"{engine}: not built yet; run `bash build_engine.sh` in {artifact.directory} on the device first")
    return engine


class TensorRTBackend(GraphBackend):
    name = "tensorrt"

    def __init__(
        self, artifact: str | os.PathLike | Artifact, device: str | None = None, precision: str | None = None, threads: int = 0, stage: str | None = None
    ) -> None:
        """`precision` is the engine's own (the registry's rule); `threads` does not apply to a GPU engine.
        `stage`: one engine of a split-style artifact (`run` it; `open_backend` composes both)."""
        trt = _import_tensorrt()
        import torch

        if not torch.cuda.is_available():
            raise BackendUnavailable("TensorRT needs a CUDA device and none is visible")
        self.artifact = open_artifact(artifact, formats=("tensorrt", "jetson"))
        self.info = self.artifact.info
        self.signature = self.artifact.signature(stage)
        self.precision = self.compute_precision = precision or self.artifact.manifest.precision
        self.runtime = f"tensorrt {trt.__version__}"
        self.requested_precision = None  # an engine computes as it was built
        self.threads = None  # a GPU engine
        self.device = device = device or "cuda:0"
        self._torch = torch
        engine_path = _engine_path(self.artifact, stage)
        self._logger = trt.Logger(trt.Logger.WARNING)
        runtime = trt.Runtime(self._logger)
        self.engine = runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if self.engine is None:
            raise BackendUnavailable(
                f"{engine_path}: TensorRT {trt.__version__} cannot deserialize this engine (built for another GPU or TensorRT version); rebuild it on this device"
            )
        self.context = self.engine.create_execution_context()
        self._dtypes = {
            self.engine.get_tensor_name(i): torch.from_numpy(np.zeros(0, dtype=trt.nptype(self.engine.get_tensor_dtype(self.engine.get_tensor_name(i))))).dtype
            for i in range(self.engine.num_io_tensors)
        }
        self._stream = torch.cuda.Stream(device=device)
        image_shape = self.engine.get_tensor_shape(IMAGE)
        self.max_batch = None if image_shape[0] < 0 else int(image_shape[0])  # a static-batch engine runs batch by batch
        self.reason = "requested"

    def run(self, feed: dict[str, np.ndarray]) -> Outputs:
        """The engine's outputs by name for a feed in its signature's names."""
        return run_in_chunks(feed, self.max_batch, self._run, self.signature.outputs)

    def _run(self, feed: dict[str, np.ndarray]) -> Outputs:
        torch = self._torch
        keep = []
        with torch.cuda.device(self.device):
            for name, array in feed.items():
                tensor = torch.from_numpy(array).to(self.device, self._dtypes[name]).contiguous()
                self.context.set_input_shape(name, tuple(tensor.shape))
                self.context.set_tensor_address(name, tensor.data_ptr())
                keep.append(tensor)
            outs = {}
            for name in self.signature.output_names:
                outs[name] = torch.empty(tuple(self.context.get_tensor_shape(name)), dtype=self._dtypes[name], device=self.device)
                self.context.set_tensor_address(name, outs[name].data_ptr())
            if not self.context.execute_async_v3(self._stream.cuda_stream):
                raise BackendUnavailable("TensorRT execution failed (see the TensorRT log above)")
            self._stream.synchronize()
        return {name: out.float().cpu().numpy() for name, out in outs.items()}

    def close(self) -> None:
        self.context = None
        self.engine = None
