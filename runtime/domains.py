"""Which domain a face is in now (`--from auto`): the attribute classifier, smoothed per track.

Smoothing over the track keeps a face from flickering between domains from frame to frame,
and knowing the source domain keeps a face that already smiles from being edited twice.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import numpy as np

from l2m_edge.errors import ConfigError

from .backends.base import ModelInfo

CLASSIFIER_ASSET = "demo_classifier.safetensors"


def shipped_classifier() -> Path | None:
    """The classifier shipped in l2m_edge/assets, or None when this install has none."""
    path = resources.files("l2m_edge.assets") / CLASSIFIER_ASSET
    return Path(str(path)) if path.is_file() else None


class DomainGuesser:
    """Per-track exponential average of the classifier's domain probabilities."""

    def __init__(self, classifier_path: str | os.PathLike, info: ModelInfo, momentum: float = 0.8) -> None:
        from l2m_edge.metrics.classifier import load_classifier

        self.classifier = load_classifier(classifier_path)
        names = tuple(self.classifier.domains)
        missing = [d for d in info.domains if d not in names]
        if missing:
            raise ConfigError(f"the classifier knows domains {list(names)} but the model has {list(info.domains)}; pass --from NAME instead of auto")
        self._columns = [names.index(d) for d in info.domains]  # model domain order
        self.momentum = momentum
        self._state: dict[int, np.ndarray] = {}

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Classifier probabilities [N, model domains] for crops [N,3,S,S] in [−1, 1] (RGB)."""
        import torch

        probs = self.classifier.predict_domain(torch.from_numpy(batch)).numpy()
        return probs[:, self._columns]

    def __call__(self, track_ids: list[int], batch: np.ndarray) -> np.ndarray:
        """Smoothed source-domain index per face."""
        probs = self.probabilities(batch)
        out = []
        for track_id, p in zip(track_ids, probs):
            prev = self._state.get(track_id)
            smooth = p if prev is None else self.momentum * prev + (1 - self.momentum) * p
            self._state[track_id] = smooth
            out.append(int(np.argmax(smooth)))
        return np.asarray(out, dtype=np.int64)


def shipped_guesser(info: ModelInfo) -> DomainGuesser | None:
    """A guesser from the shipped classifier when it knows this model's domains, else None."""
    path = shipped_classifier()
    if path is None:
        return None
    try:
        return DomainGuesser(path, info)
    except ConfigError:
        return None
