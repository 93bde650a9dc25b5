"""`l2m-edge demo`: the shipped demo checkpoint on two generated clips, offline, honestly labelled.

1. **SynthFaces actor** (`clip.actor_frame`): a face of the kind the demo model was trained on,
   moving and turning in a 640×480 frame. Here the edit is real, and the shipped attribute
   classifier measures it: the share of frames read as the source domain before and as the
   target domain after, over the whole clip.
2. **Astronaut** (`clip.astronaut_frame`, a real photo): the whole runtime runs, and the
   reconstruction guard reports that this SynthFaces model does not represent a real face and
   what to do about it, instead of passing a smudge off as an edit.

Writes both clips and their edits, one side-by-side PNG (labelled rows of both), and the
latency summaries, to one folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from l2m_edge.checks import require_number
from l2m_edge.errors import CheckpointError, OutputError
from l2m_edge.io import atomic_path, check_output_dir, output_lock, write_text_atomic

from .align import align_face, crop_to_tensor
from .backends import Backend, describe, load_backend
from .clip import clip_frame, read_video, write_clip
from .defaults import AUTO_SOURCE, DEFAULT_BACKEND, DEMO_SECONDS
from .domains import DomainGuesser, domain_guesser
from .guard import GuardReading, guard_warning
from .pipeline import EditOptions, Pipeline, RunResult
from .sinks import VideoSink
from .sources import VideoCaptureSource
from .timing import format_summary
from .tracking import FaceTracker

DEMO_ASSET = "demo.safetensors"
PREFERRED_TARGET = "smile"
DEMO_CLIPS = {"actor": "SynthFaces actor", "astronaut": "real photo (astronaut)"}


def shipped_demo_checkpoint() -> Path:
    """l2m_edge/assets/demo.safetensors, located through the installed package."""
    path = resources.files("l2m_edge.assets") / DEMO_ASSET
    if not path.is_file():
        raise CheckpointError(f"the shipped demo checkpoint ({DEMO_ASSET}) is missing from this install of l2m_edge.assets; reinstall l2m-edge or pass --model CKPT")
    return Path(str(path))


@dataclass
class ClipReport:
    """What the demo did to one clip."""

    kind: str  # a key of DEMO_CLIPS
    input_video: Path
    edited_video: Path
    target: str
    decision: str  # what it edited towards, and why
    run: RunResult
    classifier: dict[str, Any] | None = None  # before/after accuracy over the clip
    guard: list[GuardReading] = field(default_factory=list)

    @property
    def headline(self) -> str:
        """One line for the PNG and the console: the classifier's verdict or the guard's."""
        warning = guard_warning(self.guard)
        if warning:
            worst = min(r.psnr_db for r in self.guard)
            return f"{DEMO_CLIPS[self.kind]}: NOT represented by this model (strength-0 structure PSNR {worst:.1f} dB) - no real edit"
        if self.classifier:
            c = self.classifier
            return f"{DEMO_CLIPS[self.kind]}: -> {self.target}; classifier: {c['before_pct']:.0f}% read as {c['source']} before, {c['after_pct']:.0f}% as {c['target']} after"
        return f"{DEMO_CLIPS[self.kind]}: edited towards {self.target}"


@dataclass
class DemoResult:
    out_dir: Path
    clips: list[ClipReport]
    side_by_side: Path
    summary_json: Path
    summary_text: str
    backend: str


def _probe_source_domain(backend: Backend, guesser: DomainGuesser, frame_at: Callable[[float], np.ndarray], seconds: float) -> np.ndarray:
    """Mean classifier probabilities of the clip's face over frames every half second."""
    tracker = FaceTracker(still=True)
    probs = []
    try:
        for t in np.arange(0.0, seconds, 0.5):
            frame = frame_at(float(t))
            for face in tracker.update(frame, float(t)):
                crop = align_face(frame, face.landmarks, backend.info.img_size).crop
                probs.append(guesser.probabilities(crop_to_tensor([crop]))[0])
    finally:
        tracker.close()
    return np.mean(probs, axis=0) if probs else np.zeros(len(backend.info.domains))


def choose_target(backend: Backend, guesser: DomainGuesser | None, frame_at: Callable[[float], np.ndarray], seconds: float) -> tuple[str, str]:
    """(target domain, sentence saying why): towards "smile" unless the face already reads as smiling."""
    domains = backend.info.domains
    preferred = PREFERRED_TARGET if PREFERRED_TARGET in domains else domains[-1]
    if guesser is None:
        return preferred, f"edited towards {preferred!r} (no shipped attribute classifier knows these domains, so the face's current state was not checked)"
    probs = _probe_source_domain(backend, guesser, frame_at, seconds)
    if not probs.any():
        return preferred, f"edited towards {preferred!r} (no face found while probing the clip)"
    current = domains[int(np.argmax(probs))]
    reading = ", ".join(f"{d} {p:.2f}" for d, p in zip(domains, probs))
    if current == preferred:
        other = next(d for d in domains if d != preferred)
        return other, f"the face already reads as {preferred!r} to the classifier ({reading}), so it was edited towards {other!r}"
    return preferred, f"the face reads as {current!r} to the classifier ({reading}), so it was edited towards {preferred!r}"


def classifier_accuracy(report: ClipReport, backend: Backend, guesser: DomainGuesser) -> dict[str, Any]:
    """The classifier's reading of every edited face, input vs output video, aligned with the tracker's landmarks."""
    domains = backend.info.domains
    size = backend.info.img_size
    before_crops, after_crops, sources = [], [], []
    for original, edited, records in zip(read_video(report.input_video)[0], read_video(report.edited_video)[0], report.run.records):
        for record in records:
            if record.status == "edited" and record.landmarks is not None and record.source is not None:
                before_crops.append(align_face(original, record.landmarks, size).crop)
                after_crops.append(align_face(edited, record.landmarks, size).crop)
                sources.append(record.source)
    if not sources:
        return {"faces": 0}
    target = domains.index(report.target)
    before = np.argmax(np.concatenate([guesser.probabilities(crop_to_tensor(before_crops[i : i + 64])) for i in range(0, len(before_crops), 64)]), 1)
    after = np.argmax(np.concatenate([guesser.probabilities(crop_to_tensor(after_crops[i : i + 64])) for i in range(0, len(after_crops), 64)]), 1)
    source = int(np.bincount(sources).argmax())
    return {
        "faces": len(sources),
        "source": domains[source],
        "target": report.target,
        "before_pct": round(100.0 * float(np.mean(before == source)), 1),
        "after_pct": round(100.0 * float(np.mean(after == target)), 1),
    }


def side_by_side(reports: list[ClipReport], out: Path, rows_per_clip: int = 2) -> Path:
    """A PNG of labelled rows, `rows_per_clip` frames of each clip: original | edited, with each clip's verdict."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    rows = []
    for report in reports:
        original, edited = read_video(report.input_video)[0], read_video(report.edited_video)[0]
        count = min(len(original), len(edited))
        for k in range(rows_per_clip):
            index = int(count * (k + 0.5) / rows_per_clip)
            pair = np.concatenate([original[index], edited[index]], axis=1)
            band = np.full((36, pair.shape[1], 3), 30, np.uint8)
            cv2.putText(band, report.headline, (10, 25), font, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
            for x, text in ((10, "original"), (pair.shape[1] // 2 + 10, "edited")):
                cv2.putText(pair, text, (x, 28), font, 0.8, (255, 255, 255), 2, cv2.LINE_AA)
            rows += [band, pair]
    with atomic_path(out) as tmp:
        if not cv2.imwrite(str(tmp), np.concatenate(rows, axis=0)):
            raise OutputError(f"{out}: cannot write the PNG (disk full?)")
    return out


def _run_clip(kind: str, engine: Backend, guesser: DomainGuesser | None, out: Path, seconds: float, fps: float, size: tuple[int, int], strength: float) -> ClipReport:
    target, decision = choose_target(engine, guesser, lambda t: clip_frame(t, size, kind), seconds)
    clip = write_clip(out / f"{kind}_input.mp4", seconds, fps, size, kind)
    edited = out / f"{kind}_edited.mp4"
    options = EditOptions(target=target, strength=strength, source=AUTO_SOURCE, record=True)
    result = Pipeline(engine, options, domain_guesser=guesser).run(VideoCaptureSource(clip), VideoSink(edited, fps))
    report = ClipReport(kind, clip, edited, target, decision, result, guard=result.guard)
    if guesser is not None:
        report.classifier = classifier_accuracy(report, engine, guesser)
    return report


def run_demo(
    out_dir: str | os.PathLike = "demo_out",
    model: str | os.PathLike | None = None,
    backend: str = DEFAULT_BACKEND,
    seconds: float = DEMO_SECONDS,
    fps: float = 25.0,
    size: tuple[int, int] = (640, 480),
    strength: float = 1.0,
    threads: int = 0,
) -> DemoResult:
    """Make both clips, edit them with the fastest backend here, and write videos, PNG and summary."""
    require_number("seconds", seconds, above=0)
    out = check_output_dir(out_dir)
    with output_lock(out, inside=True):
        return _run_demo(out, model, backend, seconds, fps, size, strength, threads)


def _run_demo(
    out: Path, model: str | os.PathLike | None, backend: str, seconds: float, fps: float, size: tuple[int, int], strength: float, threads: int
) -> DemoResult:
    engine = load_backend(model or shipped_demo_checkpoint(), backend=backend, threads=threads)
    guesser = domain_guesser(engine)
    reports = [_run_clip(kind, engine, guesser, out, seconds, fps, size, strength) for kind in DEMO_CLIPS]
    png = side_by_side(reports, out / "side_by_side.png")
    summary: dict[str, Any] = {"backend": describe(engine), "clips": {}}
    lines = [f"backend: {describe(engine)}"]
    for r in reports:
        summary["clips"][r.kind] = {
            **r.run.summary,
            "input": r.input_video.name, "edited": r.edited_video.name, "target": r.target, "decision": r.decision,
            "source_domain": r.run.source_domain, "faces_edited": r.run.faces_edited, "faces_too_small": r.run.faces_too_small,
            "faces_already_target": r.run.faces_already_target, "classifier": r.classifier,
            "guard_psnr_db": {str(g.track_id): g.psnr_db for g in r.guard}, "warnings": r.run.warnings, "headline": r.headline,
        }
        lines += [f"\n== {DEMO_CLIPS[r.kind]} ==", r.headline, r.decision, *(f"warning: {w}" for w in r.run.warnings), format_summary(r.run.summary)]
    summary["note"] = "file mode: every frame processed in order (throughput); latency includes queueing. `l2m-edge run --source clip.mp4 --realtime` measures live latency."
    summary_json = write_text_atomic(out / "latency.json", json.dumps(summary, indent=2) + "\n")
    text = "\n".join(lines) + "\n"
    write_text_atomic(out / "latency.txt", text)
    engine.close()
    return DemoResult(out, reports, png, summary_json, text, describe(engine))
