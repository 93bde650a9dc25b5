"""The export targets: one declarative table read by `export`, `bench` and `info`.

Adding a target is one entry here (Ultralytics' `export_formats()` habit) and one registered
builder (`builders.py`); the benchmark gets a row for every (target, precision), and the backend
registry (`l2m_edge.backends.registry`) says which runtime loads the artifact's `format`.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from l2m_edge.errors import ExportError
from l2m_edge.registry import lookup


@dataclass(frozen=True)
class Target:
    """What one export target produces and who loads it."""

    name: str  # registry key and `--target` value
    format: str  # manifest `format`
    precisions: tuple[str, ...]  # allowed `--precision` values
    default_precision: str
    suffix: str  # the main artifact file's suffix (Manifest.file(suffix) finds it)
    dynamic: bool  # whether a dynamic batch axis can be exported
    devices: tuple[str, ...]  # `--device` values; the first is the default
    requires: tuple[str, ...]  # Python modules the build needs on this machine
    builds_on_device: bool  # the final engine is built on the deployment device, not here
    description: str

    @property
    def default_device(self) -> str:
        return self.devices[0]

    def check_precision(self, precision: str | None) -> str:
        """The precision to use (the default when None); an unknown one lists the valid ones."""
        precision = precision or self.default_precision
        if precision not in self.precisions:
            raise ExportError(f"target {self.name!r} has no precision {precision!r}; choose one of {', '.join(self.precisions)}")
        return precision

    def check_device(self, device: str | None) -> str:
        device = device or self.default_device
        if device not in self.devices:
            raise ExportError(f"target {self.name!r} has no device {device!r}; choose one of {', '.join(self.devices)}")
        return device

    def missing(self) -> list[str]:
        """Modules this machine lacks to build the target (empty when it can be built here)."""
        return [module for module in self.requires if importlib.util.find_spec(module) is None]

    def buildable(self) -> tuple[bool, str]:
        """(can it be exported on this machine, why not) — for `export`, `bench` and `info`."""
        missing = self.missing()
        if missing:
            return False, f"{', '.join(missing)} is not installed"
        return True, "ok"


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            name="onnx",
            format="onnx",
            precisions=("fp32",),
            default_precision="fp32",
            suffix=".onnx",
            dynamic=True,
            devices=("cpu", "gpu"),
            requires=("onnx", "onnxslim", "onnxruntime"),
            builds_on_device=False,
            description="ONNX graph (opset 17, simplified), runs in onnxruntime on any execution provider",
        ),
        Target(
            name="openvino",
            format="openvino",
            precisions=("fp32", "fp16", "int8"),
            default_precision="fp32",
            suffix=".xml",
            dynamic=True,
            devices=("cpu", "gpu", "npu"),
            requires=("onnx", "onnxslim", "onnxruntime", "openvino", "nncf"),
            builds_on_device=False,
            description="OpenVINO IR (.xml/.bin): FP32, FP16-compressed weights, or INT8 by NNCF post-training quantisation",
        ),
        Target(
            name="tensorrt",
            format="tensorrt",
            precisions=("fp32", "fp16", "int8"),
            default_precision="fp16",
            suffix=".engine",
            dynamic=True,
            devices=("gpu",),
            requires=("onnx", "onnxslim", "onnxruntime", "tensorrt"),
            builds_on_device=False,
            description="TensorRT engine built here on an NVIDIA GPU (engines are specific to GPU and TensorRT version)",
        ),
        Target(
            name="jetson",
            format="jetson",
            precisions=("fp32", "fp16", "int8"),
            default_precision="fp16",
            suffix=".onnx",
            dynamic=False,
            devices=("orin-nano", "orin-nx", "agx-orin"),
            requires=("onnx", "onnxslim", "onnxruntime"),
            builds_on_device=True,
            description="Jetson bundle: static ONNX + trtexec build script + native runner sources; the engine is built on the device",
        ),
    )
}


def target_names() -> list[str]:
    return list(TARGETS)


def get_target(name: str) -> Target:
    """The registered target `name`; an unknown one lists the valid ones."""
    return lookup(TARGETS, name, "export target", ExportError)

