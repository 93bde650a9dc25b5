"""Checkpoints exported on the fly for backends that run an exported graph, cached by content hash."""

from __future__ import annotations

import os
from pathlib import Path

from l2m_edge.backends import get_backend
from l2m_edge.contract.manifest import MANIFEST_NAME, read_manifest
from l2m_edge.errors import BackendUnavailable, ExportError, OutputError
from l2m_edge.io import sha256_file


def cache_root() -> Path:
    """`$L2M_EDGE_CACHE`, else `$XDG_CACHE_HOME/l2m-edge`, else ~/.cache/l2m-edge."""
    if "L2M_EDGE_CACHE" in os.environ:
        return Path(os.environ["L2M_EDGE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "l2m-edge"


def cached_export(checkpoint: str | os.PathLike, backend: str, precision: str | None = None, split_style: bool = False) -> Path:
    """The artifact directory of `checkpoint` for `backend` (at the backend's default export precision,
    or `precision`; as two graphs with `split_style`); exported (once) when not cached yet. INT8 is
    calibrated on SynthFaces crops."""
    try:
        from l2m_edge.export import export_model
    except ImportError:
        raise BackendUnavailable(
            f"--backend {backend} needs an exported model and this install has no exporter; pass an artifact from `l2m-edge export` or use --backend torch"
        ) from None
    on_the_fly = get_backend(backend).on_the_fly
    if on_the_fly is None:
        raise BackendUnavailable(f"--backend {backend} runs checkpoints directly; nothing to export")
    target, default_precision = on_the_fly
    precision = precision or default_precision
    directory = cache_root() / "artifacts" / f"{sha256_file(checkpoint)[:16]}-{target}-{precision}{'-split' if split_style else ''}"
    try:
        if (directory / MANIFEST_NAME).is_file() and _current(directory):
            return directory
        calib = "synth" if precision == "int8" else None
        # dynamic batch: several faces, one call; `force` replaces an entry an older version wrote
        export_model(checkpoint, target, directory, precision=precision, dynamic=True, calib=calib, force=True, split_style=split_style or None)
    except (ExportError, OutputError, OSError) as exc:  # a refused export, or a cache that cannot be written
        raise BackendUnavailable(f"exporting {Path(checkpoint).name} for {backend} ({precision}) failed: {exc}") from None
    return directory


def _current(directory: Path) -> bool:
    """Whether a cached artifact's manifest reads back (an older version's entry is exported again)."""
    try:
        read_manifest(directory)
    except ExportError:
        return False
    return True
