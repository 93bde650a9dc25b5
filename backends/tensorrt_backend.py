"""TensorRT backend: a serialized engine from a `tensorrt` / `jetson` artifact, run on CUDA.

TensorRT is imported only when this backend is asked for; where it (or a CUDA device) is
missing the error is one line. Buffers and the stream come from the CUDA runtime through ctypes
(`backends/cuda.py`), so a device runs an engine without torch or another CUDA binding.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from l2m_edge.contract.signature import IMAGE
from l2m_edge.errors import BackendUnavailable

from .artifact import Artifact
from .base import Outputs, run_in_chunks
from .graph import GraphBackend
from .cuda import DeviceBuffer, Stream, cuda_device_count


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
    formats = ("tensorrt", "jetson")

    def __init__(
        self, artifact: str | os.PathLike | Artifact, device: str | None = None, precision: str | None = None, threads: int = 0, stage: str | None = None
    ) -> None:
        """`precision` is the engine's own (the registry's rule); `threads` does not apply to a GPU engine.
        `stage`: one engine of a split-style artifact (`run` it; `open_backend` composes both)."""
        trt = _import_tensorrt()
        if cuda_device_count() == 0:
            raise BackendUnavailable("TensorRT needs a CUDA device and the CUDA driver reports none")
        self._open(artifact, stage)
        self.precision = self.compute_precision = precision or self.artifact.manifest.precision
        self.runtime = f"tensorrt {trt.__version__}"
        self.requested_precision = None  # an engine computes as it was built
        self.threads = None  # a GPU engine
        self.device = device = device or "cuda:0"
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
            name: np.dtype(trt.nptype(self.engine.get_tensor_dtype(name))) for name in (self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors))
        }
        self._stream = Stream(int(device.partition(":")[2] or 0))
        image_shape = self.engine.get_tensor_shape(IMAGE)
        self.max_batch = None if image_shape[0] < 0 else int(image_shape[0])  # a static-batch engine runs batch by batch
        self.reason = "requested"

    def run(self, feed: dict[str, np.ndarray]) -> Outputs:
        """The engine's outputs by name for a feed in its signature's names."""
        return run_in_chunks(feed, self.max_batch, self._run, self.signature.outputs)

    def _run(self, feed: dict[str, np.ndarray]) -> Outputs:
        buffers = []
        try:
            for name, array in feed.items():
                array = np.ascontiguousarray(array, dtype=self._dtypes[name])
                buffers.append(DeviceBuffer(array.nbytes))
                buffers[-1].upload(array, self._stream)
                self.context.set_input_shape(name, tuple(array.shape))
                self.context.set_tensor_address(name, buffers[-1].address)
            outs = {}
            for name in self.signature.output_names:
                outs[name] = np.empty(tuple(self.context.get_tensor_shape(name)), dtype=self._dtypes[name])
                buffers.append(DeviceBuffer(outs[name].nbytes))
                self.context.set_tensor_address(name, buffers[-1].address)
            if not self.context.execute_async_v3(self._stream.address):
                raise BackendUnavailable("TensorRT execution failed (see the TensorRT log above)")
            self._stream.synchronize()
            for name, buffer in zip(self.signature.output_names, buffers[len(feed) :]):
                buffer.download(outs[name], self._stream)
        finally:
            for buffer in buffers:
                buffer.free()
        return {name: out.astype(np.float32) for name, out in outs.items()}

    def close(self) -> None:
        self.context = None
        self.engine = None
