"""Defaults the library and the CLI share, in a module light enough for the CLI to import at start-up."""

DEFAULT_BACKEND = "auto"  # the fastest backend that can run the model here (runtime.backends.choose_backend)
DEFAULT_STRENGTH = 1.0  # α: 0 reconstructs, 1 is the trained edit
AUTO_SOURCE = "auto"  # the faces' current domain guessed per track by the attribute classifier
DEMO_SECONDS = 4.0  # length of each clip `l2m-edge demo` edits
# `run --precision` names a compute precision (what the backend runs in), except this one: an artifact precision,
# at which a checkpoint is exported on the fly before it computes as that artifact's manifest records.
ARTIFACT_ONLY_PRECISION = "int8"
PRECISION_HELP = (
    f"Compute precision fp32 | fp16 | bf16, or {ARTIFACT_ONLY_PRECISION} (a checkpoint exported on the fly at {ARTIFACT_ONLY_PRECISION}); "
    "default: what the artifact's manifest records, the backend's for a checkpoint."
)
DEFAULT_MAX_FACES = 4  # faces tracked and edited per frame (each costs one FaceMesh call a frame; its mesh is made up front)
DEFAULT_STYLE_EVERY = 1  # frames between a tracked face's style codes (benchmarks/runtime.md: what K > 1 saves per preset)
STUDIO_HOST = "127.0.0.1"  # loopback: no token, no TLS needed (browsers treat localhost as a secure context)
STUDIO_PORT = 8765
STUDIO_MAX_CLIENTS = 4  # pages served at once (each costs its own tracker: one FaceMesh per face allowed)
STUDIO_IDLE_SECONDS = 120.0  # a page that sends nothing this long is closed
