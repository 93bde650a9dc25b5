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

from l2m_edge.errors import OutputError, SourceError
from l2m_edge.limits import image_file_refused

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
    decode only tells the format, and its alpha is turned by the same EXIF orientation. A file
    that is not a regular file, or whose header declares more pixels than `l2m_edge.limits`
    allows, is refused (SourceError) before it is decoded.
    """
    refused = image_file_refused(path)
    if refused is not None:
        raise SourceError(f"{path}: {refused}")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        return bgr, StillFormat()
    bits = 16 if raw.dtype == np.uint16 else 8
    gray = raw.ndim == 2 or raw.shape[2] == 1
    alpha = None
    if raw.ndim == 3 and raw.shape[2] == 4:
        plane = _oriented(path, raw[..., 3])
        if plane.shape == bgr.shape[:2]:
            alpha = (plane >> 8).astype(np.uint8) if bits == 16 else np.ascontiguousarray(plane)
    return bgr, StillFormat(gray=gray, alpha=alpha, bits=bits)


# EXIF orientation (tag 0x0112) → the turn that shows the image upright (PIL's exif_transpose table)
_UPRIGHT = {
    2: np.fliplr, 3: lambda a: np.rot90(a, 2), 4: np.flipud, 5: np.transpose,
    6: lambda a: np.rot90(a, -1), 7: lambda a: np.rot90(a, 2).T, 8: lambda a: np.rot90(a, 1),
}


def _oriented(path: str | os.PathLike, plane: np.ndarray) -> np.ndarray:
    """A raw plane turned upright as its file's EXIF orientation says (as OpenCV's colour decode is)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            orientation = img.getexif().get(0x0112, 1)
    except (OSError, ValueError, SyntaxError):
        return plane
    return _UPRIGHT.get(orientation, lambda a: a)(plane)


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
    inputs = {path_identity(p) for p in images}
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
        if path_identity(target) in inputs:
            raise OutputError(f"{target}: would overwrite the input image {image}; choose another --out folder")
        names.append(name)
    return names


def path_identity(path: Path) -> str:
    """One key per file, whatever the spelling (links resolved, case folded where the OS folds it)."""
    return os.path.normcase(os.path.realpath(path))
