"""The live pipeline's stages as objects: track (+ align, masks) → infer → composite, one frame's `Job` at a time.

A stage keeps no thread and no queue: whoever drives it owns those (`Pipeline.run` runs each
stage in its own thread with drop-oldest queues; the studio runs a client's frame through all
three in one worker call; a test calls them in a loop). `Controls` are read once per frame, so
a change made from outside (a key, a slider) acts on the next frame.

Everything that belongs to one stream lives in an `EditStream`: the tracker, the per-track
classifier readings, guard readings, style codes, fades and masks. The backend (and the
classifier's weights) are shared: several streams, the studio's clients, run on one loaded model.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from l2m_edge.checks import require_number
from l2m_edge.errors import ConfigError
from l2m_edge.masks import masks_from_mediapipe

from .align import AlignedFace, align_face, crop_to_tensor, landmarks_in_crop, tensor_to_crops
from .backends import Backend, ModelInfo, StagedBackend, describe
from .composite import Composited, Compositor, EditedFace, Pasted, crop_oval, draw_crop_mask
from .defaults import AUTO_SOURCE, DEFAULT_MAX_FACES, DEFAULT_STRENGTH, DEFAULT_STYLE_EVERY
from .domains import DomainGuesser
from .fades import FADE_SECONDS
from .guard import GuardReading, structure_psnr
from .sources import Frame
from .style_reuse import StyleCodes
from .timing import Timings
from .tracking import Face, FaceTracker, needs_iris

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
    """What can change while running, read once per frame: target domain, strength, edit on/off, which faces, quit."""

    def __init__(self, target: int, strength: float, num_domains: int) -> None:
        self.target = target
        self.strength = strength
        self.enabled = True
        self.largest_only = False  # edit only the largest face of each frame
        self.num_domains = num_domains
        self.quit = threading.Event()

    def handle_key(self, key: int | None) -> None:
        """The window's keys: n next attribute, +/- strength, e edit on/off, q or Esc quit."""
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
    status: str  # edited | too_small | not_chosen (largest only) | already_target | edit_off
    region: Pasted | None = None
    landmarks: np.ndarray | None = None  # the tracker's landmarks in frame pixels (masks, framing)
    weight: float = 1.0  # the fade weight the edit was pasted with


@dataclass
class Job:
    """One frame on its way through the stages, and what each stage found."""

    frame: Frame
    captured: float  # perf_counter when the frame existed (glass-to-glass latency starts here)
    faces: list[Face] = field(default_factory=list)
    aligned: list[AlignedFace | None] = field(default_factory=list)
    masks: dict[int, np.ndarray] = field(default_factory=dict)  # face position → [2, S, S] (high-pass models)
    records: list[FaceRecord] = field(default_factory=list)
    edited: dict[int, np.ndarray] = field(default_factory=dict)  # face position → edited crop
    beyond_limit: int = 0


class TrackStage:
    """Finds and follows the faces, aligns each into the model's crop (and its masks, for a high-pass model)."""

    def __init__(self, info: ModelInfo, options: EditOptions, controls: Controls, timings: Timings, tracker: FaceTracker) -> None:
        self.info, self.options, self.controls, self.timings, self.tracker = info, options, controls, timings, tracker

    def __call__(self, job: Job) -> Job:
        t0 = time.perf_counter()
        job.faces = self.tracker.update(job.frame.image, job.frame.timestamp)
        job.beyond_limit = self.tracker.faces_beyond_limit
        t1 = time.perf_counter()
        self.timings.add("track", 1000 * (t1 - t0))
        info = self.info
        largest = max(range(len(job.faces)), key=lambda i: _width(job.faces[i]), default=None) if self.controls.largest_only else None
        for i, face in enumerate(job.faces):
            too_small = _width(face) < self.options.min_face_px
            chosen = largest is None or i == largest
            job.aligned.append(align_face(job.frame.image, face.landmarks, info.img_size, info.framing) if chosen and not too_small else None)
            status = "too_small" if too_small else "edit_off" if chosen else "not_chosen"
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


def _width(face: Face) -> float:
    return face.box[2] - face.box[0]


class InferStage:
    """Decides each face's source domain and runs the edits (and the guard's α = 0 readings) as one batch on the shared backend."""

    def __init__(
        self, backend: Backend, controls: Controls, timings: Timings, fixed_source: int | None, guesser: DomainGuesser | None, guard: bool, style_codes: StyleCodes | None
    ) -> None:
        self.backend, self.controls, self.timings = backend, controls, timings
        self.fixed_source, self.guesser, self.guard, self.style_codes = fixed_source, guesser, guard, style_codes
        self.guarded: dict[int, GuardReading] = {}  # track → its reconstruction-guard reading

    def _sources(self, faces: list[Face], batch: np.ndarray, target: int) -> np.ndarray:
        if self.fixed_source is not None:
            return np.full(len(faces), self.fixed_source, dtype=np.int64)
        if self.guesser is not None:
            t0 = time.perf_counter()
            calls = self.guesser.calls
            sources = self.guesser([f.track_id for f in faces], batch, [f.fresh for f in faces])
            if self.guesser.calls > calls:
                self.timings.add("classify", 1000 * (time.perf_counter() - t0))
            return sources
        return np.full(len(faces), 1 - target, dtype=np.int64)

    def _to_guard(self, faces: list[Face]) -> list[int]:
        """Positions (in `faces`) of tracks the reconstruction guard has not read yet (or must read anew)."""
        if not self.guard:
            return []
        return [k for k, f in enumerate(faces) if f.fresh or f.track_id not in self.guarded]

    def _read_guard(self, face: Face, aligned: AlignedFace, reconstruction: np.ndarray) -> None:
        mask = draw_crop_mask(crop_oval(face.landmarks, aligned.matrix), aligned.size)
        self.guarded[face.track_id] = GuardReading(face.track_id, round(structure_psnr(reconstruction, aligned.crop, mask.alpha), 2))

    def __call__(self, job: Job) -> Job:
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
        codes, backend = self.style_codes, cast(StagedBackend, self.backend)  # checked by EditModel
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


class EditModel:
    """The shared part: one loaded backend (and classifier), the options, and how each face's source domain is decided."""

    def __init__(self, backend: Backend, options: EditOptions, domain_guesser: DomainGuesser | None = None) -> None:
        self.backend = backend
        self.options = options
        info = backend.info
        self.fixed_source: int | None = None
        self.guesser = domain_guesser
        if options.source != AUTO_SOURCE:
            self.fixed_source = info.domain_index(options.source)
            self.source_rule = f"given: {info.domains[self.fixed_source]}"
        elif domain_guesser is not None:
            self.source_rule = "auto: attribute classifier, smoothed per track"
        elif len(info.domains) == 2:
            self.source_rule = "auto without a classifier for these domains: every face assumed in the other domain than the target"
        else:
            raise ConfigError(f"--from auto needs the attribute classifier for a {len(info.domains)}-domain model; pass --from NAME")
        if options.style_every > 1 and not isinstance(backend, StagedBackend):
            raise ConfigError(
                f"--style-every {options.style_every} needs the editor as two graphs and {describe(backend)} runs one: "
                "export with --split-style, pass a .safetensors checkpoint, or use --style-every 1"
            )

    def controls(self) -> Controls:
        """Fresh controls at the options' target and strength."""
        info = self.backend.info
        return Controls(info.domain_index(self.options.target), self.options.strength, len(info.domains))

    def stream(self, controls: Controls, share_guesser: bool = True) -> EditStream:
        """A new stream's own state on this model. With `share_guesser` it reads domains with the guesser this model was
        given (one stream at a time: `run`, whose callers read the guesser afterwards); else with its own readings."""
        guesser = self.guesser
        if guesser is not None and not share_guesser:
            guesser = guesser.for_another_stream()
        return EditStream(self, controls, guesser)


class EditStream:
    """One stream's state and stages (tracker, classifier readings, guard readings, style codes, fades, masks) on a shared `EditModel`."""

    def __init__(self, model: EditModel, controls: Controls, guesser: DomainGuesser | None) -> None:
        opts, backend = model.options, model.backend
        self.controls = controls
        self.timings = Timings()
        refine = needs_iris(backend.info.attribute or "") if opts.refine_iris is None else opts.refine_iris
        self.tracker = FaceTracker(max_faces=opts.max_faces, redetect_every=opts.redetect_every, refine_iris=refine, still=opts.stills, smoothing=opts.smoothing)
        self.style_codes = StyleCodes(opts.style_every) if opts.style_every > 1 else None
        self.track = TrackStage(backend.info, opts, controls, self.timings, self.tracker)
        self.infer = InferStage(backend, controls, self.timings, model.fixed_source, guesser, opts.guard, self.style_codes)
        self.compositor = Compositor(0.0 if opts.stills else opts.fade_seconds, opts.colour_match)

    def composite(self, job: Job) -> Composited:
        """The composite stage: `job`'s edited crops pasted into its frame (fades, masks, colour; timed as `paste`), regions and weights recorded on its faces."""
        t0 = time.perf_counter()
        faces = [
            EditedFace(job.faces[i].track_id, crop, job.aligned[i].crop, job.aligned[i].matrix, job.faces[i].landmarks)  # type: ignore[union-attr]
            for i, crop in job.edited.items()
        ]
        done = self.compositor(job.frame.image, job.frame.timestamp, faces)
        for i in job.edited:
            record = job.records[i]
            record.region, record.weight = done.regions[record.track_id], done.weights[record.track_id]
        if done.weights:
            self.timings.add("paste", 1000 * (time.perf_counter() - t0))
        return done

    def edit(self, frame: Frame, captured: float | None = None) -> tuple[Composited, Job]:
        """All three stages on one frame, in the calling thread (the studio's per-client worker, tests)."""
        job = self.infer(self.track(Job(frame, time.perf_counter() if captured is None else captured)))
        return self.composite(job), job

    def close(self) -> None:
        self.tracker.close()


__all__ = ["Controls", "EditModel", "EditOptions", "EditStream", "FaceRecord", "InferStage", "Job", "TrackStage"]
