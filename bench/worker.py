"""`python -m l2m_edge.bench.worker TASK.json ROW.json`: measure one row in this fresh process."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .measure import RowTask, measure_row


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m l2m_edge.bench.worker TASK.json ROW.json", file=sys.stderr)
        return 2
    task = RowTask(**json.loads(Path(argv[0]).read_text()))
    row = measure_row(task)
    Path(argv[1]).write_text(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
