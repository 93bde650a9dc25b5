"""What each benchmark row runs, read from the export targets registry, and the artifact cache.

The registry (`l2m_edge.export.targets.TARGETS`) is the one table: a backend's rows are the
precisions of the targets it loads, so a new target gets benchmark rows without touching this
file. Exported artifacts are cached in the work dir by checkpoint hash, target, precision and
device; a cached one is reused (its export time is then reported as cached).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from l2m_edge.errors import BackendUnavailable, BenchError, ExportError, L2MError
from l2m_edge.export.manifest import MANIFEST_NAME, read_manifest
from l2m_edge.export.targets import TARGETS, Target
from l2m_edge.io import sha256_file

from l2m_edge.runtime.backends.torch_backend import TORCH_VARIANTS as TORCH_BACKENDS


def _target(backend: str) -> Target | None:
    """The target a backend's rows export to (built here, not on a device); None for torch rows."""
    if backend in TORCH_BACKENDS:
        return None
    for target in TARGETS.values():
        if target.backend == backend and not target.builds_on_device:
            return target
    raise BenchError(f"no export target in the registry is loaded by backend {backend!r}")


def export_target(backend: str) -> str | None:
    target = _target(backend)
    return target.name if target else None


def default_precisions(backend: str, device: str) -> tuple[str, ...]:
    """Every precision a backend's target offers; torch runs fp32 (and fp16 on CUDA)."""
    target = _target(backend)
    if target is None:
        return ("fp32", "fp16") if device == "cuda" and backend == "torch" else ("fp32",)
    return target.precisions


def _machine_device(device: str) -> str:
    return "gpu" if device == "cuda" else "cpu"


def preflight(backend: str, precision: str, device: str) -> None:
    """Refuse early, with the reason, what cannot run here (before spending time on an export)."""
    target = _target(backend)
    if target is None:
        return
    target.check_precision(precision)
    from l2m_edge.environment import backend_status

    status = next((s for s in backend_status() if s.name == backend), None)
    if status is not None and not status.usable:
        raise BackendUnavailable(status.detail)
    ok, why = target.buildable()
    if not ok:
        raise BackendUnavailable(f"cannot build the {target.name} target here: {why}")
    if _machine_device(device) not in target.devices:
        raise BackendUnavailable(f"target {target.name!r} runs on {', '.join(target.devices)} only, not on --device {device}")


@dataclass(frozen=True)
class CachedArtifact:
    directory: Path
    bytes: int  # every file the manifest lists (IR .xml + .bin, engine, …)
    export_s: float | None  # None when the artifact came from the cache
    cached: bool
    export_parity: dict | None


def artifact_for(checkpoint: Path, target_name: str, precision: str, batch: int, device: str, workdir: Path) -> CachedArtifact:
    """The exported artifact for a row (static batch, INT8 calibrated on SynthFaces), exported on first use.

    Failures are one-line L2MErrors; an export refused for missing its parity bar says so.
    """
    from l2m_edge.export import export_model

    target = TARGETS[target_name]
    device = _machine_device(device)
    directory = workdir / "artifacts" / f"{sha256_file(checkpoint)[:16]}-{target.name}-{precision}-b{batch}"
    cached = (directory / MANIFEST_NAME).is_file()
    export_s = None
    if not cached:
        start = time.perf_counter()
        try:
            export_model(
                checkpoint, target.name, directory, precision=precision, batch=batch, device=device,
                calib="synth" if precision == "int8" else None, force=True,
            )
        except ExportError as exc:
            if "parity against PyTorch failed" not in str(exc):
                raise
            _export_despite_parity(checkpoint, target, precision, batch, device, directory, str(exc))
        except L2MError:
            raise
        except Exception as exc:  # an exporter bug must cost one row, not the run
            raise BenchError(f"export {target.name}/{precision} crashed: {type(exc).__name__}: {exc}") from None
        export_s = round(time.perf_counter() - start, 2)
    manifest = read_manifest(directory)
    return CachedArtifact(directory, sum(f.bytes for f in manifest.files), export_s, cached, _export_parity(manifest.parity))


def _export_despite_parity(checkpoint: Path, target: Target, precision: str, batch: int, device: str, directory: Path, refusal: str) -> None:
    """Build an artifact whose parity misses its bar, into the benchmark's cache only, marked as such.

    `export_model` rightly refuses to write it, but the benchmark must still time it and show the
    row as "exported, parity failed" rather than drop it. This runs the export room's own builders
    (no second exporter) and records the failed parity in the manifest. If those builders change
    shape, the row falls back to failing with the original refusal.
    """
    import dataclasses

    from l2m_edge.checkpoint import load_editor
    from l2m_edge.export import api
    from l2m_edge.export import parity as P
    from l2m_edge.export.calibration import PARITY_SEED, calibration_batch, parity_batch
    from l2m_edge.export.manifest import write_manifest
    from l2m_edge.io import atomic_directory

    try:
        calib = "synth" if precision == "int8" else None
        options = api._validate(target, precision, device, batch, False, api.DEFAULT_OPSET, None, 4.0, calib, 6, None)
        editor = load_editor(checkpoint)
        size = editor.config.img_size
        options = dataclasses.replace(options, imgsz=size)
        calibration, calibration_info = calibration_batch(calib, size, editor.config.num_domains, editor.attribute) if calib else (None, None)
        with atomic_directory(directory, force=True) as tmp:
            files, runner, bar, extra = api._build(target, options, editor, tmp, calibration)
            faces = parity_batch(size, len(editor.domains), api._parity_count(options), PARITY_SEED, editor.attribute)
            output, ran = runner(faces)
            report = P.parity_report(output, P.run_torch(editor, faces), bar, ran, f"{len(faces)} SynthFaces crops, seed {PARITY_SEED}")
            report["note"] = "written by l2m-edge bench to time it although parity failed; not for deployment"
            write_manifest(tmp, api._manifest(target, options, editor, checkpoint, tmp, files, report, calibration_info, extra))
    except (AttributeError, TypeError, ValueError) as exc:
        raise ExportError(f"{refusal} (and the benchmark could not build it anyway to time it: {type(exc).__name__}: {exc})") from None


def _export_parity(report: dict) -> dict | None:
    """The figures the export measured on its own crops (kept beside the benchmark's own parity)."""
    keys = ("max_abs", "mean_abs", "psnr_db", "compute", "passed", "failures")
    return {k: report.get(k) for k in keys} if report else None
