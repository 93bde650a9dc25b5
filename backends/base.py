"""The one protocol every inference backend follows, and the input checks they share.

A backend runs the exported Editor graph whose I/O `l2m_edge.contract.signature` describes:
(image f32 [N,3,H,W] in [−1,1], source int64 [N], target int64 [N], strength f32 [N][, masks f32
[N,2,H,W] in [0,1] for w_hpf > 0 models]) → edited f32 [N,3,H,W]. The pipeline, `l2m-edge bench`
and the CLI see nothing else, so adding a runtime is one new module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from l2m_edge.canonical import DEFAULT_FRAMING
from l2m_edge.contract.signature import MASK_CHANNELS, TensorSpec
from l2m_edge.errors import ConfigError, InputError


@dataclass(frozen=True)
class ModelInfo:
    """What a backend's model expects: its input side, domain names and the attribute edited."""

    img_size: int
    domains: tuple[str, ...]
    attribute: str
    preset: str
    framing: str = DEFAULT_FRAMING  # the crop the model was trained on (l2m_edge.canonical)
    uses_masks: bool = False  # high-pass model: `infer` needs face masks (l2m_edge.masks)

    def domain_index(self, name_or_index: str | int) -> int:
        """Index of a domain given by name or number; a one-line error lists the valid names."""
        text = str(name_or_index)
        if text.isdigit() and 0 <= int(text) < len(self.domains):
            return int(text)
        if text in self.domains:
            return self.domains.index(text)
        raise ConfigError(f"unknown domain {text!r}: this model knows {', '.join(self.domains)}")


@runtime_checkable
class Backend(Protocol):
    """A loaded, ready-to-run editor. `precision` is what actually ran, not what was asked."""

    name: str  # a registry name: torch | torch-compile | onnxruntime | openvino | tensorrt
    runtime: str  # the runtime and its version, e.g. "openvino 2025.1.0"
    device: str  # e.g. "cpu", "cuda:0", "CPU", "CUDAExecutionProvider"
    precision: str  # fp32 | fp16 | bf16 | int8: the artifact's precision as it runs (int8 stays int8)
    compute_precision: str  # what the arithmetic runs in, read back from the runtime (an int8 IR: bf16 or fp32)
    requested_precision: str | None  # the compute precision asked of the runtime (OpenVINO's hint); None: the runtime takes no request
    threads: int | None  # CPU threads the runtime runs on, read back from it (None: it does not tell, or a GPU)
    info: ModelInfo
    reason: str  # why this backend was chosen (filled by load_backend for backend="auto")

    def infer(
        self, image: np.ndarray, source: np.ndarray, target: np.ndarray, strength: np.ndarray, masks: np.ndarray | None = None
    ) -> np.ndarray:
        """Edited images, f32 [N,3,H,W] in about [−1, 1]; `masks` exactly when the model's signature takes them."""
        ...

    def close(self) -> None:
        """Release sessions / device memory (safe to call twice)."""
        ...


@runtime_checkable
class StagedBackend(Backend, Protocol):
    """A backend that also runs the editor's two stages apart, so a face's style code can be reused
    across frames (`contract.signature`: s' = style + strength · style_delta)."""

    def style_code(self, image: np.ndarray, source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(style, style_delta) [N, style_dim] each."""
        ...

    def generate(
        self, image: np.ndarray, style: np.ndarray, style_delta: np.ndarray, strength: np.ndarray, masks: np.ndarray | None = None
    ) -> np.ndarray:
        """Edited images from given style codes: `generate(x, *style_code(x, s, t), α)` is `infer(x, s, t, α)`."""
        ...


Outputs = dict[str, np.ndarray]


def run_in_chunks(feed: dict[str, np.ndarray], step: int | None, run: Callable[[dict[str, np.ndarray]], Outputs], outputs: tuple[TensorSpec, ...]) -> Outputs:
    """Run a feed dict through `run` (→ the graph's outputs by name) whole (dynamic batch, `step` None) or in
    batches of `step` (a static-batch graph); a short last batch is padded by repeating its last row, and the
    padding's outputs are dropped. `outputs` (the graph's) shape the result of an empty batch."""
    n = len(next(iter(feed.values())))
    step = step or max(n, 1)
    parts: list[Outputs] = []
    for start in range(0, n, step):
        chunk = {name: array[start : start + step] for name, array in feed.items()}
        rows = len(next(iter(chunk.values())))
        if rows < step:
            chunk = {name: np.concatenate([array, np.repeat(array[-1:], step - rows, axis=0)]) for name, array in chunk.items()}
        parts.append({name: np.asarray(value, dtype=np.float32)[:rows] for name, value in run(chunk).items()})
    if not parts:
        return {spec.name: np.zeros((0, *spec.shape[1:]), np.float32) for spec in outputs}
    return {spec.name: np.concatenate([part[spec.name] for part in parts]) for spec in outputs}


def _batch_of(values: np.ndarray, n: int, dtype: type) -> np.ndarray:
    """One value per image: a scalar or a single value repeated, or exactly n of them."""
    return np.broadcast_to(np.asarray(values, dtype=dtype), (n,)).copy()


def check_inputs(info: ModelInfo, **given: np.ndarray | None) -> dict[str, np.ndarray | None]:
    """The inputs given by name (image, source, target, strength, masks, in any subset a call takes),
    as contiguous arrays of the graph's dtypes; a shape or domain mistake is a one-line error.

    An out-of-range domain index would silently read another head's weights inside the graph
    (gathers do not bounds-check on every runtime), so it is refused here.
    """
    checked: dict[str, np.ndarray | None] = dict(given)
    image = np.ascontiguousarray(given["image"], dtype=np.float32)
    size = info.img_size
    if image.ndim != 4 or image.shape[1:] != (3, size, size):
        raise InputError(f"image batch has shape {tuple(image.shape)}, this model takes [N, 3, {size}, {size}]")
    checked["image"] = image
    n = image.shape[0]
    k = len(info.domains)
    for label in ("source", "target"):
        if label in given:
            values = checked[label] = _batch_of(given[label], n, np.int64)  # type: ignore[arg-type]
            if n and (values.min() < 0 or values.max() >= k):
                raise ConfigError(f"{label} domain index {int(values.max() if values.max() >= k else values.min())} out of range: this model has {k} domains ({', '.join(info.domains)})")
    if "strength" in given:
        checked["strength"] = _batch_of(given["strength"], n, np.float32)  # type: ignore[arg-type]
    masks = given.get("masks")
    if masks is not None:
        masks = checked["masks"] = np.ascontiguousarray(masks, dtype=np.float32)
        if masks.shape != (n, MASK_CHANNELS, size, size):
            raise InputError(f"masks have shape {tuple(masks.shape)}, this model takes [{n}, {MASK_CHANNELS}, {size}, {size}]")
    return checked


def check_style_codes(n: int, style_dim: int, **codes: np.ndarray) -> dict[str, np.ndarray]:
    """Style codes given by name, each [n, style_dim], as contiguous f32 arrays; another shape is a one-line error."""
    for name, code in codes.items():
        if np.shape(code) != (n, style_dim):
            raise InputError(f"{name} has shape {tuple(np.shape(code))}, this model takes [{n}, {style_dim}]")
    return {name: np.ascontiguousarray(code, np.float32) for name, code in codes.items()}

