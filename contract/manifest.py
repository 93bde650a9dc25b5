"""`manifest.json`: what an exported artifact is, how to feed it, and how well it matches PyTorch.

Every exported directory carries one. Backends (Python and the native runner) load artifacts
through it, and refuse any file whose sha256 differs from the one recorded here.

The manifest also hashes itself, so a hand edit of any field (precision, preset, img_size) is
refused by `verify` and by every loader, the C++ runner included. The definition, here once and
in native/src/manifest.cpp once (both `self_hash_holds`):

    manifest_sha256 = sha256 of manifest.json's exact bytes, with the 64 hex digits of the value
    of its one `"manifest_sha256"` key read as 64 '0's.

The key must occur exactly once in the file (a JSON key is the only place its quoted name can be
followed by `:`), its value must be 64 lower-case hex digits, and the top-level field must hold
them. Hashing bytes, not a canonical JSON form, lets a reader without a JSON canonicaliser (C++)
check it; a reformatted but otherwise equal manifest is refused too, which is what "any edit" means.

A split-style artifact (the editor as a style graph and a generator graph, `export --split-style`)
lists both graphs' files and `stages` (each stage's signature); `inputs`/`outputs` stay the
editor's, which the two stages compose to. It carries its own schema name, so a reader that knows
only one-graph artifacts (an older l2m-edge, the C++ runner) refuses it instead of running a stage.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from l2m_edge.canonical import DEFAULT_FRAMING
from l2m_edge.errors import ExportError
from l2m_edge.io import atomic_path, sha256_file

from .signature import EditorSignature, TensorSpec

# /2: the self-hash is over the file's bytes (/1 hashed canonical JSON); /3: `compute_precision` is recorded
SCHEMA = "l2m-edge.manifest/3"
SPLIT_SCHEMA = "l2m-edge.manifest/3+split-style"  # two graphs per artifact (`stages`)
SCHEMAS = (SCHEMA, SPLIT_SCHEMA)
MANIFEST_NAME = "manifest.json"
SELF_HASH = "manifest_sha256"
_SELF_HASH_KEY = b'"' + SELF_HASH.encode() + rb'"[ \t\r\n]*:'  # only a key's closing quote can be followed by ':'
_SELF_HASH_VALUE = re.compile(_SELF_HASH_KEY + rb'[ \t\r\n]*"([0-9a-f]{64})"')
_ZEROS = b"0" * 64


@dataclass(frozen=True)
class ArtifactFile:
    path: str  # relative to the manifest's directory
    sha256: str
    bytes: int


@dataclass(frozen=True)
class StageGraph:
    """One graph of a split-style artifact: its stage name (also its files' stem) and its I/O."""

    name: str  # contract.signature.STAGES: style | generator
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]

    @property
    def signature(self) -> EditorSignature:
        return EditorSignature(tuple(self.inputs), tuple(self.outputs))


@dataclass
class Manifest:
    format: str  # onnx | openvino | tensorrt | jetson
    target: str  # registry name of the export target
    precision: str  # the artifact's precision, what export wrote: fp32 | fp16 | int8
    # The compute precision a backend runs the artifact in unless asked otherwise (fp32 | fp16 | int8), None: the
    # runtime device's default (an FP16/INT8 OpenVINO IR: bf16 where the CPU has it, else fp32). Written from the
    # target's row (export/targets.py); Python's backend registry and the C++ runner only read it.
    compute_precision: str | None
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
    stages: list[StageGraph] = field(default_factory=list)  # split-style artifacts only, in the order they run
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    schema: str = SCHEMA
    manifest_sha256: str = ""  # set by write_manifest: the hash of everything above

    def __post_init__(self) -> None:
        self.schema = SPLIT_SCHEMA if self.stages else SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Manifest":
        data = dict(data)
        if data.get("schema") not in SCHEMAS:
            raise ExportError(f"manifest schema {data.get('schema')!r} is not {SCHEMA!r}; re-export with this version")
        if (data["schema"] == SPLIT_SCHEMA) != bool(data.get("stages")):
            raise ExportError(f"manifest schema {data['schema']!r} does not match its stages; re-export")
        data["files"] = [ArtifactFile(**f) for f in data["files"]]
        data["inputs"] = [TensorSpec(**t) for t in data["inputs"]]
        data["outputs"] = [TensorSpec(**t) for t in data["outputs"]]
        data["stages"] = [StageGraph(g["name"], [TensorSpec(**t) for t in g["inputs"]], [TensorSpec(**t) for t in g["outputs"]]) for g in data.get("stages", [])]
        return cls(**data)

    @property
    def split(self) -> bool:
        """Whether the editor is stored as a style graph and a generator graph."""
        return bool(self.stages)

    def stage(self, name: str) -> StageGraph:
        for graph in self.stages:
            if graph.name == name:
                return graph
        raise ExportError(f"this artifact has no {name!r} stage ({'stages: ' + ', '.join(g.name for g in self.stages) if self.stages else 'one graph; export with --split-style for stages'})")

    @property
    def signature(self) -> EditorSignature:
        """The artifact's I/O contract, as recorded (an older or foreign graph is read as it is)."""
        return EditorSignature(tuple(self.inputs), tuple(self.outputs))

    def file(self, suffix: str, stage: str | None = None) -> ArtifactFile:
        """The artifact file whose name ends with `suffix` (e.g. '.onnx', '.xml'); of a split-style
        artifact, the named stage's (`<stage><suffix>`)."""
        if self.split and stage is None:
            raise ExportError(f"a split-style artifact holds one '*{suffix}' graph per stage ({', '.join(g.name for g in self.stages)}); name the stage")
        for f in self.files:
            if (f.path == f"{stage}{suffix}") if stage is not None else f.path.endswith(suffix):
                return f
        raise ExportError(f"manifest lists no '{stage or '*'}{suffix}' file (has {[f.path for f in self.files]})")


def describe_file(directory: Path, relative: str) -> ArtifactFile:
    path = directory / relative
    return ArtifactFile(path=relative, sha256=sha256_file(path), bytes=path.stat().st_size)


def _self_hash_digits(raw: bytes) -> slice | None:
    """Where the 64 digits of the one `manifest_sha256` value lie in the file's bytes (None: not exactly one)."""
    found = list(_SELF_HASH_VALUE.finditer(raw))
    if len(found) != 1 or len(re.findall(_SELF_HASH_KEY, raw)) != 1:
        return None
    return slice(*found[0].span(1))


def self_hash_holds(raw: bytes, data: dict[str, Any]) -> bool:
    """Whether manifest.json's bytes `raw` (parsed: `data`) carry their own hash, as defined above."""
    digits = _self_hash_digits(raw)
    if digits is None:
        return False
    recorded = raw[digits].decode()
    return data.get(SELF_HASH) == recorded == hashlib.sha256(raw[: digits.start] + _ZEROS + raw[digits.stop :]).hexdigest()


def write_manifest(directory: str | Path, manifest: Manifest) -> Path:
    data = manifest.to_dict()

    def dump(digest: str) -> bytes:
        return (json.dumps({**data, SELF_HASH: digest}, indent=2) + "\n").encode()  # ASCII: json.dumps escapes the rest

    raw = dump(hashlib.sha256(dump(_ZEROS.decode())).hexdigest())  # the two differ only in those 64 digits
    path = Path(directory) / MANIFEST_NAME
    with atomic_path(path) as tmp:
        tmp.write_bytes(raw)
    return path


def read_manifest(directory: str | Path) -> Manifest:
    """The manifest of an artifact directory (or of the directory holding a given file), its self-hash checked."""
    directory = Path(directory)
    if directory.is_file():
        directory = directory.parent
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise ExportError(f"{directory}: no {MANIFEST_NAME}, so not an exported artifact; export one with `l2m-edge export` or pass a .safetensors checkpoint")
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"{path}: unreadable manifest ({exc}); re-export") from None
    if not isinstance(data, dict):
        raise ExportError(f"{path}: not an l2m-edge manifest; re-export")
    if data.get("schema") not in SCHEMAS:
        raise ExportError(f"{path}: manifest schema {data.get('schema')!r} is not {SCHEMA!r} (another l2m-edge version wrote it); re-export with this version")
    if not self_hash_holds(raw, data):
        raise ExportError(f"{path}: the manifest was modified after export (its {SELF_HASH} does not match its bytes); re-export")
    try:
        return Manifest.from_dict(data)
    except (TypeError, KeyError, AttributeError) as exc:
        raise ExportError(f"{path}: unreadable manifest ({exc}); re-export") from None


def foreign_content(directory: str | Path) -> str | None:
    """What in `directory` an export did not write, or None when it holds an artifact and only that.

    `--force` replaces a folder only when this is None: a user's files are never deleted.
    """
    directory = Path(directory)
    try:
        data = json.loads((directory / MANIFEST_NAME).read_text())
        ours = str(data.get("schema", "")).startswith(SCHEMA.split("/")[0] + "/")  # this or an older version's
        listed = {MANIFEST_NAME, *(f["path"] for f in data["files"])} if ours else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError, KeyError, AttributeError):
        listed = None
    if listed is None:
        return f"no l2m-edge {MANIFEST_NAME}"
    others = sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if not p.is_dir() and p.relative_to(directory).as_posix() not in listed)
    return f"{', '.join(others[:3])}{' …' if len(others) > 3 else ''} not written by the export" if others else None


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
