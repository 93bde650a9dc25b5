"""`l2m-edge run` (live or file editing), `l2m-edge edit` (stills) and `l2m-edge demo` (the offline showcase)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import List, Optional

import typer

from l2m_edge.backends import backend_names
from l2m_edge.runtime.defaults import AUTO_SOURCE, DEFAULT_BACKEND, DEFAULT_MAX_FACES, DEFAULT_STRENGTH, DEFAULT_STYLE_EVERY, DEMO_SECONDS, PRECISION_HELP
from l2m_edge.runtime.source_options import CameraRequest, StreamOptions, parse_size, size_problem
from l2m_edge.runtime.source_uri import SOURCE_FORMS

from .app import app, console, err_console, finite

BACKEND_HELP = f"{DEFAULT_BACKEND} | {' | '.join(backend_names())}."

THREADS_HELP = "CPU threads for the model's runtime (0: its default)."

FORCE_HELP = "Replace output files that exist already (without it, an existing video or image is never overwritten)."

SOURCE_HELP = SOURCE_FORMS[0].upper() + SOURCE_FORMS[1:] + "."

_STREAM = StreamOptions()


def _size(param: typer.CallbackParam, value: Optional[str]) -> Optional[str]:
    problem = None if value is None else size_problem(value)
    if problem is not None:
        raise typer.BadParameter(problem, param=param)
    return value


# What is asked of a live source, `run`'s and the studio's server source alike.
CAMERA_SIZE = typer.Option(None, "--camera-size", callback=_size, help="Ask the camera for WIDTHxHEIGHT (e.g. 1280x720); a camera or stream delivering another size is refused.")
CAMERA_FPS = typer.Option(None, "--camera-fps", callback=finite(above=0, at_most=1000), help="Ask the camera for this frame rate (what it gives is reported).")
CONNECT_TIMEOUT = typer.Option(_STREAM.connect_timeout_s, "--connect-timeout", callback=finite(above=0, at_most=600), help="Seconds to wait for a stream or camera to open.")
RECONNECT_FOR = typer.Option(
    _STREAM.reconnect_for_s, "--reconnect-for", callback=finite(at_least=0, at_most=86400),
    help="Seconds a live source that dropped is reopened (with backoff) before the run ends; 0: end at the first outage.",
)


def live_source_settings(camera_size: Optional[str], camera_fps: Optional[float], connect_timeout: float, reconnect_for: float) -> tuple[CameraRequest, StreamOptions]:
    """The four live-source options as what `open_source` takes."""
    camera = CameraRequest(parse_size(camera_size) if camera_size else None, camera_fps)
    return camera, replace(_STREAM, connect_timeout_s=connect_timeout, reconnect_for_s=reconnect_for)


def _load(model: Path, backend: str, device: Optional[str], precision: Optional[str], threads: int = 0, split_style: bool = False):  # noqa: ANN202
    from l2m_edge.runtime.backends import describe, load_backend

    engine = load_backend(model, backend=backend, device=device, precision=precision, threads=threads, split_style=split_style)
    console.print(f"backend: {describe(engine)}", highlight=False)
    return engine


def _guesser(engine, source_domain: str):  # noqa: ANN001, ANN202
    from l2m_edge.runtime.domains import domain_guesser

    return domain_guesser(engine) if source_domain == AUTO_SOURCE else None


def _report(result) -> None:  # noqa: ANN001
    from l2m_edge.runtime.timing import format_summary

    console.print(format_summary(result.summary), highlight=False)
    if result.source is not None and result.source.health is not None:
        console.print(f"source: {result.source.line()}", highlight=False)
    console.print(
        f"faces edited {result.faces_edited}, too small {result.faces_too_small}, already in target {result.faces_already_target}; "
        f"frames dropped {result.frames_dropped}; source domain {result.source_domain}",
        highlight=False,
    )
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if result.stopped_early:
        err_console.print(f"[yellow]warning:[/] {result.stopped_early}; the frames read so far were written", highlight=False)
    if result.interrupted:
        err_console.print("[yellow]interrupted[/]: output finalised", highlight=False)


def _fail_on_skipped(result) -> None:  # noqa: ANN001
    """Name each unreadable input of a batch (the good ones were all written), then fail the command."""
    from l2m_edge.errors import SourceError

    for line in result.skipped_inputs:
        err_console.print(f"[bold red]skipped:[/] {line}", highlight=False, soft_wrap=True)
    if result.skipped_inputs:
        raise SourceError(f"{len(result.skipped_inputs)} input(s) could not be read (listed above); the others were written")


@app.command()
def run(
    source: str = typer.Option("0", "--source", "-s", help=SOURCE_HELP),
    model: Path = typer.Option(..., "--model", "-m", help="Checkpoint (.safetensors) or exported artifact directory."),
    attr: str = typer.Option("smile", "--attr", "-a", help="Target domain to edit towards (name or index)."),
    strength: float = typer.Option(DEFAULT_STRENGTH, "--strength", callback=finite(), help="Edit strength α (0 reconstructs, 1 is the full edit)."),
    backend: str = typer.Option(DEFAULT_BACKEND, "--backend", "-b", help=BACKEND_HELP),
    device: Optional[str] = typer.Option(None, "--device", help="Backend device (torch: cpu/cuda:0; OpenVINO: CPU/GPU/NPU)."),
    precision: Optional[str] = typer.Option(None, "--precision", help=PRECISION_HELP),
    sink: str = typer.Option("window", "--sink", "-o", help="window | out.mp4 | dir/ | virtualcam | null."),
    max_faces: int = typer.Option(DEFAULT_MAX_FACES, "--max-faces", min=1, help="Faces tracked and edited per frame."),
    source_domain: str = typer.Option(AUTO_SOURCE, "--from", help="The faces' current domain, or `auto` (attribute classifier)."),
    hud: Optional[bool] = typer.Option(None, "--hud/--no-hud", help="Overlay FPS, latency, attribute (default: on for window)."),
    frames: Optional[int] = typer.Option(None, "--frames", min=1, help="Stop after this many frames."),
    seconds: Optional[float] = typer.Option(None, "--seconds", callback=finite(above=0), help="Length of `pattern` (default: endless)."),
    threads: int = typer.Option(0, "--threads", min=0, help=THREADS_HELP),
    realtime: bool = typer.Option(False, "--realtime", help="Play a video file like a camera: paced at its fps, stale frames dropped (measures live latency)."),
    camera_size: Optional[str] = CAMERA_SIZE,
    camera_fps: Optional[float] = CAMERA_FPS,
    connect_timeout: float = CONNECT_TIMEOUT,
    reconnect_for: float = RECONNECT_FOR,
    style_every: int = typer.Option(
        DEFAULT_STYLE_EVERY, "--style-every", min=1,
        help="Compute each tracked face's style code every K frames (and at once for a new track or a new target); the generator runs every frame. K > 1 needs a checkpoint or an --split-style export.",
    ),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Edit faces in a camera stream, video, image(s) or the test pattern. Keys in the window: n next attribute, +/- strength, e edit on/off, q quit."""
    from l2m_edge.runtime.pipeline import EditOptions, Pipeline
    from l2m_edge.runtime.sinks import open_sink
    from l2m_edge.runtime.sources import open_source, source_files, source_report

    camera, stream_options = live_source_settings(camera_size, camera_fps, connect_timeout, reconnect_for)
    live = True if source == "pattern" and sink in ("window", "virtualcam") else None
    stream = open_source(source, live=live, seconds=seconds, realtime=realtime, camera=camera, stream=stream_options)
    output = open_sink(sink, stream.fps, replace=force, inputs=source_files(source))  # a missing display or virtual camera fails before the model loads
    console.print(f"source: {source_report(stream).gave()}, {'live' if stream.live else 'every frame'}", highlight=False)
    engine = _load(model, backend, device, precision, threads, split_style=style_every > 1)
    options = EditOptions(
        target=attr, strength=strength, source=source_domain, max_faces=max_faces, hud=sink == "window" if hud is None else hud, style_every=style_every
    )
    pipeline = Pipeline(engine, options, domain_guesser=_guesser(engine, source_domain))
    result = pipeline.run(stream, output, max_frames=frames)
    _report(result)
    if sink not in ("window", "null", "virtualcam"):
        console.print(f"wrote {result.frames_out} frames to {sink}", highlight=False)
    _fail_on_skipped(result)


@app.command()
def edit(
    images: List[Path] = typer.Argument(..., help="Images to edit."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the edited images (same names, PNG)."),
    model: Path = typer.Option(None, "--model", "-m", help="Checkpoint or artifact (default: the shipped demo)."),
    attr: str = typer.Option("smile", "--attr", "-a", help="Target domain."),
    strength: float = typer.Option(DEFAULT_STRENGTH, "--strength", callback=finite()),
    backend: str = typer.Option(DEFAULT_BACKEND, "--backend", "-b", help=BACKEND_HELP),
    max_faces: int = typer.Option(DEFAULT_MAX_FACES, "--max-faces", min=1, help="Faces edited per image."),
    source_domain: str = typer.Option(AUTO_SOURCE, "--from"),
    threads: int = typer.Option(0, "--threads", min=0, help=THREADS_HELP),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Edit the faces in still images; images without a face are written unchanged."""
    from l2m_edge.runtime.demo import shipped_demo_checkpoint
    from l2m_edge.runtime.pipeline import EditOptions, Pipeline
    from l2m_edge.runtime.sinks import ImageFolderSink
    from l2m_edge.runtime.sources import ImageSource
    from l2m_edge.runtime.stills import output_names

    names = output_names(list(images), out)  # refused before the model loads when an output would hit an input
    source = ImageSource(list(images), description=f"{len(images)} images")
    sink = ImageFolderSink(out, names, source.formats, replace=force)
    engine = _load(model or shipped_demo_checkpoint(), backend, None, None, threads)
    options = EditOptions(target=attr, strength=strength, source=source_domain, max_faces=max_faces, stills=True)
    pipeline = Pipeline(engine, options, domain_guesser=_guesser(engine, source_domain))
    result = pipeline.run(source, sink)
    console.print(f"wrote {result.frames_out} images to {out}/ ({result.faces_edited} faces edited, {result.faces_too_small} too small)", highlight=False)
    for index, name in enumerate(names):
        note = source.formats[index].note if index in source.formats else None
        if note or name != images[index].with_suffix(".png").name:
            console.print(f"{images[index]} → {name}" + (f" ({note})" if note else ""), highlight=False)
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    _fail_on_skipped(result)


@app.command()
def demo(
    out: Path = typer.Option(Path("demo_out"), "--out", "-o", help="Folder for the clip, edited video, side-by-side PNG and latency summary."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Another checkpoint or artifact instead of the shipped demo."),
    backend: str = typer.Option(DEFAULT_BACKEND, "--backend", "-b", help=BACKEND_HELP),
    seconds: float = typer.Option(DEMO_SECONDS, "--seconds", callback=finite(at_least=0.5, at_most=60.0)),
    threads: int = typer.Option(0, "--threads", min=0, help=THREADS_HELP),
) -> None:
    """Edit a SynthFaces actor (a real edit) and a real photo (the reconstruction guard's warning) with the shipped demo checkpoint; offline."""
    from l2m_edge.runtime.demo import run_demo

    result = run_demo(out, model=model, backend=backend, seconds=seconds, threads=threads)
    console.print(result.summary_text, highlight=False)
    videos = ", ".join(f"{c.input_video} → {c.edited_video} ({c.run.frames_out} frames)" for c in result.clips)
    console.print(f"wrote {videos}, {result.side_by_side} (original | edited, labelled), {result.summary_json} (latency)", highlight=False)
