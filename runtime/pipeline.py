"""The live pipeline: capture → track+align → infer → paste+output, each stage in its own thread.

Queues between stages are bounded. For a live source a full queue drops its oldest frame
(latency over throughput: the output shows the newest frame it can); for a file every frame is
processed in order, so the output has exactly the input's frames. Faces in one frame go to the
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

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, cast

import numpy as np

from l2m_edge.checks import require_number
from l2m_edge.errors import ConfigError
from l2m_edge.masks import masks_from_mediapipe

from .align import AlignedFace, align_face, crop_to_tensor, landmarks_in_crop, tensor_to_crops
from .backends import Backend, StagedBackend, describe
from .defaults import AUTO_SOURCE, DEFAULT_MAX_FACES, DEFAULT_STRENGTH, DEFAULT_STYLE_EVERY
from .composite import CropMask, MaskCache, Pasted, crop_oval, draw_crop_mask, match_colour, paste_face
from .fades import FADE_SECONDS, Fader
from .guard import GuardReading, guard_warning, structure_psnr
from .hud import draw_hud
from .sinks import Sink
from .sources import Frame, Source, SourceReport, source_report
from .style_reuse import StyleCodes
from .timing import Timings
from .tracking import Face, FaceTracker, needs_iris

_END = object()
HUD_FPS_FRAMES = 30  # the HUD's FPS is measured over the last this many frames out


@dataclass
class EditOptions:
    target: str | int  # the domain to edit towards (name or index)
    strength: float = DEFAULT_STRENGTH
    source: str = AUTO_SOURCE  # the faces' current domain (name or index), or AUTO_SOURCE (classifier per track)
    max_faces: int = DEFAULT_MAX_FACES
    min_face_px: int = 40  # faces narrower than this are not edited (counted in `faces_too_small`)
    colour_match: bool = True
    hud: bool = False
    redetect_every: int = 10
    lossless: bool | None = None  # None: files lossless, live sources drop stale frames
    queue_size: int | None = None  # frames waiting between stages; None: 1 for live sources (newest only), 2 for files
    record: bool = False  # keep what happened to every face of every frame (tests, the demo)
    stills: bool = False  # every frame is its own photo: no tracking across frames, no fades
    fade_seconds: float = FADE_SECONDS  # edit fades in/out over this long when a track is found/lost
    guard: bool = True  # measure once per track whether the model represents the face (α = 0 PSNR)
    refine_iris: bool | None = None  # FaceMesh iris refinement; None: only when the attribute is about the eyes
    smoothing: bool = True  # One-Euro filter on the landmarks
    style_every: int = DEFAULT_STYLE_EVERY  # K: a tracked face's style code is computed every K frames, the generator every frame

    def __post_init__(self) -> None:
        require_number("strength", self.strength)
        if isinstance(self.style_every, bool) or not isinstance(self.style_every, int) or self.style_every < 1:
            raise ConfigError(f"--style-every {self.style_every!r}: give a whole number of frames ≥ 1 (1 computes the style code every frame)")


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
    landmarks: np.ndarray | None = None  # the tracker's landmarks in frame pixels (masks, framing)
    weight: float = 1.0  # the fade weight the edit was pasted with


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


@dataclass
class _Job:
    frame: Frame
    captured: float  # perf_counter when the frame was read
    faces: list[Face] = field(default_factory=list)
    aligned: list[AlignedFace | None] = field(default_factory=list)
    masks: dict[int, np.ndarray] = field(default_factory=dict)  # face position → [2, S, S] (high-pass models)
    records: list[FaceRecord] = field(default_factory=list)
    edited: dict[int, np.ndarray] = field(default_factory=dict)  # face position → edited crop
    beyond_limit: int = 0


@dataclass
class _LastEdit:
    """What the output stage pasted for a track last: repeated, fading, after the track is lost."""

    crop: np.ndarray
    matrix: np.ndarray
    mask: CropMask


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
        self.oval_masks = MaskCache()
        self._guarded: dict[int, GuardReading] = {}
        self.style_codes: StyleCodes | None = None
        if options.style_every > 1:
            if not isinstance(backend, StagedBackend):
                raise ConfigError(
                    f"--style-every {options.style_every} needs the editor as two graphs and {describe(backend)} runs one: "
                    "export with --split-style, pass a .safetensors checkpoint, or use --style-every 1"
                )
            self.style_codes = StyleCodes(options.style_every)

    # -- the stages -----------------------------------------------------------------------------
    def _track(self, job: _Job, tracker: FaceTracker) -> _Job:
        t0 = time.perf_counter()
        job.faces = tracker.update(job.frame.image, job.frame.timestamp)
        job.beyond_limit = tracker.faces_beyond_limit
        t1 = time.perf_counter()
        self.timings.add("track", 1000 * (t1 - t0))
        info = self.backend.info
        for face in job.faces:
            too_small = face.box[2] - face.box[0] < self.options.min_face_px
            job.aligned.append(None if too_small else align_face(job.frame.image, face.landmarks, info.img_size, info.framing))
            status = "too_small" if too_small else "edit_off"
            job.records.append(FaceRecord(face.track_id, face.box, None, self.controls.target, status, landmarks=face.landmarks))
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

    def _sources(self, faces: list[Face], batch: np.ndarray, target: int) -> np.ndarray:
        if self._fixed_source is not None:
            return np.full(len(faces), self._fixed_source, dtype=np.int64)
        if self._guesser is not None:
            t0 = time.perf_counter()
            calls = self._guesser.calls
            sources = self._guesser([f.track_id for f in faces], batch, [f.fresh for f in faces])
            if self._guesser.calls > calls:
                self.timings.add("classify", 1000 * (time.perf_counter() - t0))
            return sources
        return np.full(len(faces), 1 - target, dtype=np.int64)

    def _to_guard(self, faces: list[Face]) -> list[int]:
        """Positions (in `faces`) of tracks the reconstruction guard has not read yet (or must read anew)."""
        if not self.options.guard:
            return []
        return [k for k, f in enumerate(faces) if f.fresh or f.track_id not in self._guarded]

    def _read_guard(self, face: Face, aligned: AlignedFace, reconstruction: np.ndarray) -> None:
        mask = draw_crop_mask(crop_oval(face.landmarks, aligned.matrix), aligned.size)
        self._guarded[face.track_id] = GuardReading(face.track_id, round(structure_psnr(reconstruction, aligned.crop, mask.alpha), 2))

    def _infer(self, job: _Job) -> _Job:
        positions = [i for i, a in enumerate(job.aligned) if a is not None]
        if not positions or not self.controls.enabled:
            return job
        target, strength = self.controls.target, self.controls.strength
        faces = [job.faces[i] for i in positions]
        batch = crop_to_tensor([job.aligned[i].crop for i in positions])  # type: ignore[union-attr]
        sources = self._sources(faces, batch, target)
        todo = [k for k, s in enumerate(sources) if s != target]
        for k, i in enumerate(positions):
            job.records[i].source, job.records[i].target = int(sources[k]), target
            job.records[i].status = "edited" if k in todo else "already_target"
        guard = self._to_guard(faces)
        if todo or guard:
            # The guard's α = 0 reconstructions ride in the same batch as the edits: one call.
            rows = todo + guard
            targets = np.array([target] * len(todo) + [int(sources[k]) for k in guard], np.int64)
            strengths = np.array([strength] * len(todo) + [0.0] * len(guard), np.float32)
            t0 = time.perf_counter()
            masks = np.stack([job.masks[positions[k]] for k in rows]) if self.backend.info.uses_masks else None
            if self.style_codes is None:
                edited = self.backend.infer(batch[rows], sources[rows], targets, strengths, masks)
            else:
                edited = self._generate_reusing([faces[k] for k in rows], batch[rows], sources[rows], targets, strengths, masks, len(todo))
            out = tensor_to_crops(edited)
            self.timings.add("infer", 1000 * (time.perf_counter() - t0))
            for k, crop in zip(todo, out):
                job.edited[positions[k]] = crop
            for k, crop in zip(guard, out[len(todo) :]):
                self._read_guard(faces[k], job.aligned[positions[k]], crop)  # type: ignore[arg-type]
        return job

    def _generate_reusing(
        self, faces: list[Face], images: np.ndarray, sources: np.ndarray, targets: np.ndarray, strengths: np.ndarray, masks: np.ndarray | None, edits: int
    ) -> np.ndarray:
        """The edits (first `edits` rows, codes kept per track) and guard reconstructions (always fresh codes), generated in one call."""
        codes, backend = self.style_codes, cast(StagedBackend, self.backend)  # checked in __init__
        assert codes is not None
        ids = [face.track_id for face in faces]
        due = [r for r in range(len(ids)) if r >= edits or codes.due(ids[r], int(sources[r]), int(targets[r]), faces[r].fresh)]
        fresh: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if due:
            t0 = time.perf_counter()
            style, delta = backend.style_code(images[due], sources[due], targets[due])
            self.timings.add("style", 1000 * (time.perf_counter() - t0))
            for j, r in enumerate(due):
                fresh[r] = style[j], delta[j]
                if r < edits:
                    codes.store(ids[r], int(sources[r]), int(targets[r]), style[j], delta[j])
        used = [codes.use(ids[r]) if r < edits else fresh[r] for r in range(len(ids))]
        codes.keep_only(set(ids[:edits]))
        return backend.generate(images, np.stack([u[0] for u in used]), np.stack([u[1] for u in used]), strengths, masks)

    def _output(self, job: _Job, sink: Sink, result: RunResult, fps_clock: deque[float], fader: Fader, last: dict[int, _LastEdit]) -> None:
        t0 = time.perf_counter()
        image = job.frame.image
        edited_ids = {job.faces[i].track_id: i for i in job.edited}
        weights = fader.update(set(edited_ids), job.frame.timestamp)
        for track_id in set(last) - set(weights):  # faded out completely, or the edit was switched off
            del last[track_id]
            self.oval_masks.forget(track_id)
        if weights or self.options.hud:
            image = image.copy()
        for track_id, weight in weights.items():
            i = edited_ids.get(track_id)
            if i is not None:
                aligned = job.aligned[i]
                mask = self.oval_masks.get(track_id, job.faces[i].landmarks, aligned.matrix, aligned.size)  # type: ignore[union-attr]
                crop = job.edited[i]
                if self.options.colour_match:
                    crop = match_colour(crop, aligned.crop, mask.alpha)  # type: ignore[union-attr]
                last[track_id] = _LastEdit(crop, aligned.matrix, mask)  # type: ignore[union-attr]
                job.records[i].region = paste_face(image, crop, aligned.matrix, mask, weight)  # type: ignore[union-attr]
                job.records[i].weight = weight
            elif track_id in last:  # lost: its last edit fades out where it was
                gone = last[track_id]
                paste_face(image, gone.crop, gone.matrix, gone.mask, weight)
        t1 = time.perf_counter()
        if weights:
            self.timings.add("paste", 1000 * (t1 - t0))
        if self.options.hud:
            self._draw_hud(image, fps_clock)
        sink.write(image, job.frame.index)
        done = time.perf_counter()
        self.timings.add("sink", 1000 * (done - t1))
        self.timings.latency.append(1000 * (done - job.captured))
        fps_clock.append(done)
        result.frames_out += 1
        result.faces_beyond_limit = max(result.faces_beyond_limit, job.beyond_limit)
        for record in job.records:
            result.faces_edited += record.status == "edited"
            result.faces_too_small += record.status == "too_small"
            result.faces_already_target += record.status == "already_target"
        if self.options.record:
            result.records.append(job.records)
        self.controls.handle_key(sink.poll_key())

    def _draw_hud(self, image: np.ndarray, fps_clock: deque[float]) -> None:
        recent = list(fps_clock)
        fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0
        latency = self.timings.latency[-1] if self.timings.latency else 0.0
        info = self.backend.info
        lines = [
            f"{fps:5.1f} FPS  latency {latency:5.1f} ms",
            f"{info.attribute or 'attribute'} -> {info.domains[self.controls.target]}  strength {self.controls.strength:+.1f}  edit {'on' if self.controls.enabled else 'off'}",
            f"{self.backend.name} {self.backend.device} {self.backend.precision}",
        ]
        poor = [r.psnr_db for r in list(self._guarded.values()) if not r.represented]
        if poor:
            lines.append(f"model does not represent this face ({min(poor):.0f} dB): not a real edit")
        draw_hud(image, lines)

    # -- threads ----------------------------------------------------------------------------------
    def run(self, source: Source, sink: Sink, max_frames: int | None = None) -> RunResult:
        """Process `source` into `sink` until the source ends, `q` is pressed, or Ctrl-C."""
        opts = self.options
        lossless = (not source.live) if opts.lossless is None else opts.lossless
        result = RunResult(backend=describe(self.backend), source_domain=self.source_rule)
        refine = needs_iris(self.backend.info.attribute or "") if opts.refine_iris is None else opts.refine_iris
        tracker = FaceTracker(max_faces=opts.max_faces, redetect_every=opts.redetect_every, refine_iris=refine, still=opts.stills, smoothing=opts.smoothing)
        fader = Fader(0.0 if opts.stills else opts.fade_seconds)
        last: dict[int, _LastEdit] = {}
        # Live: one slot per queue, so a stage always takes the newest frame and no frame waits behind a stale one.
        size = max(1, opts.queue_size if opts.queue_size is not None else (2 if lossless else 1))
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
                put(q_track, _Job(frame, frame.captured if frame.captured is not None else t1))
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
        start, cpu_start = time.perf_counter(), time.process_time()
        fps_clock: deque[float] = deque(maxlen=HUD_FPS_FRAMES)  # bounded: a live run goes on for hours
        failed = False
        try:
            for thread in threads:
                thread.start()
            while True:
                job = get(q_out)
                if job is _END:
                    break
                self._output(job, sink, result, fps_clock, fader, last)
        except KeyboardInterrupt:
            result.interrupted = True
        except BaseException:
            failed = True
            raise
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=5.0)
            try:
                if failed or (errors and not isinstance(errors[0], KeyboardInterrupt)):
                    sink.abort()  # a failed run never replaces an earlier output
                else:
                    sink.close()
            finally:
                source.close()
                tracker.close()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        if errors and not isinstance(errors[0], KeyboardInterrupt):
            raise errors[0]
        result.frames_dropped = dropped[0] + getattr(source, "frames_skipped", 0)
        result.stopped_early = source.stopped_early
        result.source = source_report(source)
        result.skipped_inputs = list(getattr(source, "failures", ()))
        result.guard = sorted(self._guarded.values(), key=lambda r: r.track_id)
        result.summary = self.timings.summary(result.frames_out, wall, cpu)
        result.summary["frames_dropped"] = result.frames_dropped
        result.summary["source"] = result.source.as_dict()
        result.summary["mask_cache_hits"] = round(self.oval_masks.hits / max(1, self.oval_masks.hits + self.oval_masks.draws), 3)
        return result
