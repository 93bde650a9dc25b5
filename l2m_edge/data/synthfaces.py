"""SynthFaces as a torch `Dataset`, and a SynthFaces folder on disk for the folder loaders.

Item i is face i of `l2m_edge.data.face_renderer` (its identity, the attribute's state, the
region mask): this module only turns those drawings into model tensors, labels and splits.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from l2m_edge.errors import DataError

from .face_renderer import ATTRIBUTES, Identity, region_mask, render_face, render_image, sample_identity, wflw_landmarks

# Val identities are drawn from a disjoint range of identity indices.
VAL_INDEX_OFFSET = 1 << 40
SYNTH_MARKER = "synthfaces.json"  # written last into every SynthFaces folder: what `--force` may replace


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """uint8 HWC RGB → float32 CHW in [−1, 1]: the normalisation every model input uses."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


@dataclass(frozen=True)
class EditPair:
    """Item i as drawn, its ground-truth counterfactual (attribute flipped) and the region mask."""

    source: torch.Tensor  # [3, H, W] in [−1, 1]
    target: torch.Tensor  # [3, H, W] in [−1, 1], same identity, attribute flipped
    mask: torch.Tensor  # [1, H, W] in {0, 1}: where the edit may change pixels
    source_label: int
    target_label: int


class SynthFaces(Dataset):
    """`n` SynthFaces of one attribute: item i → (image [3, H, W] in [−1, 1], label).

    Labels alternate (i even → 0, odd → 1), so the two domains are balanced; identity i is
    `sample_identity(seed, i)` for train and `sample_identity(seed, VAL_INDEX_OFFSET + i)` for
    val, so the splits never share an identity.
    """

    def __init__(self, n: int, img_size: int, attribute: str = "smile", seed: int = 0, split: str = "train"):
        if attribute not in ATTRIBUTES:
            raise DataError(f"unknown SynthFaces attribute {attribute!r}; choose one of {', '.join(ATTRIBUTES)}")
        if split not in ("train", "val"):
            raise DataError(f"unknown split {split!r}; use 'train' or 'val'")
        if n < 1:
            raise DataError(f"SynthFaces needs n ≥ 1, got {n}")
        self.n = int(n)
        self.img_size = int(img_size)
        self.attribute = attribute
        self.seed = int(seed)
        self.split = split
        self.domains: tuple[str, str] = ATTRIBUTES[attribute]
        self._offset = 0 if split == "train" else VAL_INDEX_OFFSET

    def __len__(self) -> int:
        return self.n

    def label(self, i: int) -> int:
        return i % 2

    @property
    def labels(self) -> list[int]:
        return [i % 2 for i in range(self.n)]

    def identity(self, i: int) -> Identity:
        if not 0 <= i < self.n:
            raise IndexError(i)
        return sample_identity(self.seed, self._offset + i)

    def render(self, i: int, attribute_on: bool) -> tuple[np.ndarray, np.ndarray]:
        """Face i with the attribute in the given state: (RGB uint8, region mask)."""
        return render_face(self.identity(i), self.attribute, attribute_on, self.img_size)

    def landmarks(self, i: int) -> np.ndarray:
        """Item i's exact WFLW landmarks [98, 2] in pixels (for the masks of high-pass models)."""
        return wflw_landmarks(self.identity(i), self.attribute, bool(self.label(i)), self.img_size)

    def face_item(self, i: int) -> tuple[torch.Tensor, int, np.ndarray]:
        """Item i with its exact WFLW landmarks (the masks of high-pass models)."""
        return (*self[i], self.landmarks(i))

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        label = self.label(i)
        return to_tensor(render_image(self.identity(i), self.attribute, bool(label), self.img_size)), label

    def edit_pair(self, i: int) -> EditPair:
        """Item i, the same identity with the attribute flipped, and the region mask (for metrics)."""
        label = self.label(i)
        idt = self.identity(i)
        src = render_image(idt, self.attribute, bool(label), self.img_size)
        tgt = render_image(idt, self.attribute, not label, self.img_size)
        mask = region_mask(idt, self.attribute, self.img_size)
        return EditPair(to_tensor(src), to_tensor(tgt), torch.from_numpy(mask)[None], label, 1 - label)


def write_synthfaces(
    out_dir: str | os.PathLike,
    n: int,
    attribute: str = "smile",
    size: int = 128,
    seed: int = 0,
    val_fraction: float = 0.1,
    force: bool = False,
    progress: bool = True,
) -> dict[str, dict[str, int]]:
    """Write `n` SynthFaces in the CelebA-HQ / StarGAN v2 layout: OUT/{train,val}/<domain>/*.png.

    The val split holds round(n × val_fraction) faces of identities disjoint from train. The
    folder appears atomically (a crash leaves nothing half-written) with a `synthfaces.json`
    recording how it was made. Returns {split: {domain: count}}.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from l2m_edge.io import atomic_directory

    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"val fraction {val_fraction} must be in [0, 1)")
    n_val = int(round(n * val_fraction))
    splits = {"train": SynthFaces(n - n_val, size, attribute, seed, "train")}
    if n_val:
        splits["val"] = SynthFaces(n_val, size, attribute, seed, "val")
    if Path(out_dir).exists() and not force:
        raise DataError(f"{out_dir} exists; pass --force to overwrite it")
    counts: dict[str, dict[str, int]] = {}
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with atomic_directory(out_dir, force=force, foreign=_foreign_to_synthfaces) as tmp, Progress(*columns, disable=not progress) as bar:
        for split, ds in splits.items():
            domains = ds.domains
            for d in domains:
                (tmp / split / d).mkdir(parents=True)
            counts[split] = {d: 0 for d in domains}
            task = bar.add_task(f"{split} {attribute}", total=len(ds))
            for i in range(len(ds)):
                label = ds.label(i)
                rgb = render_image(ds.identity(i), attribute, bool(label), size)
                path = tmp / split / domains[label] / f"{i:06d}.png"
                if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
                    raise DataError(f"could not write {path}; check free disk space and permissions")
                counts[split][domains[label]] += 1
                bar.advance(task)
        meta = {"generator": "SynthFaces", "attribute": attribute, "domains": list(ATTRIBUTES[attribute]), "size": size, "seed": seed, "counts": counts}
        (tmp / SYNTH_MARKER).write_text(json.dumps(meta, indent=2) + "\n")
    return counts


def _foreign_to_synthfaces(directory: Path) -> str | None:
    """What in `directory` `write_synthfaces` did not write (None: it is a SynthFaces folder and only that):
    anything but its marker and `train|val/<recorded domain>/NNNNNN.png`, folders and links included."""
    from l2m_edge.io import unlisted_entries

    try:
        domains = json.loads((directory / SYNTH_MARKER).read_text())["domains"]
        ours = re.compile(rf"^({re.escape(SYNTH_MARKER)}|(train|val)/(({'|'.join(map(re.escape, domains))})/(\d{{6}}\.png)?)?)$")
    except (OSError, ValueError, KeyError, TypeError):
        return f"no {SYNTH_MARKER}"
    others = unlisted_entries(directory, lambda name: ours.match(name) is not None)
    return f"{', '.join(others[:3])}{' …' if len(others) > 3 else ''} not written by SynthFaces" if others else None
