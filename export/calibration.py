"""Face crops that feed INT8 calibration and parity checks: SynthFaces or a folder of images.

A high-pass model's folder calibration takes each image's face masks from the folder's MediaPipe
landmark cache (`l2m_edge.data.landmark_cache`), leaving out images without a face.

Parity and calibration must see real faces (never zeros or noise): quantisation ranges and
error figures measured on blank inputs say nothing about a face edit. Calibration and parity
draw disjoint SynthFaces identities (different seeds), so parity is never measured on the
frames the quantiser was fitted to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console

from l2m_edge.contract.signature import IMAGE, MASKS, SOURCE, STRENGTH, TARGET
from l2m_edge.data.landmark_cache import landmark_table
from l2m_edge.data.transforms import Placement
from l2m_edge.errors import ExportError
from l2m_edge.limits import image_file_refused
from l2m_edge.masks import face_masks, wflw_from_mediapipe

MIN_CALIBRATION = 100  # NNCF / TensorRT statistics need a few hundred activations per channel; 100 crops is the floor
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
CALIBRATION_SEED = 1001
PARITY_SEED = 2002
VERIFY_SEED = 3003


@dataclass(frozen=True)
class EditBatch:
    """Inputs of the Editor graph as numpy arrays, in the signature's names and dtypes."""

    image: np.ndarray  # [N,3,H,W] float32 in [−1, 1]
    source_domain: np.ndarray  # [N] int64
    target_domain: np.ndarray  # [N] int64
    strength: np.ndarray  # [N] float32
    masks: np.ndarray | None = None  # [N,2,H,W] float32 in [0, 1], for w_hpf > 0 graphs only

    def __len__(self) -> int:
        return int(self.image.shape[0])

    def feed(self) -> dict[str, np.ndarray]:
        """The graph's feed dict, in signature order (`masks` only when the batch has them)."""
        feed = {IMAGE: self.image, SOURCE: self.source_domain, TARGET: self.target_domain, STRENGTH: self.strength}
        return feed if self.masks is None else {**feed, MASKS: self.masks}

    def slice(self, start: int, stop: int) -> "EditBatch":
        masks = None if self.masks is None else self.masks[start:stop]
        return EditBatch(self.image[start:stop], self.source_domain[start:stop], self.target_domain[start:stop], self.strength[start:stop], masks)


@dataclass(frozen=True)
class FeedBatch:
    """Inputs of any graph (a split-style artifact's stage) by name: what calibration and stage parity feed."""

    arrays: dict[str, np.ndarray]

    def __len__(self) -> int:
        return int(len(next(iter(self.arrays.values()))))

    def feed(self) -> dict[str, np.ndarray]:
        return dict(self.arrays)

    def slice(self, start: int, stop: int) -> "FeedBatch":
        return FeedBatch({name: array[start:stop] for name, array in self.arrays.items()})


def synth_crops(n: int, size: int, seed: int, attribute: str = "smile") -> tuple[np.ndarray, np.ndarray]:
    """n SynthFaces crops [n,3,size,size] in [−1, 1] and their domain labels (alternating 0/1)."""
    from l2m_edge.data.synthfaces import ATTRIBUTES, SynthFaces

    faces = SynthFaces(n, size, attribute if attribute in ATTRIBUTES else "smile", seed=seed)
    images = np.stack([faces[i][0].numpy() for i in range(n)]).astype(np.float32)
    return images, np.array(faces.labels, dtype=np.int64)


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def centre_square(width: int, height: int, size: int) -> Placement:
    """The largest centred square of a width×height image, resized to size²: the crop calibration feeds."""
    side = min(width, height)
    return Placement(width, height, size, ((width - side) // 2, (height - side) // 2, side, side))


def folder_crops(files: list[Path], size: int) -> tuple[np.ndarray, list[Placement]]:
    """Each image centre-cropped square and resized to size² in [−1, 1], with where each crop came from."""
    crops, placements = [], []
    for path in files:
        refused = image_file_refused(path)
        if refused is not None:
            raise ExportError(f"{path}: {refused}; remove it from the calibration folder")
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ExportError(f"{path}: not a readable image; remove it from the calibration folder")
        placement = centre_square(bgr.shape[1], bgr.shape[0], size)
        left, top, side, _ = placement.box  # type: ignore[misc]
        square = bgr[top : top + side, left : left + side]
        rgb = cv2.cvtColor(cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        crops.append(rgb.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0)
        placements.append(placement)
    return (np.stack(crops) if crops else np.zeros((0, 3, size, size), np.float32)), placements


def faces_in(folder: Path, files: list[Path]) -> dict[Path, np.ndarray]:
    """The MediaPipe landmarks of the files where a face is found (the folder's cache, computed if missing)."""
    table = landmark_table(folder, files, Console(stderr=True))
    return {p: v for p, v in table.points.items() if v is not None}


def synth_masks(n: int, size: int, seed: int, attribute: str = "smile") -> np.ndarray:
    """The high-pass masks [n,2,size,size] of the faces `synth_crops` draws, from their exact landmarks."""
    from l2m_edge.data.synthfaces import ATTRIBUTES, SynthFaces

    faces = SynthFaces(n, size, attribute if attribute in ATTRIBUTES else "smile", seed=seed)
    return face_masks(np.stack([faces.landmarks(i) for i in range(n)]), size)


def edit_batch(images: np.ndarray, num_domains: int, labels: np.ndarray | None = None, masks: np.ndarray | None = None) -> EditBatch:
    """Pair each image with a source domain (its label, or cycling), a different target domain and a strength.

    Strengths cycle through 1, 0.5, 0 and 1.5 so that the reconstruction path (α = 0) and an
    extrapolated edit are covered as well as the paper's edit.
    """
    n = images.shape[0]
    index = np.arange(n)
    source = labels.astype(np.int64) if labels is not None else index % num_domains
    target = (source + 1 + (index // num_domains) % max(num_domains - 1, 1)) % num_domains
    strength = np.array([1.0, 0.5, 0.0, 1.5], dtype=np.float32)[index % 4]
    return EditBatch(np.ascontiguousarray(images, np.float32), source.astype(np.int64), target.astype(np.int64), strength, masks)


def calibration_batch(
    calib: str | Path, size: int, num_domains: int, attribute: str = "smile", masks: bool = False
) -> tuple[EditBatch, dict[str, object]]:
    """The INT8 calibration inputs for `--calib synth|DIR` and a description for the manifest.
    `masks`: the model has high-pass skips and takes face masks (SynthFaces draws them from exact landmarks)."""
    if str(calib) == "synth":
        images, labels = synth_crops(MIN_CALIBRATION, size, CALIBRATION_SEED, attribute)
        labels = labels % num_domains
        mask_batch = synth_masks(MIN_CALIBRATION, size, CALIBRATION_SEED, attribute) if masks else None
        return edit_batch(images, num_domains, labels, mask_batch), {"source": "synthfaces", "count": MIN_CALIBRATION, "seed": CALIBRATION_SEED}
    folder = Path(calib)
    if not folder.is_dir():
        raise ExportError(f"--calib {calib}: not a folder of face crops; pass a folder of images or --calib synth")
    files = image_files(folder)
    landmarks = faces_in(folder, files) if masks else {}  # a high-pass model: only images with a face
    if masks:
        files = [p for p in files if p in landmarks]
    if len(files) < MIN_CALIBRATION:
        faces = " with a face MediaPipe finds" if masks else ""
        raise ExportError(f"--calib {folder}: {len(files)} images{faces}, INT8 calibration needs at least {MIN_CALIBRATION}; add images or use --calib synth")
    images, placements = folder_crops(files, size)
    mask_batch = face_masks(np.stack([wflw_from_mediapipe(pl.points(landmarks[p])) for p, pl in zip(files, placements)]), size) if masks else None
    return edit_batch(images, num_domains, masks=mask_batch), {"source": str(folder.resolve()), "count": int(len(images))}


def parity_batch(
    size: int, num_domains: int, count: int = 8, seed: int = PARITY_SEED, attribute: str = "smile", masks: bool = False
) -> EditBatch:
    """Fresh SynthFaces crops (identities the calibration never saw) for parity checks, with their
    face masks when the model takes them."""
    images, labels = synth_crops(count, size, seed, attribute)
    mask_batch = synth_masks(count, size, seed, attribute) if masks else None
    return edit_batch(images, num_domains, labels % num_domains, mask_batch)
