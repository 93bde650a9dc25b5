"""Live editing: sources, face tracking, alignment, backends, compositing, pipeline, sinks."""
