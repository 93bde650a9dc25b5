"""Numbers from users: NaN, ±inf and out-of-range values are refused at every boundary.

`number_problem` is the one rule; the library raises `ConfigError` through `require_number`,
and the CLI reports the same sentence as a usage error before anything heavy is imported.
"""

from __future__ import annotations

import math


def number_problem(value: float, *, at_least: float | None = None, above: float | None = None, at_most: float | None = None) -> str | None:
    """What is wrong with `value` (a sentence), or None when it is a finite number within the bounds."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return f"{value!r} is not a number"
    if not math.isfinite(value):
        return f"{value} is not a finite number"
    if at_least is not None and value < at_least:
        return f"{value:g} must be ≥ {at_least:g}"
    if above is not None and value <= above:
        return f"{value:g} must be > {above:g}"
    if at_most is not None and value > at_most:
        return f"{value:g} must be ≤ {at_most:g}"
    return None


def require_number(name: str, value: float, **bounds: float | None) -> float:
    """`value` when it is finite and within `bounds` (see `number_problem`), else a ConfigError naming `name`."""
    from l2m_edge.errors import ConfigError

    problem = number_problem(value, **bounds)
    if problem is not None:
        raise ConfigError(f"{name}: {problem}")
    return float(value)
