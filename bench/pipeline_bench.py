"""Pipeline mode: the live pipeline (capture → track → align → infer → paste → sink) on a video.

By default the video plays like a camera (`realtime`): frame k exists k/fps seconds after the
start, the pipeline takes the newest frame it can and frames that went stale are dropped (and
counted), so the latency is glass to glass — from the moment a frame existed to the moment the
sink took it — as a webcam user sees it. With `realtime=False` every frame is processed in order
(throughput; latency then includes the wait in the bounded queues). With `style_every` K > 1 each
track's style code is computed every K frames (a split-style artifact; the row records how many
codes were computed and reused, and the style stage's own time). The backend is warmed up on
a few crops before the clip starts, so one-time compilation is not counted as pipeline latency.
Output frames go to a null sink: encoding a file or drawing a window is not measured.
"""

from __future__ import annotations

import datetime as _dt
import time
from pathlib import Path
from typing import Any

import numpy as np

from l2m_edge.errors import BenchError, L2MError

from . import memory
from .environment import load_average
from .measure import RowTask, failed_row, load_runner
from .stats import latency_stats

CLIP_SECONDS = 8.0
CLIP_SIZE = (640, 480)


def generated_clip(workdir: Path, seconds: float = CLIP_SECONDS, size: tuple[int, int] = CLIP_SIZE) -> Path:
    """The runtime's demo clip (a real photo in motion, made here, nothing downloaded), cached."""
    from l2m_edge.runtime.clip import write_clip

    path = workdir / "clips" / f"clip-{size[0]}x{size[1]}-{seconds:g}s.avi"
    return path if path.is_file() else write_clip(path, seconds=seconds, size=size)


def measure_pipeline_row(task: RowTask, source: str, frames: int | None) -> dict[str, Any]:
    """One pipeline row: per-stage and end-to-end statistics, sustained FPS, peak memory."""
    from l2m_edge.runtime.pipeline import EditOptions, Pipeline
    from l2m_edge.runtime.sinks import NullSink
    from l2m_edge.runtime.sources import open_source

    baseline = memory.rss_mb()
    try:
        start = time.perf_counter()
        backend = load_runner(task)
        load_s = time.perf_counter() - start
        size = backend.info.img_size
        crop = np.zeros((1, 3, size, size), np.float32)
        for _ in range(max(task.warmup, 1)):
            backend.infer(crop, np.zeros(1, np.int64), np.ones(1, np.int64), np.ones(1, np.float32))
        video = open_source(source, realtime=task.realtime)
        frame_size = list(getattr(video, "size", (0, 0)))
        pipeline = Pipeline(backend, EditOptions(target=len(backend.info.domains) - 1, style_every=task.style_every))
        run = pipeline.run(video, NullSink(), max_frames=frames)
    except L2MError as exc:
        return {**failed_row(task, str(exc)), "mode": "pipeline"}
    except Exception as exc:  # a crash in one row must not end the run
        return {**failed_row(task, f"{type(exc).__name__}: {exc}"), "mode": "pipeline"}
    timings = pipeline.timings
    if not timings.latency:
        return {**failed_row(task, f"{source}: the pipeline produced no frames"), "mode": "pipeline"}
    stages = {name: _rounded(latency_stats(values)) for name, values in timings.stages.items() if values}
    peak = memory.peak_rss_mb()
    row = {
        "mode": "pipeline",
        "backend": task.backend,
        "target": task.target,
        "precision": task.precision,
        "actual_precision": str(backend.precision),
        "preset": task.preset,
        "batch": 1,
        "device": str(backend.device),
        "status": "ok",
        "reason": None,
        "source": str(source),
        "frame_size": frame_size,
        "frames": run.frames_out,
        "frames_dropped": run.frames_dropped,
        "paced": task.realtime,
        "style_every": task.style_every,
        "style_codes": None if pipeline.style_codes is None else {"computed": pipeline.style_codes.computed, "reused": pipeline.style_codes.reused},
        "cpu_ms_per_frame": run.summary.get("cpu_ms_per_frame"),
        "faces_edited": run.faces_edited,
        "wall_s": run.summary.get("wall_s"),
        "load_s": round(load_s, 4),
        "latency_ms": _rounded(latency_stats(timings.latency)),
        "fps": float(run.summary.get("fps", 0.0)),
        "stages": stages,
        "stage_calls": {name: len(values) for name, values in timings.stages.items()},
        "overhead_share": run.summary.get("overhead_share"),
        "memory": {
            "method": "fresh process per row: peak = VmHWM, baseline = RSS before loading",
            "baseline_rss_mb": round(baseline, 1),
            "peak_rss_mb": round(peak, 1),
            "model_rss_mb": round(max(peak - baseline, 0.0), 1),
            "gpu_peak_mb": memory.gpu_peak_mb(),
        },
        "samples_ms": [round(s, 3) for s in timings.latency],
    }
    if run.faces_edited == 0:
        row["status"], row["reason"] = "failed", f"no face was edited in {Path(source).name} (tracker found none); the timings would not include inference"
    backend.close()
    return row


def _rounded(stats: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 3) for k, v in stats.items()}


def run_pipeline_benchmark(
    settings: Any, checkpoint: str | Path | None, source: str | Path | None, frames: int | None = None, progress: Any = None, realtime: bool = True,
    style_every: int = 1,
) -> dict[str, Any]:
    """Pipeline rows for backend × precision × preset on one video; the generated 640×480 clip when no source is given.
    `style_every` K > 1 reuses each track's style code for K frames (exported rows then use split-style artifacts)."""
    from .artifacts import artifact_for, export_target, preflight
    from .harness import backend_device, finish_result, run_isolated

    settings.workdir.mkdir(parents=True, exist_ok=True)
    if source is not None and not Path(source).is_file():
        raise BenchError(f"{source}: no such video file (omit --source to use the generated {CLIP_SIZE[0]}×{CLIP_SIZE[1]} clip)")
    source = Path(source) if source is not None else generated_clip(settings.workdir)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    load_before = load_average()
    t0 = time.perf_counter()
    rows = []
    for backend, precision, preset, model, exported in _plan(settings, checkpoint):
        task = RowTask(
            backend=backend, precision=precision, preset=preset, batch=1, device=backend_device(backend, settings.device),
            model_path=str(model), inputs_path="", warmup=settings.warmup, iters=None, duration_s=None,
            threads=settings.threads, target=export_target(backend) if exported else None, isolated=settings.isolate,
            mode="pipeline", source=str(source), frames=frames, realtime=realtime, style_every=style_every,
        )
        try:
            if exported:
                preflight(backend, precision, settings.device)
            if task.target is not None:
                artifact = artifact_for(model, task.target, precision, 1, settings.device, settings.workdir, split_style=style_every > 1)
                task.model_path, task.artifact_bytes = str(artifact.directory), artifact.bytes
            row = run_isolated(task, settings.workdir, settings.row_timeout_s) if settings.isolate else measure_pipeline_row(task, str(source), frames)
        except L2MError as exc:
            row = {**failed_row(task, str(exc)), "mode": "pipeline"}
        rows.append(row)
        if progress is not None:
            progress(row)
    settings_json = {**settings.to_json(), "checkpoint": str(checkpoint) if checkpoint is not None else None, "source": str(source), "frames": frames, "realtime": realtime, "style_every": style_every}
    return finish_result("pipeline", settings.device_label, settings_json, load_before, started, t0, rows)


def _plan(settings: Any, model: str | Path | None) -> list[tuple[str, str, str, Path, bool]]:
    """(backend, precision, preset, model, exported on the fly) per row. An exported artifact (a device
    without torch) runs as it is, on each of `settings.backends` that loads its format, in its own precision."""
    from l2m_edge.backends import get_backend, is_artifact, open_artifact

    from .artifacts import default_precisions
    from .harness import prepare_checkpoints

    if model is not None and is_artifact(model):
        manifest = open_artifact(model).manifest
        loaders = [b for b in settings.backends if manifest.format in get_backend(b).formats]
        if not loaders:
            raise BenchError(f"{model}: a {manifest.format} artifact, which none of --backends {','.join(settings.backends)} loads")
        return [(backend, manifest.precision, manifest.preset, Path(model), False) for backend in loaders]
    checkpoints = prepare_checkpoints(settings, Path(model) if model is not None else None)
    return [
        (backend, precision, preset, checkpoint, True)
        for preset, checkpoint in checkpoints.items()
        for backend in settings.backends
        for precision in settings.precisions or default_precisions(backend, settings.device)
    ]
