"""The backend registry: one entry per inference runtime, beside the export target registry.

Each entry says which class loads what (artifact formats, or checkpoints), which device names it
takes, which compute precision it runs an artifact in (the manifest's `compute_precision`, read
here and nowhere else), which export target builds an artifact for it from a checkpoint, and
whether it can run on this machine (with the reason when not). The runtime,
export parity, `verify`, the benchmark, `l2m-edge info` and the CLI help all read this table.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from typing import Any, Callable

from l2m_edge.contract.manifest import Manifest
from l2m_edge.errors import BackendUnavailable
from l2m_edge.registry import lookup

CHECKPOINT = "checkpoint"  # what the PyTorch backends load: an editor .safetensors checkpoint

@dataclass(frozen=True)
class BackendStatus:
    """Whether a backend can run here, and what it found (or why not)."""

    name: str
    usable: bool
    detail: str


# (name, manifest, requested) → the compute precision to load with (None: the device's default)
PrecisionRule = Callable[[str, "Manifest | None", "str | None"], "str | None"]


def _as_requested_or_fp32(name: str, manifest: Manifest | None, requested: str | None) -> str | None:
    """PyTorch runs a checkpoint in what is asked (autocast), fp32 by default."""
    return requested or "fp32"


def _only(name: str, built: str | None, requested: str | None) -> str | None:
    if requested is not None and requested != built:
        raise BackendUnavailable(f"{name} runs this artifact in {built}, as it was built; --precision {requested} needs an artifact exported at {requested}")
    return built


def _onnx_as_built(name: str, manifest: Manifest | None, requested: str | None) -> str | None:
    """onnxruntime computes in what the ONNX graph holds (a TensorRT/Jetson artifact's ONNX: `onnx_precision`)."""
    return _only(name, manifest.options.get("onnx_precision", manifest.compute_precision) if manifest else None, requested)


def _as_recorded(name: str, manifest: Manifest | None, requested: str | None) -> str | None:
    """A TensorRT engine computes in the precision it was built with, the manifest's `compute_precision`."""
    return _only(name, manifest.compute_precision if manifest else None, requested)


def _requested_or_recorded(name: str, manifest: Manifest | None, requested: str | None) -> str | None:
    """An explicit request wins (the backend checks it is one OpenVINO computes in); else what the manifest records
    (fp32 for an FP32 IR or an ONNX graph, None — the device's default — for FP16/INT8 IRs)."""
    return requested if requested is not None or manifest is None else manifest.compute_precision


@dataclass(frozen=True)
class BackendEntry:
    """One inference runtime: what it loads, on which devices, in which precision, and whether it runs here."""

    name: str  # registry key and `--backend` value
    loader: str  # "module:Class" inside l2m_edge.backends, imported on first use
    native: tuple[str, ...]  # artifact formats (or CHECKPOINT) this backend is the default runner of
    also_loads: tuple[str, ...]  # further formats it runs (the ONNX graph they carry)
    devices: dict[str, str]  # machine device (cpu | cuda) → this runtime's device name; cpu's is the default
    device_names: str  # what `--device` accepts, for help texts
    precision_rule: PrecisionRule  # (name, manifest, requested) → the compute precision to load with (None: device default)
    precision_help: str
    requires: tuple[str, ...]  # Python modules it imports
    on_the_fly: str | None  # the export target that turns a checkpoint into its artifact (at the target's default precision)
    description: str
    probe: Callable[[], tuple[bool, str]] = field(default=lambda: (True, "ok"))  # runtime-specific availability
    options: tuple[tuple[str, Any], ...] = ()  # fixed loader keyword arguments (torch-compile: compile=True)

    @property
    def formats(self) -> tuple[str, ...]:
        return (*self.native, *self.also_loads)

    @property
    def loads_checkpoints(self) -> bool:
        return CHECKPOINT in self.native

    @property
    def default_device(self) -> str:
        """The device used when none is given: the CPU's where the runtime has one."""
        return next(iter(self.devices.values()))

    def device_for(self, machine: str) -> str:
        """This runtime's name for the machine-level device choice `cpu` | `cuda`."""
        try:
            return self.devices[machine]
        except KeyError:
            raise BackendUnavailable(f"backend {self.name!r} has no {machine} device (it runs on {', '.join(self.devices)})") from None

    def precision_for(self, manifest: Manifest | None, requested: str | None) -> str | None:
        return self.precision_rule(self.name, manifest, requested)

    def status(self) -> BackendStatus:
        missing = [module for module in self.requires if importlib.util.find_spec(module) is None]
        if missing:
            return BackendStatus(self.name, False, f"{', '.join(missing)} is not installed")
        usable, detail = self.probe()
        return BackendStatus(self.name, usable, detail)

    def loader_class(self) -> type:
        module, _, cls = self.loader.partition(":")
        return getattr(importlib.import_module(f"l2m_edge.backends.{module}"), cls)


def _torch_probe() -> tuple[bool, str]:
    import torch

    if torch.cuda.is_available():
        return True, f"CUDA: {torch.cuda.get_device_name()}"
    return True, f"CPU, {torch.get_num_threads()} threads (no CUDA device)"


def _onnxruntime_probe() -> tuple[bool, str]:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        return False, f"not importable: {exc}"
    return True, "providers: " + ", ".join(ort.get_available_providers())


def _openvino_probe() -> tuple[bool, str]:
    try:
        import openvino as ov
    except ImportError as exc:
        return False, f"not importable: {exc}"
    return True, "devices: " + ", ".join(ov.Core().available_devices)


def _tensorrt_probe() -> tuple[bool, str]:
    try:
        import tensorrt as trt
    except ImportError as exc:
        return False, f"tensorrt is not importable ({exc}); NVIDIA ships it with JetPack / the CUDA toolkit"
    from .cuda import cuda_device_count

    if cuda_device_count() == 0:
        return False, f"tensorrt {trt.__version__} installed but no CUDA device"
    return True, f"tensorrt {trt.__version__}"


_TORCH = dict(
    native=(CHECKPOINT,), also_loads=(), devices={"cpu": "cpu", "cuda": "cuda"}, device_names="cpu, cuda, cuda:N",
    precision_rule=_as_requested_or_fp32, precision_help="fp32 (default), bf16; fp16 on CUDA", requires=("torch",),
    on_the_fly=None, probe=_torch_probe,
)

BACKENDS: dict[str, BackendEntry] = {
    entry.name: entry
    for entry in (
        BackendEntry(name="torch", loader="torch_backend:TorchBackend", description="PyTorch eager on the checkpoint (Triton kernels on CUDA)", **_TORCH),
        BackendEntry(
            name="torch-compile", loader="torch_backend:TorchBackend", options=(("compile", True),),
            description="PyTorch through torch.compile (inductor, frozen weights)", **_TORCH,
        ),
        BackendEntry(
            name="onnxruntime", loader="onnxruntime_backend:OnnxRuntimeBackend", native=("onnx",), also_loads=("tensorrt", "jetson"),
            devices={"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}, device_names="an execution provider, e.g. CPUExecutionProvider",
            precision_rule=_onnx_as_built, precision_help="what the artifact's ONNX holds", requires=("onnxruntime",),
            on_the_fly="onnx", probe=_onnxruntime_probe,
            description="onnxruntime on the best execution provider available (runs the ONNX a TensorRT/Jetson artifact carries too)",
        ),
        BackendEntry(
            name="openvino", loader="openvino_backend:OpenVINOBackend", native=("openvino",), also_loads=("onnx",),
            devices={"cpu": "CPU", "cuda": "GPU"}, device_names="CPU, GPU, NPU, AUTO",
            precision_rule=_requested_or_recorded, precision_help="the manifest's compute precision (fp32 for an FP32 IR), or fp32|fp16|bf16",
            requires=("openvino",), on_the_fly="openvino", probe=_openvino_probe,
            description="OpenVINO on CPU/iGPU/NPU (IR or ONNX)",
        ),
        BackendEntry(
            name="tensorrt", loader="tensorrt_backend:TensorRTBackend", native=("tensorrt", "jetson"), also_loads=(),
            devices={"cuda": "cuda:0"}, device_names="cuda:N", precision_rule=_as_recorded,
            precision_help="what the engine was built as", requires=("tensorrt",), on_the_fly="tensorrt", probe=_tensorrt_probe,
            description="a serialized TensorRT engine on an NVIDIA GPU or Jetson",
        ),
    )
}


def backend_names() -> list[str]:
    return list(BACKENDS)


def get_backend(name: str) -> BackendEntry:
    """The registered backend `name`; an unknown one lists the valid ones."""
    return lookup(BACKENDS, name, "backend", BackendUnavailable)


def backend_for_format(format: str) -> BackendEntry:
    """The default runner of an artifact format (or of CHECKPOINT): its native backend, else any that loads it."""
    for entry in BACKENDS.values():
        if format in entry.native:
            return entry
    for entry in BACKENDS.values():
        if format in entry.also_loads:
            return entry
    raise BackendUnavailable(f"no backend loads {format!r} artifacts; known formats: {', '.join(sorted({f for e in BACKENDS.values() for f in e.formats}))}")


def backend_status() -> list[BackendStatus]:
    """Every registered backend's availability here, in registry order (for `l2m-edge info`)."""
    return [entry.status() for entry in BACKENDS.values()]
