"""The live pipeline: capture → track+align → infer → composite+output, each stage in its own thread.

The stages are `stages`' objects, run by `stage_threads`' engine; this module wires them to a source
and a sink and holds the output stage (HUD, sink, counters, keys).

For a live source a full hand-off between stages drops its oldest frame (latency over throughput:
the output shows the newest frame it can); for a file every frame is processed in order, so the
output has exactly the input's frames. Faces in one frame go to the
backend as one batch, each with its own track: its own classifier reading (once per track),
its own reconstruction-guard reading (once per track), its own cached mask and its own fade.
The output stage runs in the calling thread (windows need it), and a Ctrl-C there stops the
others and still closes the sink, so the file written so far is valid.

With `style_every` K > 1 (a backend that runs the editor's two stages: a split-style artifact or a
checkpoint) each track's style code is computed every K frames and only the generator runs in
between (`style_reuse`).

Latency is glass to glass: from the moment a frame existed (a camera's capture, a paced file's
due time) to the moment the sink took the edited frame.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .backends import Backend, describe
from .domains import DomainGuesser
from .guard import GuardReading, guard_warning
from .hud import draw_hud
from .sinks import Sink
from .sources import Source, SourceReport, source_report
from .stage_threads import StageThreads
from .stages import Controls, EditModel, EditOptions, EditStream, FaceRecord, Job
from .style_reuse import StyleCodes
from .timing import Timings

HUD_FPS_FRAMES = 30  # the HUD's FPS is measured over the last this many frames out


@dataclass
class RunResult:
    frames_in: int = 0
    frames_out: int = 0
    frames_dropped: int = 0
    faces_edited: int = 0
    faces_too_small: int = 0
    faces_already_target: int = 0
    faces_beyond_limit: int = 0  # most faces a detection saw beyond --max-faces in one frame
    guard: list[GuardReading] = field(default_factory=list)  # one per track
    stopped_early: str | None = None
    interrupted: bool = False
    skipped_inputs: list[str] = field(default_factory=list)  # "path: why" for each unreadable image of a batch
    backend: str = ""
    source_domain: str = ""  # how the source domain was decided
    source: SourceReport | None = None  # what the source gave: size, rate, what was asked, outages of a live source
    summary: dict[str, Any] = field(default_factory=dict)
    records: list[list[FaceRecord]] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        """What a user must hear about this run: unrepresented faces, faces left out."""
        out = []
        guard = guard_warning(self.guard)
        if guard:
            out.append(guard)
        if self.faces_too_small:
            out.append(f"{self.faces_too_small} face detections were too small to edit (narrower than the minimum face width); move closer or use a higher-resolution source")
        if self.faces_beyond_limit:
            out.append(f"up to {self.faces_beyond_limit} more faces per frame were seen but not tracked; raise --max-faces to edit them")
        return out


class OutputStage:
    """The last stage of a run: the HUD, the sink, the run's counters and the window's keys."""

    def __init__(self, backend: Backend, stream: EditStream, sink: Sink, result: RunResult, hud: bool, record: bool) -> None:
        self.backend, self.stream, self.sink, self.result, self.hud, self.record = backend, stream, sink, result, hud, record
        self._clock: deque[float] = deque(maxlen=HUD_FPS_FRAMES)  # when the latest frames went out (the HUD's FPS); bounded, a live run goes on for hours

    def __call__(self, job: Job, image: np.ndarray) -> None:
        timings = self.stream.timings
        t1 = time.perf_counter()
        if self.hud:
            if image is job.frame.image:
                image = image.copy()
            self._draw_hud(image)
        self.sink.write(image, job.frame.index)
        done = time.perf_counter()
        timings.add("sink", 1000 * (done - t1))
        timings.latency.append(1000 * (done - job.captured))
        self._clock.append(done)
        result = self.result
        result.frames_out += 1
        result.faces_beyond_limit = max(result.faces_beyond_limit, job.beyond_limit)
        for record in job.records:
            result.faces_edited += record.status == "edited"
            result.faces_too_small += record.status == "too_small"
            result.faces_already_target += record.status == "already_target"
        if self.record:
            result.records.append(job.records)
        self.stream.controls.handle_key(self.sink.poll_key())

    def _draw_hud(self, image: np.ndarray) -> None:
        recent = list(self._clock)
        fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0
        latency = self.stream.timings.latency[-1] if self.stream.timings.latency else 0.0
        info, controls = self.backend.info, self.stream.controls
        lines = [
            f"{fps:5.1f} FPS  latency {latency:5.1f} ms",
            f"{info.attribute or 'attribute'} -> {info.domains[controls.target]}  strength {controls.strength:+.1f}  edit {'on' if controls.enabled else 'off'}",
            f"{self.backend.name} {self.backend.device} {self.backend.precision}",
        ]
        poor = [r.psnr_db for r in list(self.stream.infer.guarded.values()) if not r.represented]
        if poor:
            lines.append(f"model does not represent this face ({min(poor):.0f} dB): not a real edit")
        draw_hud(image, lines)


class Pipeline:
    """Edits the faces of a stream with one backend. `run(source, sink)` returns what happened."""

    def __init__(self, backend: Backend, options: EditOptions, domain_guesser: DomainGuesser | None = None) -> None:
        self.backend = backend
        self.options = options
        self.model = EditModel(backend, options, domain_guesser)
        self.source_rule = self.model.source_rule
        self.controls = self.model.controls()
        self.stream: EditStream | None = None  # the last run's stream state

    @property
    def timings(self) -> Timings:
        return self.stream.timings if self.stream is not None else Timings()

    @property
    def style_codes(self) -> StyleCodes | None:
        return self.stream.style_codes if self.stream is not None else None

    def run(self, source: Source, sink: Sink, max_frames: int | None = None) -> RunResult:
        """Process `source` into `sink` until the source ends, `q` is pressed, or Ctrl-C."""
        opts = self.options
        lossless = (not source.live) if opts.lossless is None else opts.lossless
        result = RunResult(backend=describe(self.backend), source_domain=self.source_rule)
        stream = self.stream = self.model.stream(self.controls)
        output = OutputStage(self.backend, stream, sink, result, opts.hud, opts.record)
        # Live: one slot per hand-off, so a stage always takes the newest frame and no frame waits behind a stale one.
        size = max(1, opts.queue_size if opts.queue_size is not None else (2 if lossless else 1))

        def capture(emit: Callable[[Job], None]) -> None:
            count = 0
            while not engine.stop.is_set() and (max_frames is None or count < max_frames):
                t0 = time.perf_counter()
                frame = source.read()
                t1 = time.perf_counter()
                if frame is None:
                    break
                stream.timings.add("capture", 1000 * (t1 - t0))
                count += 1
                result.frames_in = count
                emit(Job(frame, frame.captured if frame.captured is not None else t1))

        engine = StageThreads(capture, [("track", stream.track), ("infer", stream.infer)], size, lossless, stop=self.controls.quit)
        start, cpu_start = time.perf_counter(), time.process_time()
        failed = False
        try:
            for job in engine.run():
                output(job, stream.composite(job).image)
        except KeyboardInterrupt:
            result.interrupted = True
        except BaseException:
            failed = True
            raise
        finally:
            engine.close()
            try:
                if failed or engine.error is not None:
                    sink.abort()  # a failed run never replaces an earlier output
                else:
                    sink.close()
            finally:
                source.close()
                stream.close()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        if engine.error is not None:
            raise engine.error
        result.frames_dropped = engine.dropped + getattr(source, "frames_skipped", 0)
        result.stopped_early = source.stopped_early
        result.source = source_report(source)
        result.skipped_inputs = list(getattr(source, "failures", ()))
        result.guard = sorted(stream.infer.guarded.values(), key=lambda r: r.track_id)
        result.summary = stream.timings.summary(result.frames_out, wall, cpu)
        result.summary["frames_dropped"] = result.frames_dropped
        result.summary["source"] = result.source.as_dict()
        masks = stream.compositor.masks
        result.summary["mask_cache_hits"] = round(masks.hits / max(1, masks.hits + masks.draws), 3)
        return result


__all__ = ["Controls", "EditOptions", "FaceRecord", "OutputStage", "Pipeline", "RunResult"]
