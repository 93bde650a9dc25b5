"""Target builders, one registered per target row of `targets.py` (which holds the options it takes).

Every export starts from the checked ONNX graph (`to_onnx.export_onnx`); a builder turns it into
the target's files and says which registered backend measures the artifact's parity on this
machine. Adding a target is a `Target` in `targets.py` and one `@register_builder` function here.

A builder converts one ONNX graph and names what it writes after it (`model.onnx` → `model.xml`);
a split-style export calls it once per stage graph (`style.onnx`, `generator.onnx`) and merges the
two results (`merge_stages`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import l2m_edge
from l2m_edge.errors import ExportError
from l2m_edge.model.editor import Editor

from .calibration import EditBatch, FeedBatch
from .options import ExportOptions

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
    onnx_path: Path  # model.onnx, or a split-style artifact's <stage>.onnx
    calibration: EditBatch | FeedBatch | None  # inputs of that graph

    def beside(self, suffix: str) -> Path:
        """A file of this graph: model.xml beside model.onnx, style.xml beside style.onnx."""
        return self.onnx_path.with_suffix(suffix)

    def extra(self, name: str) -> Path:
        """An extra file of this graph: `name` for the editor graph, `<stage>.name` for a stage's."""
        stem = self.onnx_path.stem
        return self.directory / (name if self.onnx_path.name == ONNX_NAME else f"{stem}.{name}")


Builder = Callable[[BuildContext], BuiltArtifact]


BUILDERS: dict[str, Builder] = {}


def register_builder(target: str) -> Callable[[Builder], Builder]:
    """Register the builder of the target row `target`."""

    def wrap(build: Builder) -> Builder:
        BUILDERS[target] = build
        return build

    return wrap


def get_builder(target: str) -> Builder:
    try:
        return BUILDERS[target]
    except KeyError:
        raise ExportError(f"target {target!r} has no registered builder (have {', '.join(BUILDERS)})") from None


def merge_stages(parts: dict[str, BuiltArtifact]) -> BuiltArtifact:
    """One split-style artifact from each stage's build: every file once, the facts of both stages."""
    first = next(iter(parts.values()))
    files = tuple(dict.fromkeys(f for part in parts.values() for f in part.files))
    options = _merge_facts({stage: part.options for stage, part in parts.items()})
    return BuiltArtifact(files, first.parity_backend, first.bar, options, _merge_facts({stage: part.note for stage, part in parts.items()}))


def _merge_facts(per_stage: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A fact the stages agree on, once; one they differ on (an engine's file name) as {stage: value}."""
    merged: dict[str, Any] = {}
    for key in dict.fromkeys(k for facts in per_stage.values() for k in facts):
        values = {stage: facts.get(key) for stage, facts in per_stage.items()}
        same = len({repr(v) for v in values.values()}) == 1
        merged[key] = next(iter(values.values())) if same else values
    return merged


@register_builder("onnx")
def build_onnx(ctx: BuildContext) -> BuiltArtifact:
    return BuiltArtifact((ctx.onnx_path.name,), "onnxruntime", "fp32")


@register_builder("openvino")
def build_openvino(ctx: BuildContext) -> BuiltArtifact:
    from .openvino_ir import OV_DEVICES, export_openvino

    precision = ctx.options.precision
    xml = export_openvino(ctx.onnx_path, ctx.beside(".xml"), precision, ctx.calibration, ctx.options.static_batch)
    ctx.onnx_path.unlink()
    return BuiltArtifact((xml.name, xml.with_suffix(".bin").name), "openvino", precision, {"ov_device": OV_DEVICES[ctx.options.device]})


@register_builder("tensorrt")
def build_tensorrt(ctx: BuildContext) -> BuiltArtifact:
    from .tensorrt import build_engine

    precision = ctx.options.precision
    cache = ctx.extra("calibration.cache") if precision == "int8" else None
    engine = build_engine(
        ctx.onnx_path, ctx.beside(".engine"), precision, ctx.options.workspace_gib, ctx.directory / "timing.cache",
        ctx.calibration, cache, ctx.options.static_batch,
    )
    files = (ctx.onnx_path.name, engine.name, "timing.cache") + ((cache.name,) if cache is not None and cache.is_file() else ())
    note = {"engine": "built here; parity measured on the ONNX it was built from (onnxruntime)"}
    return BuiltArtifact(files, "onnxruntime", "fp32", {"engine": engine.name, "onnx_precision": "fp32"}, note)


@register_builder("jetson")
def build_jetson(ctx: BuildContext) -> BuiltArtifact:
    from . import jetson

    o = ctx.options
    info = jetson.JETPACKS[o.jetpack]  # type: ignore[index]  # the target row's check accepted it
    if o.precision == "int8":
        fp32_path = ctx.directory / "model.fp32.onnx"
        ctx.onnx_path.rename(fp32_path)
        jetson.quantize_qdq(fp32_path, ctx.onnx_path, ctx.calibration, o.batch)  # type: ignore[arg-type]
        fp32_path.unlink()
    script = ctx.directory / jetson.SCRIPT_NAME
    script.write_text(jetson.build_script(ONNX_NAME, o.precision, o.workspace_gib, o.dla_core))  # type: ignore[arg-type]
    script.chmod(0o755)
    jetson.check_script(script)
    setup = ctx.directory / jetson.SETUP_NAME
    setup.write_text(jetson.setup_script(l2m_edge.__version__))
    setup.chmod(0o755)
    jetson.check_script(setup)
    native = jetson.copy_native(ctx.directory)
    domains = list(ctx.editor.domains)
    (ctx.directory / "README.md").write_text(
        jetson.readme(ONNX_NAME, o.precision, info, o.device, o.dla_core, bool(native), domains, ctx.editor.config.img_size)
    )
    onnx_precision = "int8" if o.precision == "int8" else "fp32"  # INT8 is symmetric Q/DQ in the ONNX itself
    note = {"engine": f"built on the device by {jetson.SCRIPT_NAME}; parity measured on the bundled ONNX (onnxruntime)"}
    options = {"engine": jetson.ENGINE_NAME, "tensorrt": info.tensorrt, "native_sources": bool(native), "onnx_precision": onnx_precision}
    return BuiltArtifact((ONNX_NAME, jetson.SCRIPT_NAME, jetson.SETUP_NAME, "README.md", *native), "onnxruntime", onnx_precision, options, note)
