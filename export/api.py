"""`export_model` and `verify_artifact`: the library calls behind `l2m-edge export` and `l2m-edge verify`.

An export validates every option before any work, builds into a temporary directory beside
the output (`atomic_directory`), measures parity against PyTorch on SynthFaces crops, writes
the manifest last and renames the directory into place: a failed or refused export leaves
nothing behind, and an existing output is only replaced with `force`.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from l2m_edge.backends import Artifact, Backend, backend_for_format, get_backend, open_backend
from l2m_edge.backends.split import SplitBackend
from l2m_edge.checkpoint import load_editor
from l2m_edge.checks import require_number
from l2m_edge.contract.manifest import Manifest, StageGraph, describe_file, foreign_content, read_manifest, verify_files, write_manifest
from l2m_edge.contract.signature import editor_signature, stage_signatures
from l2m_edge.errors import ExportError
from l2m_edge.io import atomic_directory, check_replaceable, output_lock, sha256_file
from l2m_edge.model.editor import Editor

from . import parity as P
from .builders import ONNX_NAME, BuildContext, Builder, BuiltArtifact, get_builder, merge_stages
from .calibration import PARITY_SEED, VERIFY_SEED, EditBatch, calibration_batch, parity_batch
from .classifier import attach_classifier, verify_classifier
from .options import DEFAULT_BATCH, DEFAULT_JETPACK, DEFAULT_OPSET, DEFAULT_WORKSPACE_GIB, ExportOptions, check_option_names
from .targets import Target, get_target
from .to_onnx import export_onnx, export_split_onnx

PARITY_COUNT = 8
CLASSIFIER_COUNT = 100  # one flipped prediction = 1 point, half the INT8 allowance
_TOOLS = ("l2m-edge", "torch", "onnx", "onnxslim", "onnxruntime", "openvino", "nncf", "tensorrt")


def default_output(checkpoint: Path, target: str, precision: str) -> Path:
    """exports/<checkpoint stem>-<target>-<precision> under the working directory (never inside an install)."""
    return Path.cwd() / "exports" / f"{checkpoint.stem}-{target}-{precision}"


def export_model(
    checkpoint: str | os.PathLike,
    target: str = "onnx",
    out: str | os.PathLike | None = None,
    *,
    force: bool = False,
    classifier: str | os.PathLike | None = None,
    enforce_parity: bool = True,
    **options: Any,
) -> Path:
    """Export `checkpoint` for `target`; returns the artifact directory (files + manifest.json).

    `options` are the target's (`targets.TARGETS[target].accepts`): precision, imgsz, batch,
    dynamic, opset, device, and per target calib, workspace, jetpack, dla_core, split_style (the
    editor as a style graph and a generator graph, each parity-checked); None means the
    default, and an option the target does not take is refused. An artifact that misses its parity
    bar is refused (ExportError, nothing written) unless `enforce_parity` is False: then it is
    written with `parity.passed = false` in its manifest, which is how the benchmark still times
    (and marks) it.
    """
    spec = get_target(target)
    build = get_builder(spec.name)
    given = {name: value for name, value in options.items() if value is not None}
    check_option_names(spec.name, given, spec.accepts)
    settings = _validate(spec, **given)
    checkpoint = Path(checkpoint)
    out = Path(out) if out is not None else default_output(checkpoint, spec.name, settings.precision)
    if out.exists() and not force:
        raise ExportError(f"{out} exists; pass --force to overwrite it")
    check_replaceable(out, force, foreign_content)
    with output_lock(out):  # one export into `out` at a time
        return _export(spec, build, settings, checkpoint, out, force, given.get("calib"), classifier, enforce_parity)


def _export(
    spec: Target, build: Builder, settings: ExportOptions, checkpoint: Path, out: Path, force: bool, calib: Any, classifier: Any,
    enforce_parity: bool,
) -> Path:
    missing = spec.missing()
    if missing:
        if "tensorrt" in missing:
            from .tensorrt import import_tensorrt

            import_tensorrt()  # raises the one-line "tensorrt is not installed: …"
        raise ExportError(f"target {spec.name!r} needs {', '.join(missing)}, which is not installed here")

    editor = load_editor(checkpoint)
    size = editor.config.img_size
    if settings.imgsz and settings.imgsz != size:
        raise ExportError(f"--imgsz {settings.imgsz}: checkpoint preset {editor.config.name!r} is trained at {size}; omit --imgsz or pass {size}")
    settings = dataclasses.replace(settings, imgsz=size)
    calibration, calibration_info = (None, None)
    if settings.precision == "int8":
        calibration, calibration_info = calibration_batch(calib, size, editor.config.num_domains, editor.attribute, editor.config.uses_masks)
    judge = load_classifier(classifier) if classifier is not None else None

    with atomic_directory(out, force=force, foreign=foreign_content) as tmp:
        built = _build(build, settings, editor, tmp, calibration)
        built = attach_classifier(built, tmp, editor, spec.format, settings.opset, classifier, enforce_parity)
        manifest = _manifest(spec, settings, editor, checkpoint, tmp, built, calibration_info)
        backend = _parity_backend(Artifact(tmp, manifest), built.parity_backend)
        try:
            reference_batch = parity_batch(size, len(editor.domains), _parity_count(settings), PARITY_SEED, editor.attribute, editor.config.uses_masks)
            inputs = f"{len(reference_batch)} SynthFaces crops, seed {PARITY_SEED}"
            report = _parity(backend, editor, reference_batch, built.bar, built.note, inputs)
            if judge is not None:
                report["attribute_accuracy"] = _accuracy(judge, editor, backend, settings)
        finally:
            backend.close()
        if enforce_parity:
            P.enforce(report, f"{spec.name} {settings.precision}")
            _enforce_accuracy(report, settings.precision)
        write_manifest(tmp, dataclasses.replace(manifest, parity=report))
    return out


def _build(build: Builder, settings: ExportOptions, editor: Editor, directory: Path, calibration: EditBatch | None) -> BuiltArtifact:
    """The editor's graph (or, split-style, each stage's) exported to ONNX and built for the target."""
    if not settings.split_style:
        onnx_path = export_onnx(editor, directory / ONNX_NAME, settings.opset, settings.batch, settings.dynamic)
        return build(BuildContext(settings, editor, directory, onnx_path, calibration))
    graphs = export_split_onnx(editor, directory, settings.opset, settings.batch, settings.dynamic)
    feeds = P.stage_inputs(editor, calibration, stage_signatures(editor.config)) if calibration is not None else {}
    return merge_stages({stage: build(BuildContext(settings, editor, directory, path, feeds.get(stage))) for stage, path in graphs.items()})


def _parity(backend: Backend, editor: Editor, batch: EditBatch, bar: str, note: dict[str, Any], inputs: str) -> dict[str, Any]:
    """The parity report of an artifact against PyTorch; a split-style artifact's also holds each stage's, and passes only if all do."""
    output, ran = run_artifact(backend, batch)
    report = P.parity_report(output, P.run_torch(editor, batch), bar, {**ran, **note}, inputs)
    if isinstance(backend, SplitBackend):
        report["stages"] = P.stage_reports(backend, editor, batch, bar, ran, inputs)
        report["passed"] = report["passed"] and all(part["passed"] for part in report["stages"].values())
    return report


def _validate(
    spec: Target,
    precision: str | None = None,
    device: str | None = None,
    batch: int = DEFAULT_BATCH,
    dynamic: bool = False,
    opset: int = DEFAULT_OPSET,
    imgsz: int | None = None,
    workspace: float = DEFAULT_WORKSPACE_GIB,
    calib: Any = None,
    jetpack: int = DEFAULT_JETPACK,
    dla_core: int | None = None,
    split_style: bool = False,
) -> ExportOptions:
    precision = spec.check_precision(precision)
    device = spec.check_device(device)
    if dynamic and not spec.dynamic:
        raise ExportError(f"target {spec.name!r} needs static shapes; drop --dynamic and pass --batch N")
    if dynamic and batch != 1:
        raise ExportError("--batch and --dynamic exclude each other: --dynamic exports a variable batch axis")
    if batch < 1:
        raise ExportError(f"--batch {batch}: the batch size must be ≥ 1")
    require_number("--workspace (GiB)", workspace, above=0)
    if precision == "int8" and calib is None:
        raise ExportError("INT8 needs calibration data: add --calib synth (SynthFaces crops) or --calib DIR (a folder of ≥ 100 face crops)")
    if precision != "int8" and calib is not None:
        raise ExportError(f"--calib applies to --precision int8 only; {precision} needs no calibration — drop --calib or pass --precision int8")
    settings = ExportOptions(
        target=spec.name, precision=precision, device=device, batch=batch, dynamic=dynamic, opset=opset, imgsz=imgsz or 0,
        workspace_gib=float(workspace) if "workspace" in spec.options else None, jetpack=jetpack if "jetpack" in spec.options else None,
        dla_core=dla_core, split_style=bool(split_style),
    )
    if spec.check is not None:
        spec.check(settings)
    return settings


def _parity_count(options: ExportOptions) -> int:
    step = options.static_batch or 1
    return step * math.ceil(PARITY_COUNT / step)


def _parity_backend(artifact: Artifact, name: str) -> Backend:
    """The registry backend that checks parity, on this machine's CPU, in the precision the manifest records."""
    return open_backend(artifact, name, device=get_backend(name).device_for("cpu"))


def run_artifact(backend: Backend, batch: EditBatch) -> tuple[np.ndarray, dict[str, Any]]:
    """The backend's output on `batch` and what ran (runtime, device, compute precision): the parity report's facts."""
    output = backend.infer(batch.image, batch.source_domain, batch.target_domain, batch.strength, batch.masks)
    ran = {"backend": backend.name, "runtime": backend.runtime, "device": backend.device, "compute": backend.compute_precision}
    return output, {**ran, "hint": backend.requested_precision} if backend.requested_precision else ran


def load_classifier(path: str | os.PathLike) -> Any:
    from l2m_edge.metrics.classifier import load_classifier as _load

    return _load(path)


def _accuracy(judge: Any, editor: Editor, backend: Backend, options: ExportOptions) -> dict[str, float]:
    """Attribute accuracy (target domain recognised) on edits by PyTorch fp32 and by the artifact."""
    step = options.static_batch or 1
    batch = parity_batch(editor.config.img_size, len(editor.domains), step * math.ceil(CLASSIFIER_COUNT / step), VERIFY_SEED + 1, editor.attribute, editor.config.uses_masks)
    batch = dataclasses.replace(batch, strength=np.ones_like(batch.strength))
    fp32 = P.attribute_accuracy(judge, P.run_torch(editor, batch), batch.target_domain, editor.domains)
    artifact = P.attribute_accuracy(judge, run_artifact(backend, batch)[0], batch.target_domain, editor.domains)
    return {"fp32": fp32, "artifact": artifact, "drop": fp32 - artifact, "max_drop": P.INT8_ACCURACY_DROP, "count": len(batch)}


def _enforce_accuracy(report: dict[str, Any], precision: str) -> None:
    accuracy = report.get("attribute_accuracy")
    if precision == "int8" and accuracy is not None and accuracy["drop"] > P.INT8_ACCURACY_DROP:
        raise ExportError(
            f"INT8 attribute accuracy {accuracy['artifact']:.1f}% is {accuracy['drop']:.1f} points below fp32's {accuracy['fp32']:.1f}% "
            f"(allowed {P.INT8_ACCURACY_DROP}); calibrate on more representative crops (--calib DIR)"
        )


def tool_versions() -> dict[str, str]:
    versions = {}
    for name in _TOOLS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _manifest(
    spec: Target, options: ExportOptions, editor: Editor, checkpoint: Path, directory: Path, built: BuiltArtifact, calibration: dict[str, Any] | None,
) -> Manifest:
    """The artifact's manifest, parity still empty (the parity backend loads the artifact through it)."""
    signature = editor_signature(editor.config, options.static_batch)
    stages = stage_signatures(editor.config, options.static_batch) if options.split_style else {}
    return Manifest(
        format=spec.format,
        target=spec.name,
        precision=options.precision,
        compute_precision=spec.compute_precisions[options.precision],
        files=[describe_file(directory, f) for f in built.files],
        inputs=list(signature.inputs),
        outputs=list(signature.outputs),
        preset=editor.config.name,
        config=dataclasses.asdict(editor.config),
        domains=list(editor.domains),
        attribute=editor.attribute,
        framing=editor.framing,
        stages=[StageGraph(name, list(graph.inputs), list(graph.outputs)) for name, graph in stages.items()],
        checkpoint_sha256=sha256_file(checkpoint),
        tools=tool_versions(),
        calibration=calibration,
        options={
            **{k: v for k, v in dataclasses.asdict(options).items() if v is not None},
            "exporter": "torch.onnx (TorchScript), onnxslim",
            "checkpoint": str(checkpoint.resolve()),
            **built.options,
        },
    )


def verify_artifact(directory: str | os.PathLike, checkpoint: str | os.PathLike | None = None) -> dict[str, Any]:
    """Re-check every file hash, then (when the checkpoint is given or still where it was) parity on fresh
    inputs, run by the same registry backend, in the same precision, as the export's own check."""
    directory = Path(directory)
    if directory.is_file():
        directory = directory.parent
    manifest = verify_files(directory, read_manifest(directory))
    result: dict[str, Any] = {"directory": str(directory), "files": len(manifest.files), "format": manifest.format, "precision": manifest.precision}
    result["classifier"] = verify_classifier(Artifact(directory, manifest))
    path = Path(checkpoint) if checkpoint is not None else Path(manifest.options.get("checkpoint", ""))
    if not path.is_file():
        if checkpoint is not None:
            raise ExportError(f"{path}: no such checkpoint")
        result["parity"] = None
        result["parity_skipped"] = f"checkpoint {str(path) or '?'} not found; pass --checkpoint to re-check parity"
        return result
    if sha256_file(path) != manifest.checkpoint_sha256:
        raise ExportError(f"{path}: sha256 differs from the checkpoint this artifact was exported from; pass the original checkpoint")
    editor = load_editor(path)
    bar = str(manifest.parity.get("threshold", {}).get("precision", "fp32"))
    name = manifest.parity.get("backend") or backend_for_format(manifest.format).name
    step = manifest.signature.static_batch or 1
    batch = parity_batch(editor.config.img_size, len(editor.domains), step * math.ceil(PARITY_COUNT / step), VERIFY_SEED, editor.attribute, editor.config.uses_masks)
    backend = _parity_backend(Artifact(directory, manifest), name)
    try:
        report = _parity(backend, editor, batch, bar, {}, f"{len(batch)} SynthFaces crops, seed {VERIFY_SEED}")
    finally:
        backend.close()
    P.enforce(report, f"verify {directory.name}")
    result["parity"] = report
    return result


__all__ = ["ExportOptions", "default_output", "export_model", "run_artifact", "verify_artifact", "tool_versions"]
