"""Results of the native runner (`l2m-edge-runner --json`) as benchmark rows.

The runner prints the same field names as `l2m-edge bench` (`latency_ms.{min,mean,std,p50,p90,p95,
p99,max}`, `fps`, `backend`, `device`, `precision`), so its report becomes a row as it is, with
the backend named `native-<backend>` and what the runner does not measure (first inference,
memory, parity, samples) left empty. Wrapped with the environment of the machine that imports
it: run the import on the device that ran the runner.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

from l2m_edge.errors import BenchError

from .environment import capture_environment, load_average
from .rows import ModelRow
from .schema import SCHEMA, validate_result

RUNNER = "l2m-edge-runner"


def native_row(report: dict[str, Any]) -> ModelRow:
    """One runner report → one `model` row (status ok: the runner only prints when it ran)."""
    if report.get("runner") != RUNNER:
        raise BenchError(f"not an {RUNNER} --json report (runner={report.get('runner')!r})")
    try:
        return ModelRow(
            backend=f"native-{report['backend']}", target=report.get("format"), precision=report["precision"],
            actual_precision=report.get("actual_precision") or report["precision"], preset=report["preset"], batch=int(report["batch"]),
            device=report["device"], threads=int(report["threads"]) if report.get("threads") else None, artifact_bytes=None,
            export_s=None, load_s=round(float(report["load_ms"]) / 1000.0, 4), first_inference_ms=None, warmup=int(report["warmup"]),
            iters=int(report["iters"]), latency_ms={k: float(v) for k, v in report["latency_ms"].items()}, fps=float(report["fps"]),
            memory={}, parity=None, samples_ms=[],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BenchError(f"{RUNNER} report lacks or mistypes field {exc}") from None


def read_native_reports(path: str | Path) -> list[dict[str, Any]]:
    """A file holding one runner report, a list of them, or one per line (as the runner prints)."""
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"{path}: no such file")
    text = path.read_text()
    try:
        data = json.loads(text)
        reports = data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        try:
            reports = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise BenchError(f"{path}: neither JSON nor JSON lines ({exc})") from None
    if not reports or not all(isinstance(r, dict) for r in reports):
        raise BenchError(f"{path}: expected {RUNNER} --json reports (objects)")
    return reports


def wrap_native(paths: list[str | Path], device_label: str | None = None) -> dict[str, Any]:
    """A result file (`l2m-edge.bench/1`) holding the runner reports, with this machine's environment."""
    rows = [native_row(r) for p in paths for r in read_native_reports(p)]
    load = load_average()
    result = {
        "schema": SCHEMA,
        "kind": "model",
        "environment": capture_environment(device_label),
        "settings": {"source": f"{RUNNER} --json", "files": [str(p) for p in paths]},
        "load_average": {"before": load, "after": load},
        "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_s": 0.0,
        "rows": [row.to_json() for row in rows],
    }
    return validate_result(result)
