"""The result file format (`l2m-edge.bench/1`) and its validator.

One JSON per run: the environment it ran in, the settings, the machine load before and after,
and one row per backend × precision × preset × batch (or per pipeline run). `latency_ms`, `fps`,
`backend`, `device` and `precision` are spelled as the native runner prints them, so its output
can be wrapped into a row unchanged. Rows that could not run are kept with `status: failed` and
a `reason`, never dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from l2m_edge.errors import BenchError

from .rows import MODES, RUN_ROWS, STATUSES, FailedRow, field_types
from .stats import LATENCY_KEYS

SCHEMA = "l2m-edge.bench/1"

_NUM = (int, float)
_OPT_STR = (str, type(None))

RESULT_FIELDS: dict[str, tuple[type, ...]] = {
    "schema": (str,),
    "environment": (dict,),
    "settings": (dict,),
    "load_average": (dict,),
    "started": (str,),
    "wall_s": _NUM,
    "rows": (list,),
}

ENVIRONMENT_FIELDS: dict[str, tuple[type, ...]] = {
    "device_label": (str,),
    "os": (str,),
    "python": (str,),
    "cpu": (dict,),
    "gpus": (list,),
    "power_mode": _OPT_STR,
    "packages": (dict,),
    "date": (str,),
    "git_commit": (str,),
}

# A row's fields and their types are the typed rows' own (rows.py): written once, read here.
ROW_FIELDS = {mode: field_types(cls) for mode, cls in RUN_ROWS.items()}
FAILED_FIELDS = field_types(FailedRow)


def _check_fields(where: str, data: Any, fields: dict[str, tuple[type, ...]], optional: dict[str, tuple[type, ...]] | None = None) -> None:
    """Every field of `fields` present with one of its types; those of `optional` typed where present."""
    if not isinstance(data, dict):
        raise BenchError(f"{where}: expected an object, got {type(data).__name__}")
    present = {name: types for name, types in (optional or {}).items() if name in data}
    for name, types in {**fields, **present}.items():
        if name not in data:
            raise BenchError(f"{where}: missing field {name!r}")
        value = data[name]
        # bool is an int in Python; a bool where a number belongs is a bug.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            wanted = " or ".join(t.__name__ for t in types)
            raise BenchError(f"{where}: field {name!r} is {type(value).__name__}, expected {wanted}")


def _check_latency(where: str, latency: dict[str, Any]) -> None:
    for key in LATENCY_KEYS:
        if not isinstance(latency.get(key), _NUM):
            raise BenchError(f"{where}: latency_ms.{key} missing or not a number")
    if not latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p95"] <= latency["p99"] <= latency["max"]:
        raise BenchError(f"{where}: latency_ms percentiles are not ordered min ≤ p50 ≤ p90 ≤ p95 ≤ p99 ≤ max")


def validate_row(row: Any, where: str = "row") -> None:
    """A row's JSON form against its typed row (rows.py), picked by its mode and status."""
    _check_fields(where, row, *FAILED_FIELDS)
    if row["mode"] not in MODES:
        raise BenchError(f"{where}: mode {row['mode']!r} is not one of {MODES}")
    if row["status"] not in STATUSES:
        raise BenchError(f"{where}: status {row['status']!r} is not one of {STATUSES}")
    if row["status"] == "failed":
        if not row["reason"]:
            raise BenchError(f"{where}: a failed row must say why (field 'reason')")
        return
    _check_fields(where, row, *ROW_FIELDS[row["mode"]])
    _check_latency(where, row["latency_ms"])
    if row["mode"] == "pipeline":
        for stage, stats in row["stages"].items():
            _check_latency(f"{where}: stage {stage}", stats)


def validate_result(result: Any, where: str = "result") -> dict[str, Any]:
    """Raise BenchError naming the first problem; return the result unchanged when it is valid."""
    if not isinstance(result, dict):
        raise BenchError(f"{where}: not a JSON object")
    if result.get("schema") != SCHEMA:
        raise BenchError(f"{where}: schema {result.get('schema')!r} is not {SCHEMA!r}")
    _check_fields(where, result, RESULT_FIELDS)
    _check_fields(f"{where}: environment", result["environment"], ENVIRONMENT_FIELDS)
    for i, row in enumerate(result["rows"]):
        validate_row(row, f"{where}: row {i}")
    return result


def load_result(path: str | Path) -> dict[str, Any]:
    """Read and validate one result file; problems are one-line BenchErrors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"{path}: no such result file")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BenchError(f"{path}: not JSON ({exc})") from None
    return validate_result(data, str(path))
