"""Lookup in the project's registries (presets, export targets, backends): one error shape for an unknown name."""

from __future__ import annotations

from typing import Mapping, TypeVar

from .errors import L2MError

T = TypeVar("T")


def lookup(table: Mapping[str, T], name: str, what: str, error: type[L2MError]) -> T:
    """`table[name]`; an unknown name raises `error` listing the valid ones."""
    try:
        return table[name]
    except KeyError:
        raise error(f"unknown {what} {name!r}; choose one of {', '.join(table)}") from None
