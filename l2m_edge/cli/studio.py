"""`l2m-edge studio`: live editing in a browser page (the viewer's webcam, or this machine's source)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from l2m_edge.runtime.defaults import AUTO_SOURCE, DEFAULT_BACKEND, DEFAULT_MAX_FACES, DEFAULT_STRENGTH, PRECISION_HELP, STUDIO_HOST, STUDIO_IDLE_SECONDS, STUDIO_MAX_CLIENTS, STUDIO_PORT

from .app import app, console, finite
from .run import BACKEND_HELP, CAMERA_FPS, CAMERA_SIZE, CONNECT_TIMEOUT, RECONNECT_FOR, THREADS_HELP, live_source_settings


@app.command()
def studio(
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Checkpoint or exported artifact (default: the shipped demo)."),
    host: str = typer.Option(STUDIO_HOST, "--host", help="Address to bind; any other than loopback needs the token (printed in the URL) and gets TLS."),
    port: int = typer.Option(STUDIO_PORT, "--port", min=0, max=65535, help="Port (0: any free one)."),
    source: str = typer.Option("browser", "--source", "-s", help="browser (the page's webcam) | a camera index | video file | rtsp://… | pattern."),
    camera_size: Optional[str] = CAMERA_SIZE,
    camera_fps: Optional[float] = CAMERA_FPS,
    connect_timeout: float = CONNECT_TIMEOUT,
    reconnect_for: float = RECONNECT_FOR,
    backend: str = typer.Option(DEFAULT_BACKEND, "--backend", "-b", help=BACKEND_HELP),
    device: Optional[str] = typer.Option(None, "--device", help="Backend device (torch: cpu/cuda:0; OpenVINO: CPU/GPU/NPU)."),
    precision: Optional[str] = typer.Option(None, "--precision", help=PRECISION_HELP),
    token: Optional[str] = typer.Option(None, "--token", help="The token pages must bring (default: generated when one is needed)."),
    require_token: bool = typer.Option(False, "--require-token", help="Ask for the token on a loopback bind too."),
    tls: Optional[bool] = typer.Option(None, "--tls/--no-tls", help="Serve https (default: on for a non-loopback host with the browser source)."),
    tls_cert: Optional[Path] = typer.Option(None, "--tls-cert", help="PEM certificate (default: a self-signed one made on first use)."),
    tls_key: Optional[Path] = typer.Option(None, "--tls-key", help="PEM key of --tls-cert."),
    max_clients: int = typer.Option(STUDIO_MAX_CLIENTS, "--max-clients", min=1, help="Pages served at once; the next one is told the studio is full."),
    idle_seconds: float = typer.Option(STUDIO_IDLE_SECONDS, "--idle-seconds", callback=finite(above=0), help="Close a page that sends nothing this long."),
    attr: str = typer.Option("smile", "--attr", "-a", help="Initial target domain (the page changes it)."),
    strength: float = typer.Option(DEFAULT_STRENGTH, "--strength", callback=finite(), help="Initial strength (the page changes it)."),
    source_domain: str = typer.Option(AUTO_SOURCE, "--from", help="The faces' current domain, or `auto` (attribute classifier)."),
    max_faces: int = typer.Option(DEFAULT_MAX_FACES, "--max-faces", min=1, help="Faces tracked and edited per frame."),
    threads: int = typer.Option(0, "--threads", min=0, help=THREADS_HELP),
) -> None:
    """Serve a page that edits the viewer's webcam (or this machine's source) live, with the controls; prints the URL to open."""
    from l2m_edge.runtime.studio.launch import StudioOptions, run

    camera, stream = live_source_settings(camera_size, camera_fps, connect_timeout, reconnect_for)
    options = StudioOptions(
        model=model, backend=backend, device=device, precision=precision, threads=threads, source=source, camera=camera, stream=stream, host=host, port=port, token=token,
        require_token=require_token, tls=tls, tls_cert=tls_cert, tls_key=tls_key, max_clients=max_clients, idle_seconds=idle_seconds,
        attr=attr, strength=strength, source_domain=source_domain, max_faces=max_faces,
    )
    run(options, lambda line: console.print(line, highlight=False, soft_wrap=True))
