"""Export options: their defaults (read by the CLI), the validated record, and name checks per target.

Light on purpose (no torch, onnx or openvino): `l2m-edge export --help` reads the defaults here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable

from l2m_edge.errors import ExportError

DEFAULT_OPSET = 17  # the newest opset JetPack 5's TensorRT 8.5 parses
MIN_OPSET = 13  # per-axis Split/Unsqueeze inputs and InstanceNormalization as used by the graph
MAX_OPSET = 20  # newest the TorchScript exporter writes with torch 2.13
DEFAULT_BATCH = 1
DEFAULT_WORKSPACE_GIB = 4.0
DEFAULT_JETPACK = 6

# Every option any target takes; each target's row names the ones it takes beside the common ones (export/targets.py).
COMMON_OPTIONS = ("precision", "imgsz", "batch", "dynamic", "opset", "device")
ALL_OPTIONS = (*COMMON_OPTIONS, "calib", "workspace", "jetpack", "dla_core", "split_style")


@dataclass(frozen=True)
class ExportOptions:
    """Every option of one export, validated; recorded in the manifest's `options`."""

    target: str
    precision: str
    device: str
    batch: int
    dynamic: bool
    opset: int
    imgsz: int
    workspace_gib: float | None = None
    jetpack: int | None = None
    dla_core: int | None = None
    split_style: bool = False  # the editor as two graphs, style and generator (style reuse across frames)

    @property
    def static_batch(self) -> int | None:
        return None if self.dynamic else self.batch


def check_option_names(target: str, given: Iterable[str], accepted: Iterable[str]) -> None:
    """Refuse options a target does not take: a misspelt one with the closest valid name, a real one
    that does not apply to this target with the list it does take (Ultralytics' `validate_args` habit)."""
    accepted = tuple(accepted)
    for name in given:
        if name in accepted:
            continue
        flag = "--" + name.replace("_", "-")
        if name in ALL_OPTIONS:
            raise ExportError(f"{flag} does not apply to target {target!r}; it takes {', '.join('--' + a.replace('_', '-') for a in accepted)}")
        close = difflib.get_close_matches(name, ALL_OPTIONS, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else f"; valid options: {', '.join(ALL_OPTIONS)}"
        raise ExportError(f"unknown export option {name!r}{hint}")

