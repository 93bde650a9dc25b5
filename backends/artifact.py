"""Locating an exported artifact and checking it against its manifest before anything loads it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from l2m_edge.contract.manifest import MANIFEST_NAME, Manifest, read_manifest, verify_files
from l2m_edge.contract.signature import EditorSignature
from l2m_edge.errors import BackendUnavailable, ExportError

from .base import ModelInfo


@dataclass(frozen=True)
class Artifact:
    directory: Path
    manifest: Manifest

    def path(self, suffix: str, stage: str | None = None) -> Path:
        """The graph file ending with `suffix`; of a split-style artifact, the named stage's."""
        return self.directory / self.manifest.file(suffix, stage).path

    def signature(self, stage: str | None = None) -> EditorSignature:
        """The I/O of the editor graph, or of one stage of a split-style artifact."""
        return self.manifest.stage(stage).signature if stage is not None else self.manifest.signature

    @property
    def info(self) -> ModelInfo:
        m = self.manifest
        return ModelInfo(int(m.config["img_size"]), tuple(m.domains), m.attribute, m.preset, m.framing, m.signature.has_masks)


def is_artifact(path: str | os.PathLike) -> bool:
    path = Path(path)
    return (path / MANIFEST_NAME).is_file() or path.name == MANIFEST_NAME or (path.is_file() and (path.parent / MANIFEST_NAME).is_file() and path.suffix != ".safetensors")


def open_artifact(path: str | os.PathLike | Artifact, formats: tuple[str, ...] | None = None) -> Artifact:
    """The artifact directory holding `path` (a directory, its manifest.json or one of its files), hash-verified.

    A file whose sha256 differs from the manifest's is refused: a tampered or half-copied
    model must not run silently. An `Artifact` given as such (an export checking what it just
    wrote, before its manifest is final) is taken as it is.
    """
    if isinstance(path, Artifact):
        directory, manifest = path.directory, path.manifest
    else:
        path = Path(path)
        directory = path if path.is_dir() else path.parent
        manifest = read_manifest(directory)
        verify_files(directory, manifest)
    if formats is not None and manifest.format not in formats:
        raise BackendUnavailable(f"{directory}: a {manifest.format} artifact; this backend loads {' or '.join(formats)} artifacts")
    try:
        int(manifest.config["img_size"])
    except (KeyError, TypeError, ValueError):
        raise ExportError(f"{directory}: manifest config has no img_size; re-export") from None
    return Artifact(directory, manifest)
