"""What a worker needs to measure one row (plain JSON values), and how a row's backend is opened.

The harness plans tasks, the worker measures them (in a fresh process or in-process); both
measuring modules (`measure.py`, `pipeline_bench.py`) read a task from here and nothing else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .rows import FailedRow


@dataclass
class RowTask:
    """Everything a worker needs to measure one row, as plain JSON values."""

    backend: str
    precision: str
    preset: str
    batch: int
    device: str
    model_path: str  # checkpoint for torch rows, artifact directory for exported ones
    inputs_path: str  # .npz with the editor's inputs (by signature name) and the eager fp32 reference output
    warmup: int
    iters: int | None
    duration_s: float | None
    threads: int | None
    target: str | None = None
    artifact_bytes: int | None = None
    export_s: float | None = None
    export_cached: bool = False
    export_parity: dict[str, Any] | None = None
    isolated: bool = True
    round: int = 0  # which pass over the plan (`--rounds`)
    mode: str = "model"  # model | pipeline: picks the measuring function
    source: str | None = None  # pipeline mode: the video
    frames: int | None = None  # pipeline mode: stop after this many frames
    realtime: bool = True  # pipeline mode: play the video like a camera (paced, stale frames dropped)
    style_every: int = 1  # pipeline mode: frames between a track's style codes (> 1: a split-style artifact)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def failed(self, reason: str) -> FailedRow:
        """This task's ❌ row, with the reason it could not run."""
        return FailedRow(
            mode=self.mode, backend=self.backend, target=self.target, precision=self.precision, preset=self.preset,
            batch=self.batch, device=self.device, reason=reason, round=self.round,
        )


def load_runner(task: RowTask) -> Any:
    """The backend of a row, through the one loader export parity and the app use: a checkpoint backend
    computes in the row's precision, an artifact in the precision its manifest records (an FP32 IR in f32)."""
    from l2m_edge.backends import get_backend, open_backend

    precision = task.precision if get_backend(task.backend).loads_checkpoints else None
    return open_backend(task.model_path, task.backend, device=task.device, precision=precision, threads=task.threads or 0)


def import_runtime(backend: str) -> None:
    """Import the runtime library first, so the baseline RSS covers it and `model_rss_mb` is the model's own."""
    import importlib
    import importlib.util

    for module in {"onnxruntime": ("onnxruntime",), "openvino": ("openvino",), "tensorrt": ("tensorrt",)}.get(backend, ()) + ("torch",):
        if importlib.util.find_spec(module) is None:
            continue  # not installed (torch on a device install)
        try:
            importlib.import_module(module)
        except ImportError:
            pass  # load_runner reports a missing runtime as the row's reason
