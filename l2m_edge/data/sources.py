"""The one entry point the trainer and the CLI use: `--data synth|DIR` → a labelled Dataset.

Every dataset returned has `.domains` (label i is the domain `domains[i]`) and yields
(image float32 [3, H, W] in [−1, 1], label int).
"""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset

from l2m_edge.errors import DataError

from .celeba import folder_dataset
from .face_renderer import ATTRIBUTES
from .synthfaces import SynthFaces

SYNTH = "synth"
SYNTH_SIZES = {"train": 20000, "val": 1000}

# CelebA column names and common spellings → SynthFaces' attribute names
SYNTH_ALIASES = {"smiling": "smile", "smile": "smile", "eyeglasses": "eyeglasses", "glasses": "eyeglasses",
                 "blond_hair": "hair_colour", "hair_colour": "hair_colour", "hair_color": "hair_colour"}


def synth_attribute(attribute: str) -> str:
    """SynthFaces' name for `smile`/`Smiling`, `eyeglasses`/`Eyeglasses`, `hair_colour`/`Blond_Hair`."""
    name = SYNTH_ALIASES.get(attribute.lower())
    if name is None:
        raise DataError(f"SynthFaces has no attribute {attribute!r}; choose one of {', '.join(ATTRIBUTES)}")
    return name


def build_dataset(data: str, attribute: str, img_size: int, split: str = "train", seed: int = 0, augment: bool = True,
                  synth_size: int | None = None) -> Dataset:
    """SynthFaces for `data="synth"` (seeded; `synth_size` faces, default 20 000 train / 1 000 val),
    else a real-face folder with its layout auto-detected (StarGAN v2 folders or an attribute file).

    SynthFaces is never augmented: its pose jitter is drawn per identity, and keeping items
    pure functions of (seed, index) keeps its edit pairs and region masks exact.
    """
    if split not in ("train", "val"):
        raise DataError(f"unknown split {split!r}; use 'train' or 'val'")
    if data == SYNTH:
        return SynthFaces(synth_size or SYNTH_SIZES[split], img_size, synth_attribute(attribute), seed=seed, split=split)
    if not Path(data).exists():
        raise DataError(f"--data {data}: no such folder; pass a folder of face images or 'synth'")
    return folder_dataset(data, split=split, img_size=img_size, attribute=attribute, augment=augment)
