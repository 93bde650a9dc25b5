"""Training data: SynthFaces (procedural, exactly labelled) and real face folders (CelebA-HQ)."""

from .celeba import FaceFolder, attribute_folder, folder_dataset, read_attribute_file, stargan_folder
from .sources import SYNTH, build_dataset, synth_attribute
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
    "SYNTH",
    "FaceFolder",
    "attribute_folder",
    "build_dataset",
    "folder_dataset",
    "read_attribute_file",
    "stargan_folder",
    "synth_attribute",
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
