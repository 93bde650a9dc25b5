"""MediaPipe face landmarks of a folder's images, computed once and cached beside the data.

High-pass models (w_hpf > 0) take face masks drawn from landmarks (`l2m_edge.masks`). StarGAN v2
runs its FAN on every augmented batch; here FaceMesh (static image mode, the 478-point model the
tracker runs) sees each file once, and the loader moves the cached points with the image's own
crop and flip (`transforms.Placement`).

The cache is one .npz (read with `allow_pickle=False`): `ROOT/.l2m-landmarks.npz`, or, when ROOT
is not writable, `$XDG_CACHE_HOME/l2m-edge/landmarks/<ROOT's name>-<hash of its path>.npz`
(`~/.cache` without XDG_CACHE_HOME). An entry is keyed by the image's path relative to ROOT with
its size and mtime, so an edited or added image is recomputed and the others are reused. Images
where FaceMesh finds no face are recorded as such (not retried) and left out of high-pass training.
"""

from __future__ import annotations

import hashlib
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from rich.console import Console

from l2m_edge.errors import DataError
from l2m_edge.face_mesh import MESH_POINTS, mesh_landmarks, new_face_mesh
from l2m_edge.io import atomic_path, creation_refused, output_lock
from l2m_edge.limits import MAX_CACHE_BYTES, MAX_CACHE_ENTRIES, not_a_regular_file
from l2m_edge.metrics.progress import progress_bar

from .transforms import load_rgb

CACHE_NAME = ".l2m-landmarks.npz"
FORMAT = 1  # bump when the stored arrays change meaning: older caches are then rebuilt
EXAMPLES = 3  # file names a report line shows


@dataclass(frozen=True)
class Entry:
    """One image's cached result: the file's size and mtime when it was read, its points or None (no face)."""

    size: int
    mtime_ns: int
    points: np.ndarray | None  # [478, 2] float32 in the image's pixels


@dataclass(frozen=True)
class LandmarkTable:
    """The landmarks of the images asked for, by path; None where no face was found."""

    points: dict[Path, np.ndarray | None]
    file: Path  # the cache file they were read from or written to
    computed: int  # images FaceMesh ran on in this call (0: all reused)

    @property
    def no_face(self) -> list[Path]:
        return sorted(p for p, v in self.points.items() if v is None)


def cache_file(root: Path) -> Path:
    """Where ROOT's cache lives: beside the data when it exists there or ROOT is writable, else the user cache."""
    beside = root / CACHE_NAME
    if beside.is_file() or creation_refused(root) is None:  # not os.access: it says yes to root on a read-only mount
        return beside
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    return base / "l2m-edge" / "landmarks" / f"{root.resolve().name}-{digest}.npz"


_ARRAYS = {"format": "i", "paths": "U", "sizes": "i", "mtimes": "i", "found": "b", "points": "f"}  # name → dtype kind


def read_cache(file: Path) -> dict[str, Entry]:
    """The entries of a cache file by relative path; empty when it is missing, damaged, of another
    format, or larger than `l2m_edge.limits` allows by its arrays' headers (checked before any array
    is read). Entries whose points are not finite are left out (recomputed)."""
    try:
        with np.load(file, allow_pickle=False) as npz:
            if not _headers_fit(npz.zip) or int(npz["format"]) != FORMAT:
                return {}
            paths, sizes, mtimes, found, points = (npz[k] for k in ("paths", "sizes", "mtimes", "found", "points"))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return {}
    if points.shape != (len(paths), MESH_POINTS, 2) or not (len(sizes) == len(mtimes) == len(found) == len(paths)):
        return {}
    finite = np.isfinite(points).all(axis=(1, 2))
    return {str(p): Entry(int(s), int(m), points[i] if f else None) for i, (p, s, m, f) in enumerate(zip(paths, sizes, mtimes, found)) if finite[i] or not f}


def _headers_fit(archive: zipfile.ZipFile) -> bool:
    """Whether the .npy headers in the archive declare the cache's arrays, of its dtypes, within the limits."""
    total, entries = 0, set()
    for name, kind in _ARRAYS.items():
        with archive.open(f"{name}.npy") as member:
            read_header = np.lib.format.read_array_header_1_0 if np.lib.format.read_magic(member) == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(member)
        if dtype.kind != kind:
            return False
        total += math.prod(shape) * dtype.itemsize
        if name != "format":
            entries.add(shape[0] if shape else -1)
    return len(entries) == 1 and entries.pop() <= MAX_CACHE_ENTRIES and total <= MAX_CACHE_BYTES


def write_cache(file: Path, entries: dict[str, Entry]) -> None:
    names = sorted(entries)
    points = np.zeros((len(names), MESH_POINTS, 2), dtype=np.float32)
    for i, name in enumerate(names):
        if entries[name].points is not None:
            points[i] = entries[name].points
    with atomic_path(file) as tmp, open(tmp, "wb") as f:
        np.savez(
            f,
            format=np.int64(FORMAT),
            paths=np.array(names, dtype=str),
            sizes=np.array([entries[n].size for n in names], dtype=np.int64),
            mtimes=np.array([entries[n].mtime_ns for n in names], dtype=np.int64),
            found=np.array([entries[n].points is not None for n in names], dtype=bool),
            points=points,
        )


def detect(path: Path, mesh: object) -> np.ndarray | None:
    """The 478 landmarks of the face in one image file, None when it has none (or cannot be read)."""
    img = load_rgb(path)
    if img is None:
        return None
    points = mesh_landmarks(mesh, np.asarray(img))
    return None if points is None or len(points) != MESH_POINTS else points


def landmark_table(root: str | os.PathLike, images: Sequence[Path], console: Console | None = None) -> LandmarkTable:
    """The landmarks of `images` (files under ROOT), computing only what the cache lacks or has stale.

    Several processes (torchrun ranks) may ask at once: one computes under a lock, the others wait
    for it and read its result. `console`: where the progress bar and the one-line notices (computing;
    images without a face) go (None: silent).
    """
    root = Path(root)
    stamps = {}
    for path in images:
        try:
            st = path.stat()
        except OSError:
            continue  # a missing file: the data set skips it as unreadable
        stamps[path] = (path.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns)
    file = cache_file(root)
    refused = not_a_regular_file(file)
    if refused is not None:
        raise DataError(f"{file}: {refused} where l2m-edge keeps its landmark cache; remove it")

    def stale(entries: dict[str, Entry]) -> list[Path]:
        return [p for p, (rel, size, mtime) in stamps.items() if (e := entries.get(rel)) is None or (e.size, e.mtime_ns) != (size, mtime)]

    entries = read_cache(file)
    todo = stale(entries)
    if todo:
        with output_lock(file, wait=math.inf, on_busy=lambda pid: _say(console, f"landmarks: waiting for l2m-edge process {pid}, which is building {file}")):
            entries = read_cache(file)  # another process may have filled it while we waited
            todo = stale(entries)
            if todo:
                _compute(todo, stamps, entries, root, file, console)
    table = LandmarkTable({p: entries[rel].points for p, (rel, _, _) in stamps.items()}, file, len(todo))
    line = _no_face_line(table)
    if line:
        _say(console, line)
    return table


def _compute(todo: list[Path], stamps: dict[Path, tuple[str, int, int]], entries: dict[str, Entry], root: Path, file: Path, console: Console | None) -> None:
    _say(console, f"landmarks: running MediaPipe FaceMesh once on {len(todo)} images of {root} (for high-pass masks); cached in {file}")
    mesh = new_face_mesh(still=True, refine_iris=True)
    try:
        with progress_bar("face landmarks", len(todo), enabled=console is not None, console=console) as advance:
            for path in todo:
                rel, size, mtime = stamps[path]
                entries[rel] = Entry(size, mtime, detect(path, mesh))
                advance()
    finally:
        mesh.close()
    for rel in [r for r in entries if not (root / r).is_file()]:
        del entries[rel]  # images deleted since
    write_cache(file, entries)


def _no_face_line(table: LandmarkTable) -> str | None:
    """One line naming the images without a face (they are left out of high-pass use), None when all have one."""
    missing = table.no_face
    if not missing:
        return None
    shown = ", ".join(p.name for p in missing[:EXAMPLES]) + (" …" if len(missing) > EXAMPLES else "")
    return f"landmarks: no face found in {len(missing)} of {len(table.points)} images ({shown}); high-pass training, evaluation and calibration leave them out"


def check_some_faces(table: LandmarkTable, where: str) -> None:
    if not any(v is not None for v in table.points.values()):
        raise DataError(f"{where}: MediaPipe finds a face in none of its {len(table.points)} images; a model with high-pass skips needs faces for its masks")


def face_folder_landmarks(data: str, attribute: str, console: Console | None = None) -> LandmarkTable:
    """The landmark table of every image of a face folder, both splits (what `l2m-edge data landmarks` builds)."""
    from .sources import SYNTH, build_dataset

    if data == SYNTH:
        raise DataError("SynthFaces draws its faces from exact landmarks; nothing to cache: pass a face folder")
    folders = [build_dataset(data, attribute, 64, split="train", augment=False)]
    try:
        folders.append(build_dataset(data, attribute, 64, split="val", augment=False))
    except DataError:
        pass  # no held-out split
    images = sorted({path for folder in folders for path, _ in folder.items})  # type: ignore[attr-defined]
    return landmark_table(folders[0].root, images, console)  # type: ignore[attr-defined]


def _say(console: Console | None, line: str) -> None:
    """One notice line on `console` (None: the caller asked for silence)."""
    if console is not None:
        console.print(line, highlight=False, soft_wrap=True)
