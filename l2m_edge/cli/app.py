"""The typer application object and the consoles every command prints to."""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console

from l2m_edge import __version__

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    name="l2m-edge",
    help="Live facial attribute editing with L2M-GAN, compiled for the edge.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"l2m-edge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Train, export, run and benchmark L2M-GAN attribute editors."""
