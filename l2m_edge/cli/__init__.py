"""The `l2m-edge` command. Commands only parse, call one library function and print.

Each command group lives in its own module and registers itself on `app`; errors the
project raises on purpose (`L2MError`) become one red line and exit code 1.
"""

from __future__ import annotations

import sys

from .app import app, console, err_console


def _register_commands() -> None:
    # Imported for their side effect of adding commands to `app`.
    from . import eval as _eval  # noqa: F401
    from . import bench  # noqa: F401
    from . import convert  # noqa: F401
    from . import data  # noqa: F401
    from . import export  # noqa: F401
    from . import info  # noqa: F401
    from . import native  # noqa: F401
    from . import run  # noqa: F401
    from . import studio  # noqa: F401
    from . import train  # noqa: F401


def _tell_torchrun(message: str) -> None:
    """Under torchrun, hand the one line to its failure summary, whose "Root Cause" would otherwise
    say only "To enable traceback see …" (the error file is torchrun's documented channel)."""
    import json
    import os
    import time

    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if path:
        try:
            with open(path, "w") as f:
                json.dump({"message": message, "timestamp": int(time.time())}, f)
        except OSError:
            pass


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every failure ends as one red line and exit 1 (usage errors: click's message, exit 2).

    A module of the `[train]` extra missing (torch on a device install) is one line saying how to
    get it. An OSError that escaped the library's own checks (a disk that fills later, a device that
    vanishes) still names its file in one line; `L2M_EDGE_DEBUG=1` shows the traceback instead.
    """
    import os

    from l2m_edge.errors import L2MError, PeerError

    _register_commands()
    try:
        app(args=argv)  # standalone: usage errors print click's message and exit 2
    except PeerError:
        sys.exit(1)  # another rank failed and said why; this one prints nothing
    except L2MError as exc:
        _fail(str(exc))
    except ModuleNotFoundError as exc:
        from l2m_edge.environment import TRAIN_EXTRA_HINT, TRAIN_MODULES

        missing = (exc.name or "").partition(".")[0]
        if missing not in TRAIN_MODULES or os.environ.get("L2M_EDGE_DEBUG"):
            raise
        _fail(f"this needs {missing}, {TRAIN_EXTRA_HINT}")
    except OSError as exc:
        if os.environ.get("L2M_EDGE_DEBUG"):
            raise
        from l2m_edge.io import describe_os_error

        _fail(describe_os_error(exc.filename or "output", exc))


def _fail(message: str) -> None:
    from rich.markup import escape

    _tell_torchrun(f"error: {message}")
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(1)


__all__ = ["app", "console", "err_console", "main"]
