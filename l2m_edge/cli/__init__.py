"""The `l2m-edge` command. Commands only parse, call one library function and print.

Each command group lives in its own module and registers itself on `app`; errors the
project raises on purpose (`L2MError`) become one red line and exit code 1.
"""

from __future__ import annotations

import sys

from .app import app, console, err_console


def _register_commands() -> None:
    # Imported for their side effect of adding commands to `app`.
    from . import info  # noqa: F401


def main() -> None:
    from l2m_edge.errors import L2MError

    _register_commands()
    try:
        app(standalone_mode=False)
    except L2MError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click's usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            err_console.print("[yellow]aborted[/]")
            sys.exit(1)
        raise


__all__ = ["app", "console", "err_console", "main"]
