"""The process's one OpenVINO Core.

Each `ov.Core` loads its own CPU plugin, and each plugin load and release moves the loading thread's
signal stack; released in the order they were made, two of them leave it on unmapped memory
(l2m_edge/signal_stack.py, benchmarks/memory_fault.md). One Core for the whole process loads every
plugin once, up front, with the thread's own signal stack put back, and never releases them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from l2m_edge.signal_stack import keep_signal_stack


@lru_cache(maxsize=1)
def openvino_core() -> Any:  # noqa: ANN401 (ov.Core; openvino is imported lazily)
    """The shared `ov.Core`, its device plugins already loaded (OpenVINO's Core is thread-safe)."""
    import openvino as ov

    core = ov.Core()
    with keep_signal_stack():
        core.available_devices  # noqa: B018 (loads every device plugin now, inside the guard)
    return core
