"""The live pipeline: capture → track+align → infer → paste+output, each stage in its own thread.

Queues between stages are bounded. For a live source a full queue drops its oldest frame
(latency over throughput: the output shows the newest frame it can); for a file every frame is
processed in order, so the output has exactly the input's frames. Faces in one frame go to the
backend as one batch. The output stage runs in the calling thread (windows need it), and a
Ctrl-C there stops the others and still closes the sink, so the file written so far is valid.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from l2m_edge.errors import ConfigError
from l2m_edge.masks import masks_from_mediapipe

from .align import AlignedFace, align_face, crop_to_tensor, landmarks_in_crop, tensor_to_crops
from .backends import Backend, describe
from .composite import Pasted, paste_face
from .hud import draw_hud
from .sinks import Sink
from .sources import Frame, Source
from .timing import Timings
from .tracking import Face, FaceTracker

_END = object()


@dataclass
class EditOptions:
    target: str | int  # the domain to edit towards (name or index)
    strength: float = 1.0
    source: str = "auto"  # the faces' current domain (name or index), or "auto" (classifier per track)
    max_faces: int = 1
    min_face_px: int = 40  # faces narrower than this are not edited (counted in `faces_too_small`)
    colour_match: bool = True
    hud: bool = False
    redetect_every: int = 10
    lossless: bool | None = None  # None: files lossless, live sources drop stale frames
    queue_size: int = 2
    record: bool = False  # keep what happened to every face of every frame (tests, the demo)


class Controls:
    """What the keys change while running: target domain, strength, edit on/off, quit."""

    def __init__(self, target: int, strength: float, num_domains: int) -> None:
        self.target = target
        self.strength = strength
        self.enabled = True
        self.num_domains = num_domains
        self.quit = threading.Event()

    def handle_key(self, key: int | None) -> None:
        if key is None:
            return
        if key == 27:  # Esc
            self.quit.set()
            return
        char = chr(key) if 32 <= key < 127 else ""
        if not char:
            return
        if char == "n":
            self.target = (self.target + 1) % self.num_domains
        elif char in "+=":
            self.strength = round(self.strength + 0.1, 2)
        elif char in "-_":
            self.strength = round(self.strength - 0.1, 2)
        elif char == "e":
            self.enabled = not self.enabled
        elif char == "q":
            self.quit.set()


@dataclass
class FaceRecord:
    track_id: int
    box: tuple[float, float, float, float]
    source: int | None
    target: int
    status: str  # edited | too_small | already_target | edit_off
    region: Pasted | None = None


@dataclass
class RunResult:
    frames_in: int = 0
    frames_out: int = 0
    frames_dropped: int = 0
    faces_edited: int = 0
    faces_too_small: int = 0
    faces_already_target: int = 0
    stopped_early: str | None = None
    interrupted: bool = False
    backend: str = ""
    source_domain: str = ""  # how the source domain was decided
    summary: dict[str, Any] = field(default_factory=dict)
    records: list[list[FaceRecord]] = field(default_factory=list)


@dataclass
class _Job:
    frame: Frame
    captured: float  # perf_counter when the frame was read
    faces: list[Face] = field(default_factory=list)
    aligned: list[AlignedFace | None] = field(default_factory=list)
    masks: dict[int, np.ndarray] = field(default_factory=dict)  # face position → [2, S, S] (high-pass models)
    records: list[FaceRecord] = field(default_factory=list)
    edited: dict[int, np.ndarray] = field(default_factory=dict)  # face position → edited crop


class Pipeline:
    """Edits the faces of a stream with one backend. `run(source, sink)` returns what happened."""

    def __init__(self, backend: Backend, options: EditOptions, domain_guesser: Callable[[list[int], np.ndarray], np.ndarray] | None = None) -> None:
        self.backend = backend
        self.options = options
        info = backend.info
        self.controls = Controls(info.domain_index(options.target), options.strength, len(info.domains))
        self._fixed_source: int | None = None
        self._guesser = domain_guesser
        if options.source != "auto":
            self._fixed_source = info.domain_index(options.source)
            self.source_rule = f"given: {info.domains[self._fixed_source]}"
        elif domain_guesser is not None:
            self.source_rule = "auto: attribute classifier, smoothed per track"
        elif len(info.domains) == 2:
            self.source_rule = "auto without a classifier for these domains: every face assumed in the other domain than the target"
        else:
            raise ConfigError(f"--from auto needs the attribute classifier for a {len(info.domains)}-domain model; pass --from NAME")
        self.timings = Timings()

    # -- the stages -----------------------------------------------------------------------------
    def _track(self, job: _Job, tracker: FaceTracker) -> _Job:
        t0 = time.perf_counter()
        job.faces = tracker.update(job.frame.image, job.frame.timestamp)
        t1 = time.perf_counter()
        self.timings.add("track", 1000 * (t1 - t0))
        info = self.backend.info
        for face in job.faces:
            too_small = face.box[2] - face.box[0] < self.options.min_face_px
            job.aligned.append(None if too_small else align_face(job.frame.image, face.landmarks, info.img_size, info.framing))
            job.records.append(FaceRecord(face.track_id, face.box, None, self.controls.target, "too_small" if too_small else "edit_off"))
        t2 = time.perf_counter()
        if job.faces:
            self.timings.add("align", 1000 * (t2 - t1))
        if info.uses_masks:
            for i, aligned in enumerate(job.aligned):
                if aligned is not None:
                    job.masks[i] = masks_from_mediapipe(landmarks_in_crop(job.faces[i].landmarks, aligned), info.img_size)[0]
            if job.masks:
                self.timings.add("masks", 1000 * (time.perf_counter() - t2))
        return job

    def _sources(self, track_ids: list[int], batch: np.ndarray, target: int) -> np.ndarray:
        if self._fixed_source is not None:
            return np.full(len(track_ids), self._fixed_source, dtype=np.int64)
        if self._guesser is not None:
            t0 = time.perf_counter()
            sources = self._guesser(track_ids, batch)
            self.timings.add("classify", 1000 * (time.perf_counter() - t0))
            return sources
        return np.full(len(track_ids), 1 - target, dtype=np.int64)

    def _infer(self, job: _Job) -> _Job:
        positions = [i for i, a in enumerate(job.aligned) if a is not None]
        if not positions or not self.controls.enabled:
            return job
        target, strength = self.controls.target, self.controls.strength
        batch = crop_to_tensor([job.aligned[i].crop for i in positions])  # type: ignore[union-attr]
        sources = self._sources([job.faces[i].track_id for i in positions], batch, target)
        todo = [k for k, s in enumerate(sources) if s != target]
        for k, i in enumerate(positions):
            job.records[i].source, job.records[i].target = int(sources[k]), target
            job.records[i].status = "edited" if k in todo else "already_target"
        if todo:
            t0 = time.perf_counter()
            n = len(todo)
            masks = np.stack([job.masks[positions[k]] for k in todo]) if self.backend.info.uses_masks else None
            out = self.backend.infer(batch[todo], sources[todo], np.full(n, target, np.int64), np.full(n, strength, np.float32), masks)
            self.timings.add("infer", 1000 * (time.perf_counter() - t0))
            for k, crop in zip(todo, tensor_to_crops(out)):
                job.edited[positions[k]] = crop
        return job

    def _output(self, job: _Job, sink: Sink, result: RunResult, fps_clock: list[float]) -> None:
        t0 = time.perf_counter()
        image = job.frame.image
        if job.edited or self.options.hud:
            image = image.copy()
        for i, crop in job.edited.items():
            aligned = job.aligned[i]
            job.records[i].region = paste_face(image, crop, aligned.matrix, job.faces[i].landmarks, self.options.colour_match)  # type: ignore[union-attr]
        t1 = time.perf_counter()
        if job.edited:
            self.timings.add("paste", 1000 * (t1 - t0))
        if self.options.hud:
            self._draw_hud(image, fps_clock)
        sink.write(image, job.frame.index)
        done = time.perf_counter()
        self.timings.add("sink", 1000 * (done - t1))
        self.timings.latency.append(1000 * (done - job.captured))
        fps_clock.append(done)
        result.frames_out += 1
        for record in job.records:
            result.faces_edited += record.status == "edited"
            result.faces_too_small += record.status == "too_small"
            result.faces_already_target += record.status == "already_target"
        if self.options.record:
            result.records.append(job.records)
        self.controls.handle_key(sink.poll_key())

    def _draw_hud(self, image: np.ndarray, fps_clock: list[float]) -> None:
        recent = fps_clock[-30:]
        fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0
        latency = self.timings.latency[-1] if self.timings.latency else 0.0
        info = self.backend.info
        draw_hud(
            image,
            [
                f"{fps:5.1f} FPS  latency {latency:5.1f} ms",
                f"{info.attribute or 'attribute'} -> {info.domains[self.controls.target]}  strength {self.controls.strength:+.1f}  edit {'on' if self.controls.enabled else 'off'}",
                f"{self.backend.name} {self.backend.device} {self.backend.precision}",
            ],
        )

    # -- threads ----------------------------------------------------------------------------------
    def run(self, source: Source, sink: Sink, max_frames: int | None = None) -> RunResult:
        """Process `source` into `sink` until the source ends, `q` is pressed, or Ctrl-C."""
        opts = self.options
        lossless = (not source.live) if opts.lossless is None else opts.lossless
        result = RunResult(backend=describe(self.backend), source_domain=self.source_rule)
        tracker = FaceTracker(max_faces=opts.max_faces, redetect_every=opts.redetect_every)
        size = max(1, opts.queue_size)
        q_track: queue.Queue = queue.Queue(size)
        q_infer: queue.Queue = queue.Queue(size)
        q_out: queue.Queue = queue.Queue(size)
        stop = self.controls.quit
        stop.clear()
        errors: list[BaseException] = []
        dropped = [0]

        def put(q: queue.Queue, item: Any) -> None:
            while not stop.is_set():
                if not lossless and item is not _END:
                    try:
                        q.put_nowait(item)
                        return
                    except queue.Full:
                        try:
                            stale = q.get_nowait()
                            if stale is _END:  # never lose the end marker
                                q.put_nowait(stale)
                                return
                            dropped[0] += 1
                        except queue.Empty:
                            pass
                        continue
                try:
                    q.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue

        def get(q: queue.Queue) -> Any:
            while not stop.is_set():
                try:
                    return q.get(timeout=0.1)
                except queue.Empty:
                    continue
            return _END

        def capture() -> None:
            count = 0
            while not stop.is_set() and (max_frames is None or count < max_frames):
                t0 = time.perf_counter()
                frame = source.read()
                t1 = time.perf_counter()
                if frame is None:
                    break
                self.timings.add("capture", 1000 * (t1 - t0))
                count += 1
                result.frames_in = count
                put(q_track, _Job(frame, t1))
            put(q_track, _END)

        def stage(q_in: queue.Queue, q_out_: queue.Queue, fn: Callable[[_Job], _Job]) -> Callable[[], None]:
            def loop() -> None:
                while True:
                    item = get(q_in)
                    if item is _END:
                        put(q_out_, _END)
                        return
                    put(q_out_, fn(item))

            return loop

        def guarded(fn: Callable[[], None]) -> Callable[[], None]:
            def run_() -> None:
                try:
                    fn()
                except BaseException as exc:  # handed to the calling thread, which re-raises it
                    errors.append(exc)
                    stop.set()

            return run_

        threads = [
            threading.Thread(target=guarded(capture), name="capture", daemon=True),
            threading.Thread(target=guarded(stage(q_track, q_infer, lambda j: self._track(j, tracker))), name="track", daemon=True),
            threading.Thread(target=guarded(stage(q_infer, q_out, self._infer)), name="infer", daemon=True),
        ]
        start = time.perf_counter()
        fps_clock: list[float] = []
        try:
            for thread in threads:
                thread.start()
            while True:
                job = get(q_out)
                if job is _END:
                    break
                self._output(job, sink, result, fps_clock)
        except KeyboardInterrupt:
            result.interrupted = True
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=5.0)
            try:
                sink.close()
            finally:
                source.close()
                tracker.close()
        wall = time.perf_counter() - start
        if errors and not isinstance(errors[0], KeyboardInterrupt):
            raise errors[0]
        result.frames_dropped = dropped[0]
        result.stopped_early = source.stopped_early
        result.summary = self.timings.summary(result.frames_out, wall)
        return result
