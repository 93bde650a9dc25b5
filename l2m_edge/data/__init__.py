"""Training data: SynthFaces (procedural, exactly labelled) and real face folders (CelebA-HQ)."""

from .synthfaces import (
    ATTRIBUTES,
    EditPair,
    Identity,
    SynthFaces,
    face_landmarks,
    region_mask,
    render_face,
    render_image,
    sample_identity,
    to_tensor,
    write_synthfaces,
)

__all__ = [
    "ATTRIBUTES",
    "EditPair",
    "Identity",
    "SynthFaces",
    "face_landmarks",
    "region_mask",
    "render_face",
    "render_image",
    "sample_identity",
    "to_tensor",
    "write_synthfaces",
]
