"""The CSV scalar log: one row per logged step; a resumed run first drops rows past its step.

The rewrite on start is atomic; each row is appended whole and flushed (to the log's own file: a
link planted in its place is refused, not followed), and a write that fails
(disk full) stops the run with one line naming the file.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from l2m_edge.io import atomic_path, open_own, output_errors


class ScalarLog:
    def __init__(self, path: Path, columns: list[str], resume_step: int) -> None:
        self.path = path
        self.columns = ["step", "seconds", *columns]
        kept: list[dict[str, str]] = []
        if resume_step > 0 and path.is_file():
            with open(path, newline="") as f:
                kept = [row for row in csv.DictReader(f) if row.get("step", "").isdigit() and int(row["step"]) <= resume_step]
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(kept)

    def write(self, step: int, seconds: float, scalars: dict[str, float]) -> None:
        row = {"step": step, "seconds": f"{seconds:.1f}", **{k: f"{v:.5g}" for k, v in scalars.items()}}
        text = io.StringIO(newline="")
        csv.DictWriter(text, fieldnames=self.columns, extrasaction="ignore").writerow(row)
        with output_errors(self.path), os.fdopen(open_own(self.path, os.O_WRONLY | os.O_APPEND), "a", newline="") as f:
            f.write(text.getvalue())  # one write call: a row is never split between two writers' rows
