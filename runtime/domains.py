"""Which domain a face is in (`--from auto`): the attribute classifier, once per track.

A track's domain is the mean of the classifier's probabilities over its first `READINGS`
frames, then frozen until the track may be someone else (it lost its face and found one
again): per-frame classification cost 8 ms a face on the shipped classifier and let a face
flicker between domains. Knowing the source domain keeps a face that already smiles from
being edited twice.
"""

from __future__ import annotations

import copy
import os
from importlib import resources
from pathlib import Path

import numpy as np

from l2m_edge.backends import ModelInfo
from l2m_edge.errors import ConfigError

CLASSIFIER_ASSET = "demo_classifier.safetensors"


def shipped_classifier() -> Path | None:
    """The classifier shipped in l2m_edge/assets, or None when this install has none."""
    path = resources.files("l2m_edge.assets") / CLASSIFIER_ASSET
    return Path(str(path)) if path.is_file() else None


READINGS = 3  # classifier calls averaged per track (one blurred first frame must not decide alone)


class DomainGuesser:
    """Per-track mean of the classifier's domain probabilities over the track's first frames."""

    def __init__(self, classifier_path: str | os.PathLike, info: ModelInfo, readings: int = READINGS) -> None:
        from l2m_edge.metrics.classifier import load_classifier

        self.classifier = load_classifier(classifier_path)
        names = tuple(self.classifier.domains)
        missing = [d for d in info.domains if d not in names]
        if missing:
            raise ConfigError(f"the classifier knows domains {list(names)} but the model has {list(info.domains)}; pass --from NAME instead of auto")
        self._columns = [names.index(d) for d in info.domains]  # model domain order
        self.readings = readings
        self._sums: dict[int, tuple[np.ndarray, int]] = {}  # track → (sum of probabilities, count)
        self.calls = 0  # faces classified, for tests and benchmarks

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Classifier probabilities [N, model domains] for crops [N,3,S,S] in [−1, 1] (RGB)."""
        import torch

        probs = self.classifier.predict_domain(torch.from_numpy(batch)).numpy()
        return probs[:, self._columns]

    def for_another_stream(self) -> DomainGuesser:
        """A guesser sharing this one's loaded classifier with no track readings: each stream (a studio client) numbers its own tracks."""
        other = copy.copy(self)
        other._sums, other.calls = {}, 0
        return other

    def __call__(self, track_ids: list[int], batch: np.ndarray, fresh: list[bool]) -> np.ndarray:
        """Source-domain index per face; the classifier runs only for tracks still being read (or read anew)."""
        for track_id, is_fresh in zip(track_ids, fresh):
            if is_fresh:
                self._sums.pop(track_id, None)
        todo = [k for k, track_id in enumerate(track_ids) if self._sums.get(track_id, (None, 0))[1] < self.readings]
        if todo:
            self.calls += len(todo)
            for k, p in zip(todo, self.probabilities(batch[todo])):
                total, count = self._sums.get(track_ids[k], (np.zeros_like(p), 0))
                self._sums[track_ids[k]] = (total + p, count + 1)
        return np.asarray([int(np.argmax(self._sums[t][0])) for t in track_ids], dtype=np.int64)


def shipped_guesser(info: ModelInfo) -> DomainGuesser | None:
    """A guesser from the shipped classifier when it knows this model's domains, else None."""
    path = shipped_classifier()
    if path is None:
        return None
    try:
        return DomainGuesser(path, info)
    except ConfigError:
        return None
