"""Which domain a face is in (`--from auto`): the attribute classifier, once per track.

A track's domain is the mean of the classifier's probabilities over its first `READINGS`
frames, then frozen until the track may be someone else (it lost its face and found one
again): per-frame classification cost 8 ms a face on the shipped classifier and let a face
flicker between domains. Knowing the source domain keeps a face that already smiles from
being edited twice.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from l2m_edge.assets import shipped_classifier
from l2m_edge.backends import ModelInfo
from l2m_edge.backends.classifier import ClassifierGraph, classifier_record
from l2m_edge.environment import torch_installed
from l2m_edge.errors import ConfigError

READINGS = 3  # classifier calls averaged per track (one blurred first frame must not decide alone)

Probabilities = Callable[[np.ndarray], np.ndarray]  # crops [N,3,S,S] in [−1, 1] → [N, classifier domains]


class DomainGuesser:
    """Per-track mean of the classifier's domain probabilities over the track's first frames."""

    def __init__(self, classify: Probabilities, classifier_domains: Sequence[str], info: ModelInfo, readings: int = READINGS) -> None:
        names = tuple(classifier_domains)
        missing = [d for d in info.domains if d not in names]
        if missing:
            raise ConfigError(f"the classifier knows domains {list(names)} but the model has {list(info.domains)}; pass --from NAME instead of auto")
        self._classify = classify
        self._columns = [names.index(d) for d in info.domains]  # model domain order
        self.readings = readings
        self._sums: dict[int, tuple[np.ndarray, int]] = {}  # track → (sum of probabilities, count)
        self.calls = 0  # faces classified, for tests and benchmarks

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Classifier probabilities [N, model domains] for crops [N,3,S,S] in [−1, 1] (RGB)."""
        return self._classify(batch)[:, self._columns]

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


def domain_guesser(engine: Any) -> DomainGuesser | None:
    """The guesser for `--from auto` on `engine`: the classifier graph its artifact carries, run on the
    editor's runtime (no torch); for a checkpoint in PyTorch, the shipped classifier. None when no
    classifier knows the model's domains."""
    artifact = getattr(engine, "artifact", None)
    record = classifier_record(artifact) if artifact is not None else None
    try:
        if record is not None:
            graph = ClassifierGraph(artifact.directory, record, engine.name, engine.device)
            return DomainGuesser(_at_size(graph.probabilities, record.img_size), record.domains, engine.info)
        path = shipped_classifier()
        if path is None or not torch_installed():
            return None
        from l2m_edge.metrics.classifier import load_classifier

        classifier = load_classifier(path)
        return DomainGuesser(_in_torch(classifier), classifier.domains, engine.info)
    except ConfigError:
        return None


def _at_size(classify: Probabilities, size: int) -> Probabilities:
    """`classify` fed crops resized (area) to the size its graph takes."""

    def run(batch: np.ndarray) -> np.ndarray:
        if batch.shape[-1] != size:
            batch = np.stack([cv2.resize(crop.transpose(1, 2, 0), (size, size), interpolation=cv2.INTER_AREA).transpose(2, 0, 1) for crop in batch])
        return classify(batch)

    return run


def _in_torch(classifier: Any) -> Probabilities:
    import torch

    return lambda batch: classifier.predict_domain(torch.from_numpy(batch)).numpy()
