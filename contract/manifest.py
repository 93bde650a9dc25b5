"""`manifest.json`: what an exported artifact is, how to feed it, and how well it matches PyTorch.

Every exported directory carries one. Backends (Python and the native runner) load artifacts
through it, and refuse any file whose sha256 differs from the one recorded here.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from l2m_edge.canonical import DEFAULT_FRAMING
from l2m_edge.errors import ExportError
from l2m_edge.io import sha256_file

from .signature import EditorSignature, TensorSpec

SCHEMA = "l2m-edge.manifest/1"
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class ArtifactFile:
    path: str  # relative to the manifest's directory
    sha256: str
    bytes: int


@dataclass
class Manifest:
    format: str  # onnx | openvino | tensorrt | jetson
    target: str  # registry name of the export target
    precision: str  # fp32 | fp16 | int8
    files: list[ArtifactFile]
    inputs: list[TensorSpec]  # EditorSignature.inputs, in graph order
    outputs: list[TensorSpec]
    preset: str
    config: dict[str, Any]
    domains: list[str]
    attribute: str
    checkpoint_sha256: str
    tools: dict[str, str]
    parity: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)  # target-specific: opset, device, dynamic, …
    framing: str = DEFAULT_FRAMING  # where faces must sit in the crop (l2m_edge.canonical): the runtime aligns to it
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    schema: str = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Manifest":
        data = dict(data)
        if data.get("schema") != SCHEMA:
            raise ExportError(f"manifest schema {data.get('schema')!r} is not {SCHEMA!r}; re-export with this version")
        data["files"] = [ArtifactFile(**f) for f in data["files"]]
        data["inputs"] = [TensorSpec(**t) for t in data["inputs"]]
        data["outputs"] = [TensorSpec(**t) for t in data["outputs"]]
        return cls(**data)

    @property
    def signature(self) -> EditorSignature:
        """The artifact's I/O contract, as recorded (an older or foreign graph is read as it is)."""
        return EditorSignature(tuple(self.inputs), tuple(self.outputs))

    def file(self, suffix: str) -> ArtifactFile:
        """The first artifact file whose name ends with `suffix` (e.g. '.onnx', '.xml')."""
        for f in self.files:
            if f.path.endswith(suffix):
                return f
        raise ExportError(f"manifest lists no '*{suffix}' file (has {[f.path for f in self.files]})")


def describe_file(directory: Path, relative: str) -> ArtifactFile:
    path = directory / relative
    return ArtifactFile(path=relative, sha256=sha256_file(path), bytes=path.stat().st_size)


def write_manifest(directory: str | Path, manifest: Manifest) -> Path:
    path = Path(directory) / MANIFEST_NAME
    path.write_text(json.dumps(manifest.to_dict(), indent=2, sort_keys=False) + "\n")
    return path


def read_manifest(directory: str | Path) -> Manifest:
    """The manifest of an artifact directory (or of the directory holding a given file)."""
    directory = Path(directory)
    if directory.is_file():
        directory = directory.parent
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise ExportError(f"{directory}: no {MANIFEST_NAME}; export it with `l2m-edge export`")
    try:
        return Manifest.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError, KeyError) as exc:
        raise ExportError(f"{path}: unreadable manifest ({exc})") from None


def verify_files(directory: str | Path, manifest: Manifest | None = None) -> Manifest:
    """Check every listed file's sha256; a mismatch or a missing file is refused."""
    directory = Path(directory)
    manifest = manifest or read_manifest(directory)
    for f in manifest.files:
        path = directory / f.path
        if not path.is_file():
            raise ExportError(f"{path}: listed in the manifest but missing; re-export")
        actual = sha256_file(path)
        if actual != f.sha256:
            raise ExportError(f"{path}: sha256 {actual[:12]}… does not match the manifest's {f.sha256[:12]}…; the artifact was modified, re-export it")
    return manifest
