"""The data the metrics read: SynthFaces with its attribute regions, or a folder of real faces.

`--data synth` means SynthFaces (whose attribute region is known, so preservation is measured
outside it); anything else is a folder in the CelebA-HQ / StarGAN v2 layout.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from l2m_edge.data.synthfaces import ATTRIBUTES, SynthFaces, to_tensor
from l2m_edge.errors import DataError

SYNTH = "synth"


class SynthWithRegions(Dataset):
    """SynthFaces items as (image, label, region [H,W] bool: True where the attribute may paint)."""

    def __init__(self, faces: SynthFaces) -> None:
        self.faces = faces
        self.domains = faces.domains

    def __len__(self) -> int:
        return len(self.faces)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, torch.Tensor]:
        label = self.faces.label(i)
        rgb, mask = self.faces.render(i, bool(label))
        return to_tensor(rgb), label, torch.from_numpy(mask > 0.5)


def synth_attribute(attribute: str) -> str:
    """SynthFaces' name for an attribute given as `smile` or CelebA's `Smiling`, `Eyeglasses`, …"""
    aliases = {"smiling": "smile", "eyeglasses": "eyeglasses", "blond_hair": "hair_colour", "hair_color": "hair_colour"}
    name = aliases.get(attribute.lower(), attribute.lower())
    if name not in ATTRIBUTES:
        raise DataError(f"SynthFaces has no attribute {attribute!r}; choose one of {', '.join(ATTRIBUTES)}")
    return name


def eval_dataset(data: str, attribute: str, img_size: int, n: int, seed: int = 0, split: str = "val") -> tuple[Dataset, tuple[str, ...], str]:
    """(data set, domain names, description) for `--data synth|DIR`; held-out split by default."""
    if data == SYNTH:
        faces = SynthFaces(n, img_size, synth_attribute(attribute), seed=seed, split=split)
        return SynthWithRegions(faces), faces.domains, f"SynthFaces {split} (seed {seed})"
    return _folder_dataset(Path(data), attribute, img_size, split)


def train_dataset(data: str, attribute: str, img_size: int, n: int, seed: int = 0) -> tuple[Dataset, tuple[str, ...], str]:
    """The classifier's training data: SynthFaces' train split, or a folder's train split."""
    if data == SYNTH:
        faces = SynthFaces(n, img_size, synth_attribute(attribute), seed=seed, split="train")
        return faces, faces.domains, f"SynthFaces train (seed {seed})"
    return _folder_dataset(Path(data), attribute, img_size, "train")


def _folder_dataset(root: Path, attribute: str, img_size: int, split: str) -> tuple[Dataset, tuple[str, ...], str]:
    from l2m_edge.data import folder_dataset

    dataset = folder_dataset(root, split=split, img_size=img_size, attribute=attribute, augment=False)
    return dataset, tuple(dataset.domains), f"{root} {split}"
