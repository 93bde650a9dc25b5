"""Benchmark rows as values: one typed definition per mode, its JSON form, and the field types the
result-file schema checks (`schema.py` reads them from here instead of writing them again).

A row is the common key (mode, backend, precision, preset, batch, device, status, reason) plus what
its mode measured. A row that could not run is a `FailedRow` with its reason, never dropped. Fields
declared with `later()` were added after result files were first recorded: older files may lack
them, so the schema checks their type only where present.
"""

from __future__ import annotations

import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from l2m_edge.errors import BenchError

_LATER = "later"


def later(default: Any = None) -> Any:
    """A field older result files may lack (checked only where present)."""
    return field(default=default, metadata={_LATER: True})


@dataclass(kw_only=True)
class Row:
    """What every row has, whatever its status."""

    mode: str  # model | pipeline | train
    backend: str
    target: str | None = later()  # the export target the row ran (None: a checkpoint backend)
    precision: str
    preset: str
    batch: int
    device: str
    status: str = "ok"  # ok | parity_failed | failed
    reason: str | None = None
    round: int = later(0)  # which pass over the plan (`--rounds`): a row's rounds give its spread

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(kw_only=True)
class FailedRow(Row):
    """A ❌ row: it stays in the table with its reason instead of vanishing."""

    status: str = "failed"
    ranks: int | None = later()  # train rows: the rank count that was asked for

    def __post_init__(self) -> None:
        self.reason = " ".join(str(self.reason or "no reason given").split())[:500]


@dataclass(kw_only=True)
class ModelRow(Row):
    """The bare model timed in a loop (`l2m-edge bench`), or a native runner's report."""

    mode: str = "model"
    actual_precision: str
    threads: int | None
    artifact_bytes: int | None
    export_s: float | None
    load_s: float
    first_inference_ms: float | None  # None where the producer does not measure it (native runner)
    warmup: int
    iters: int
    latency_ms: dict[str, float]
    fps: float
    memory: dict[str, Any]
    parity: dict[str, Any] | None
    samples_ms: list[float]
    export_cached: bool = later(False)
    # CPU time of the whole process (all threads) per call: on a shared machine wall time grows
    # with other people's load, CPU time much less (spin-waiting threads still add to it).
    cpu_ms_per_call: float | None = later()
    export_parity: dict[str, Any] | None = later()


@dataclass(kw_only=True)
class PipelineRow(Row):
    """The live pipeline on a video (`l2m-edge bench --pipeline`): per stage and glass to glass."""

    mode: str = "pipeline"
    source: str
    frames: int
    frame_size: list[int]
    latency_ms: dict[str, float]
    fps: float
    stages: dict[str, dict[str, float]]
    memory: dict[str, Any]
    samples_ms: list[float]
    actual_precision: str | None = later()
    frames_dropped: int | None = later()
    paced: bool | None = later()
    style_every: int = later(1)
    style_codes: dict[str, int] | None = later()
    cpu_ms_per_frame: float | None = later()
    faces_edited: int | None = later()
    wall_s: float | None = later()
    load_s: float | None = later()
    stage_calls: dict[str, int] | None = later()
    overhead_share: float | None = later()


@dataclass(kw_only=True)
class TrainRow(Row):
    """Training throughput (`l2m-edge bench train`); `latency_ms` is per step of the global batch."""

    mode: str = "train"
    ranks: int
    threads: int
    workers: int
    steps: int
    warmup: int
    first_step_s: float
    latency_ms: dict[str, float]
    samples_ms: list[float]
    steps_per_s: float
    images_per_s: float
    s_per_100k_steps: float
    cpu_s_per_step: float
    memory: dict[str, Any]
    channels_last: bool | None = later()
    fps: float | None = later()


RUN_ROWS: dict[str, type[Row]] = {"model": ModelRow, "pipeline": PipelineRow, "train": TrainRow}
MODES = tuple(RUN_ROWS)
STATUSES = ("ok", "parity_failed", "failed")
AnyRow = ModelRow | PipelineRow | TrainRow | FailedRow


def row_type(data: dict[str, Any]) -> type[Row]:
    """The class a row's JSON form is an instance of (by status and mode)."""
    if data.get("status") == "failed":
        return FailedRow
    return RUN_ROWS[data["mode"]]


def row_from_json(data: dict[str, Any]) -> Row:
    """A row back from its JSON form (a worker's output); unknown fields are a BenchError."""
    cls = row_type(data)
    names = {f.name for f in fields(cls)}
    extra = set(data) - names
    if extra:
        raise BenchError(f"{cls.__name__} has no field(s) {', '.join(sorted(extra))}")
    return cls(**data)


# What a JSON value of each annotated type may be (JSON has one number type: an int is a float too).
_JSON_TYPES: dict[Any, tuple[type, ...]] = {str: (str,), int: (int,), float: (int, float), bool: (bool,), dict: (dict,), list: (list,), type(None): (type(None),)}


def json_types(annotation: Any) -> tuple[type, ...]:
    """The Python types a JSON value of `annotation` may have: `float | None` → (int, float, NoneType)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return tuple(t for arg in typing.get_args(annotation) for t in json_types(arg))
    return _JSON_TYPES[typing.get_origin(annotation) or annotation]


def field_types(cls: type[Row]) -> tuple[dict[str, tuple[type, ...]], dict[str, tuple[type, ...]]]:
    """(required, optional) field name → accepted JSON types of a row class: what the schema checks."""
    hints = typing.get_type_hints(cls)
    required: dict[str, tuple[type, ...]] = {}
    optional: dict[str, tuple[type, ...]] = {}
    for f in fields(cls):
        old_files_may_lack = f.metadata.get(_LATER, False) and f.default is not MISSING
        (optional if old_files_may_lack else required)[f.name] = json_types(hints[f.name])
    return required, optional
