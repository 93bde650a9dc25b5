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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from l2m_edge.checkpoint import load_editor
from l2m_edge.checks import require_number
from l2m_edge.contract.manifest import Manifest, describe_file, foreign_content, read_manifest, verify_files, write_manifest
from l2m_edge.contract.signature import editor_signature
from l2m_edge.errors import ExportError
from l2m_edge.io import atomic_directory, check_replaceable, output_lock, sha256_file
from l2m_edge.model.editor import Editor

from . import parity as P
from .calibration import PARITY_SEED, VERIFY_SEED, EditBatch, calibration_batch, parity_batch
from .targets import Target, get_target
from .to_onnx import DEFAULT_OPSET, export_onnx

ONNX_NAME = "model.onnx"
PARITY_COUNT = 8
CLASSIFIER_COUNT = 100  # one flipped prediction = 1 point, half the INT8 allowance
_TOOLS = ("l2m-edge", "torch", "onnx", "onnxslim", "onnxruntime", "openvino", "nncf", "tensorrt")

Runner = Callable[[EditBatch], tuple[np.ndarray, dict[str, Any]]]


@dataclass(frozen=True)
class ExportOptions:
    """Every option of one export, validated; recorded in the manifest's `options`."""

    target: str
    precision: str
    device: str
    batch: int
    dynamic: bool
    opset: int
    imgsz: int
    workspace_gib: float
    jetpack: int | None = None
    dla_core: int | None = None

    @property
    def static_batch(self) -> int | None:
        return None if self.dynamic else self.batch


def default_output(checkpoint: Path, target: str, precision: str) -> Path:
    """exports/<checkpoint stem>-<target>-<precision> under the working directory (never inside an install)."""
    return Path.cwd() / "exports" / f"{checkpoint.stem}-{target}-{precision}"


def export_model(
    checkpoint: str | os.PathLike,
    target: str = "onnx",
    out: str | os.PathLike | None = None,
    *,
    precision: str | None = None,
    imgsz: int | None = None,
    batch: int = 1,
    dynamic: bool = False,
    opset: int = DEFAULT_OPSET,
    calib: str | os.PathLike | None = None,
    device: str | None = None,
    workspace: float = 4.0,
    force: bool = False,
    jetpack: int = 6,
    dla_core: int | None = None,
    classifier: str | os.PathLike | None = None,
    enforce_parity: bool = True,
) -> Path:
    """Export `checkpoint` for `target`; returns the artifact directory (files + manifest.json).

    An artifact that misses its parity bar is refused (ExportError, nothing written) unless
    `enforce_parity` is False: then it is written with `parity.passed = false` in its manifest,
    which is how the benchmark still times (and marks) it.
    """
    spec = get_target(target)
    options = _validate(spec, precision, device, batch, dynamic, opset, imgsz, workspace, calib, jetpack, dla_core)
    checkpoint = Path(checkpoint)
    out = Path(out) if out is not None else default_output(checkpoint, spec.name, options.precision)
    if out.exists() and not force:
        raise ExportError(f"{out} exists; pass --force to overwrite it")
    check_replaceable(out, force, foreign_content)
    with output_lock(out):  # one export into `out` at a time
        return _export(spec, options, checkpoint, out, force, calib, classifier, enforce_parity)


def _export(
    spec: Target, options: ExportOptions, checkpoint: Path, out: Path, force: bool, calib: Any, classifier: Any, enforce_parity: bool
) -> Path:
    missing = spec.missing()
    if missing:
        if "tensorrt" in missing:
            from .tensorrt import import_tensorrt

            import_tensorrt()  # raises the one-line "tensorrt is not installed: …"
        raise ExportError(f"target {spec.name!r} needs {', '.join(missing)}, which is not installed here")

    editor = load_editor(checkpoint)
    size = editor.config.img_size
    if options.imgsz and options.imgsz != size:
        raise ExportError(f"--imgsz {options.imgsz}: checkpoint preset {editor.config.name!r} is trained at {size}; omit --imgsz or pass {size}")
    options = dataclasses.replace(options, imgsz=size)
    calibration, calibration_info = (None, None)
    if options.precision == "int8":
        calibration, calibration_info = calibration_batch(calib, size, editor.config.num_domains, editor.attribute, editor.config.uses_masks)  # type: ignore[arg-type]
    judge = load_classifier(classifier) if classifier is not None else None

    with atomic_directory(out, force=force, foreign=foreign_content) as tmp:
        files, runner, bar, extra = _build(spec, options, editor, tmp, calibration)
        reference_batch = parity_batch(size, len(editor.domains), _parity_count(options), PARITY_SEED, editor.attribute, editor.config.uses_masks)
        output, ran = runner(reference_batch)
        report = P.parity_report(output, P.run_torch(editor, reference_batch), bar, ran, f"{len(reference_batch)} SynthFaces crops, seed {PARITY_SEED}")
        if judge is not None:
            report["attribute_accuracy"] = _accuracy(judge, editor, runner, options)
        if enforce_parity:
            P.enforce(report, f"{spec.name} {options.precision}")
            _enforce_accuracy(report, options.precision)
        manifest = _manifest(spec, options, editor, checkpoint, tmp, files, report, calibration_info, extra)
        write_manifest(tmp, manifest)
    return out


def _validate(
    spec: Target, precision: str | None, device: str | None, batch: int, dynamic: bool, opset: int, imgsz: int | None,
    workspace: float, calib: Any, jetpack: int, dla_core: int | None,
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
    if spec.name == "jetson":
        from .jetson import check_options

        check_options(jetpack, device, dla_core, precision, opset)
    elif dla_core is not None:
        raise ExportError("--dla-core applies to --target jetson only")
    return ExportOptions(
        target=spec.name, precision=precision, device=device, batch=batch, dynamic=dynamic, opset=opset,
        imgsz=imgsz or 0, workspace_gib=float(workspace),
        jetpack=jetpack if spec.name == "jetson" else None, dla_core=dla_core,
    )


def _parity_count(options: ExportOptions) -> int:
    step = options.static_batch or 1
    return step * math.ceil(PARITY_COUNT / step)


def _build(
    spec: Target, options: ExportOptions, editor: Editor, directory: Path, calibration: EditBatch | None
) -> tuple[list[str], Runner, str, dict[str, Any]]:
    """Write the target's files into `directory`: (file names, a runner for parity, the parity bar, extra options)."""
    onnx_path = export_onnx(editor, directory / ONNX_NAME, options.opset, options.batch, options.dynamic)
    domains = editor.domains
    static = options.static_batch

    if spec.format == "onnx":
        return [ONNX_NAME], lambda b: P.run_onnxruntime(onnx_path, b, domains, static), "fp32", {}

    if spec.format == "openvino":
        from .openvino_ir import INFERENCE_HINTS, OV_DEVICES, export_openvino

        xml = export_openvino(onnx_path, directory / "model.xml", options.precision, calibration, static)
        onnx_path.unlink()
        hint = INFERENCE_HINTS[options.precision]
        # Parity runs on this machine's CPU; the hint recorded is what the runtime passes on any device.
        runner: Runner = lambda b: P.run_openvino(xml, b, domains, hint, "CPU", static)  # noqa: E731
        bar = "fp32" if options.precision == "fp32" else options.precision
        return ["model.xml", "model.bin"], runner, bar, {"inference_precision_hint": hint, "ov_device": OV_DEVICES[options.device]}

    if spec.format == "tensorrt":
        from .tensorrt import build_engine

        cache = directory / "calibration.cache" if options.precision == "int8" else None
        build_engine(onnx_path, directory / "model.engine", options.precision, options.workspace_gib, directory / "timing.cache", calibration, cache, static)
        files = [ONNX_NAME, "model.engine", "timing.cache"] + (["calibration.cache"] if cache is not None and cache.is_file() else [])
        note = {"engine": "built here; parity measured on the ONNX it was built from (onnxruntime)"}
        return files, lambda b: _with(P.run_onnxruntime(onnx_path, b, domains, static), note), "fp32", {"engine": "model.engine"}

    if spec.format == "jetson":
        from . import jetson

        info = jetson.check_options(options.jetpack or 6, options.device, options.dla_core, options.precision, options.opset)
        bar = "fp32"
        if options.precision == "int8":
            fp32_path = directory / "model.fp32.onnx"
            onnx_path.rename(fp32_path)
            jetson.quantize_qdq(fp32_path, onnx_path, calibration, options.batch)  # type: ignore[arg-type]
            fp32_path.unlink()
            bar = "int8"
        script = directory / jetson.SCRIPT_NAME
        script.write_text(jetson.build_script(ONNX_NAME, options.precision, options.workspace_gib, options.dla_core))
        script.chmod(0o755)
        jetson.check_script(script)
        native = jetson.copy_native(directory)
        (directory / "README.md").write_text(
            jetson.readme(ONNX_NAME, options.precision, info, options.device, options.dla_core, bool(native), list(domains), editor.config.img_size)
        )
        note = {"engine": f"built on the device by {jetson.SCRIPT_NAME}; parity measured on the bundled ONNX (onnxruntime)"}
        if options.precision == "int8":
            note["compute"] = "int8 (Q/DQ)"
        extra = {"engine": jetson.ENGINE_NAME, "tensorrt": info.tensorrt, "native_sources": bool(native)}
        return [ONNX_NAME, jetson.SCRIPT_NAME, "README.md", *native], lambda b: _with(P.run_onnxruntime(onnx_path, b, domains, static), note), bar, extra

    raise ExportError(f"target {spec.name!r} has format {spec.format!r}, which no builder handles")


def _with(result: tuple[np.ndarray, dict[str, Any]], note: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    return result[0], {**result[1], **note}


def load_classifier(path: str | os.PathLike) -> Any:
    from l2m_edge.metrics.classifier import load_classifier as _load

    return _load(path)


def _accuracy(judge: Any, editor: Editor, runner: Runner, options: ExportOptions) -> dict[str, float]:
    """Attribute accuracy (target domain recognised) on edits by PyTorch fp32 and by the artifact."""
    step = options.static_batch or 1
    batch = parity_batch(editor.config.img_size, len(editor.domains), step * math.ceil(CLASSIFIER_COUNT / step), VERIFY_SEED + 1, editor.attribute, editor.config.uses_masks)
    batch = dataclasses.replace(batch, strength=np.ones_like(batch.strength))
    fp32 = P.attribute_accuracy(judge, P.run_torch(editor, batch), batch.target_domain, editor.domains)
    artifact = P.attribute_accuracy(judge, runner(batch)[0], batch.target_domain, editor.domains)
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
    spec: Target, options: ExportOptions, editor: Editor, checkpoint: Path, directory: Path, files: list[str],
    report: dict[str, Any], calibration: dict[str, Any] | None, extra: dict[str, Any],
) -> Manifest:
    signature = editor_signature(editor.config, options.static_batch)
    return Manifest(
        format=spec.format,
        target=spec.name,
        precision=options.precision,
        files=[describe_file(directory, f) for f in files],
        inputs=list(signature.inputs),
        outputs=list(signature.outputs),
        preset=editor.config.name,
        config=dataclasses.asdict(editor.config),
        domains=list(editor.domains),
        attribute=editor.attribute,
        framing=editor.framing,
        checkpoint_sha256=sha256_file(checkpoint),
        tools=tool_versions(),
        parity=report,
        calibration=calibration,
        options={
            **{k: v for k, v in dataclasses.asdict(options).items() if v is not None},
            "exporter": "torch.onnx (TorchScript), onnxslim",
            "checkpoint": str(checkpoint.resolve()),
            **extra,
        },
    )


def artifact_runner(directory: Path, manifest: Manifest) -> tuple[Runner, str]:
    """Run an artifact directory on this machine as its export did: (runner, parity bar)."""
    static = None if manifest.options.get("dynamic") else int(manifest.options.get("batch", 1))
    domains = manifest.domains
    bar = str(manifest.parity.get("threshold", {}).get("precision", "fp32"))
    if manifest.format == "openvino":
        xml = directory / manifest.file(".xml").path
        hint = manifest.options.get("inference_precision_hint")
        return (lambda b: P.run_openvino(xml, b, domains, hint, "CPU", static)), bar
    onnx_path = directory / manifest.file(".onnx").path
    return (lambda b: P.run_onnxruntime(onnx_path, b, domains, static)), bar


def verify_artifact(directory: str | os.PathLike, checkpoint: str | os.PathLike | None = None) -> dict[str, Any]:
    """Re-check every file hash, then (when the checkpoint is given or still where it was) parity on fresh inputs."""
    directory = Path(directory)
    if directory.is_file():
        directory = directory.parent
    manifest = verify_files(directory, read_manifest(directory))
    result: dict[str, Any] = {"directory": str(directory), "files": len(manifest.files), "format": manifest.format, "precision": manifest.precision}
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
    runner, bar = artifact_runner(directory, manifest)
    step = None if manifest.options.get("dynamic") else int(manifest.options.get("batch", 1))
    count = (step or 1) * math.ceil(PARITY_COUNT / (step or 1))
    batch = parity_batch(editor.config.img_size, len(editor.domains), count, VERIFY_SEED, editor.attribute, editor.config.uses_masks)
    output, ran = runner(batch)
    report = P.parity_report(output, P.run_torch(editor, batch), bar, ran, f"{len(batch)} SynthFaces crops, seed {VERIFY_SEED}")
    P.enforce(report, f"verify {directory.name}")
    result["parity"] = report
    return result


__all__ = ["ExportOptions", "default_output", "export_model", "verify_artifact", "artifact_runner", "tool_versions"]
