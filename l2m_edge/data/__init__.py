"""Training data: SynthFaces (procedural, exactly labelled) and real face folders (CelebA-HQ).

Names resolve on first use (PEP 562), so `l2m_edge.data.face_renderer`, the SynthFaces drawing
the live runtime needs, imports without torch; the datasets import it when asked for.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_HOMES = {
    "FaceFolder": "celeba",
    "attribute_folder": "celeba",
    "folder_dataset": "celeba",
    "read_attribute_file": "celeba",
    "stargan_folder": "celeba",
    "SYNTH": "sources",
    "build_dataset": "sources",
    "synth_attribute": "sources",
    "ATTRIBUTES": "face_renderer",
    "Identity": "face_renderer",
    "face_landmarks": "face_renderer",
    "region_mask": "face_renderer",
    "render_face": "face_renderer",
    "render_image": "face_renderer",
    "sample_identity": "face_renderer",
    "EditPair": "synthfaces",
    "SynthFaces": "synthfaces",
    "to_tensor": "synthfaces",
    "write_synthfaces": "synthfaces",
}

__all__ = list(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_HOMES[name]}", __name__), name)
    globals()[name] = value
    return value
