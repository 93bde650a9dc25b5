"""A split-style artifact on one runtime: its style graph and generator graph, composed into one editor.

`infer` runs both stages, so everything that runs an editor (parity, `verify`, bench, the pipeline
at `--style-every 1`) runs a split artifact too; the pipeline calls `style_code` only every K frames
per tracked face and `generate` on every frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from l2m_edge.contract.signature import EDITED, IMAGE, MASKS, SOURCE, STRENGTH, STYLE, STYLE_DELTA, TARGET
from .base import Outputs, check_inputs, check_style_codes


class SplitBackend:
    """`style` and `generator`: one stage graph each, loaded by the same registry backend class (with `run`)."""

    def __init__(self, style: Any, generator: Any) -> None:
        self._style, self._generator = style, generator
        self.name, self.runtime, self.device = generator.name, generator.runtime, generator.device
        self.precision, self.compute_precision = generator.precision, generator.compute_precision
        self.requested_precision, self.threads = generator.requested_precision, generator.threads
        self.info = generator.info
        self.artifact = generator.artifact  # both stages come from one artifact
        self.style_dim = int(generator.signature.input(STYLE).shape[-1])
        self.reason = "requested"

    def style_code(self, image: np.ndarray, source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        checked = check_inputs(self.info, image=image, source=source, target=target)
        out = self._run(self._style, {IMAGE: checked["image"], SOURCE: checked["source"], TARGET: checked["target"]})
        return out[STYLE], out[STYLE_DELTA]

    def generate(
        self, image: np.ndarray, style: np.ndarray, style_delta: np.ndarray, strength: np.ndarray, masks: np.ndarray | None = None
    ) -> np.ndarray:
        checked = check_inputs(self.info, image=image, strength=strength, masks=masks)
        codes = check_style_codes(len(checked["image"]), self.style_dim, **{STYLE: style, STYLE_DELTA: style_delta})  # type: ignore[arg-type]
        values = {IMAGE: checked["image"], **codes, STRENGTH: checked["strength"], MASKS: checked["masks"]}
        return self._run(self._generator, values)[EDITED]

    def infer(
        self, image: np.ndarray, source: np.ndarray, target: np.ndarray, strength: np.ndarray, masks: np.ndarray | None = None
    ) -> np.ndarray:
        return self.generate(image, *self.style_code(image, source, target), strength, masks)

    @staticmethod
    def _run(graph: Any, values: dict[str, np.ndarray | None]) -> Outputs:
        return graph.run(graph.signature.feed_named(values))

    def close(self) -> None:
        self._style.close()
        self._generator.close()
