"""The CSV scalar log: one row per logged step; a resumed run first drops rows past its step."""

from __future__ import annotations

import csv
from pathlib import Path


class ScalarLog:
    def __init__(self, path: Path, columns: list[str], resume_step: int) -> None:
        self.path = path
        self.columns = ["step", "seconds", *columns]
        kept: list[dict[str, str]] = []
        if resume_step > 0 and path.is_file():
            with open(path, newline="") as f:
                kept = [row for row in csv.DictReader(f) if row.get("step", "").isdigit() and int(row["step"]) <= resume_step]
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(kept)

    def write(self, step: int, seconds: float, scalars: dict[str, float]) -> None:
        with open(self.path, "a", newline="") as f:
            row = {"step": step, "seconds": f"{seconds:.1f}", **{k: f"{v:.5g}" for k, v in scalars.items()}}
            csv.DictWriter(f, fieldnames=self.columns, extrasaction="ignore").writerow(row)
