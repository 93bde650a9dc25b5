"""Still images in and out: output names that never collide or overwrite an input, and the
input's pixel format (grayscale, alpha) carried over to the edited file.

The pipeline works on 8-bit BGR frames. `read_still` records what that dropped, and
`restore_format` puts it back on the edit: a grayscale photo stays grayscale, an RGBA PNG keeps
its alpha. 16-bit images are edited and written in 8 bits, and say so (`StillFormat.note`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from l2m_edge.errors import OutputError

OUTPUT_SUFFIX = ".png"  # lossless, and it holds alpha and grayscale


@dataclass(frozen=True)
class StillFormat:
    """What the 8-bit BGR frame of a still lost: its alpha plane, grayscale, bit depth."""

    gray: bool = False
    alpha: np.ndarray | None = None  # uint8 [H, W]
    bits: int = 8

    @property
    def note(self) -> str | None:
        """A sentence for the user when the output cannot keep the input's format."""
        return f"{self.bits}-bit input written as 8-bit" if self.bits != 8 else None


def read_still(path: str | os.PathLike) -> tuple[np.ndarray, StillFormat] | None:
    """(8-bit BGR image, what the conversion dropped), or None when the file is not a readable image.

    The BGR image comes from OpenCV's colour decoder (which applies EXIF orientation); the raw
    decode only tells the format, and its alpha is used when it has the same orientation.
    """
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        return bgr, StillFormat()
    bits = 16 if raw.dtype == np.uint16 else 8
    gray = raw.ndim == 2 or raw.shape[2] == 1
    alpha = None
    if raw.ndim == 3 and raw.shape[2] == 4 and raw.shape[:2] == bgr.shape[:2]:
        plane = raw[..., 3]
        alpha = (plane >> 8).astype(np.uint8) if bits == 16 else plane.copy()
    return bgr, StillFormat(gray=gray, alpha=alpha, bits=bits)


def restore_format(frame: np.ndarray, fmt: StillFormat | None) -> np.ndarray:
    """The edited 8-bit BGR frame in the input's layout: grayscale and/or with its alpha plane."""
    if fmt is None:
        return frame
    if fmt.alpha is not None:
        image = cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR) if fmt.gray else frame
        return np.dstack([image, fmt.alpha])
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if fmt.gray else frame


def output_names(images: list[Path], out_dir: str | os.PathLike) -> list[str]:
    """One PNG name per input in `out_dir`: `face.png`, and `face-2.png` for a second `face.*`.

    An output that would land on one of the inputs is refused: the user's original is never
    overwritten (e.g. `edit face.png --out .` from the folder of face.png).
    """
    out_dir = Path(out_dir)
    inputs = {_identity(p) for p in images}
    taken: set[str] = set()
    names = []
    for image in images:
        stem, n = image.stem, 1
        name = f"{stem}{OUTPUT_SUFFIX}"
        while name.lower() in taken:
            n += 1
            name = f"{stem}-{n}{OUTPUT_SUFFIX}"
        taken.add(name.lower())
        target = out_dir / name
        if _identity(target) in inputs:
            raise OutputError(f"{target}: would overwrite the input image {image}; choose another --out folder")
        names.append(name)
    return names


def _identity(path: Path) -> str:
    return os.path.normcase(os.path.realpath(path))
