"""What every backend over one exported graph shares: the artifact it opened and the editor's call on it."""

from __future__ import annotations

import os

import numpy as np

from l2m_edge.contract.signature import EDITED, EditorSignature

from .artifact import Artifact, open_artifact
from .base import ModelInfo, Outputs, check_inputs


class GraphBackend:
    """`infer` is the editor's call, checked and fed through the graph's signature to the runtime's `run`
    (the editor graph's, or a stage's). A runtime names the artifact `formats` it reads."""

    formats: tuple[str, ...]
    artifact: Artifact
    info: ModelInfo
    signature: EditorSignature

    def _open(self, artifact: str | os.PathLike | Artifact, stage: str | None) -> Artifact:
        """Open `artifact` (its files hash-checked) and take the model's facts and the signature of its graph (or `stage`'s)."""
        self.artifact = open_artifact(artifact, formats=self.formats)
        self.info = self.artifact.info
        self.signature = self.artifact.signature(stage)
        return self.artifact

    def run(self, feed: dict[str, np.ndarray]) -> Outputs:
        """The graph's outputs by name for a feed in its signature's names."""
        raise NotImplementedError

    def infer(
        self, image: np.ndarray, source: np.ndarray, target: np.ndarray, strength: np.ndarray, masks: np.ndarray | None = None
    ) -> np.ndarray:
        checked = check_inputs(self.info, image=image, source=source, target=target, strength=strength, masks=masks)
        return self.run(self.signature.feed(**checked))[EDITED]  # type: ignore[arg-type]
