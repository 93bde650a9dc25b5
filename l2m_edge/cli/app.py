"""The typer application object and the consoles every command prints to."""

from __future__ import annotations

from typing import Callable, Optional

import typer
from rich.console import Console

from l2m_edge import __version__
from l2m_edge.checks import number_problem

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    name="l2m-edge",
    help="Live facial attribute editing with L2M-GAN, compiled for the edge.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def finite(**bounds: float) -> Callable[[typer.CallbackParam, Optional[float]], Optional[float]]:
    """An option callback refusing NaN, ±inf and out-of-range values as a usage error, before any heavy import.

    `bounds` are `number_problem`'s: at_least, above, at_most.
    """

    def check(param: typer.CallbackParam, value: Optional[float]) -> Optional[float]:
        problem = None if value is None else number_problem(value, **bounds)
        if problem is not None:
            raise typer.BadParameter(problem, param=param)
        return value

    return check


def _version(value: bool) -> None:
    if value:
        console.print(f"l2m-edge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Train, export, run and benchmark L2M-GAN attribute editors."""
