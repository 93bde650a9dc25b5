"""What each latency lever of the live runtime gave, measured as ratios in one run (not a test).

Every comparison runs its contenders interleaved, call by call, on the same frames, so the load
of a shared machine falls on all of them alike. Each figure is wall ms and process CPU ms per call
(MediaPipe and OpenVINO run their own threads; process CPU time counts them).

Sections:
  detect   — faces found and ms: BlazeFace full-range model vs short-range on frame + tiles
  mesh     — FaceMesh per face: static mode + iris (before) vs video mode ± iris (after)
  paste    — paste-back: frame-space float Lab (before, from git BASELINE) vs crop-space uint8 with cached masks
  classify — classifier calls on a 100-frame clip: per frame (before) vs once per track
  threads  — OpenVINO inference threads inside the pipeline: runtime default vs 1
  queues   — glass-to-glass latency on a paced clip: 2 frames per stage queue (before) vs 1 (after)
  precision— bare model per preset: OpenVINO fp16→fp32 vs INT8 (the auto chooser's own trial)
  temporal — landmark jitter and edit flicker on the still clip, smoothing on vs off
Usage: python benchmarks/runtime_levers.py [--sections detect,mesh,…] [--json benchmarks/runtime_levers.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

BASELINE = "2be2330"  # main before issue 13: the runtime these levers are measured against
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def timed(fn, *args):  # noqa: ANN001, ANN201
    """(result, wall ms, process CPU ms) of one call."""
    w, c = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, 1000 * (time.perf_counter() - w), 1000 * (time.process_time() - c)


def stats(values: list[float]) -> dict[str, float]:
    v = np.asarray(values)
    return {"p50": round(float(np.percentile(v, 50)), 2), "p90": round(float(np.percentile(v, 90)), 2), "mean": round(float(v.mean()), 2)}


def baseline_module(name: str):  # noqa: ANN201
    """runtime/<name>.py as it was at BASELINE, importable on its own (relative imports pointed at today's package)."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{BASELINE}:runtime/{name}.py"], capture_output=True, text=True, check=True).stdout
    source = source.replace("from .", "from l2m_edge.runtime.")
    path = Path(tempfile.mkdtemp()) / f"baseline_{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"baseline_{name}", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]  # dataclasses look their module up there
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def section_detect() -> dict:
    """Faces the tracker ends up with on stills (detection, then each candidate verified by its own FaceMesh)."""
    from l2m_edge.runtime.tracking import FaceTracker
    from runtime_helpers import astronaut_bgr, four_people_bgr, two_people_bgr

    trackers = {kind: FaceTracker(max_faces=4, still=True, detector=kind) for kind in ("full-range", "tiles")}
    scenes = {"two people 1024x512": (two_people_bgr(), 2), "four people 2x2 1024x1024": (four_people_bgr(), 4)}
    for width in (110, 80, 60, 45, 35):  # one astronaut face of this width in a 640×480 frame
        photo = cv2.resize(astronaut_bgr(), None, fx=width / 104, fy=width / 104, interpolation=cv2.INTER_AREA)
        frame = np.full((480, 640, 3), 110, np.uint8)
        h, w = min(photo.shape[0], 480), min(photo.shape[1], 640)
        frame[(480 - h) // 2 : (480 - h) // 2 + h, (640 - w) // 2 : (640 - w) // 2 + w] = photo[:h, :w]
        scenes[f"one face {width} px in 640x480"] = (frame, 1)
    out = {}
    for name, (image, truth) in scenes.items():
        row: dict = {"faces": truth}
        for kind, tracker in trackers.items():
            walls, cpus, calls = [], [], tracker.detector.calls
            for _ in range(3):
                found, wall, cpu = timed(tracker.update, image, 0.0)
                walls.append(wall)
                cpus.append(cpu)
            row[kind] = {"found": len(found), "wall_ms": round(float(np.median(walls)), 1), "cpu_ms": round(float(np.median(cpus)), 1), "model_calls": (tracker.detector.calls - calls) // 3}
        out[name] = row
        print(f"detect {name}: {row}")
    for tracker in trackers.values():
        tracker.close()
    return out


def section_mesh(frames: list[np.ndarray]) -> dict:
    import mediapipe as mp

    from l2m_edge.runtime.tracking import FaceTracker

    tracker = FaceTracker()
    boxes = []
    for i, f in enumerate(frames):
        (face,) = tracker.update(f, i / 25)
        boxes.append(np.array(face.box))
    tracker.close()

    def roi(frame: np.ndarray, box: np.ndarray, side_px: int) -> np.ndarray:
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        scale = side_px / (1.8 * max(box[2] - box[0], box[3] - box[1]))
        m = np.array([[scale, 0, side_px / 2 - scale * cx], [0, scale, side_px / 2 - scale * cy]], np.float32)
        return cv2.cvtColor(cv2.warpAffine(frame, m, (side_px, side_px)), cv2.COLOR_BGR2RGB)

    variants = {
        "static+iris, 256 px (before)": (mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True), 256),
        "video+iris, 192 px": (mp.solutions.face_mesh.FaceMesh(static_image_mode=False, refine_landmarks=True), 192),
        "video, no iris, 192 px (after)": (mp.solutions.face_mesh.FaceMesh(static_image_mode=False, refine_landmarks=False), 192),
    }
    times: dict[str, tuple[list, list]] = {k: ([], []) for k in variants}
    for frame, box in zip(frames, boxes):
        for name, (mesh, side) in variants.items():
            _, wall, cpu = timed(lambda: mesh.process(roi(frame, box, side)))
            times[name][0].append(wall)
            times[name][1].append(cpu)
    out = {name: {"wall_ms": stats(w[10:]), "cpu_ms": stats(c[10:])} for name, (w, c) in times.items()}
    for name, row in out.items():
        print(f"mesh {name}: {row}")
    return out


def section_paste(frames: list[np.ndarray]) -> dict:
    from l2m_edge.runtime.align import align_face
    from l2m_edge.runtime.composite import MaskCache, match_colour, paste_face
    from l2m_edge.runtime.tracking import FaceTracker

    old = baseline_module("composite")
    tracker = FaceTracker()
    cache = MaskCache()
    times = {"frame-space float (before)": ([], []), "crop-space uint8, cached mask (after)": ([], []), "align": ([], [])}
    for i, frame in enumerate(frames):
        (face,) = tracker.update(frame, i / 25)
        aligned, wall, cpu = timed(align_face, frame, face.landmarks, 64)
        times["align"][0].append(wall)
        times["align"][1].append(cpu)
        edit = cv2.GaussianBlur(aligned.crop, (0, 0), 1.5)  # a stand-in edit: the paste does not care
        a = frame.copy()
        _, wall, cpu = timed(old.paste_face, a, edit, aligned.matrix, face.landmarks, True)
        times["frame-space float (before)"][0].append(wall)
        times["frame-space float (before)"][1].append(cpu)
        b = frame.copy()

        def new() -> None:
            mask = cache.get(0, face.landmarks, aligned.matrix, 64)
            paste_face(b, match_colour(edit, aligned.crop, mask.alpha), aligned.matrix, mask)

        _, wall, cpu = timed(new)
        times["crop-space uint8, cached mask (after)"][0].append(wall)
        times["crop-space uint8, cached mask (after)"][1].append(cpu)
    tracker.close()
    out = {name: {"wall_ms": stats(w[5:]), "cpu_ms": stats(c[5:])} for name, (w, c) in times.items()}
    out["mask_cache_hit_rate"] = round(cache.hits / max(1, cache.hits + cache.draws), 3)
    for name, row in out.items():
        print(f"paste {name}: {row}")
    return out


def section_classify() -> dict:
    from l2m_edge.runtime.backends import load_backend
    from l2m_edge.runtime.demo import shipped_demo_checkpoint
    from l2m_edge.runtime.domains import domain_guesser
    from l2m_edge.runtime.pipeline import EditOptions, Pipeline
    from l2m_edge.runtime.sinks import NullSink
    from l2m_edge.runtime.sources import PatternSource

    backend = load_backend(shipped_demo_checkpoint(), backend="torch", threads=1)
    guesser = domain_guesser(backend)
    crop = np.zeros((1, 3, 64, 64), np.float32)
    _, wall, cpu = timed(guesser.probabilities, crop)
    calls = [timed(guesser.probabilities, crop)[1:] for _ in range(20)]
    result = Pipeline(backend, EditOptions(target="smile"), domain_guesser=guesser).run(PatternSource(seconds=4.0), NullSink())
    out = {
        "frames": result.frames_out,
        "classifier_call_ms": {"wall": round(float(np.median([c[0] for c in calls])), 2), "cpu": round(float(np.median([c[1] for c in calls])), 2)},
        "calls_per_frame_before": result.frames_out,
        "calls_once_per_track_after": guesser.calls,
    }
    print(f"classify: {out}")
    return out


def section_threads(checkpoint: str, seconds: float) -> dict:
    from l2m_edge.runtime.backends import load_backend
    from l2m_edge.runtime.pipeline import EditOptions, Pipeline
    from l2m_edge.runtime.sinks import NullSink
    from l2m_edge.runtime.sources import PatternSource

    out: dict = {}
    backends = {threads: load_backend(checkpoint, backend="openvino", threads=threads) for threads in (0, 1)}
    for round_ in range(2):  # A B A B: the load of a shared machine falls on both
        for threads, backend in backends.items():
            result = Pipeline(backend, EditOptions(target=len(backend.info.domains) - 1, source="0")).run(PatternSource(seconds=seconds), NullSink())
            row = out.setdefault(f"threads={threads or 'default'}", {"infer_p50": [], "fps": [], "cpu_ms_per_frame": []})
            row["infer_p50"].append(result.summary["stages_ms"]["infer"]["p50"])
            row["fps"].append(result.summary["fps"])
            row["cpu_ms_per_frame"].append(result.summary["cpu_ms_per_frame"])
    print(f"threads: {out}")
    return out


def section_queues(checkpoint: str, seconds: float) -> dict:
    from l2m_edge.runtime.backends import load_backend
    from l2m_edge.runtime.clip import write_clip
    from l2m_edge.runtime.pipeline import EditOptions, Pipeline
    from l2m_edge.runtime.sinks import NullSink
    from l2m_edge.runtime.sources import VideoCaptureSource

    clip = write_clip(Path(tempfile.mkdtemp()) / "clip.avi", seconds=seconds, fps=25.0)
    backend = load_backend(checkpoint, backend="auto")
    out: dict = {"backend": f"{backend.name} {backend.precision}"}
    for _ in range(2):  # A B A B
        for size in (2, 1):
            options = EditOptions(target=len(backend.info.domains) - 1, source="0", queue_size=size)
            result = Pipeline(backend, options).run(VideoCaptureSource(clip, realtime=True), NullSink())
            row = out.setdefault(f"queue={size}", {"g2g_p50": [], "g2g_p90": [], "fps": [], "dropped": []})
            row["g2g_p50"].append(result.summary["latency_ms"]["p50"])
            row["g2g_p90"].append(result.summary["latency_ms"]["p90"])
            row["fps"].append(result.summary["fps"])
            row["dropped"].append(result.frames_dropped)
    print(f"queues: {out}")
    return out


def section_precision(presets: list[str]) -> dict:
    import torch

    from l2m_edge.checkpoint import save_checkpoint
    from l2m_edge.model import build_editor
    from l2m_edge.runtime.backends.export_cache import cached_export
    from l2m_edge.runtime.backends.precision import _time_candidates

    out = {}
    for preset in presets:
        torch.manual_seed(0)
        path = Path(tempfile.mkdtemp()) / f"{preset}.safetensors"
        save_checkpoint(build_editor(preset, ("no_smile", "smile"), attribute="smile"), path)
        artifacts = {}
        for precision in ("fp16", "int8"):
            try:
                artifacts[precision] = cached_export(path, "openvino", precision)
            except Exception as exc:  # noqa: BLE001 - a refused export is a result here
                out.setdefault(preset, {})[f"{precision}_refused"] = str(exc)[:200]
        out.setdefault(preset, {}).update(_time_candidates(artifacts, "CPU", 0))
        print(f"precision {preset}: {out[preset]}")
    return out


def section_temporal() -> dict:
    from l2m_edge.runtime.backends import load_backend
    from l2m_edge.runtime.demo import shipped_demo_checkpoint
    from l2m_edge.runtime.pipeline import EditOptions
    from l2m_edge.runtime.temporal import measure_still

    backend = load_backend(shipped_demo_checkpoint(), backend="torch", threads=1)
    out = {}
    for smoothing in (True, False):
        q = measure_still(backend, EditOptions(target="smile", source="no_smile", smoothing=smoothing, guard=False))
        out[f"smoothing={'on' if smoothing else 'off'}"] = q.as_dict()
        print(f"temporal smoothing={smoothing}: {q.as_dict()}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default="detect,mesh,paste,classify,threads,queues,precision,temporal")
    parser.add_argument("--presets", default="demo,realtime,mobile")
    parser.add_argument("--threads-model", default=None, help="checkpoint for the threads section (default: the shipped demo)")
    parser.add_argument("--json")
    args = parser.parse_args()
    from l2m_edge.bench.environment import cpu_description
    from l2m_edge.runtime.clip import clip_frame
    from l2m_edge.runtime.demo import shipped_demo_checkpoint

    frames = [clip_frame(i / 25) for i in range(60)]
    result: dict = {"cpu": cpu_description(), "load_average_before": os.getloadavg(), "baseline": BASELINE}
    print(result["cpu"], "load", result["load_average_before"])
    sections = args.sections.split(",")
    if "detect" in sections:
        result["detect"] = section_detect()
    if "mesh" in sections:
        result["mesh"] = section_mesh(frames)
    if "paste" in sections:
        result["paste"] = section_paste(frames)
    if "classify" in sections:
        result["classify"] = section_classify()
    if "threads" in sections:
        result["threads"] = section_threads(args.threads_model or str(shipped_demo_checkpoint()), 4.0)
    if "queues" in sections:
        result["queues"] = section_queues(args.threads_model or str(shipped_demo_checkpoint()), 8.0)
    if "precision" in sections:
        result["precision"] = section_precision(args.presets.split(","))
    if "temporal" in sections:
        result["temporal"] = section_temporal()
    result["load_average_after"] = os.getloadavg()
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
