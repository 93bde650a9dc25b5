"""`l2m-edge demo`: a real face in a generated clip, edited by the shipped demo checkpoint, offline.

Writes the input clip, the edited video, a side-by-side PNG (original | edited) and a latency
summary to one folder. The demo checkpoint was trained on SynthFaces (procedural faces), so on a
real photo it shows the whole runtime working, not CelebA-quality edits.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from l2m_edge.checks import require_number
from l2m_edge.errors import CheckpointError, OutputError
from l2m_edge.io import atomic_path, check_output_dir, output_lock, write_text_atomic

from .align import align_face, crop_to_tensor
from .backends import Backend, describe, load_backend
from .clip import clip_frame, write_clip
from .domains import DomainGuesser, shipped_guesser
from .pipeline import EditOptions, Pipeline, RunResult
from .sinks import VideoSink
from .sources import VideoCaptureSource
from .timing import format_summary
from .tracking import FaceTracker

DEMO_ASSET = "demo.safetensors"
PREFERRED_TARGET = "smile"


def shipped_demo_checkpoint() -> Path:
    """l2m_edge/assets/demo.safetensors, located through the installed package."""
    path = resources.files("l2m_edge.assets") / DEMO_ASSET
    if not path.is_file():
        raise CheckpointError(f"the shipped demo checkpoint ({DEMO_ASSET}) is missing from this install of l2m_edge.assets; reinstall l2m-edge or pass --model CKPT")
    return Path(str(path))


@dataclass
class DemoResult:
    out_dir: Path
    input_video: Path
    edited_video: Path
    side_by_side: Path
    summary_json: Path
    summary_text: str
    target: str
    decision: str  # what it edited towards, and why
    backend: str
    run: RunResult


def _probe_source_domain(backend: Backend, guesser: DomainGuesser, fps: float, size: tuple[int, int]) -> np.ndarray:
    """Mean classifier probabilities of the clip's face over a few frames spread through it."""
    tracker = FaceTracker()
    probs = []
    try:
        for i in range(0, int(fps * 4), int(fps // 2) or 1):
            frame = clip_frame(i / fps, size)
            for face in tracker.update(frame, i / fps):
                crop = align_face(frame, face.landmarks, backend.info.img_size).crop
                probs.append(guesser.probabilities(crop_to_tensor([crop]))[0])
    finally:
        tracker.close()
    return np.mean(probs, axis=0) if probs else np.zeros(len(backend.info.domains))


def choose_target(backend: Backend, guesser: DomainGuesser | None, fps: float, size: tuple[int, int]) -> tuple[str, str]:
    """(target domain, sentence saying why): towards "smile" unless the face already reads as smiling."""
    domains = backend.info.domains
    preferred = PREFERRED_TARGET if PREFERRED_TARGET in domains else domains[-1]
    if guesser is None:
        return preferred, f"edited towards {preferred!r} (no shipped attribute classifier knows these domains, so the face's current state was not checked)"
    probs = _probe_source_domain(backend, guesser, fps, size)
    if not probs.any():
        return preferred, f"edited towards {preferred!r} (no face found while probing the clip)"
    current = domains[int(np.argmax(probs))]
    reading = ", ".join(f"{d} {p:.2f}" for d, p in zip(domains, probs))
    if current == preferred:
        other = next(d for d in domains if d != preferred)
        return other, f"the face already reads as {preferred!r} to the classifier ({reading}), so it was edited towards {other!r}"
    return preferred, f"the face reads as {current!r} to the classifier ({reading}), so it was edited towards {preferred!r}"


def side_by_side(original: Path, edited: Path, out: Path, rows: int = 3) -> Path:
    """A PNG with `rows` frames spread through the clip: original | edited, each with a face close-up."""
    caps = [cv2.VideoCapture(str(original)), cv2.VideoCapture(str(edited))]
    count = int(min(c.get(cv2.CAP_PROP_FRAME_COUNT) for c in caps))
    picks = [int(count * (k + 0.5) / rows) for k in range(rows)]
    tiles = []
    for index in picks:
        pair = []
        for cap in caps:
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = cap.read()
            pair.append(frame if ok else np.zeros((480, 640, 3), np.uint8))
        tiles.append(np.concatenate(pair, axis=1))
    for cap in caps:
        cap.release()
    grid = np.concatenate(tiles, axis=0)
    cv2.putText(grid, "original", (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2, cv2.LINE_AA)
    cv2.putText(grid, "edited", (grid.shape[1] // 2 + 10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2, cv2.LINE_AA)
    with atomic_path(out) as tmp:
        if not cv2.imwrite(str(tmp), grid):
            raise OutputError(f"{out}: cannot write the PNG (disk full?)")
    return out


def run_demo(
    out_dir: str | os.PathLike = "demo_out",
    model: str | os.PathLike | None = None,
    backend: str = "auto",
    seconds: float = 4.0,
    fps: float = 25.0,
    size: tuple[int, int] = (640, 480),
    strength: float = 1.0,
    threads: int = 0,
) -> DemoResult:
    """Make the clip, edit it with the fastest backend here, and write video, PNG and summary."""
    require_number("seconds", seconds, above=0)
    out = check_output_dir(out_dir)
    with output_lock(out, inside=True):
        return _run_demo(out, model, backend, seconds, fps, size, strength, threads)


def _run_demo(
    out: Path, model: str | os.PathLike | None, backend: str, seconds: float, fps: float, size: tuple[int, int], strength: float, threads: int
) -> DemoResult:
    engine = load_backend(model or shipped_demo_checkpoint(), backend=backend, threads=threads)
    guesser = shipped_guesser(engine.info)
    target, decision = choose_target(engine, guesser, fps, size)
    clip = write_clip(out / "input.mp4", seconds, fps, size)
    edited = out / "edited.mp4"
    options = EditOptions(target=target, strength=strength, source="auto")
    pipeline = Pipeline(engine, options, domain_guesser=guesser)
    result = pipeline.run(VideoCaptureSource(clip), VideoSink(edited, fps))
    png = side_by_side(clip, edited, out / "side_by_side.png")
    summary = dict(result.summary)
    summary.update(
        backend=describe(engine), target=target, decision=decision, source_domain=result.source_domain,
        faces_edited=result.faces_edited, faces_too_small=result.faces_too_small, faces_already_target=result.faces_already_target,
        note="file mode: every frame processed in order (throughput); latency includes queueing. `l2m-edge run --source pattern` measures live latency.",
    )
    summary_json = write_text_atomic(out / "latency.json", json.dumps(summary, indent=2) + "\n")
    text = f"backend: {describe(engine)}\n{decision}\n{format_summary(result.summary)}\n"
    write_text_atomic(out / "latency.txt", text)
    engine.close()
    return DemoResult(out, clip, edited, png, summary_json, text, target, decision, describe(engine), result)
