"""Face masks for training high-pass models (w_hpf > 0): every item carries its two masks.

StarGAN v2 runs its FAN on each augmented batch; here the masks come from landmarks the data
already has: SynthFaces draws its faces from exact points (`SynthFaces.landmarks`). Real-face
folders would need MediaPipe landmarks computed once and cached beside the images; that cache is
not built yet, so such data is refused for high-pass models with a line that says so.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from l2m_edge.config import ModelConfig
from l2m_edge.errors import DataError
from l2m_edge.masks import face_masks


class MaskedFaces(Dataset):
    """`dataset`'s items as {"image", "label", "masks" [2, H, W]}, masks from the item's landmarks."""

    def __init__(self, dataset: Any, img_size: int) -> None:
        self.dataset = dataset
        self.img_size = img_size

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict[str, Any]:
        image, label = self.dataset[i]
        masks = face_masks(self.dataset.landmarks(i), self.img_size)[0]
        return {"image": image, "label": label, "masks": torch.from_numpy(masks)}

    def __getattr__(self, name: str) -> Any:  # domains, labels, … of the wrapped data
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)


def with_masks(dataset: Dataset | None, config: ModelConfig) -> Dataset | None:
    """The data a model of `config` trains on: with masks when it has high-pass skips."""
    if dataset is None or not config.uses_masks:
        return dataset
    if not callable(getattr(dataset, "landmarks", None)):
        raise DataError(
            f"a model with high-pass skips (w_hpf={config.w_hpf:g}) trains on faces with landmarks for its masks; "
            "SynthFaces (--data synth) has them, a landmark cache for image folders is not built yet: train with w_hpf=0"
        )
    return MaskedFaces(dataset, config.img_size)


def sample_masks(dataset: Dataset, indices: list[int]) -> torch.Tensor | None:
    """The masks of these items [N, 2, H, W], or None for data without them (models without high-pass skips)."""
    if not isinstance(dataset, MaskedFaces):
        return None
    return torch.stack([dataset[i]["masks"] for i in indices])
