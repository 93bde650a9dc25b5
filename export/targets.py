"""The export targets: one row per target, read by `export`, `bench`, `info` and the on-the-fly export.

A row carries every fact of its target (Ultralytics' `export_formats()` habit): the artifact
precisions it writes and the compute precision each records, its defaults, the options it takes
and its own check of them. Adding a target is one row here and one registered builder
(`builders.py`); the benchmark gets a row for every (target, precision), and the backend registry
(`l2m_edge.backends.registry`) says which runtime loads the artifact's `format`.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Callable

from l2m_edge.errors import ExportError
from l2m_edge.registry import lookup

from .options import COMMON_OPTIONS, ExportOptions


def _check_jetson(options: ExportOptions) -> None:
    from .jetson import check_options

    check_options(options.jetpack, options.device, options.dla_core, options.precision, options.opset)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Target:
    """What one export target produces, what it takes, and who loads it."""

    name: str  # registry key and `--target` value
    format: str  # manifest `format`
    # artifact precision (`--precision`, the manifest's `precision`) → the compute precision its manifest
    # records for the backends (`compute_precision`; None: the runtime device's default)
    compute_precisions: dict[str, str | None]
    default_precision: str  # what `export` writes when asked nothing, and what a backend exports a checkpoint at on the fly
    suffix: str  # the main artifact file's suffix (Manifest.file(suffix) finds it)
    dynamic: bool  # whether a dynamic batch axis can be exported
    devices: tuple[str, ...]  # `--device` values; the first is the default
    requires: tuple[str, ...]  # Python modules the build needs on this machine
    builds_on_device: bool  # the final engine is built on the deployment device, not here
    description: str
    options: tuple[str, ...] = ()  # the options it takes beside COMMON_OPTIONS
    check: Callable[[ExportOptions], None] | None = None  # its own check of the validated options, before any work

    @property
    def precisions(self) -> tuple[str, ...]:
        """The `--precision` values it writes."""
        return tuple(self.compute_precisions)

    @property
    def accepts(self) -> tuple[str, ...]:
        """Every option name this target takes."""
        return (*COMMON_OPTIONS, *self.options)

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
            compute_precisions={"fp32": "fp32"},
            default_precision="fp32",
            suffix=".onnx",
            dynamic=True,
            devices=("cpu", "gpu"),
            requires=("onnx", "onnxslim", "onnxruntime"),
            builds_on_device=False,
            description="ONNX graph (opset 17, simplified), runs in onnxruntime on any execution provider",
            options=("split_style",),
        ),
        Target(
            name="openvino",
            format="openvino",
            # FP32 pins f32 (a CPU with AMX would compute bf16); FP16-compressed and INT8 IRs run the device's fastest
            compute_precisions={"fp32": "fp32", "fp16": None, "int8": None},
            default_precision="fp32",
            suffix=".xml",
            dynamic=True,
            devices=("cpu", "gpu", "npu"),
            requires=("onnx", "onnxslim", "onnxruntime", "openvino", "nncf"),
            builds_on_device=False,
            description="OpenVINO IR (.xml/.bin): FP32, FP16-compressed weights, or INT8 by NNCF post-training quantisation",
            options=("calib", "split_style"),
        ),
        Target(
            name="tensorrt",
            format="tensorrt",
            compute_precisions={"fp32": "fp32", "fp16": "fp16", "int8": "int8"},  # an engine computes as it was built
            default_precision="fp16",
            suffix=".engine",
            dynamic=True,
            devices=("gpu",),
            requires=("onnx", "onnxslim", "onnxruntime", "tensorrt"),
            builds_on_device=False,
            description="TensorRT engine built here on an NVIDIA GPU (engines are specific to GPU and TensorRT version)",
            options=("calib", "workspace", "split_style"),
        ),
        Target(
            name="jetson",
            format="jetson",
            compute_precisions={"fp32": "fp32", "fp16": "fp16", "int8": "int8"},
            default_precision="fp16",
            suffix=".onnx",
            dynamic=False,
            devices=("orin-nano", "orin-nx", "agx-orin"),
            requires=("onnx", "onnxslim", "onnxruntime"),
            builds_on_device=True,
            description="Jetson bundle: static ONNX + trtexec build script + native runner sources; the engine is built on the device",
            options=("calib", "workspace", "jetpack", "dla_core"),
            check=_check_jetson,
        ),
    )
}


def target_names() -> list[str]:
    return list(TARGETS)


def artifact_precisions() -> list[str]:
    """Every artifact precision some target writes (`export --precision`), in table order."""
    return list(dict.fromkeys(precision for target in TARGETS.values() for precision in target.precisions))


def get_target(name: str) -> Target:
    """The registered target `name`; an unknown one lists the valid ones."""
    return lookup(TARGETS, name, "export target", ExportError)

