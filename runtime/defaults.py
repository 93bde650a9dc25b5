"""Defaults the library and the CLI share, in a module light enough for the CLI to import at start-up."""

DEFAULT_MAX_FACES = 4  # faces tracked and edited per frame (each costs one FaceMesh call a frame; its mesh is made up front)
