"""The sizes l2m-edge accepts from files it did not write, named once, and the checks against them.

A 1 MB PNG can declare 30000² pixels, a 452-byte checkpoint a 3000-channel model, a 4 MB cache a
million entries: each is refused from its header, before anything is decoded or allocated, so
memory stays bounded by what an honest input of that kind needs. The numbers are generous for
real use (8K frames, the published model's widths, CelebA's 200 000 faces) and far below what
would exhaust a small machine.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

# images: an 8K frame is 7680×4320 (33 Mpx); a phone's 200-Mpx sensor is 16320×12240
MAX_IMAGE_SIDE = 16384
MAX_IMAGE_PIXELS = 64_000_000

# model dimensions read from checkpoint metadata, a manifest or an imported checkpoint's shapes
# (the published `paper` preset: img_size 256, dim_in 64, max_conv_dim 512, style_dim 64)
MODEL_DIMENSIONS = {
    "img_size": 1024,
    "dim_in": 512,
    "max_conv_dim": 1024,
    "style_dim": 1024,
    "latent_hidden": 1024,
    "latent_layers": 16,
    "num_domains": 64,
    "n_bottleneck": 16,
}

# `import`: one official tensor, counted as the bytes it takes once materialised (numel × element
# size), not its storage: a stride-0 `expand` stores 27 numbers and stands for millions
MAX_IMPORT_TENSOR_BYTES = 64 << 20  # the paper's largest tensor is 9.4 MB
MAX_IMPORT_FILE_BYTES = 2 << 30  # the official release (with fan and vgg) is under 1 GB

# the landmark cache: one entry per image (CelebA has 202 599 images); its arrays' declared bytes
MAX_CACHE_ENTRIES = 250_000
MAX_CACHE_BYTES = 1 << 30  # 250 000 × 478 × 2 float32 points is 956 MB

MAX_EXPORT_BATCH = 256  # a static batch baked into a graph; larger batches run as --dynamic
MAX_LOADER_WORKERS = 64  # each a process; more only meet the process limit
MAX_MANIFEST_BYTES = 1 << 20  # an artifact's manifest.json is a few kB


def check_dimensions(values: dict[str, object]) -> str | None:
    """What is wrong with the model dimensions among `values` (each a positive integer within its
    limit), or None."""
    for name, limit in MODEL_DIMENSIONS.items():
        if name not in values:
            continue
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
            return f"{name} must be an integer from 1 to {limit}, got {value!r}"
    return None


def is_plain_relative(name: object) -> bool:
    """Whether `name` (from a manifest or an attribute file) stays inside the folder it is read
    against: a relative path of ordinary names, no absolute path, `..`, `.`, empty part or backslash."""
    return isinstance(name, str) and bool(name) and "\\" not in name and "\0" not in name and not name.startswith("/") and all(
        part not in ("", ".", "..") for part in name.split("/")
    )


def image_size_refused(width: int, height: int) -> str | None:
    """Why an image of width×height is not decoded (too large), or None."""
    if max(width, height) > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        return f"{width}×{height} pixels is {_TOO_LARGE}"
    return None


_TOO_LARGE = f"larger than l2m-edge decodes (at most {MAX_IMAGE_SIDE} px a side and {MAX_IMAGE_PIXELS / 1e6:g} Mpx); scale it down first"


def not_a_regular_file(path: str | os.PathLike) -> str | None:
    """Why `path` cannot be read as a file without blocking (a FIFO, a device, a folder), or None.

    A missing file is left to the reader's own message.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device or socket"
    return f"{kind}, not a regular file"


def image_file_refused(path: str | os.PathLike) -> str | None:
    """Why the image file at `path` is not decoded (not a regular file, or too large by its
    header), or None. Formats PIL cannot read a header of are left to the decoder."""
    reason = not_a_regular_file(path)
    if reason is not None:
        return reason
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(Path(path)) as img:  # reads the header only
                width, height = img.size
    except Image.DecompressionBombError as exc:  # PIL's own limit, above ours: the header said more
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        return f"{int(pixels.group(1)) if pixels else 'more'} pixels (by its header) is {_TOO_LARGE}"
    except (OSError, ValueError, SyntaxError):
        return None
    return image_size_refused(width, height)
