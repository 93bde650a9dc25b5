"""Face masks for training high-pass models (w_hpf > 0): every item carries its two masks.

StarGAN v2 runs its FAN on each augmented batch; here the masks come from landmarks the data
already has: SynthFaces draws its faces from exact points (`SynthFaces.landmarks`), and a real-face
folder gets MediaPipe's, computed once and cached beside the images (`data.landmark_cache`), then
moved with each item's crop and flip. Images where no face is found are left out.
"""

from __future__ import annotations

from typing import Any

import torch
from rich.console import Console
from torch.utils.data import Dataset

from l2m_edge.config import ModelConfig
from l2m_edge.data.celeba import FaceFolder
from l2m_edge.data.landmark_cache import check_some_faces, landmark_table
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
        image, label, wflw = self.dataset.face_item(i)
        masks = face_masks(wflw, self.img_size)[0]
        return {"image": image, "label": label, "masks": torch.from_numpy(masks)}

    def __getattr__(self, name: str) -> Any:  # domains, labels, … of the wrapped data
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)


def folder_with_landmarks(folder: FaceFolder, console: Console | None = None) -> FaceFolder:
    """The folder's images where MediaPipe finds a face, each carrying its cached landmarks (computed if missing)."""
    table = landmark_table(folder.root, [path for path, _ in folder.items], console)
    check_some_faces(table, folder.description)
    return folder.with_landmarks(table.points)


def masked_faces(dataset: Dataset, img_size: int, console: Console | None = None) -> MaskedFaces:
    """`dataset` with the masks of each item: SynthFaces' exact landmarks or a folder's cached MediaPipe ones."""
    if isinstance(dataset, FaceFolder):
        dataset = folder_with_landmarks(dataset, console)
    if not callable(getattr(dataset, "face_item", None)):
        raise DataError(
            f"a model with high-pass skips needs face landmarks for its masks; {type(dataset).__name__} has none: "
            "use SynthFaces (--data synth) or a face folder (its MediaPipe landmarks are cached on first use)"
        )
    return MaskedFaces(dataset, img_size)


def with_masks(dataset: Dataset | None, config: ModelConfig, console: Console | None = None) -> Dataset | None:
    """The data a model of `config` trains on: with masks when it has high-pass skips."""
    if dataset is None or not config.uses_masks:
        return dataset
    return masked_faces(dataset, config.img_size, console)


def sample_masks(dataset: Dataset, indices: list[int]) -> torch.Tensor | None:
    """The masks of these items [N, 2, H, W], or None for data without them (models without high-pass skips)."""
    if not isinstance(dataset, MaskedFaces):
        return None
    return torch.stack([dataset[i]["masks"] for i in indices])
