"""Checkpoints exported on the fly for backends that run an exported graph, cached by content hash.

Two processes that need the same entry at once (two `l2m-edge run` started together) do not both
export it: the second waits on the export's own lock, says so in one line, and reuses the first's
artifact once it reads back whole (manifest self-hash and every file's hash). A wait longer than
`EXPORT_WAIT_S` gives up with the reason (`--backend auto` then falls back to PyTorch).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from l2m_edge.backends import get_backend
from l2m_edge.contract.manifest import verify_files
from l2m_edge.errors import BackendUnavailable, ExportError, ExportInProgress, OutputBusy, OutputError
from l2m_edge.export.targets import get_target
from l2m_edge.io import output_lock, sha256_file

EXPORT_WAIT_S = 600.0  # an INT8 export of a large preset on a loaded CPU takes minutes; longer looks hung


def cache_root() -> Path:
    """`$L2M_EDGE_CACHE`, else `$XDG_CACHE_HOME/l2m-edge`, else ~/.cache/l2m-edge."""
    if "L2M_EDGE_CACHE" in os.environ:
        return Path(os.environ["L2M_EDGE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "l2m-edge"


def cache_entry(checkpoint: str | os.PathLike, backend: str, precision: str | None = None, split_style: bool = False) -> tuple[Path, str, str]:
    """(artifact directory, export target, artifact precision) of `checkpoint`'s entry for `backend`: its
    on-the-fly target at `precision`, or at the target's default precision as `l2m-edge export` writes it
    (as two graphs with `split_style`)."""
    target = get_backend(backend).on_the_fly
    if target is None:
        raise BackendUnavailable(f"--backend {backend} runs checkpoints directly; nothing to export")
    precision = precision or get_target(target).default_precision
    return cache_root() / "artifacts" / f"{sha256_file(checkpoint)[:16]}-{target}-{precision}{'-split' if split_style else ''}", target, precision


def cached_export(checkpoint: str | os.PathLike, backend: str, precision: str | None = None, split_style: bool = False, wait: float | None = None) -> Path:
    """The artifact directory of `checkpoint` for `backend` (see `cache_entry`); exported (once) when
    not cached yet, or taken from another process exporting it now (waiting up to `wait` s, default
    EXPORT_WAIT_S; then ExportInProgress). INT8 is calibrated on SynthFaces crops."""
    wait = EXPORT_WAIT_S if wait is None else wait
    try:
        from l2m_edge.export import export_model
    except ImportError:
        raise BackendUnavailable(
            f"--backend {backend} needs an exported model and this install has no exporter; pass an artifact from `l2m-edge export` or use --backend torch"
        ) from None
    directory, target, precision = cache_entry(checkpoint, backend, precision, split_style)
    if _current(directory):
        return directory
    what = f"{Path(checkpoint).name} for {backend} ({precision})"
    said: list[str] = []

    def waiting(holder: str) -> None:
        if not said:  # one line, however often the lock changes hands
            said.append(holder)
            print(f"waiting up to {wait:g} s for another l2m-edge process (pid {holder}) exporting {what}", file=sys.stderr, flush=True)

    deadline = time.monotonic() + wait
    try:
        while True:
            with output_lock(directory, wait=max(0.0, deadline - time.monotonic()), on_busy=waiting):
                if _current(directory):  # another process finished it while we waited
                    return directory
            try:
                # dynamic batch: several faces, one call; `force` replaces an entry an older version wrote
                export_model(checkpoint, target, directory, precision=precision, dynamic=True, calib="synth" if precision == "int8" else None, force=True,
                             split_style=split_style or None)
                return directory
            except OutputBusy:
                continue  # another process took the lock between our check and our export: wait for it
    except OutputBusy as exc:
        raise ExportInProgress(f"another l2m-edge process (pid {exc.holder}) was still exporting {what} after {wait:g} s") from None
    except (ExportError, OutputError, OSError) as exc:  # a refused export, or a cache that cannot be written
        raise BackendUnavailable(f"exporting {what} failed: {exc}") from None


def _current(directory: Path) -> bool:
    """Whether a cached artifact reads back whole (anything else, an older version's entry included, is exported again)."""
    try:
        verify_files(directory)  # the manifest's self-hash, then every listed file's
    except (ExportError, OSError):
        return False
    return True
