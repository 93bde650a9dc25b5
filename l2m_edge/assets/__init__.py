"""Files shipped inside the package: the demo editor, its attribute classifier and their records."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

CLASSIFIER_ASSET = "demo_classifier.safetensors"


def shipped_classifier() -> Path | None:
    """The classifier shipped in l2m_edge/assets, or None when this install has none."""
    path = resources.files(__name__) / CLASSIFIER_ASSET
    return Path(str(path)) if path.is_file() else None
