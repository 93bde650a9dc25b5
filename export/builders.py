"""Target builders, registered per target with the options each accepts.

Every export starts from the checked ONNX graph (`to_onnx.export_onnx`); a builder turns it into
the target's files and says which registered backend measures the artifact's parity on this
machine. Adding a target is a `Target` in `targets.py` and one `@register_builder` function here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from l2m_edge.errors import ExportError
from l2m_edge.model.editor import Editor

from .calibration import EditBatch
from .options import COMMON_OPTIONS, ExportOptions

ONNX_NAME = "model.onnx"


@dataclass(frozen=True)
class BuiltArtifact:
    """What a builder wrote and how its parity is measured here."""

    files: tuple[str, ...]  # relative to the artifact directory, all hashed into the manifest
    parity_backend: str  # the backend registry entry that runs the artifact for the parity check
    bar: str  # the parity threshold (export/parity.py) the artifact is held to
    options: dict[str, Any] = field(default_factory=dict)  # target facts recorded in the manifest's options
    note: dict[str, Any] = field(default_factory=dict)  # added to the parity report (e.g. where the engine is built)


@dataclass(frozen=True)
class BuildContext:
    """Everything a builder reads: the validated options, the model, the ONNX file already written."""

    options: ExportOptions
    editor: Editor
    directory: Path
    onnx_path: Path
    calibration: EditBatch | None


Builder = Callable[[BuildContext], BuiltArtifact]


@dataclass(frozen=True)
class RegisteredBuilder:
    build: Builder
    accepts: tuple[str, ...]  # every option name this target takes (COMMON_OPTIONS + its own)


BUILDERS: dict[str, RegisteredBuilder] = {}


def register_builder(target: str, extra_options: tuple[str, ...] = ()) -> Callable[[Builder], Builder]:
    """Register the builder of `target`, taking the common options plus `extra_options`."""

    def wrap(build: Builder) -> Builder:
        BUILDERS[target] = RegisteredBuilder(build, (*COMMON_OPTIONS, *extra_options))
        return build

    return wrap


def get_builder(target: str) -> RegisteredBuilder:
    try:
        return BUILDERS[target]
    except KeyError:
        raise ExportError(f"target {target!r} has no registered builder (have {', '.join(BUILDERS)})") from None


@register_builder("onnx")
def build_onnx(ctx: BuildContext) -> BuiltArtifact:
    return BuiltArtifact((ONNX_NAME,), "onnxruntime", "fp32")


@register_builder("openvino", ("calib",))
def build_openvino(ctx: BuildContext) -> BuiltArtifact:
    from l2m_edge.backends.registry import OV_HINTS

    from .openvino_ir import OV_DEVICES, export_openvino

    precision = ctx.options.precision
    export_openvino(ctx.onnx_path, ctx.directory / "model.xml", precision, ctx.calibration, ctx.options.static_batch)
    ctx.onnx_path.unlink()
    # FP32 pins f32 (CPUs with AMX would compute bf16); FP16/INT8 IRs run the device's fastest.
    hint = OV_HINTS["fp32"] if precision == "fp32" else None
    options = {"inference_precision_hint": hint, "ov_device": OV_DEVICES[ctx.options.device]}
    return BuiltArtifact(("model.xml", "model.bin"), "openvino", precision, options)


@register_builder("tensorrt", ("calib", "workspace"))
def build_tensorrt(ctx: BuildContext) -> BuiltArtifact:
    from .tensorrt import build_engine

    precision = ctx.options.precision
    cache = ctx.directory / "calibration.cache" if precision == "int8" else None
    build_engine(
        ctx.onnx_path, ctx.directory / "model.engine", precision, ctx.options.workspace_gib, ctx.directory / "timing.cache",
        ctx.calibration, cache, ctx.options.static_batch,
    )
    files = (ONNX_NAME, "model.engine", "timing.cache") + (("calibration.cache",) if cache is not None and cache.is_file() else ())
    note = {"engine": "built here; parity measured on the ONNX it was built from (onnxruntime)"}
    return BuiltArtifact(files, "onnxruntime", "fp32", {"engine": "model.engine", "onnx_precision": "fp32"}, note)


@register_builder("jetson", ("calib", "workspace", "jetpack", "dla_core"))
def build_jetson(ctx: BuildContext) -> BuiltArtifact:
    from . import jetson

    o = ctx.options
    info = jetson.check_options(o.jetpack, o.device, o.dla_core, o.precision, o.opset)  # type: ignore[arg-type]
    if o.precision == "int8":
        fp32_path = ctx.directory / "model.fp32.onnx"
        ctx.onnx_path.rename(fp32_path)
        jetson.quantize_qdq(fp32_path, ctx.onnx_path, ctx.calibration, o.batch)  # type: ignore[arg-type]
        fp32_path.unlink()
    script = ctx.directory / jetson.SCRIPT_NAME
    script.write_text(jetson.build_script(ONNX_NAME, o.precision, o.workspace_gib, o.dla_core))  # type: ignore[arg-type]
    script.chmod(0o755)
    jetson.check_script(script)
    native = jetson.copy_native(ctx.directory)
    domains = list(ctx.editor.domains)
    (ctx.directory / "README.md").write_text(
        jetson.readme(ONNX_NAME, o.precision, info, o.device, o.dla_core, bool(native), domains, ctx.editor.config.img_size)
    )
    onnx_precision = "int8" if o.precision == "int8" else "fp32"  # INT8 is symmetric Q/DQ in the ONNX itself
    note = {"engine": f"built on the device by {jetson.SCRIPT_NAME}; parity measured on the bundled ONNX (onnxruntime)"}
    options = {"engine": jetson.ENGINE_NAME, "tensorrt": info.tensorrt, "native_sources": bool(native), "onnx_precision": onnx_precision}
    return BuiltArtifact((ONNX_NAME, jetson.SCRIPT_NAME, "README.md", *native), "onnxruntime", onnx_precision, options, note)
