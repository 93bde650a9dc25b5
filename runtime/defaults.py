"""Defaults the library and the CLI share, in a module light enough for the CLI to import at start-up."""

DEFAULT_MAX_FACES = 4  # faces tracked and edited per frame (each costs one FaceMesh call a frame; its mesh is made up front)
DEFAULT_STYLE_EVERY = 1  # frames between a tracked face's style codes (benchmarks/runtime.md: what K > 1 saves per preset)
