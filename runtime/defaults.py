"""Defaults the library and the CLI share, in a module light enough for the CLI to import at start-up."""

DEFAULT_MAX_FACES = 4  # faces tracked and edited per frame (each costs one FaceMesh call a frame; its mesh is made up front)
DEFAULT_STYLE_EVERY = 1  # frames between a tracked face's style codes (benchmarks/runtime.md: what K > 1 saves per preset)
STUDIO_HOST = "127.0.0.1"  # loopback: no token, no TLS needed (browsers treat localhost as a secure context)
STUDIO_PORT = 8765
STUDIO_MAX_CLIENTS = 4  # pages served at once (each costs its own tracker: one FaceMesh per face allowed)
STUDIO_IDLE_SECONDS = 120.0  # a page that sends nothing this long is closed
