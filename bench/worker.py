"""Measure one planned row in this process, with the measuring function its mode picks.

`python -m l2m_edge.bench.worker TASK.json ROW.json` is the harness's fresh process per row;
`measure_task` is the same call in-process (`--in-process`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

from .measure import measure_model_row
from .pipeline_bench import measure_pipeline_row
from .rows import Row
from .task import RowTask, import_runtime

MEASURE: dict[str, Callable[[RowTask], Row]] = {"model": measure_model_row, "pipeline": measure_pipeline_row}


def measure_task(task: RowTask) -> Row:
    """The row of one task, measured by its mode's function (the runtime imported first, so the baseline RSS covers it)."""
    import_runtime(task.backend)
    return MEASURE[task.mode](task)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m l2m_edge.bench.worker TASK.json ROW.json", file=sys.stderr)
        return 2
    task = RowTask(**json.loads(Path(argv[0]).read_text()))
    Path(argv[1]).write_text(json.dumps(measure_task(task).to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
