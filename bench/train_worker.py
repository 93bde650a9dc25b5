"""`torchrun … -m l2m_edge.bench.train_worker TASK.json ROW.json`: one rank of a training-throughput row."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .train_bench import TrainTask, measure_train_rank


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: torchrun --nproc_per_node N -m l2m_edge.bench.train_worker TASK.json ROW.json", file=sys.stderr)
        return 2
    from l2m_edge.errors import L2MError

    try:
        row = measure_train_rank(TrainTask(**json.loads(Path(argv[0]).read_text())))
    except L2MError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if row is not None:
        Path(argv[1]).write_text(json.dumps(row.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
