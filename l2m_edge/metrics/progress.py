"""One rich progress bar for the metrics' long loops (classifier training, evaluation)."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


@contextlib.contextmanager
def progress_bar(label: str, total: int, enabled: bool = True, status: str = "", console: Console | None = None) -> Iterator[Callable[..., None]]:
    """Yield `advance(n=1, status=...)`; a no-op when disabled (library calls from tests, pipelines)."""
    if not enabled:
        yield lambda n=1, **_: None
        return
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, transient=False, console=console) as prog:
        task = prog.add_task(label, total=total, status=status)

        def advance(n: int = 1, **fields: Any) -> None:
            prog.update(task, advance=n, **fields)

        yield advance
