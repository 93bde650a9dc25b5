"""Image loading and the StarGAN v2 augmentation, in plain PIL + torch (no torchvision here).

StarGAN v2 trains on: random resized crop (scale 0.8–1, ratio 0.9–1.1) applied with p = 0.5,
resize to the model size, horizontal flip with p = 0.5, and normalisation to [−1, 1]. The
random draws come from `seeded_draws`' per-sample generator (else torch's global one), so an
item is a function of its seed. A draw is a `Placement`: the same geometry moves the image and
its face landmarks.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import threading
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from PIL import Image

from l2m_edge.errors import DataError
from l2m_edge.limits import image_file_refused

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

_draws = threading.local()


@contextlib.contextmanager
def seeded_draws(seed: int) -> Iterator[None]:
    """Draw this thread's augmentation from a generator seeded with `seed` instead of torch's global one.

    Another thread of the process (a live pipeline, a test's leftover worker) drawing from the global
    generator can then never interleave with these draws, so they are a function of `seed` alone.
    """
    previous = getattr(_draws, "generator", None)
    _draws.generator = torch.Generator().manual_seed(seed)
    try:
        yield
    finally:
        _draws.generator = previous


def _generator() -> torch.Generator | None:
    """The generator of an enclosing `seeded_draws`, else None (torch's global generator)."""
    return getattr(_draws, "generator", None)


# The process, not the file, is short of something: skipping the file would silently swap a sample.
_PROCESS_LIMITS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})


def load_rgb(path: str | os.PathLike) -> Image.Image | None:
    """The image at `path` as RGB, fully decoded; None when it cannot be read (missing, truncated, not an image).

    A process out of file descriptors or memory raises DataError instead: the file is fine, and
    treating it as unreadable would replace it by another sample only in this process. A FIFO or
    an image whose header declares more pixels than `l2m_edge.limits` allows is unreadable too
    (never decoded, never waited on).
    """
    if image_file_refused(path) is not None:
        return None
    try:
        with Image.open(path) as img:
            img.load()
            return img.convert("RGB")
    except OSError as exc:
        if exc.errno in _PROCESS_LIMITS:
            raise DataError(f"{path}: {exc.strerror} while reading it; raise the limit (`ulimit -n`) or free memory, then resume") from None
        return None
    except (ValueError, Image.DecompressionBombError, SyntaxError):
        return None


def random_resized_crop_box(width: int, height: int, scale: tuple[float, float] = (0.8, 1.0), ratio: tuple[float, float] = (0.9, 1.1)) -> tuple[int, int, int, int]:
    """A random (left, top, w, h) covering `scale` of the area with aspect ratio in `ratio`.

    Ten tries at a random area and log-uniform aspect ratio; if none fits, the largest
    centred box whose ratio lies within `ratio`.
    """
    area = width * height
    generator = _generator()
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = area * float(torch.empty(1).uniform_(scale[0], scale[1], generator=generator))
        aspect = math.exp(float(torch.empty(1).uniform_(log_lo, log_hi, generator=generator)))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (1,), generator=generator))
            left = int(torch.randint(0, width - w + 1, (1,), generator=generator))
            return left, top, w, h
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        h, w = height, int(round(height * ratio[1]))
    else:
        w, h = width, height
    return (width - w) // 2, (height - h) // 2, w, h


def to_model_tensor(img: Image.Image, img_size: int) -> torch.Tensor:
    """Resize to img_size² (bilinear, antialiased when shrinking) and map to float32 [3, H, W] in [−1, 1]."""
    if img.size != (img_size, img_size):
        img = img.resize((img_size, img_size), Image.BILINEAR)
    array = np.asarray(img, dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


@dataclass(frozen=True)
class Placement:
    """Where an output image comes from: an optional box of the source, resized to `size`², maybe mirrored.

    One draw of the augmentation, applied alike to the image and to its face landmarks, so masks
    drawn from the landmarks follow the crop and the flip. Points are in MediaPipe's convention
    (x = 0 at the image's left edge, x = width at its right edge), which PIL's resize keeps linear.
    """

    width: int  # source size
    height: int
    size: int
    box: tuple[int, int, int, int] | None = None  # left, top, w, h of a random resized crop
    flip: bool = False

    def image(self, img: Image.Image) -> torch.Tensor:
        if self.box is not None:
            left, top, w, h = self.box
            img = img.resize((self.size, self.size), Image.BILINEAR, box=(left, top, left + w, top + h))
        if self.flip:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        return to_model_tensor(img, self.size)

    def points(self, points: np.ndarray) -> np.ndarray:
        """Landmarks [K, 2] in source pixels → pixels of the output image."""
        left, top, w, h = self.box if self.box is not None else (0, 0, self.width, self.height)
        out = (np.asarray(points, dtype=np.float64)[:, :2] - (left, top)) * (self.size / w, self.size / h)
        if self.flip:
            out[:, 0] = self.size - out[:, 0]
        return out


class StarGANAugment:
    """Random resized crop with probability `crop_prob`, resize, random horizontal flip, normalise."""

    def __init__(self, img_size: int, crop_prob: float = 0.5, scale: tuple[float, float] = (0.8, 1.0), ratio: tuple[float, float] = (0.9, 1.1)):
        self.img_size = img_size
        self.crop_prob = crop_prob
        self.scale = scale
        self.ratio = ratio

    def place(self, width: int, height: int) -> Placement:
        """Draw one augmentation of a `width`×`height` image (crop first, then flip: the draw order is fixed)."""
        box = None
        if float(torch.rand(1, generator=_generator())) < self.crop_prob:
            box = random_resized_crop_box(width, height, self.scale, self.ratio)
        flip = float(torch.rand(1, generator=_generator())) < 0.5
        return Placement(width, height, self.img_size, box, flip)

    def __call__(self, img: Image.Image) -> torch.Tensor:
        return self.place(img.width, img.height).image(img)


class Plain:
    """Evaluation transform: resize and normalise, nothing random."""

    def __init__(self, img_size: int):
        self.img_size = img_size

    def place(self, width: int, height: int) -> Placement:
        return Placement(width, height, self.img_size)

    def __call__(self, img: Image.Image) -> torch.Tensor:
        return self.place(img.width, img.height).image(img)
