"""What each benchmark row runs, read from the backend and export target registries, and the artifact cache.

The registries are the one table: a backend's rows are the precisions of the target whose format
it natively loads (`l2m_edge.backends.registry`), so a new target gets benchmark rows without
touching this file. Exported artifacts are cached in the work dir by checkpoint hash, target, precision and
device; a cached one is reused (its export time is then reported as cached).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from l2m_edge.backends import get_backend
from l2m_edge.contract.manifest import MANIFEST_NAME, read_manifest
from l2m_edge.errors import BackendUnavailable, BenchError, L2MError
from l2m_edge.export.targets import TARGETS, Target
from l2m_edge.io import sha256_file


def _target(backend: str) -> Target | None:
    """The target a backend's rows export to (built here, not on a device); None for checkpoint backends."""
    entry = get_backend(backend)
    if entry.loads_checkpoints:
        return None
    for target in TARGETS.values():
        if target.format in entry.native and not target.builds_on_device:
            return target
    raise BenchError(f"no export target in the registry is loaded by backend {backend!r}")


def export_target(backend: str) -> str | None:
    target = _target(backend)
    return target.name if target else None


def default_precisions(backend: str, device: str) -> tuple[str, ...]:
    """Every precision a backend's target offers; PyTorch eager runs fp32 (and fp16 on CUDA)."""
    target = _target(backend)
    if target is None:
        return ("fp32", "fp16") if device == "cuda" and backend == "torch" else ("fp32",)
    return target.precisions


def openvino_ir(artifact: Path) -> tuple[Path, str | None]:
    """An OpenVINO artifact's .xml and the compute precision its benchmark row runs it in (the backend
    registry's rule on the manifest: an FP32 IR in fp32, FP16/INT8 IRs in the device's default, None)."""
    manifest = read_manifest(artifact)
    return artifact / manifest.file(".xml").path, get_backend("openvino").precision_for(manifest, None)


def _machine_device(device: str) -> str:
    return "gpu" if device == "cuda" else "cpu"


def preflight(backend: str, precision: str, device: str) -> None:
    """Refuse early, with the reason, what cannot run here (before spending time on an export)."""
    target = _target(backend)
    if target is None:
        return
    target.check_precision(precision)
    status = get_backend(backend).status()
    if not status.usable:
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


def artifact_for(
    checkpoint: Path, target_name: str, precision: str, batch: int, device: str, workdir: Path, split_style: bool = False
) -> CachedArtifact:
    """The exported artifact for a row (static batch, INT8 calibrated on SynthFaces; as two graphs with
    `split_style`), exported on first use.

    Failures are one-line L2MErrors. An artifact that misses its parity bar is still written (into
    the benchmark's cache only) so that the row is timed and marked, not dropped.
    """
    from l2m_edge.export import export_model

    target = TARGETS[target_name]
    device = _machine_device(device)
    directory = workdir / "artifacts" / f"{sha256_file(checkpoint)[:16]}-{target.name}-{precision}-b{batch}{'-split' if split_style else ''}"
    cached = (directory / MANIFEST_NAME).is_file()
    export_s = None
    if not cached:
        start = time.perf_counter()
        try:
            export_model(
                checkpoint, target.name, directory, precision=precision, batch=batch, device=device,
                calib="synth" if precision == "int8" else None, force=True, enforce_parity=False, split_style=split_style or None,
            )
        except L2MError:
            raise
        except Exception as exc:  # an exporter bug must cost one row, not the run
            raise BenchError(f"export {target.name}/{precision} crashed: {type(exc).__name__}: {exc}") from None
        export_s = round(time.perf_counter() - start, 2)
    manifest = read_manifest(directory)
    return CachedArtifact(directory, sum(f.bytes for f in manifest.files), export_s, cached, _export_parity(manifest.parity))


def _export_parity(report: dict) -> dict | None:
    """The figures the export measured on its own crops (kept beside the benchmark's own parity)."""
    keys = ("max_abs", "mean_abs", "psnr_db", "compute", "passed", "failures")
    return {k: report.get(k) for k in keys} if report else None
