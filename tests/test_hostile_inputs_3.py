"""The hostile-input matrix, round 3: paths that escape, files nobody may touch, bombs, hangs.

Each case is one command a hostile (or unlucky) user can type, built from real files: symbolic
links planted where l2m-edge keeps its locks, forged manifests whose self-hash is recomputed with
`contract/manifest.py`'s own writer, a 1 MB PNG declaring 30000² pixels, safetensors and official
checkpoints whose metadata or shapes lie, FIFOs and sparse terabyte files. What must hold is what
README promises: one line, exit 1 (usage 2), nothing outside the target written, nothing a user
wrote touched without --force, memory bounded, no hang. Cases that could hang or eat memory on a
regression run in a child process under a time limit and an address-space cap (RLIMIT_AS), so a
regression fails in seconds instead of taking the machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import resource
import signal
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np
import psutil
import pytest
import torch
from safetensors.torch import save_file

from l2m_edge.contract.manifest import MANIFEST_NAME, Manifest, write_manifest
from l2m_edge.data.landmark_cache import CACHE_NAME, FORMAT, read_cache
from l2m_edge.errors import OutputError
from l2m_edge.face_mesh import MESH_POINTS
from l2m_edge.io import StagedFile, atomic_directory
from l2m_edge.runtime.clip import write_clip

from official_reference import official_state, save_official
from runtime_helpers import Ran, astronaut_bgr, coffee_bgr, default_sigint
from test_hostile_inputs import CLI, FAST, RUN, TRAIN, World, artifact, world  # noqa: F401 (fixtures)

MEMORY_CAP = 3 << 30  # a child's address space: a whole `run` (torch, MediaPipe, OpenCV) fits in 2 GiB here
HEADROOM = 2 << 30  # address space an in-process case may add to what the test process already maps
HANG_S = 90  # a case still running after this hangs


def snapshot(*roots: Path) -> dict[Path, str]:
    """sha256 of every file under `roots`; a file over 64 MiB (a sparse terabyte) by its size and mtime instead."""
    found = {}
    for root in roots:
        for p in sorted(root.rglob("*")) if root.exists() else ():
            if p.is_file():
                st = p.stat()
                found[p] = f"{st.st_size}:{st.st_mtime_ns}" if st.st_size > 64 << 20 else hashlib.sha256(p.read_bytes()).hexdigest()
    return found


# -- real hostile files -------------------------------------------------------------------------
def bomb_png(path: Path, side: int) -> Path:
    """A valid 1-bit grayscale PNG of side² pixels, all black: ~side²/8 bytes inflated, well under 1 MB on disk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    packer = zlib.compressobj(9)
    row = b"\0" * (1 + (side + 7) // 8)  # filter byte + packed bits
    body = b"".join(packer.compress(row * 1000) for _ in range(side // 1000)) + packer.compress(row * (side % 1000)) + packer.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("bombs")
    made = {side: bomb_png(folder / f"bomb{side}.png", side) for side in (12000, 30000, 40000)}
    assert all(p.stat().st_size < 1 << 20 for p in made.values())
    return made


def fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def victim(w: World) -> Path:
    """A file of the user's outside every output: it must come through byte for byte."""
    path = w.tmp / "victim" / "diary.txt"
    path.parent.mkdir(exist_ok=True)
    path.write_text("dear diary\n")
    return path


def planted_link(w: World, where: Path) -> Path:
    where.parent.mkdir(parents=True, exist_ok=True)
    where.symlink_to(victim(w))
    return where


def then(_: object, args: list) -> list:
    """`args`, once the setup given first (evaluated first) has planted its file."""
    return args


def forged(w: World, edit: Callable[[dict, Path], None], name: str = "art") -> Path:
    """An artifact copy whose manifest `edit` changed, its self-hash recomputed by the project's own writer."""
    art = w.artifact_copy(name)
    data = json.loads((art / MANIFEST_NAME).read_text())
    edit(data, art)
    data.pop("manifest_sha256")
    write_manifest(art, Manifest.from_dict(data))
    return art


def listing(path: str) -> Callable[[dict, Path], None]:
    def edit(data: dict, art: Path) -> None:
        data["files"][0]["path"] = path

    return edit


def outside_copy(w: World) -> Path:
    """The artifact's own graph, copied outside it: hashes and sizes match, only the place is wrong."""
    elsewhere = w.tmp / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    (elsewhere / "model.onnx").write_bytes((w.artifact / "model.onnx").read_bytes())
    return elsewhere / "model.onnx"


def listing_outside(w: World) -> Path:
    outside_copy(w)
    return forged(w, listing("../elsewhere/model.onnx"))


def listing_absolute(w: World) -> Path:
    secret = w.tmp / "secret.txt"
    secret.write_text("the user's secret\n")

    def edit(data: dict, art: Path) -> None:
        data["files"][0].update(path=str(secret), sha256="0" * 64, bytes=secret.stat().st_size)

    return forged(w, edit)


def _no_secret_digest(w: World, r: Ran) -> None:
    digest = hashlib.sha256((w.tmp / "secret.txt").read_bytes()).hexdigest()
    assert digest[:12] not in r.err + r.out, "nothing about a file outside the artifact is told"


def model_linked_out(w: World) -> Path:
    art = w.artifact_copy()
    (art / "model.onnx").unlink()
    (art / "model.onnx").symlink_to(outside_copy(w))
    return art


def model_through_linked_folder(w: World) -> Path:
    outside_copy(w)
    art = forged(w, listing("sub/model.onnx"))
    (art / "sub").symlink_to(w.tmp / "elsewhere")
    return art


def model_fifo(w: World) -> Path:
    art = w.artifact_copy()
    (art / "model.onnx").unlink()
    fifo(art / "model.onnx")
    return art


def model_sparse(w: World) -> Path:
    art = w.artifact_copy()
    os.truncate(art / "model.onnx", 2 << 40)  # 2 TB of holes, recorded at its real size
    return art


def manifest_fifo(w: World) -> Path:
    art = w.artifact_copy()
    (art / MANIFEST_NAME).unlink()
    fifo(art / MANIFEST_NAME)
    return art


def manifest_sparse(w: World) -> Path:
    art = w.artifact_copy()
    os.truncate(art / MANIFEST_NAME, 8 << 30)
    return art


def config_field(name: str, value: object) -> Callable[[World], Path]:
    def make(w: World) -> Path:
        def edit(data: dict, art: Path) -> None:
            data["config"][name] = value

        return forged(w, edit)

    return make


def static_batch(batch: int) -> Callable[[World], Path]:
    def make(w: World) -> Path:
        def edit(data: dict, art: Path) -> None:
            for spec in data["inputs"] + data["outputs"]:
                spec["shape"][0] = batch

        return forged(w, edit)

    return make


def lying_checkpoint(w: World, name: str, **config: object) -> Path:
    """A few-hundred-byte safetensors with an editor's metadata whose config says `config`."""
    from l2m_edge.checkpoint import FORMAT as CKPT_FORMAT
    from l2m_edge.config import get_preset

    path = w.tmp / f"{name}.safetensors"
    metadata = {"format": CKPT_FORMAT, "config": json.dumps({**get_preset("tiny").__dict__, **config}), "domains": '["no_smile", "smile"]', "attribute": "smile"}
    save_file({"x": torch.zeros(2)}, str(path), metadata=metadata)
    return path


def checkpoint_with(w: World, name: str, **metadata: str) -> Path:
    """The tiny checkpoint's tensors with some metadata replaced (a file written behind l2m-edge's back)."""
    from safetensors import safe_open

    with safe_open(str(w.ckpt), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        original = f.metadata()
    path = w.tmp / f"{name}.safetensors"
    save_file(tensors, str(path), metadata={**original, **metadata})
    return path


def official_with(w: World, name: str, change: Callable[[dict], None]) -> Path:
    """A slim official-layout L2M-GAN checkpoint (64², torch.save of tensors only) after `change`."""
    state = official_state(img_size=64, dim_in=16, max_conv_dim=32, style_dim=16, seed=1)
    change(state)
    return save_official(state, w.tmp / f"{name}.ckpt")


def stride0(channels: int) -> Callable[[dict], None]:
    def change(state: dict) -> None:
        weight = state["style_encoder"]["shared.0.weight"]
        state["style_encoder"]["shared.0.weight"] = weight[:1].expand(channels, *weight.shape[1:])  # 27 stored numbers

    return change


def reshaped(network: str, key: str, shape: tuple[int, ...]) -> Callable[[dict], None]:
    def change(state: dict) -> None:
        state[network][key] = torch.zeros(shape)

    return change


def import_args(ckpt: Path, w: World) -> list:
    return ["import", ckpt, "--format", "l2m-gan", "--domains", "no_smile,smile", "--attr", "smile", "--out", w.tmp / "imported.safetensors"]


def attribute_data(w: World, row: str) -> Path:
    """A CelebA-style folder: two real photos and an attribute file listing them, then `row`."""
    root = w.tmp / "celeba"
    w.photo("celeba/images/a.png", cv2.resize(astronaut_bgr(), (64, 64)))
    w.photo("celeba/images/b.png", cv2.resize(coffee_bgr(), (64, 64)))
    (root / "list_attr_celeba.txt").write_text(f"3\nSmiling Male\na.png 1 -1\nb.png -1 1\n{row} 1 -1\n")
    return root


def outside_face(w: World) -> str:
    w.photo("face.png", cv2.resize(astronaut_bgr(), (64, 64)))
    return "../../face.png"


def synth_folder_with(w: World, extra: str) -> Path:
    from l2m_edge.data.synthfaces import write_synthfaces

    out = w.tmp / "synth"
    write_synthfaces(out, 4, size=16, progress=False)
    path = out / extra
    path.parent.mkdir(parents=True, exist_ok=True)
    if extra.endswith("/"):
        path.mkdir(exist_ok=True)
    else:
        path.write_bytes(b"grandma's photo")
    return out


def artifact_with(w: World, extra: Callable[[Path], None]) -> Path:
    art = w.artifact_copy("old-export")
    extra(art)
    return art


def clip(w: World, name: str = "in.mp4") -> Path:
    return write_clip(w.tmp / name, seconds=0.2, fps=10.0, size=(160, 120))


def frame_folder(w: World) -> Path:
    """The frames an earlier `run --sink frames/` wrote, now the source of another run."""
    w.photo("frames/frame_000000.png", cv2.resize(astronaut_bgr(), (128, 128)))
    w.photo("frames/frame_000001.png", cv2.resize(coffee_bgr(), (128, 128)))
    return w.tmp / "frames"


def with_bomb(w: World, folder: str, bomb: Path, more: int = 0) -> Path:
    """a.png, b.png (the bomb), c.png, and `more` small crops after them."""
    (w.tmp / folder).mkdir(parents=True, exist_ok=True)
    w.photo(f"{folder}/a.png", cv2.resize(astronaut_bgr(), (128, 128)))
    (w.tmp / folder / "b.png").symlink_to(bomb)  # the module's bomb, not rewritten per case
    w.photo(f"{folder}/c.png", cv2.resize(coffee_bgr(), (128, 128)))
    for i in range(more):
        w.photo(f"{folder}/d{i:03d}.png", cv2.resize(coffee_bgr(), (32, 32)))
    return w.tmp / folder


# -- the matrix ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One hostile command: `args(world, bombs)` builds it; `code` and `says` are what must come back.

    Every case is bounded: in this process under `bounded` (HANG_S, HEADROOM), or with `child` as a
    separate process under HANG_S and MEMORY_CAP — the memory cases whose regression took 5 GB.
    """

    id: str
    args: Callable[[World, dict], list]
    code: int
    says: str
    check: Callable[[World, Ran], None] | None = None
    child: bool = False


def _victim_intact(w: World, r: Ran) -> None:
    assert (w.tmp / "victim" / "diary.txt").read_text() == "dear diary\n"
    assert (w.tmp / "victim" / "diary.txt").is_file() and not (w.tmp / "victim" / "diary.txt").is_symlink()


def _nothing_written(folder: str) -> Callable[[World, Ran], None]:
    def check(w: World, r: Ran) -> None:
        assert not [p for p in (w.tmp / folder).iterdir() if p.name.endswith(".png") and p.name.startswith(("frame_", "a", "c"))] if (w.tmp / folder).exists() else True

    return check


def _good_ones_written(folder: str, names: list[str]) -> Callable[[World, Ran], None]:
    def check(w: World, r: Ran) -> None:
        assert sorted(p.name for p in (w.tmp / folder).glob("*.png")) == names, r.err

    return check


def _user_entries_kept(*names: str) -> Callable[[World, Ran], None]:
    def check(w: World, r: Ran) -> None:
        for name in names:
            assert os.path.lexists(w.tmp / name), f"{name} was removed"

    return check


CASES = [
    # 1. lock files never follow a planted link (nor a hard link)
    Case("export-lock-is-a-link-to-a-victim", lambda w, b: then(planted_link(w, w.tmp / "D" / ".art.l2m-edge.lock"), ["export", w.ckpt, "--out", w.tmp / "D" / "art"]), 1, "is a symbolic link", _victim_intact),
    Case("export-lock-is-a-hard-link-to-a-victim", lambda w, b: then(_hard_link(w, w.tmp / "D" / ".art.l2m-edge.lock"), ["export", w.ckpt, "--out", w.tmp / "D" / "art"]), 1, "is a hard link", _victim_intact),
    Case("edit-lock-is-a-link-to-a-victim", lambda w, b: then(planted_link(w, w.tmp / "D" / ".l2m-edge.lock"), ["edit", w.photo("a.png"), "--out", w.tmp / "D", "-m", w.ckpt, *FAST]), 1, "is a symbolic link", _victim_intact),
    Case("run-sink-lock-is-a-link-to-a-victim", lambda w, b: then(planted_link(w, w.tmp / "D" / ".out.mp4.l2m-edge.lock"), [*RUN, "-m", w.ckpt, *FAST, "--frames", "2", "--sink", w.tmp / "D" / "out.mp4"]), 1, "is a symbolic link", _victim_intact),
    Case("train-lock-is-a-link-to-a-victim", lambda w, b: then(planted_link(w, w.tmp / "run" / ".l2m-edge.lock"), ["train", *TRAIN, "--iters", "1", "--out", w.tmp / "run"]), 1, "is a symbolic link", _victim_intact),
    Case("eval-lock-is-a-link-to-a-victim", lambda w, b: then(planted_link(w, w.tmp / ".ev.l2m-edge.lock"), ["eval", w.ckpt, "--out", w.tmp / "ev", "--n", "2"]), 1, "is a symbolic link", _victim_intact),
    Case("export-lock-is-a-fifo", lambda w, b: then(fifo(w.tmp / "D" / ".art.l2m-edge.lock"), ["export", w.ckpt, "--out", w.tmp / "D" / "art"]), 1, "FIFO"),
    # 2. manifest paths stay inside the artifact; refused before anything is read
    Case("verify-manifest-lists-a-parent-path", lambda w, b: ["verify", listing_outside(w)], 1, "not a plain file name inside the artifact"),
    Case("run-manifest-lists-a-parent-path", lambda w, b: [*RUN, "-m", listing_outside(w), "--backend", "onnxruntime", "--sink", "null", "--frames", "1"], 1, "not a plain file name inside the artifact"),
    Case("verify-manifest-lists-an-absolute-path", lambda w, b: ["verify", listing_absolute(w)], 1, "not a plain file name inside the artifact", _no_secret_digest),
    Case("run-manifest-lists-an-absolute-path", lambda w, b: [*RUN, "-m", listing_absolute(w), "--backend", "onnxruntime", "--sink", "null", "--frames", "1"], 1, "not a plain file name", _no_secret_digest),
    Case("verify-model-is-a-link-out-of-the-artifact", lambda w, b: ["verify", model_linked_out(w)], 1, "a symbolic link; an artifact's files must lie inside it"),
    Case("run-model-is-a-link-out-of-the-artifact", lambda w, b: [*RUN, "-m", model_linked_out(w), "--backend", "onnxruntime", "--sink", "null", "--frames", "1"], 1, "must lie inside it"),
    Case("verify-model-through-a-linked-folder", lambda w, b: ["verify", model_through_linked_folder(w)], 1, "reached through a symbolic link out of the artifact"),
    Case("verify-model-is-a-fifo", lambda w, b: ["verify", model_fifo(w)], 1, "a FIFO (named pipe), not a regular file"),
    Case("verify-manifest-is-a-fifo", lambda w, b: ["verify", manifest_fifo(w)], 1, "a FIFO (named pipe), not a regular file"),
    # 3. attribute-file rows stay inside the data folder
    Case("landmarks-attribute-row-climbs-out", lambda w, b: ["data", "landmarks", attribute_data(w, outside_face(w)), "--attr", "Smiling"], 1, "'../../face.png' is not a file name inside the data folder"),
    Case("landmarks-attribute-row-is-absolute", lambda w, b: ["data", "landmarks", attribute_data(w, str(w.photo("x/face.png"))), "--attr", "Smiling"], 1, "is not a file name inside the data folder"),
    Case("inspect-attribute-row-climbs-out", lambda w, b: ["data", "inspect", attribute_data(w, outside_face(w)), "--attr", "Smiling"], 1, "is not a file name inside the data folder"),
    # 5, 8. --force replaces only what l2m-edge wrote
    Case("synth-force-keeps-a-users-images", lambda w, b: ["data", "synth", "--out", synth_folder_with(w, "train/family/grandma.png"), "--n", "4", "--size", "16", "--force"], 1, "train/family/ not written by SynthFaces"),
    Case("synth-force-keeps-a-users-image-among-the-faces", lambda w, b: ["data", "synth", "--out", synth_folder_with(w, "train/smile/holiday.png"), "--n", "4", "--size", "16", "--force"], 1, "train/smile/holiday.png not written by SynthFaces"),
    Case("synth-force-keeps-a-users-empty-folder", lambda w, b: ["data", "synth", "--out", synth_folder_with(w, "mine/"), "--n", "4", "--size", "16", "--force"], 1, "mine/ not written by SynthFaces", _user_entries_kept("synth/mine")),
    Case("export-force-keeps-a-users-empty-folder", lambda w, b: ["export", w.ckpt, "--out", artifact_with(w, lambda a: (a / "mine").mkdir()), "--force"], 1, "mine/ not written by the export", _user_entries_kept("old-export/mine")),
    Case("export-force-keeps-a-folder-link", lambda w, b: ["export", w.ckpt, "--out", artifact_with(w, lambda a: (a / "photos").symlink_to(victim(w).parent)), "--force"], 1, "photos not written by the export", _user_entries_kept("old-export/photos", "victim/diary.txt")),
    # 6, 7. no input overwritten, no existing file replaced without --force
    Case("run-sink-is-the-source-video", lambda w, b: ["run", "-s", clip(w), "-m", w.ckpt, *FAST, "--sink", w.tmp / "in.mp4"], 1, "is the file the run reads, which it would write over"),
    Case("run-sink-is-the-source-video-even-with-force", lambda w, b: ["run", "-s", clip(w), "-m", w.ckpt, *FAST, "--force", "--sink", w.tmp / "in.mp4"], 1, "is the file the run reads, which it would write over"),
    Case("run-sink-is-the-source-folder-of-frames-even-with-force", lambda w, b: ["run", "-s", frame_folder(w), "-m", w.ckpt, *FAST, "--force", "--sink", f"{w.tmp / 'frames'}/"], 1, "holds frames the run reads, which it would write over"),
    Case("run-sink-is-an-existing-video", lambda w, b: [*RUN, "-m", w.ckpt, *FAST, "--frames", "2", "--sink", clip(w, "holiday.mp4")], 1, "holiday.mp4 exists; pass --force"),
    Case("run-sink-folder-holds-frames", lambda w, b: [*RUN, "-m", w.ckpt, *FAST, "--frames", "2", "--sink", f"{w.photo('D/frame_000000.png').parent}/"], 1, "frame_000000.png exists; pass --force"),
    Case("edit-out-holds-a-users-file-of-that-name", lambda w, b: ["edit", w.photo("x/face.png"), "--out", w.photo("D/face.png", coffee_bgr()).parent, "-m", w.ckpt, *FAST], 1, "face.png exists; pass --force"),
    Case("eval-out-holds-an-eval-json", lambda w, b: ["eval", w.ckpt, "--out", _file(w, "D/eval.json"), "--n", "2"], 1, "eval.json exists; pass --force"),
    # 9, 13, 18. images: refused from the header, never decoded
    Case("edit-a-30000-square-png-bomb", lambda w, b: ["edit", b[30000], "--out", w.tmp / "out", "-m", w.ckpt, *FAST], 1, "900000000 pixels (by its header) is larger than l2m-edge decodes", child=True),
    Case("edit-batch-with-a-40000-square-png", lambda w, b: ["edit", w.photo("a.png"), b[40000], w.photo("c.png", coffee_bgr()), "--out", w.tmp / "out", "-m", w.ckpt, *FAST, "--from", "no_smile"], 1, "1 input(s) could not be read",
         _good_ones_written("out", ["a.png", "c.png"])),
    Case("run-folder-with-a-40000-square-png", lambda w, b: ["run", "-s", with_bomb(w, "frames", b[40000]), "-m", w.ckpt, *FAST, "--from", "no_smile", "--sink", f"{w.tmp / 'out'}/"], 1, "1 input(s) could not be read",
         _good_ones_written("out", ["frame_000000.png", "frame_000002.png"])),
    Case("calib-folder-with-a-40000-square-png", lambda w, b: ["export", w.ckpt, "--target", "openvino", "--precision", "int8", "--calib", with_bomb(w, "calib", b[40000], more=100), "--out", w.tmp / "x"], 1, "larger than l2m-edge decodes"),
    Case("inspect-data-with-a-12000-square-png", lambda w, b: ["data", "inspect", _stargan_with(w, b[12000]), "--size", "32"], 0, "", lambda w, r: _says(r, "1 unreadable")),  # under PIL's own bomb error
    # 10, 16, 19. model sizes from metadata and presets
    Case("checkpoint-metadata-says-3000-channels", lambda w, b: [*RUN, "-m", lying_checkpoint(w, "wide", dim_in=3000, max_conv_dim=3000), *FAST, "--sink", "null", "--frames", "1"], 1, "dim_in must be an integer from 1 to", child=True),
    Case("checkpoint-metadata-outgrows-its-file", lambda w, b: [*RUN, "-m", lying_checkpoint(w, "paper", img_size=256, dim_in=64, max_conv_dim=512, style_dim=64, latent_hidden=64), *FAST, "--sink", "null", "--frames", "1"], 1, "but the file holds"),
    Case("checkpoint-metadata-latent-hidden-zero", lambda w, b: [*RUN, "-m", checkpoint_with(w, "lh0", config=_tiny_config(latent_hidden=0)), *FAST, "--sink", "null", "--frames", "1"], 1, "latent_hidden must be an integer from 1"),
    Case("checkpoint-domains-repeat", lambda w, b: [*RUN, "-m", checkpoint_with(w, "dup", domains='["smile", "smile"]'), *FAST, "--sink", "null", "--frames", "1"], 1, "must be distinct names"),
    Case("info-preset-dim-in-negative", lambda w, b: ["info", "--preset", "mobile:dim_in=-1"], 1, "dim_in must be an integer from 1 to"),
    Case("info-preset-style-dim-zero", lambda w, b: ["info", "--preset", "mobile:style_dim=0"], 1, "style_dim must be an integer from 1 to"),
    Case("run-manifest-img-size-32768", lambda w, b: [*RUN, "-m", config_field("img_size", 32768)(w), "--backend", "onnxruntime", "--sink", "null", "--frames", "1"], 1, "img_size must be an integer from 1 to"),
    Case("verify-manifest-dim-in-string", lambda w, b: ["verify", config_field("dim_in", "8")(w)], 1, "dim_in must be an integer"),
    Case("verify-manifest-static-batch-100000", lambda w, b: ["verify", static_batch(100000)(w)], 1, "a static batch of 100000"),
    Case("export-batch-100000", lambda w, b: ["export", w.ckpt, "--batch", "100000", "--out", w.tmp / "x"], 1, "--batch 100000: the batch size must be from 1 to"),
    Case("export-imgsz-zero", lambda w, b: ["export", w.ckpt, "--imgsz", "0", "--out", w.tmp / "x"], 1, "--imgsz 0"),
    Case("train-synth-size-zero", lambda w, b: ["train", *TRAIN, "--synth-size", "0", "--iters", "1", "--out", w.tmp / "run"], 1, "--synth-size must be ≥ 1"),
    Case("train-workers-1000", lambda w, b: ["train", *TRAIN, "--workers", "1000", "--iters", "1", "--out", w.tmp / "run"], 1, "--workers must be from 0"),
    # 11, 15. `import`: sizes by the bytes a tensor takes, shapes that do not fit
    Case("import-stride-0-expand-3000-channels", lambda w, b: import_args(official_with(w, "wide", stride0(3000)), w), 1, "dim_in must be an integer from 1 to"),
    Case("import-stride-0-expand-200000-channels", lambda w, b: import_args(official_with(w, "huge", stride0(200000)), w), 1, "dim_in must be an integer from 1 to"),
    Case("import-stride-0-expand-of-324-mb", lambda w, b: import_args(official_with(w, "vast", stride0(3_000_000)), w), 1, "309 MiB once materialised", child=True),
    Case("import-adain-fc-of-another-width", lambda w, b: import_args(official_with(w, "fc", reshaped("generator", "decode.0.norm1.fc.weight", (5, 7))), w), 1, "tensor shapes do not fit the L2M-GAN layout"),
    Case("import-style-head-of-another-width", lambda w, b: import_args(official_with(w, "head", reshaped("style_encoder", "unshared.1.weight", (16, 7))), w), 1, "tensor shapes do not fit the L2M-GAN layout"),
    Case("import-one-dimensional-head", lambda w, b: import_args(official_with(w, "head1d", reshaped("style_encoder", "unshared.0.weight", (16,))), w), 1, "tensor shapes do not fit the L2M-GAN layout"),
    Case("import-zero-dimensional-first-conv", lambda w, b: import_args(official_with(w, "conv0d", reshaped("style_encoder", "shared.0.weight", ())), w), 1, "tensor shapes do not fit the L2M-GAN layout"),
    # 14, 17. caches and artifacts that would hang or balloon
    Case("verify-2-tb-sparse-model", lambda w, b: ["verify", model_sparse(w)], 1, "2199023255552 bytes, which does not match the manifest's", child=True),
    Case("verify-8-gb-sparse-manifest", lambda w, b: ["verify", manifest_sparse(w)], 1, "larger than any manifest"),
    Case("landmarks-cache-is-a-fifo", lambda w, b: ["data", "landmarks", _faces_with_cache(w, fifo)], 1, "a FIFO (named pipe), not a regular file where l2m-edge keeps its landmark cache"),
    Case("landmarks-attribute-image-is-a-fifo", lambda w, b: ["data", "inspect", _fifo_in_attribute_data(w), "--attr", "Smiling", "--size", "32"], 0, "", lambda w, r: _says(r, "1 unreadable")),
    # 20. messages that name what is there
    Case("export-given-an-artifact-folder", lambda w, b: ["export", w.artifact_copy(), "--out", w.tmp / "x"], 1, "an exported artifact folder; this takes the .safetensors editor checkpoint"),
    Case("eval-given-an-artifact-folder", lambda w, b: ["eval", w.artifact_copy(), "--out", w.tmp / "ev", "--n", "2"], 1, "an exported artifact folder"),
    Case("run-model-is-a-fifo", lambda w, b: [*RUN, "-m", fifo(w.tmp / "m.safetensors"), *FAST, "--sink", "null", "--frames", "1"], 1, "a FIFO (named pipe), not a regular file"),
]


def _hard_link(w: World, where: Path) -> Path:
    where.parent.mkdir(parents=True, exist_ok=True)
    os.link(victim(w), where)
    return where


def _file(w: World, name: str) -> Path:
    path = w.tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"mine": true}\n')
    return path.parent


def _tiny_config(**changes: object) -> str:
    from l2m_edge.config import get_preset

    return json.dumps({**get_preset("tiny").__dict__, **changes})


def _says(r: Ran, text: str) -> None:
    assert text in r.out + r.err, r.out + r.err


def _stargan_with(w: World, bomb: Path) -> Path:
    for domain, image in (("no_smile", coffee_bgr()), ("smile", astronaut_bgr())):
        w.photo(f"sg/train/{domain}/0.png", cv2.resize(image, (64, 64)))
    (w.tmp / "sg" / "train" / "smile" / "bomb.png").symlink_to(bomb)
    return w.tmp / "sg"


def _fifo_in_attribute_data(w: World) -> Path:
    root = attribute_data(w, "c.png")
    fifo(root / "images" / "c.png")  # listed, and it never sends a byte
    return root


def _faces_with_cache(w: World, make: Callable[[Path], Path]) -> Path:
    folder = w.tmp / "faces"
    for domain, image in (("no_smile", coffee_bgr()), ("smile", astronaut_bgr())):
        w.photo(f"faces/train/{domain}/0.png", cv2.resize(image, (128, 128)))
    make(folder / CACHE_NAME)
    return folder


class Hung(BaseException):
    """Raised in the main thread by SIGALRM: not an Exception, so no handler of the code under test swallows it."""


@contextlib.contextmanager
def bounded(seconds: int = HANG_S, headroom: int = HEADROOM) -> Iterator[None]:
    """The block under a time limit (SIGALRM interrupts a blocking open or read of a FIFO) and an
    address-space cap `headroom` above what this process maps now; both restored after."""

    def alarm(signum: int, frame: object) -> None:
        raise Hung(f"still running after {seconds} s: it hangs")

    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)  # pytest-timeout's limit on the whole test, resumed after
    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, alarm)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = psutil.Process().memory_info().vms + headroom
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:
            signal.setitimer(signal.ITIMER_REAL, max(outer_left - (time.monotonic() - started), 0.001))
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _run_child(args: list[str], cwd: Path, env: dict[str, str]) -> Ran:
    """`l2m-edge ARGS` as a child under the memory cap; a run past HANG_S is killed and reported as a hang."""

    def limits() -> None:
        default_sigint()
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    proc = subprocess.Popen([CLI, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=limits)
    try:
        out, err = proc.communicate(timeout=HANG_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return Ran(-999, out, err + f"\n(hung: killed after {HANG_S} s)")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Ran(proc.returncode, out, err)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_round_3(case: Case, world: World, bombs: dict[int, Path], cli: Callable[..., Ran], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(world.tmp)
    args = [str(a) for a in case.args(world, bombs)]
    before = snapshot(world.tmp, world.ckpt.parent, world.artifact)
    if case.child:
        result = _run_child(args, world.tmp, dict(os.environ, L2M_EDGE_CACHE=str(tmp_path / "cache"), COLUMNS="400"))
    else:
        with bounded():
            result = cli(*args)
    assert result.code == case.code, f"exit {result.code}\nstdout: {result.out}\nstderr: {result.err}"
    assert "Traceback" not in result.err + result.out
    if case.code:
        assert len([line for line in result.err.splitlines() if line.startswith("error:")]) == 1, result.err
        assert case.says in " ".join(result.err.split()), result.err
    after = snapshot(world.tmp, world.ckpt.parent, world.artifact)
    changed = [str(p) for p, digest in before.items() if after.get(p) != digest]
    assert not changed, f"pre-existing files changed or vanished: {changed}"
    if case.check is not None:
        case.check(world, result)


def test_round_3_holds_every_case_of_the_issue() -> None:
    assert len(CASES) >= 60


# -- outputs that appear, leftovers that stay ---------------------------------------------------
def test_an_export_never_replaces_a_folder_that_appeared_while_it_ran(tiny_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "D" / "X"
    out.parent.mkdir()
    proc = subprocess.Popen([CLI, "export", str(tiny_checkpoint), "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint, env=dict(os.environ, COLUMNS="400"))
    try:
        deadline = time.monotonic() + HANG_S
        while time.monotonic() < deadline and proc.poll() is None and not list(out.parent.glob(".X.*.tmp")):
            time.sleep(0.05)
        assert proc.poll() is None, "the export ended before its temporary folder was seen"
        out.mkdir()
        (out / "mine.txt").write_text("made while the export ran\n")
        _, err = proc.communicate(timeout=HANG_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1 and "appeared while l2m-edge was writing it and is left as it is" in err, err
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"] and (out / "mine.txt").read_text() == "made while the export ran\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["X"], "no temporary or lock left"


def test_a_folder_output_never_replaces_an_empty_folder_that_appeared(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(OutputError, match="appeared while l2m-edge was writing it"):
        with atomic_directory(out) as tmp:
            (tmp / "ours.txt").write_text("ours\n")
            out.mkdir()  # a user's, empty: rename(2) alone would replace it
    assert out.is_dir() and not any(out.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_file_output_without_replace_keeps_a_file_that_appeared(tmp_path: Path) -> None:
    out = tmp_path / "holiday.mp4"
    staged = StagedFile(out, replace=False)
    staged.tmp.write_bytes(b"the edit")
    out.write_bytes(b"the user's holiday")
    with pytest.raises(OutputError, match="appeared while l2m-edge was writing it"):
        staged.commit()
    assert out.read_bytes() == b"the user's holiday"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["holiday.mp4"]


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_leftovers_of_killed_runs_are_removed_by_the_next_run_and_only_theirs(cli: Callable[..., Ran], tiny_checkpoint: Path, tmp_path: Path) -> None:
    dead, alive = _dead_pid(), os.getpid()
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "precious.txt").write_text("not ours\n")
    for folder in (tmp_path / f".art.{dead}-0123abcd.tmp", tmp_path / f".synth.{dead}-0123abcd.tmp", tmp_path / f".art.{alive}-89abcdef.tmp"):
        folder.mkdir()
        (folder / "model.onnx").write_bytes(b"\0" * 4096)
    (tmp_path / f".art.{dead}-fedcba98.old").symlink_to(keep)  # a replaced link, moved aside by a killed --force
    assert cli("export", tiny_checkpoint, "--out", tmp_path / "art").code == 0
    assert cli("data", "synth", "--out", tmp_path / "synth", "--n", "4", "--size", "16").code == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [f".art.{alive}-89abcdef.tmp"], "a running process's temporary stays"
    assert (keep / "precious.txt").read_text() == "not ours\n", "a leftover link is removed, never what it points to"


def test_force_onto_a_link_replaces_the_link_and_leaves_nothing_beside_it(cli: Callable[..., Ran], tiny_checkpoint: Path, artifact: Path, tmp_path: Path) -> None:
    import shutil

    target = Path(shutil.copytree(artifact, tmp_path / "v1"))
    before = snapshot(target)
    (tmp_path / "current").symlink_to(target)
    assert cli("export", tiny_checkpoint, "--out", tmp_path / "current", "--force").code == 0
    assert (tmp_path / "current").is_dir() and not (tmp_path / "current").is_symlink()
    assert snapshot(target) == before, "the folder the link pointed to is untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "v1"], "no .current.*.old left"


# -- the landmark cache: bounded by its headers -------------------------------------------------
def _stream_npz(path: Path, arrays: dict[str, np.ndarray | np.generic | bytes | tuple[tuple[int, ...], str]]) -> Path:
    """An .npz written member by member: an array, raw .npy bytes, or (shape, dtype) streamed as zeros (never held in memory)."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, value in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                if isinstance(value, (np.ndarray, np.generic)):
                    np.lib.format.write_array(member, np.asarray(value), allow_pickle=False)
                    continue
                if isinstance(value, bytes):
                    member.write(value)
                    continue
                shape, dtype = value
                np.lib.format.write_array_header_1_0(member, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape})
                left = int(np.prod(shape)) * np.dtype(dtype).itemsize
                block = b"\0" * (16 << 20)
                while left > 0:
                    member.write(block[: min(left, len(block))])
                    left -= len(block)
    return path


def _cache_arrays(n: int, points: np.ndarray | tuple, **overrides: np.ndarray) -> dict:
    return {"format": np.int64(FORMAT), "paths": np.array([f"{i:07d}.png" for i in range(n)]), "sizes": np.zeros(n, np.int64),
            "mtimes": np.zeros(n, np.int64), "found": np.ones(n, bool), "points": points, **overrides}


def test_a_cache_of_more_entries_than_the_limit_is_never_loaded(tmp_path: Path) -> None:
    """260 000 entries: a 1 GB points array in a few MB of zip. Under a 1.5 GiB address-space cap the
    child reads only the headers; loading it would fail with MemoryError."""
    n = 260_000
    file = _stream_npz(tmp_path / CACHE_NAME, _cache_arrays(n, ((n, MESH_POINTS, 2), "<f4")))
    assert file.stat().st_size < 16 << 20
    probe = f"from pathlib import Path\nfrom l2m_edge.data.landmark_cache import read_cache\nprint(len(read_cache(Path({str(file)!r}))))\n"

    def cap() -> None:
        default_sigint()
        resource.setrlimit(resource.RLIMIT_AS, (3 << 29, 3 << 29))

    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=HANG_S, preexec_fn=cap)
    assert done.returncode == 0 and done.stdout.strip() == "0", done.stderr[-2000:]


def test_a_cache_header_declaring_a_trillion_entries_is_never_allocated(tmp_path: Path) -> None:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**12, MESH_POINTS, 2)})
    file = _stream_npz(tmp_path / CACHE_NAME, _cache_arrays(2, header.getvalue() + bytes(64)))  # a 3.8 PB array in 192 bytes
    with bounded():
        assert read_cache(file) == {}


def test_a_cache_with_string_sizes_is_rebuilt_not_a_traceback(tmp_path: Path) -> None:
    file = _stream_npz(tmp_path / CACHE_NAME, _cache_arrays(2, np.zeros((2, MESH_POINTS, 2), np.float32), sizes=np.array(["big", "huge"])))
    assert read_cache(file) == {}


def test_cached_nan_points_are_not_counted_as_a_face(tmp_path: Path) -> None:
    points = np.ones((2, MESH_POINTS, 2), np.float32)
    points[1, 7, 0] = np.nan
    entries = read_cache(_stream_npz(tmp_path / CACHE_NAME, _cache_arrays(2, points)))
    assert sorted(entries) == ["0000000.png"], "the NaN entry is left out, so it is recomputed"


# -- stills -------------------------------------------------------------------------------------
def test_an_exif_rotated_rgba_png_keeps_its_alpha_turned_with_it(cli: Callable[..., Ran], tiny_checkpoint: Path, tmp_path: Path) -> None:
    from PIL import Image

    rgba = np.zeros((96, 192, 4), np.uint8)
    rgba[..., :3] = cv2.resize(astronaut_bgr(), (192, 96))[..., ::-1]
    rgba[..., 3] = np.linspace(10, 250, 192, dtype=np.uint8)[None, :]  # alpha grows left → right
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90° clockwise
    Image.fromarray(rgba, "RGBA").save(tmp_path / "turned.png", exif=exif)
    result = cli("edit", tmp_path / "turned.png", "--out", tmp_path / "out", "-m", tiny_checkpoint, *FAST, "--from", "no_smile")
    assert result.code == 0, result.err
    edited = cv2.imread(str(tmp_path / "out" / "turned.png"), cv2.IMREAD_UNCHANGED)
    assert edited.shape == (192, 96, 4), "upright as shown, alpha kept"
    assert edited[0, 48, 3] < edited[-1, 48, 3], "the alpha plane is turned with the picture (it grows top → bottom)"


def test_a_link_planted_in_place_of_the_scalar_log_is_refused_not_followed(tmp_path: Path) -> None:
    from l2m_edge.train.scalars import ScalarLog

    log = ScalarLog(tmp_path / "scalars.csv", ["loss"], resume_step=0)
    log.write(1, 0.5, {"loss": 1.0})
    victim = tmp_path / "notes.txt"
    victim.write_text("mine\n")
    log.path.unlink()
    log.path.symlink_to(victim)
    with pytest.raises(OutputError, match="symbolic link"):
        log.write(2, 1.0, {"loss": 0.5})
    assert victim.read_text() == "mine\n"
