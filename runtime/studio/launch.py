"""Start the studio from the command line's choices: who may connect, TLS, the source, the model.

Loopback binds serve without a token; any other host gets one (given or generated) in the
printed URL, and TLS by default when the page's camera is the source (browsers give the camera
only to https pages off localhost). Everything that can be refused is refused before the model loads.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..defaults import AUTO_SOURCE, DEFAULT_BACKEND, DEFAULT_MAX_FACES, DEFAULT_STRENGTH, STUDIO_HOST, STUDIO_IDLE_SECONDS, STUDIO_MAX_CLIENTS, STUDIO_PORT
from ..source_options import CameraRequest, StreamOptions
from .protocol import StudioError
from .security import default_tls_dir, fingerprint, is_loopback, new_token, self_signed, server_ssl

BROWSER = "browser"


@dataclass(frozen=True)
class StudioOptions:
    model: Path | None = None  # None: the shipped demo checkpoint
    backend: str = DEFAULT_BACKEND
    device: str | None = None
    precision: str | None = None
    threads: int = 0
    source: str = BROWSER  # browser | a camera index | a video file | rtsp://… | pattern
    camera: CameraRequest = CameraRequest()  # asked of a server source (the page's camera is the browser's)
    stream: StreamOptions = StreamOptions()  # a server source's timeouts and reconnection
    host: str = STUDIO_HOST
    port: int = STUDIO_PORT
    token: str | None = None
    require_token: bool = False  # ask for the token on a loopback bind too
    tls: bool | None = None  # None: on for a non-loopback host with the browser's camera
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_clients: int = STUDIO_MAX_CLIENTS
    idle_seconds: float = STUDIO_IDLE_SECONDS
    attr: str = "smile"
    strength: float = DEFAULT_STRENGTH
    source_domain: str = AUTO_SOURCE
    max_faces: int = DEFAULT_MAX_FACES


def open_url(base: str, host: str, token: str | None) -> str:
    """The URL to open: a wildcard bind is shown as this machine's name; the token as a query."""
    if host in ("0.0.0.0", "::"):
        base = base.replace(f"//{host}:", f"//{socket.gethostname()}:").replace(f"//[{host}]:", f"//{socket.gethostname()}:")
    return base + (f"?token={token}" if token else "")


@dataclass(frozen=True)
class Access:
    token: str | None  # asked of every request when set
    tls: bool
    warning: str | None  # said at start when a remote page could not have the camera


def access(options: StudioOptions) -> Access:
    """Who may open the studio, and over what: a host other than this machine's loopback asks for a token
    (generated unless given), and with the browser's camera TLS too, as browsers give a camera only to a
    secure page."""
    local = is_loopback(options.host)
    token = options.token or (new_token() if options.require_token or not local else None)
    tls = options.tls if options.tls is not None else (not local and options.source == BROWSER) or options.tls_cert is not None
    warning = None
    if not tls and not local and options.source == BROWSER:
        warning = "warning: without TLS a browser on another machine will not give this page its camera (use --tls, or an SSH tunnel to localhost)"
    return Access(token, tls, warning)


def run(options: StudioOptions, say: Callable[[str], None]) -> None:
    """Serve the studio until Ctrl-C; `say` prints the URL, the certificate's fingerprint and client events."""
    if options.max_clients < 1:
        raise StudioError(f"--max-clients {options.max_clients}: give at least 1")
    if (options.tls_cert is None) != (options.tls_key is None):
        raise StudioError("--tls-cert and --tls-key go together: pass both, or neither for a self-signed certificate")
    if options.source == BROWSER and (options.camera or options.stream != StreamOptions()):
        raise StudioError("--camera-size, --camera-fps, --connect-timeout and --reconnect-for set this machine's source; with --source browser the page's camera is used: drop them, or pass --source 0 (or a stream)")
    rule = access(options)
    context = None
    if rule.tls:
        cert, key = (options.tls_cert, options.tls_key) if options.tls_cert is not None else self_signed(default_tls_dir(), options.host)
        context = server_ssl(cert, key)  # type: ignore[arg-type]
        say(f"TLS certificate {cert}, SHA-256 fingerprint {fingerprint(cert)}" + ("" if options.tls_cert else " (self-signed: check it matches what the browser shows before accepting)"))
    if rule.warning:
        say(rule.warning)
    token = rule.token
    feed = _open_feed(options)
    try:
        model = _load_model(options, say)
    except BaseException:
        if feed is not None:
            feed.close()
        raise
    from .server import StudioConfig, run_studio

    config = StudioConfig(host=options.host, port=options.port, token=token, max_clients=options.max_clients, idle_seconds=options.idle_seconds, tls=context)
    run_studio(model, config, feed, ready=lambda base: say(f"studio ready: open {open_url(base, options.host, token)}  (Ctrl-C stops)"), log=say)
    say("studio stopped")


def _open_feed(options: StudioOptions):  # noqa: ANN202
    if options.source == BROWSER:
        return None
    from ..sources import open_source
    from .session import SourceFeed

    return SourceFeed(open_source(options.source, live=True, realtime=True, camera=options.camera, stream=options.stream))


def _load_model(options: StudioOptions, say: Callable[[str], None]):  # noqa: ANN202
    """The shared model: backend, options and (for --from auto) the attribute classifier."""
    from ..backends import describe, load_backend
    from ..domains import domain_guesser
    from ..stages import EditModel, EditOptions

    if options.model is None:
        from ..demo import shipped_demo_checkpoint

        model_path = shipped_demo_checkpoint()
    else:
        model_path = options.model
    backend = load_backend(model_path, backend=options.backend, device=options.device, precision=options.precision, threads=options.threads)
    say(f"backend: {describe(backend)}")
    edit = EditOptions(target=options.attr, strength=options.strength, source=options.source_domain, max_faces=options.max_faces)
    return EditModel(backend, edit, domain_guesser(backend) if options.source_domain == AUTO_SOURCE else None)
