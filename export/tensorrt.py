"""TensorRT engines from the exported ONNX, on the TensorRT Python API (8.6 and 10.x).

The ONNX parser reads the graph; the builder config gets the workspace limit
(`set_memory_pool_limit(MemoryPoolType.WORKSPACE, …)`), the FP16/INT8 flags, an
`IInt8EntropyCalibrator2` fed with face crops whose scales are written to a calibration cache
(reused on the next build: calibration is the slow part), and a timing cache that makes
rebuilds fast. `build_serialized_network` gives the plan that is written as `model.engine`.

TensorRT is imported lazily: where it is missing (every machine of this project, whose PyPI
wheels fetch from NVIDIA's index) the build stops with one line saying so, after the ONNX it
would have consumed has been exported and parity-checked.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from l2m_edge.errors import ExportError

from .calibration import EditBatch, FeedBatch

DYNAMIC_MAX_BATCH = 8  # the optimisation profile's largest batch for --dynamic engines


def import_tensorrt() -> ModuleType:
    """`tensorrt`, or a one-line ExportError naming what is missing."""
    try:
        import tensorrt
    except ImportError as exc:
        raise ExportError(
            f"tensorrt is not installed: {exc}; install TensorRT from JetPack or NVIDIA's CUDA repositories "
            "(pip install tensorrt needs NVIDIA's index), or use --target jetson to build the engine on the device"
        ) from None
    return tensorrt


def _major(trt: ModuleType) -> int:
    return int(str(trt.__version__).split(".")[0])


def make_calibrator(trt: ModuleType, batch: EditBatch | FeedBatch, step: int, cache: Path, dtypes: dict[str, np.dtype]) -> Any:
    """An IInt8EntropyCalibrator2 that feeds `batch` in chunks of `step` from CUDA memory.

    `dtypes` are the parsed network's input types (TensorRT 8.x narrows int64 inputs to int32).
    `cache` is read when it exists (no re-calibration) and written after calibration.
    """
    import torch

    if not torch.cuda.is_available():
        raise ExportError("INT8 calibration for TensorRT needs a CUDA device and torch with CUDA; none is visible")

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.starts = list(range(0, len(batch) - len(batch) % step, step))
            self.buffers: dict[str, torch.Tensor] = {}  # kept alive until the next batch

        def get_batch_size(self) -> int:
            return step

        def get_batch(self, names: list[str]) -> list[int] | None:
            if not self.starts:
                return None
            start = self.starts.pop(0)
            feed = batch.slice(start, start + step).feed()
            self.buffers = {name: torch.from_numpy(np.ascontiguousarray(feed[name], dtype=dtypes[name])).cuda() for name in names}
            return [self.buffers[name].data_ptr() for name in names]

        def read_calibration_cache(self) -> bytes | None:
            return cache.read_bytes() if cache.is_file() else None

        def write_calibration_cache(self, data: Any) -> None:
            cache.write_bytes(bytes(data))

    return EntropyCalibrator()


def build_engine(
    onnx_path: Path,
    engine_path: Path,
    precision: str,
    workspace_gib: float,
    timing_cache: Path,
    calibration: EditBatch | FeedBatch | None = None,
    calibration_cache: Path | None = None,
    static_batch: int | None = None,
) -> Path:
    """Parse `onnx_path`, build an engine for `precision` and write it to `engine_path`."""
    trt = import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    # Explicit batch is the only mode in TensorRT 10 (flag deprecated); 8.x must ask for it.
    flags = 0 if _major(trt) >= 10 else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ExportError(f"TensorRT {trt.__version__} could not parse {onnx_path.name}: {errors}")

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)  # INT8 layers fall back to FP16, not FP32

    profile = None
    if static_batch is None:
        profile = builder.create_optimization_profile()
        for i in range(network.num_inputs):
            tensor = network.get_input(i)
            rest = tuple(tensor.shape)[1:]
            profile.set_shape(tensor.name, (1, *rest), (1, *rest), (DYNAMIC_MAX_BATCH, *rest))
        config.add_optimization_profile(profile)

    if precision == "int8":
        if calibration is None or calibration_cache is None:
            raise ExportError("INT8 needs calibration data: pass --calib synth or --calib DIR (a folder of ≥ 100 face crops)")
        config.set_flag(trt.BuilderFlag.INT8)
        dtypes = {network.get_input(i).name: np.dtype(trt.nptype(network.get_input(i).dtype)) for i in range(network.num_inputs)}
        config.int8_calibrator = make_calibrator(trt, calibration, static_batch or 1, calibration_cache, dtypes)
        if profile is not None:
            config.set_calibration_profile(profile)

    cache = config.create_timing_cache(timing_cache.read_bytes() if timing_cache.is_file() else b"")
    config.set_timing_cache(cache, False)

    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise ExportError(f"TensorRT {trt.__version__} failed to build an engine from {onnx_path.name}; run with a larger --workspace or see its log above")
    engine_path.write_bytes(bytes(plan))
    timing_cache.write_bytes(bytes(config.get_timing_cache().serialize()))
    return engine_path
