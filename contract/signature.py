"""The editor's I/O signature: one object that export, manifest, backends, bench and native tests read.

The exported graph takes (image, source_domain, target_domain, strength[, masks]) and returns
`edited`. `masks` (the official w_hpf > 0 graph's face/eye masks for the high-pass skips) is an
optional input: present exactly when the model config has `w_hpf > 0`. The batch axis is static
(an int) or dynamic (the string `BATCH`).

A split-style artifact (`export --split-style`) holds the same editor as two graphs, so a tracked
face's style code can be reused across frames:
  style stage      (image, source_domain, target_domain)               → (style, style_delta)
  generator stage  (image, style, style_delta, strength[, masks])      → edited
with s' = style + strength · style_delta; strength stays out of the style stage, so a live
strength change needs no new style code. Their signatures live here, beside the editor's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from l2m_edge.config import MASK_CHANNELS, ModelConfig
from l2m_edge.errors import ConfigError

IMAGE = "image"
SOURCE = "source_domain"
TARGET = "target_domain"
STRENGTH = "strength"
MASKS = "masks"
EDITED = "edited"
STYLE = "style"  # the face's style code s [N, style_dim]
STYLE_DELTA = "style_delta"  # its move towards the target, δ = s̃_re − s_re [N, style_dim]
STYLE_STAGE = "style"
GENERATOR_STAGE = "generator"
STAGES = (STYLE_STAGE, GENERATOR_STAGE)  # the graphs of a split-style artifact, in the order they run
BATCH = "batch"  # the name of a dynamic batch axis
INPUT_ORDER = (IMAGE, SOURCE, TARGET, STRENGTH, MASKS)  # graph (and `Backend.infer`) order; MASKS is optional


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output as the manifest records it."""

    name: str
    shape: list[int | str]  # a string marks a dynamic axis, e.g. "batch"
    dtype: str  # numpy name: float32, float16, int64
    value_range: list[float] | None = None
    layout: str | None = None  # "NCHW" for images


@dataclass(frozen=True)
class EditorSignature:
    """The inputs (in graph order) and outputs of one exported graph: the editor, or one of its stages."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.outputs)

    @property
    def has_masks(self) -> bool:
        return MASKS in self.input_names

    @property
    def static_batch(self) -> int | None:
        """The fixed batch size, or None when the batch axis is dynamic."""
        first = self.input(IMAGE).shape[0]
        return first if isinstance(first, int) else None

    @property
    def img_size(self) -> int:
        return int(self.input(IMAGE).shape[-1])

    def input(self, name: str) -> TensorSpec:
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise ConfigError(f"this editor has no input {name!r}; it takes {', '.join(self.input_names)}")

    def feed(
        self,
        image: np.ndarray,
        source: np.ndarray,
        target: np.ndarray,
        strength: np.ndarray,
        masks: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """The editor graph's feed dict, in input order and dtypes; `masks` is required exactly when the graph takes it."""
        if not self.has_masks and masks is not None:
            raise ConfigError(f"this editor takes no {MASKS!r} input (its model has w_hpf = 0); drop it")
        return self.feed_named({IMAGE: image, SOURCE: source, TARGET: target, STRENGTH: strength, MASKS: masks})

    def feed_named(self, values: Mapping[str, np.ndarray | None]) -> dict[str, np.ndarray]:
        """Any graph's feed dict (the editor's or a stage's) from named arrays, in input order and dtypes; other names are ignored."""
        if self.has_masks and values.get(MASKS) is None:
            raise ConfigError(f"this editor (w_hpf > 0) needs the {MASKS!r} input [N, {MASK_CHANNELS}, H, W] in [0, 1]")
        missing = [spec.name for spec in self.inputs if values.get(spec.name) is None]
        if missing:
            raise ConfigError(f"this graph needs the input(s) {', '.join(missing)} (it takes {', '.join(self.input_names)})")
        return {spec.name: np.ascontiguousarray(values[spec.name], dtype=spec.dtype) for spec in self.inputs}


def inputs_of(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The editor inputs among `arrays` (e.g. an .npz that also holds a reference output), in graph order."""
    return {name: arrays[name] for name in INPUT_ORDER if name in arrays}


def _batch_axis(batch: int | None) -> int | str:
    if batch is not None and batch < 1:
        raise ConfigError(f"batch {batch}: the batch size must be ≥ 1")
    return BATCH if batch is None else batch


def _specs(config: ModelConfig, n: int | str) -> dict[str, TensorSpec]:
    """Every tensor any of the editor's graphs takes or gives, by name."""
    size = config.img_size
    last = config.num_domains - 1
    return {
        IMAGE: TensorSpec(IMAGE, [n, 3, size, size], "float32", [-1.0, 1.0], "NCHW"),
        SOURCE: TensorSpec(SOURCE, [n], "int64", [0, last]),
        TARGET: TensorSpec(TARGET, [n], "int64", [0, last]),
        STRENGTH: TensorSpec(STRENGTH, [n], "float32", None),  # 0 reconstructs, 1 is the trained edit; any real value works
        MASKS: TensorSpec(MASKS, [n, MASK_CHANNELS, size, size], "float32", [0.0, 1.0], "NCHW"),
        STYLE: TensorSpec(STYLE, [n, config.style_dim], "float32", None),
        STYLE_DELTA: TensorSpec(STYLE_DELTA, [n, config.style_dim], "float32", None),
        EDITED: TensorSpec(EDITED, [n, 3, size, size], "float32", [-1.0, 1.0], "NCHW"),
    }


def _graph(config: ModelConfig, batch: int | None, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> EditorSignature:
    """A graph's signature from tensor names; `masks` joins the inputs of image-producing graphs of w_hpf > 0 models."""
    specs = _specs(config, _batch_axis(batch))
    if EDITED in outputs and config.w_hpf > 0:
        inputs = (*inputs, MASKS)
    return EditorSignature(tuple(specs[name] for name in inputs), tuple(specs[name] for name in outputs))


def editor_signature(config: ModelConfig, batch: int | None = 1) -> EditorSignature:
    """The signature of an editor built from `config`; `batch=None` makes the batch axis dynamic."""
    return _graph(config, batch, (IMAGE, SOURCE, TARGET, STRENGTH), (EDITED,))


def stage_signatures(config: ModelConfig, batch: int | None = 1) -> dict[str, EditorSignature]:
    """The signatures of a split-style artifact's two graphs, by stage name, in the order they run."""
    return {
        STYLE_STAGE: _graph(config, batch, (IMAGE, SOURCE, TARGET), (STYLE, STYLE_DELTA)),
        GENERATOR_STAGE: _graph(config, batch, (IMAGE, STYLE, STYLE_DELTA, STRENGTH), (EDITED,)),
    }
