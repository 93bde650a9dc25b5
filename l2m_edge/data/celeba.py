"""Real face data: CelebA-HQ in the StarGAN v2 folder layout, or an attribute file + image folder.

Two layouts are read:
  * StarGAN v2: ROOT/train/<domain>/*.jpg|png and ROOT/val/<domain>/...; the domains are the
    sub-folders (a `synthfaces.json` fixes their order; otherwise a `no_…`/`not_…` domain comes
    first, then alphabetical).
  * an attribute file (`CelebAMask-HQ-attribute-anno.txt`, `list_attr_celeba.txt`, or their CSV
    form) beside an image folder: `attribute="Smiling"` splits the images into the domains
    (`not_Smiling`, `Smiling`). The val split is `list_eval_partition.txt` where present
    (CelebA), else a fixed 5 % chosen by a hash of the file name.

Unreadable images never stop an epoch: they are skipped (the next readable index is served
instead) and counted in `FaceFolder.skipped`, so the trainer can report them.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path
import numpy as np
import torch
from torch.utils.data import Dataset

from l2m_edge.errors import DataError
from l2m_edge.limits import is_plain_relative, not_a_regular_file
from l2m_edge.masks import wflw_from_mediapipe

from .transforms import IMAGE_SUFFIXES, Plain, StarGANAugment, load_rgb

ATTRIBUTE_FILES = ("CelebAMask-HQ-attribute-anno.txt", "list_attr_celeba.txt", "list_attr_celeba.csv")
IMAGE_DIRS = ("CelebA-HQ-img", "CelebAMask-HQ-img", "img_align_celeba", "images", "img", "imgs")
PARTITION_FILES = ("list_eval_partition.txt", "list_eval_partition.csv")
HASH_VAL_PERCENT = 5

# SynthFaces' attribute names and common spellings → CelebA's column names
CELEBA_ALIASES = {"smile": "Smiling", "eyeglasses": "Eyeglasses", "glasses": "Eyeglasses", "hair_colour": "Blond_Hair", "hair_color": "Blond_Hair", "blond": "Blond_Hair"}


class FaceFolder(Dataset):
    """(image [3, H, W] in [−1, 1], label) for a list of (path, label), skipping unreadable files.

    `root` is the data folder the paths lie under (where the landmark cache lives); `landmarks`,
    once set by `with_landmarks`, holds each image's MediaPipe points for the masks of high-pass models.
    """

    def __init__(self, items: list[tuple[Path, int]], domains: tuple[str, ...], transform: StarGANAugment | Plain, description: str, root: Path):
        if not items:
            raise DataError(f"{description}: no images found; expected *.jpg or *.png files")
        self.items = items
        self.domains = domains
        self.transform = transform
        self.description = description
        self.root = root
        self.skipped: set[Path] = set()  # unreadable files met so far (per process)
        self.landmarks: dict[Path, np.ndarray] | None = None  # [478, 2] in the file's pixels

    def __len__(self) -> int:
        return len(self.items)

    @property
    def labels(self) -> list[int]:
        return [label for _, label in self.items]

    @property
    def num_skipped(self) -> int:
        return len(self.skipped)

    def find_unreadable(self) -> list[Path]:
        """Decode every file once (as training would) and return those that cannot be read."""
        self.skipped.update(path for path, _ in self.items if load_rgb(path) is None)
        return sorted(self.skipped)

    def with_landmarks(self, landmarks: dict[Path, np.ndarray | None]) -> FaceFolder:
        """This folder's images that have landmarks (a face was found), each item carrying them."""
        kept = [(p, label) for p, label in self.items if landmarks.get(p) is not None]
        folder = FaceFolder(kept, self.domains, self.transform, self.description, self.root)
        folder.skipped = self.skipped
        folder.landmarks = {p: landmarks[p] for p, _ in kept}  # type: ignore[misc]
        return folder

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image, label, _ = self._read(i)
        return image, label

    def face_item(self, i: int) -> tuple[torch.Tensor, int, np.ndarray]:
        """Item i with its face's 98 WFLW points in the pixels of the image served (moved by its crop and flip)."""
        if self.landmarks is None:
            raise DataError(f"{self.description}: no landmarks attached; high-pass masks need `with_landmarks` first")
        image, label, points = self._read(i)
        return image, label, wflw_from_mediapipe(points)

    def _read(self, i: int) -> tuple[torch.Tensor, int, np.ndarray | None]:
        """(image, label, its landmarks moved like the image, or None) of item i or the next readable one."""
        n = len(self.items)
        for k in range(n):
            path, label = self.items[(i + k) % n]
            if path in self.skipped:
                continue
            img = load_rgb(path)
            if img is not None:
                placement = self.transform.place(img.width, img.height)
                points = None if self.landmarks is None else placement.points(self.landmarks[path])
                return placement.image(img), label, points
            self.skipped.add(path)
        raise DataError(f"{self.description}: none of the {n} images can be read; check the files")


def _order_domains(names: list[str], root: Path) -> tuple[str, ...]:
    meta = root / "synthfaces.json"
    if meta.is_file():
        try:
            recorded = json.loads(meta.read_text())["domains"]
            if sorted(recorded) == sorted(names):
                return tuple(recorded)
        except (ValueError, KeyError, TypeError):
            pass
    return tuple(sorted(names, key=lambda d: (not d.lower().startswith(("no_", "not_", "non_")), d)))


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def is_stargan_layout(root: Path) -> bool:
    train = root / "train"
    return train.is_dir() and any(d.is_dir() for d in train.iterdir())


def stargan_folder(root: str | Path, split: str, img_size: int, augment: bool) -> FaceFolder:
    """ROOT/<split>/<domain>/*.jpg|png as a FaceFolder whose labels index its domains."""
    root = Path(root)
    base = root / split
    if not base.is_dir():
        raise DataError(f"{root}: no '{split}' folder; expected {root}/{split}/<domain>/*.jpg")
    names = [d.name for d in base.iterdir() if d.is_dir() and not d.name.startswith(".")]
    if len(names) < 2:
        raise DataError(f"{base}: found {len(names)} domain folder(s); expected at least two, one per domain")
    domains = _order_domains(names, root)
    items = [(p, label) for label, d in enumerate(domains) for p in _images_in(base / d)]
    for label, d in enumerate(domains):
        if not any(lab == label for _, lab in items):
            raise DataError(f"{base / d}: empty domain folder; put its *.jpg or *.png images there")
    return FaceFolder(items, domains, _transform(img_size, augment), f"{base}", root)


@dataclass(frozen=True)
class AttributeTable:
    """An attribute file: names of the columns and, per image file name, each attribute as 1 (on) or 0 (off)."""

    names: tuple[str, ...]
    rows: dict[str, tuple[int, ...]]


def read_attribute_file(path: str | Path) -> AttributeTable:
    """Parse `list_attr_celeba.txt` / `CelebAMask-HQ-attribute-anno.txt` (count line, names line, rows) or the CSV form.

    Tolerated quirks: a missing count line, a names line that starts with a file-name column,
    runs of spaces, commas instead of spaces, values 1/−1 (or 1/0).
    """
    path = Path(path)
    refused = not_a_regular_file(path)
    if refused is not None:
        raise DataError(f"{path}: {refused}; pass the attribute file itself")
    try:
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the attribute file ({exc})") from exc
    comma = any("," in ln for ln in lines[:2])

    def split(line: str) -> list[str]:
        return [t.strip() for t in line.split(",")] if comma else line.split()

    if lines and lines[0].isdigit():
        lines = lines[1:]  # the image count
    if len(lines) < 2:
        raise DataError(f"{path}: not an attribute file; expected a line of attribute names, then 'file v1 v2 …' rows")
    names = split(lines[0])
    first = split(lines[1])
    if len(names) == len(first):  # the names line includes a file-name column (CSV header)
        names = names[1:]
    if len(first) != len(names) + 1:
        raise DataError(f"{path}: {len(names)} attribute names but rows of {len(first) - 1} values; the file is damaged")
    rows: dict[str, tuple[int, ...]] = {}
    for number, line in enumerate(lines[1:], start=3):
        parts = split(line)
        if len(parts) != len(names) + 1:
            raise DataError(f"{path}:{number}: expected a file name and {len(names)} values, got {len(parts)} fields")
        if not is_plain_relative(parts[0]):
            raise DataError(f"{path}:{number}: {parts[0]!r} is not a file name inside the data folder (no absolute path, no '..'); fix the row")
        try:
            rows[parts[0]] = tuple(1 if int(v) > 0 else 0 for v in parts[1:])
        except ValueError as exc:
            raise DataError(f"{path}:{number}: values must be 1 or -1 ({exc})") from exc
    return AttributeTable(tuple(names), rows)


def resolve_attribute(name: str, names: tuple[str, ...], source: str) -> str:
    """The column for `name` (case-insensitive; SynthFaces spellings such as `smile` accepted)."""
    wanted = CELEBA_ALIASES.get(name.lower(), name).lower()
    for column in names:
        if column.lower() == wanted:
            return column
    raise DataError(f"{source} has no attribute {name!r}; valid ones: {', '.join(names)}")


def find_attribute_file(root: Path) -> Path | None:
    for name in ATTRIBUTE_FILES:
        if (root / name).is_file():
            return root / name
    found = sorted(root.glob("*attr*.txt")) + sorted(root.glob("*attr*.csv"))
    return found[0] if found else None


def _image_folder(root: Path, table: AttributeTable) -> Path:
    sample = next(iter(table.rows))
    for folder in [root / d for d in IMAGE_DIRS] + [root] + sorted(p for p in root.iterdir() if p.is_dir()):
        if (folder / sample).is_file():
            return folder
    raise DataError(f"{root}: no folder holds the images the attribute file lists (e.g. {sample}); put them in {root}/{IMAGE_DIRS[0]}/")


def _val_names(root: Path, names: list[str]) -> set[str]:
    for partition_name in PARTITION_FILES:
        partition = root / partition_name
        if partition.is_file():
            val = set()
            for line in partition.read_text().splitlines():
                parts = line.replace(",", " ").split()
                if len(parts) == 2 and parts[1] in ("1", "2"):
                    val.add(parts[0])
            return val
    return {n for n in names if zlib.crc32(n.encode()) % 100 < HASH_VAL_PERCENT}


def attribute_folder(root: str | Path, attribute: str, split: str, img_size: int, augment: bool, attribute_file: str | Path | None = None) -> FaceFolder:
    """Images split into (`not_<attr>`, `<attr>`) by a CelebA attribute file found in `root`."""
    root = Path(root)
    path = Path(attribute_file) if attribute_file is not None else find_attribute_file(root)
    if path is None:
        raise DataError(f"{root}: neither train/<domain>/ folders nor an attribute file ({', '.join(ATTRIBUTE_FILES)})")
    table = read_attribute_file(path)
    column = resolve_attribute(attribute, table.names, path.name)
    if not table.rows:
        raise DataError(f"{path}: lists no images")
    folder = _image_folder(root, table)
    index = table.names.index(column)
    val = _val_names(root, list(table.rows))
    want_val = split != "train"
    items = [(folder / name, values[index]) for name, values in table.rows.items() if (name in val) == want_val]
    missing = [p for p, _ in items if not p.is_file()]
    dataset = FaceFolder(items, (f"not_{column}", column), _transform(img_size, augment), f"{folder} ({split}, {column})", root)
    dataset.skipped.update(missing)
    return dataset


def _transform(img_size: int, augment: bool) -> StarGANAugment | Plain:
    return StarGANAugment(img_size) if augment else Plain(img_size)


def folder_dataset(root: str | Path, split: str = "train", img_size: int = 128, attribute: str | None = None, augment: bool = True) -> FaceFolder:
    """A real-face folder in either layout (auto-detected); `attribute` is needed for the attribute-file layout."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such data folder; pass a folder of face images or 'synth'")
    if is_stargan_layout(root):
        return stargan_folder(root, split, img_size, augment)
    if find_attribute_file(root) is not None:
        if not attribute:
            raise DataError(f"{root}: an attribute file needs --attr (e.g. Smiling, Eyeglasses, Male, Young)")
        return attribute_folder(root, attribute, split, img_size, augment)
    if not any(root.iterdir()):
        raise DataError(f"{root}: empty folder; expected train/<domain>/*.jpg or an attribute file with its images")
    raise DataError(f"{root}: neither train/<domain>/ folders nor an attribute file ({', '.join(ATTRIBUTE_FILES)})")
