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

import time
from pathlib import Path

import numpy as np

from l2m_edge.errors import L2MError

from . import memory
from .rows import FailedRow, PipelineRow
from .stats import latency_stats
from .task import RowTask, load_runner

CLIP_SECONDS = 8.0
CLIP_SIZE = (640, 480)


def generated_clip(workdir: Path, seconds: float = CLIP_SECONDS, size: tuple[int, int] = CLIP_SIZE) -> Path:
    """The runtime's demo clip (a real photo in motion, made here, nothing downloaded), cached."""
    from l2m_edge.runtime.clip import write_clip

    path = workdir / "clips" / f"clip-{size[0]}x{size[1]}-{seconds:g}s.avi"
    return path if path.is_file() else write_clip(path, seconds=seconds, size=size)


def measure_pipeline_row(task: RowTask) -> PipelineRow | FailedRow:
    """One pipeline row on `task.source`: per-stage and end-to-end statistics, sustained FPS, peak memory."""
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
        video = open_source(str(task.source), realtime=task.realtime)
        frame_size = list(getattr(video, "size", (0, 0)))
        pipeline = Pipeline(backend, EditOptions(target=len(backend.info.domains) - 1, style_every=task.style_every))
        run = pipeline.run(video, NullSink(), max_frames=task.frames)
    except L2MError as exc:
        return task.failed(str(exc))
    except Exception as exc:  # a crash in one row must not end the run
        return task.failed(f"{type(exc).__name__}: {exc}")
    timings = pipeline.timings
    if not timings.latency:
        return task.failed(f"{task.source}: the pipeline produced no frames")
    stages = {name: _rounded(latency_stats(values)) for name, values in timings.stages.items() if values}
    peak = memory.peak_rss_mb()
    row = PipelineRow(
        backend=task.backend, target=task.target, precision=task.precision, actual_precision=str(backend.precision), preset=task.preset,
        batch=1, device=str(backend.device), round=task.round, source=str(task.source), frame_size=frame_size, frames=run.frames_out,
        frames_dropped=run.frames_dropped, paced=task.realtime, style_every=task.style_every,
        style_codes=None if pipeline.style_codes is None else {"computed": pipeline.style_codes.computed, "reused": pipeline.style_codes.reused},
        cpu_ms_per_frame=run.summary.get("cpu_ms_per_frame"), faces_edited=run.faces_edited, wall_s=run.summary.get("wall_s"),
        load_s=round(load_s, 4), latency_ms=_rounded(latency_stats(timings.latency)), fps=float(run.summary.get("fps", 0.0)),
        stages=stages, stage_calls={name: len(values) for name, values in timings.stages.items()},
        overhead_share=run.summary.get("overhead_share"),
        memory={
            "method": "fresh process per row: peak = VmHWM, baseline = RSS before loading",
            "baseline_rss_mb": round(baseline, 1),
            "peak_rss_mb": round(peak, 1),
            "model_rss_mb": round(max(peak - baseline, 0.0), 1),
            "gpu_peak_mb": memory.gpu_peak_mb(),
        },
        samples_ms=[round(s, 3) for s in timings.latency],
    )
    backend.close()
    if run.faces_edited == 0:
        return task.failed(f"no face was edited in {Path(str(task.source)).name} (tracker found none); the timings would not include inference")
    return row


def _rounded(stats: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 3) for k, v in stats.items()}
