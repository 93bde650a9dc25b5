"""The data the metrics read: SynthFaces with its attribute regions, or a folder of real faces.

`--data synth` means SynthFaces (whose attribute region is known, so preservation is measured
outside it); anything else is a folder that `l2m_edge.data.build_dataset` reads, never augmented.
"""

from __future__ import annotations

import torch
from rich.console import Console
from torch.utils.data import Dataset, Subset

from l2m_edge.data import SYNTH, SynthFaces, build_dataset, synth_attribute, to_tensor
from l2m_edge.masks import face_masks
from l2m_edge.train.face_masks import MaskedFaces, masked_faces


class SynthWithRegions(Dataset):
    """SynthFaces items as (image, label, region [H,W] bool: True where the attribute may paint,
    masks [2,H,W]: the high-pass masks from the face's exact landmarks)."""

    def __init__(self, faces: SynthFaces) -> None:
        self.faces = faces
        self.domains = faces.domains

    def __len__(self) -> int:
        return len(self.faces)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, torch.Tensor, torch.Tensor]:
        label = self.faces.label(i)
        rgb, mask = self.faces.render(i, bool(label))
        masks = face_masks(self.faces.landmarks(i), self.faces.img_size)[0]
        return to_tensor(rgb), label, torch.from_numpy(mask > 0.5), torch.from_numpy(masks)


class FolderWithMasks(Dataset):
    """A folder's items as (image, label, no region, masks [2,H,W]): high-pass models, masks from cached landmarks."""

    def __init__(self, faces: MaskedFaces) -> None:
        self.faces = faces
        self.domains = faces.domains

    def __len__(self) -> int:
        return len(self.faces)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, None, torch.Tensor]:
        item = self.faces[i]
        return item["image"], item["label"], None, item["masks"]


def eval_dataset(data: str, attribute: str, img_size: int, n: int, seed: int = 0, split: str = "val", masks: bool = False,
                 console: Console | None = None) -> tuple[Dataset, tuple[str, ...], str]:
    """(data set, domain names, description) for `--data synth|DIR`; the held-out split by default.
    `masks`: a high-pass model's data, a folder's items carrying masks from its cached landmarks (`console`: the notices)."""
    if data == SYNTH:
        faces = SynthFaces(n, img_size, synth_attribute(attribute), seed=seed, split=split)
        return SynthWithRegions(faces), faces.domains, f"SynthFaces {split} (seed {seed})"
    dataset, domains, name = _folder(data, attribute, img_size, split, seed)
    return (FolderWithMasks(masked_faces(dataset, img_size, console)) if masks else dataset), domains, name


def train_dataset(data: str, attribute: str, img_size: int, n: int, seed: int = 0) -> tuple[Dataset, tuple[str, ...], str]:
    """The classifier's training data: n SynthFaces of the train split, or ≤ n of a folder's (seeded)."""
    if data == SYNTH:
        faces = SynthFaces(n, img_size, synth_attribute(attribute), seed=seed, split="train")
        return faces, faces.domains, f"SynthFaces train (seed {seed})"
    dataset, domains, name = _folder(data, attribute, img_size, "train", seed)
    if len(dataset) > n:  # type: ignore[arg-type]
        chosen = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:n].tolist()  # type: ignore[arg-type]
        return Subset(dataset, sorted(chosen)), domains, f"{name} ({n} of {len(dataset)}, seed {seed})"  # type: ignore[arg-type]
    return dataset, domains, name


def _folder(data: str, attribute: str, img_size: int, split: str, seed: int) -> tuple[Dataset, tuple[str, ...], str]:
    dataset = build_dataset(data, attribute, img_size, split=split, seed=seed, augment=False)
    return dataset, tuple(dataset.domains), f"{data} {split}"  # type: ignore[attr-defined]
