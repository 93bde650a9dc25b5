"""The hostile-input matrix: what a new user can throw at `l2m-edge`, and what must hold.

Every case runs the console script's `main` (in this process unless it needs signals, locks held
by another process, or a real small disk) and asserts the exit code, one error line naming the
problem without a traceback, and that no file that existed before changed (sha256 before/after).
Disk-full and read-only cases mount a real tmpfs (root only; skipped with the reason otherwise).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from l2m_edge.checkpoint import save_checkpoint
from l2m_edge.contract.manifest import MANIFEST_NAME
from l2m_edge.model import build_editor
from l2m_edge.runtime.clip import write_clip

from conftest import TINY_DOMAINS
from runtime_helpers import Ran, astronaut_bgr, coffee_bgr, writing_video

CLI = str(Path(sys.executable).with_name("l2m-edge"))
FAST = ("--backend", "torch", "--threads", "1")
TRAIN = ("--data", "synth", "--preset", "tiny", "--synth-size", "16", "--batch", "4", "--sample-every", "1000", "--log-every", "1", "--threads", "1", "--workers", "0")


# -- harness ------------------------------------------------------------------------------------
def snapshot(*roots: Path) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for root in roots if root.exists() for p in sorted(root.rglob("*")) if p.is_file()}


def _mount_tmpfs(path: Path, options: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; this test runs as an ordinary user")
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mount -t tmpfs -o {options} failed here: {done.stderr.strip()}")


def pseudo_fs(kind: str) -> Path:
    """`/sys` or `/proc`: folders that take no new file even from root, whom `os.access` tells they do."""
    mounts = {line.split()[1]: line.split()[2] for line in Path("/proc/mounts").read_text().splitlines()}
    root = Path(f"/{'sys' if kind == 'sysfs' else kind}")
    if mounts.get(str(root)) != kind:
        pytest.skip(f"{root} is not a {kind} mount here")
    return root


@dataclass
class World:
    """What a case may use: a tiny checkpoint, its ONNX artifact, photos, and a scratch folder."""

    tmp: Path
    ckpt: Path
    artifact: Path
    mounts: list[Path] = field(default_factory=list)

    def photo(self, name: str, image: np.ndarray | None = None, flags: list[int] | None = None) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), astronaut_bgr() if image is None else image, flags or [])
        return path

    def small_disk(self, name: str, size: str = "2m", read_only: bool = False, fill: bool = False, keep: Callable[[Path], None] | None = None,
                   spare: int = 0) -> Path:
        """A real tmpfs: `keep(root)` puts files on it first; then it is filled (all but `spare` bytes) or remounted read-only."""
        root = self.tmp / name
        _mount_tmpfs(root, f"size={size}")
        self.mounts.append(root)
        if keep is not None:
            keep(root)
        if fill:
            with open(root / "filler", "wb") as f:
                try:
                    while True:
                        f.write(b"\0" * 65536)
                        f.flush()
                except OSError:
                    f.truncate(max(0, f.tell() - spare))
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(root)], check=True)
        return root

    def artifact_copy(self, name: str = "art") -> Path:
        import shutil

        return Path(shutil.copytree(self.artifact, self.tmp / name))


@pytest.fixture(scope="module")
def artifact(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from l2m_edge.export.api import export_model

    return export_model(tiny_checkpoint, "onnx", tmp_path_factory.mktemp("art") / "tiny-onnx")


@pytest.fixture
def world(tmp_path: Path, tiny_checkpoint: Path, artifact: Path) -> World:
    w = World(tmp_path / "w", tiny_checkpoint, artifact)
    w.tmp.mkdir()
    yield w
    for root in reversed(w.mounts):
        subprocess.run(["umount", "-l", str(root)], check=False)


# -- setups: each returns the arguments of one command ------------------------------------------
def nan_ckpt(w: World) -> Path:
    torch.manual_seed(0)
    editor = build_editor("tiny", TINY_DOMAINS, attribute="smile")
    path = save_checkpoint(editor, w.tmp / "nan.safetensors")
    tensors = {k: v.clone() for k, v in editor.state_dict().items()}
    first = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[first].view(-1)[0] = float("nan")
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    save_file(tensors, str(path), metadata=metadata)  # a diverged run's file, written behind l2m-edge's back
    return path


class Boom:
    """Unpickling this creates a file: the proof that a loader unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (Path.touch, (self.marker,))


def pickle_ckpt(w: World) -> Path:
    path = w.tmp / "evil.safetensors"
    path.write_bytes(pickle.dumps(Boom(w.tmp / "UNPICKLED")))
    return path


def edited_manifest(field_name: str, value: object) -> Callable[[World], Path]:
    def make(w: World) -> Path:
        art = w.artifact_copy()
        manifest = json.loads((art / MANIFEST_NAME).read_text())
        if field_name == "img_size":
            manifest["config"]["img_size"] = value
        else:
            manifest[field_name] = value
        (art / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
        return art

    return make


def tampered_model(w: World) -> Path:
    art = w.artifact_copy()
    with open(art / "model.onnx", "r+b") as f:
        f.seek(200)
        f.write(b"\x13\x37")
    return art


def user_folder(w: World) -> Path:
    folder = w.tmp / "thesis"
    folder.mkdir()
    (folder / "thesis.txt").write_text("four years of work\n")
    return folder


def artifact_with_a_user_file(w: World) -> Path:
    art = w.artifact_copy("old-export")
    (art / "notes.txt").write_text("mine\n")
    return art


def big_file(w: World) -> Path:
    path = w.tmp / "a_file"
    path.write_text("not a folder\n")
    return path


def trained_run(w: World) -> Path:
    """A run directory holding a one-step run (trained in this process, through the library)."""
    from l2m_edge.train import TrainConfig, train

    out = w.tmp / "run"
    torch.set_num_threads(1)  # as the CLI cases' --threads 1 (the `cli` fixture restores it); 2 threads on a busy 2-core box crawl
    train(TrainConfig(out=out, iters=1, preset="tiny", synth_size=16, batch_size=4, sample_every=1000, log_every=1, workers=0))
    return out


def bench_workdir_with_corrupt_npz(w: World) -> Path:
    workdir = w.tmp / "bench-work"
    (workdir / "inputs").mkdir(parents=True)
    from l2m_edge.io import sha256_file

    (workdir / "inputs" / f"{sha256_file(w.ckpt)[:16]}-b1-seed0.npz").write_bytes(b"PK\x03\x04 truncated")
    return workdir


def face_folder_with_a_bad_file(w: World) -> Path:
    folder = w.tmp / "faces"
    w.photo("faces/a.png")
    w.photo("faces/c.png", coffee_bgr())
    (folder / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return folder


def data_with_unreadable(w: World) -> Path:
    root = w.tmp / "data"
    for domain, image in (("no_smile", coffee_bgr()), ("smile", astronaut_bgr())):
        for i in range(2):
            w.photo(f"data/train/{domain}/{i}.png", cv2.resize(image, (64, 64)))
    (root / "train" / "smile" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n nope")
    return root


def clip_on(root: Path) -> None:
    write_clip(root / "good.mp4", seconds=0.4, fps=25.0, size=(320, 240))


@dataclass(frozen=True)
class Case:
    """One hostile command: `args(world)` builds it; `code` and `says` are what must come back."""

    id: str
    args: Callable[[World], list]
    code: int
    says: str
    check: Callable[[World, Ran], None] | None = None
    replaces: str = ""  # a glob (under the world's folder) of files the case rightly replaces


def _no_unpickle(w: World, r: Ran) -> None:
    assert not (w.tmp / "UNPICKLED").exists()


def _same_names_both_written(w: World, r: Ran) -> None:
    assert sorted(p.name for p in (w.tmp / "out").glob("*.png")) == ["face-2.png", "face.png"]


def _keeps_alpha_and_gray(w: World, r: Ran) -> None:
    rgba = cv2.imread(str(w.tmp / "out" / "rgba.png"), cv2.IMREAD_UNCHANGED)
    gray = cv2.imread(str(w.tmp / "out" / "gray.png"), cv2.IMREAD_UNCHANGED)
    deep = cv2.imread(str(w.tmp / "out" / "deep.png"), cv2.IMREAD_UNCHANGED)
    assert rgba.shape[2] == 4 and (rgba[..., 3] == 77).all()
    assert gray.ndim == 2
    assert deep.dtype == np.uint8 and "16-bit input written as 8-bit" in r.out


def _still_formats(w: World) -> list:
    face = cv2.resize(astronaut_bgr(), (256, 256))
    alpha = np.full(face.shape[:2], 77, np.uint8)
    return ["edit", w.photo("rgba.png", np.dstack([face, alpha])), w.photo("gray.png", cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)),
            w.photo("deep.png", face.astype(np.uint16) * 257), "--out", w.tmp / "out", "-m", w.ckpt, *FAST, "--from", "no_smile"]


def _full_disk_video_kept(w: World, r: Ran) -> None:
    assert not [p for p in (w.tmp / "full").iterdir() if p.name.startswith(".")], "no temporary or lock left"


def _refused_before_any_work(w: World, r: Ran) -> None:
    """Refused up front: the error line is all that was said (no training, measuring or progress output)."""
    assert r.out == "", r.out
    assert [line for line in r.err.splitlines() if line.strip()] == r.error_lines, r.err


def _bench_result_written(w: World, r: Ran) -> None:
    assert len(list((w.tmp / "results").glob("*.json"))) == 1


def _bench_ran(w: World, r: Ran) -> None:
    assert "✅" in r.out


def _inspect_counts(w: World, r: Ran) -> None:
    assert "1 unreadable" in r.out and "broken.png" in r.out


def _good_inputs_written_named(w: World, r: Ran, bad: str) -> None:
    assert sorted(p.name for p in (w.tmp / "out").glob("*.png")) == ["a.png", "c.png"]
    assert any(bad in line for line in r.error_lines)


def _good_inputs_written_frames(w: World, r: Ran) -> None:
    assert sorted(p.name for p in (w.tmp / "out").glob("*.png")) == ["frame_000000.png", "frame_000002.png"]
    assert any("b.png" in line for line in r.error_lines)


RUN = ("run", "--source", "pattern")
CASES = [
    # NaN, inf, negative: usage errors, before anything loads
    Case("run-strength-nan", lambda w: [*RUN, "-m", w.ckpt, "--strength", "nan", "--sink", "null"], 2, "nan is not a finite number"),
    Case("run-strength-inf", lambda w: [*RUN, "-m", w.ckpt, "--strength", "inf", "--sink", "null"], 2, "inf is not a finite number"),
    Case("run-strength-minus-inf", lambda w: [*RUN, "-m", w.ckpt, "--strength=-inf", "--sink", "null"], 2, "-inf is not a finite number"),
    Case("run-seconds-nan", lambda w: [*RUN, "-m", w.ckpt, "--seconds", "nan", "--sink", "null"], 2, "nan is not a finite number"),
    Case("run-style-every-zero", lambda w: [*RUN, "-m", w.ckpt, "--style-every", "0", "--sink", "null"], 2, "'--style-every'"),
    Case("run-style-every-nan", lambda w: [*RUN, "-m", w.ckpt, "--style-every", "nan", "--sink", "null"], 2, "'--style-every'"),
    Case("run-style-every-one-graph-artifact", lambda w: [*RUN, "-m", w.artifact, "--backend", "onnxruntime", "--style-every", "3", "--sink", "null", "--seconds", "0.1"], 1, "export with --split-style"),
    Case("run-seconds-negative", lambda w: [*RUN, "-m", w.ckpt, "--seconds=-1", "--sink", "null"], 2, "-1 must be > 0"),
    Case("edit-strength-nan", lambda w: ["edit", w.photo("a.png"), "--out", w.tmp / "out", "--strength", "nan"], 2, "nan is not a finite number"),
    Case("demo-seconds-nan", lambda w: ["demo", "--seconds", "nan", "--out", w.tmp / "demo"], 2, "nan is not a finite number"),
    Case("train-lr-nan", lambda w: ["train", *TRAIN, "--iters", "2", "--out", w.tmp / "run", "--lr", "nan"], 2, "nan is not a finite number"),
    Case("train-lr-zero", lambda w: ["train", *TRAIN, "--iters", "2", "--out", w.tmp / "run", "--lr", "0"], 2, "0 must be > 0"),
    Case("train-lambda-inf", lambda w: ["train", *TRAIN, "--iters", "2", "--out", w.tmp / "run", "--lambda-cyc", "inf"], 2, "inf is not a finite number"),
    Case("bench-duration-nan", lambda w: ["bench", "-m", w.ckpt, "--duration", "nan"], 2, "nan is not a finite number"),
    Case("export-workspace-inf", lambda w: ["export", w.ckpt, "--workspace", "inf", "--out", w.tmp / "x"], 2, "inf is not a finite number"),
    Case("synth-split-nan", lambda w: ["data", "synth", "--out", w.tmp / "d", "--n", "4", "--split-val", "nan"], 2, "nan is not a finite number"),
    # refused with one line
    Case("calib-with-fp32", lambda w: ["export", w.ckpt, "--target", "openvino", "--precision", "fp32", "--calib", "synth", "--out", w.tmp / "x"], 1, "--calib applies to --precision int8 only"),
    Case("calib-with-onnx", lambda w: ["export", w.ckpt, "--calib", "synth", "--out", w.tmp / "x"], 1, "--calib does not apply to target 'onnx'"),
    Case("url-source-unreachable", lambda w: ["run", "--source", "rtsp://127.0.0.1:9/stream", "-m", w.ckpt, "--sink", "null"], 1, "cannot connect within 10 s"),
    Case("model-dir-without-manifest", lambda w: [*RUN, "-m", user_folder(w), "--sink", "null", "--seconds", "0.1"], 1, "a folder with no manifest.json, so not an exported artifact"),
    Case("nan-checkpoint-run", lambda w: [*RUN, "-m", nan_ckpt(w), *FAST, "--sink", "null", "--seconds", "0.1"], 1, "holds NaN or inf"),
    Case("nan-checkpoint-export", lambda w: ["export", nan_ckpt(w), "--out", w.tmp / "x"], 1, "holds NaN or inf"),
    Case("pickle-never-loaded", lambda w: [*RUN, "-m", pickle_ckpt(w), *FAST, "--sink", "null"], 1, "not a safetensors editor checkpoint", _no_unpickle),
    Case("manifest-precision-edited", lambda w: ["verify", edited_manifest("precision", "int8")(w)], 1, "the manifest was modified after export"),
    Case("manifest-preset-edited", lambda w: ["verify", edited_manifest("preset", "mobile")(w)], 1, "the manifest was modified after export"),
    Case("manifest-img-size-edited-then-run", lambda w: [*RUN, "-m", edited_manifest("img_size", 96)(w), "--backend", "onnxruntime", "--sink", "null", "--seconds", "0.1"], 1, "the manifest was modified after export"),
    Case("tampered-model-file", lambda w: ["verify", tampered_model(w)], 1, "the artifact was modified"),
    # never overwrite what is not ours
    Case("export-force-over-user-folder", lambda w: ["export", w.ckpt, "--out", user_folder(w), "--force"], 1, "not an earlier l2m-edge output (no l2m-edge manifest.json)"),
    Case("export-force-over-artifact-with-user-file", lambda w: ["export", w.ckpt, "--out", artifact_with_a_user_file(w), "--force"], 1, "notes.txt not written by the export"),
    Case("export-force-onto-working-dir", lambda w: ["export", w.ckpt, "--out", ".", "--force"], 1, "is the working directory"),
    Case("export-force-replaces-an-earlier-export", lambda w: ["export", w.ckpt, "--out", w.artifact_copy("old-export"), "--force"], 0, "", replaces="old-export/*"),
    Case("synth-force-over-user-folder", lambda w: ["data", "synth", "--out", user_folder(w), "--n", "4", "--size", "16", "--force"], 1, "not an earlier l2m-edge output (no synthfaces.json)"),
    Case("train-into-an-existing-run-without-resume", lambda w: ["train", *TRAIN, "--iters", "1", "--out", trained_run(w)], 1, "already holds a run (step 1); pass --resume"),
    Case("train-resume-with-another-batch", lambda w: ["train", *TRAIN, "--iters", "2", "--out", trained_run(w), "--resume", "--batch", "2"], 1, "cannot resume with different settings (batch_size: saved 4 vs now 2)"),
    Case("export-existing-without-force", lambda w: ["export", w.ckpt, "--out", w.artifact_copy()], 1, "exists; pass --force"),
    Case("edit-out-is-the-inputs-folder", lambda w: ["edit", w.photo("face.png"), "--out", w.tmp, "-m", w.ckpt, *FAST], 1, "would overwrite the input image"),
    Case("edit-same-names-get-unique-outputs", lambda w: ["edit", w.photo("x/face.png"), w.photo("y/face.png"), "--out", w.tmp / "out", "-m", w.ckpt, *FAST, "--from", "no_smile"], 0, "", _same_names_both_written),
    Case("edit-keeps-alpha-gray-says-16-bit", _still_formats, 0, "", _keeps_alpha_and_gray),
    # outputs that are files, folders or unwritable
    Case("edit-out-is-a-file", lambda w: ["edit", w.photo("a.png"), "--out", big_file(w), "-m", w.ckpt, *FAST], 1, "is a file where a folder is expected"),
    Case("run-sink-under-a-file", lambda w: [*RUN, "-m", w.ckpt, *FAST, "--seconds", "0.1", "--sink", big_file(w) / "out.mp4"], 1, "a_file"),
    Case("demo-out-is-a-file", lambda w: ["demo", "--out", big_file(w), "-m", w.ckpt, *FAST, "--seconds", "1"], 1, "is a file where a folder is expected"),
    Case("eval-out-is-a-file", lambda w: ["eval", w.ckpt, "--out", big_file(w), "--n", "4"], 1, "is a file where a folder is expected"),
    Case("bench-out-is-a-file", lambda w: ["bench", "-m", w.ckpt, "--backends", "torch", "--out", big_file(w)], 1, "is a file where a folder is expected"),
    Case("bench-report-markdown-is-a-folder", lambda w: ["bench", "report", big_file(w), "--markdown", w.tmp], 1, "is a folder where a file is expected"),
    Case("classifier-out-is-a-folder", lambda w: ["classifier", "train", "--out", w.tmp, "--steps", "1"], 1, "is a folder where a file is expected"),
    Case("train-out-is-a-file", lambda w: ["train", *TRAIN, "--iters", "2", "--out", big_file(w)], 1, "is a file where a folder is expected"),
    Case("export-onto-read-only-disk", lambda w: ["export", w.ckpt, "--out", w.small_disk("ro", read_only=True) / "x"], 1, "read-only"),
    Case("edit-onto-read-only-disk", lambda w: ["edit", w.photo("a.png"), "--out", w.small_disk("ro", read_only=True) / "out", "-m", w.ckpt, *FAST], 1, "read-only"),
    Case("classifier-out-under-sysfs", lambda w: ["classifier", "train", "--out", pseudo_fs("sysfs") / "c.safetensors"], 1, "/sys: not writable", _refused_before_any_work),
    Case("classifier-out-under-procfs", lambda w: ["classifier", "train", "--out", pseudo_fs("proc") / "c.safetensors"], 1, "/proc: not writable", _refused_before_any_work),
    Case("train-out-is-sysfs", lambda w: ["train", *TRAIN, "--iters", "2", "--out", pseudo_fs("sysfs")], 1, "/sys: not writable", _refused_before_any_work),
    Case("train-out-under-sysfs", lambda w: ["train", *TRAIN, "--iters", "2", "--out", pseudo_fs("sysfs") / "run"], 1, "/sys/run: permission denied", _refused_before_any_work),
    Case("export-out-under-sysfs", lambda w: ["export", w.ckpt, "--out", pseudo_fs("sysfs") / "x"], 1, "/sys: not writable", _refused_before_any_work),
    Case("eval-out-under-sysfs", lambda w: ["eval", w.ckpt, "--out", pseudo_fs("sysfs") / "eval", "--n", "4"], 1, "/sys: not writable", _refused_before_any_work),
    Case("bench-markdown-under-sysfs", lambda w: ["bench", "-m", w.ckpt, "--backends", "torch", "--out", w.tmp / "results", "--markdown", pseudo_fs("sysfs") / "b.md"], 1, "/sys: not writable", _refused_before_any_work),
    Case("bench-train-out-under-sysfs", lambda w: ["bench", "train", "--out", pseudo_fs("sysfs") / "results"], 1, "/sys/results: permission denied", _refused_before_any_work),
    Case("bench-report-plot-under-sysfs", lambda w: ["bench", "report", big_file(w), "--markdown", w.tmp / "r.md", "--plot", pseudo_fs("sysfs") / "r.png"], 1, "/sys: not writable", _refused_before_any_work),
    Case("run-video-filling-the-disk-keeps-the-old-video", lambda w: [*RUN, "--frames", "30", "-m", w.ckpt, *FAST, "--from", "no_smile", "--sink", w.small_disk("full", fill=True, keep=clip_on, spare=96 << 10) / "good.mp4"], 1, "the video could not be finished (the disk is full)", _full_disk_video_kept),
    Case("run-video-onto-a-full-disk-keeps-the-old-video", lambda w: [*RUN, "--frames", "5", "-m", w.ckpt, *FAST, "--from", "no_smile", "--sink", w.small_disk("full", fill=True, keep=clip_on) / "good.mp4"], 1, "(the disk is full)", _full_disk_video_kept),
    Case("export-onto-full-disk", lambda w: ["export", w.ckpt, "--out", w.small_disk("full", fill=True) / "x"], 1, "no space left on the device"),
    Case("train-onto-full-disk", lambda w: ["train", *TRAIN, "--iters", "2", "--save-every", "1", "--out", w.small_disk("full", size="256k") / "run"], 1, "no space left on the device"),
    # batches finish their good inputs, then fail
    Case("edit-batch-with-a-bad-file", lambda w: ["edit", w.photo("a.png"), w.tmp / "missing.png", w.photo("c.png", coffee_bgr()), "--out", w.tmp / "out", "-m", w.ckpt, *FAST, "--from", "no_smile"], 1, "1 input(s) could not be read", lambda w, r: _good_inputs_written_named(w, r, "missing.png")),
    Case("run-folder-with-a-bad-file", lambda w: ["run", "--source", face_folder_with_a_bad_file(w), "-m", w.ckpt, *FAST, "--from", "no_smile", "--sink", w.tmp / "out/"], 1, "1 input(s) could not be read", _good_inputs_written_frames),
    Case("data-inspect-counts-unreadable", lambda w: ["data", "inspect", data_with_unreadable(w), "--size", "32"], 0, "", _inspect_counts),
    # benchmarks
    Case("bench-every-row-failed-exits-1", lambda w: ["bench", "-m", w.ckpt, "--backends", "tensorrt", "--in-process", "--iters", "1", "--warmup", "0", "--workdir", w.tmp / "bw", "--out", w.tmp / "results"], 1, "every row failed", _bench_result_written),
    Case("bench-corrupt-npz-in-workdir-is-rebuilt", lambda w: ["bench", "-m", w.ckpt, "--backends", "torch", "--in-process", "--iters", "2", "--warmup", "0", "--threads", "1", "--workdir", bench_workdir_with_corrupt_npz(w), "--out", w.tmp / "results"], 0, "", _bench_ran, replaces="bench-work/inputs/*.npz"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case: Case, world: World, cli: Callable[..., Ran], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(world.tmp)
    args = case.args(world)
    before = snapshot(world.tmp, world.ckpt.parent, world.artifact)
    result = cli(*args)
    assert result.code == case.code, f"exit {result.code}\nstdout: {result.out}\nstderr: {result.err}"
    assert "Traceback" not in result.err + result.out
    if case.code:
        assert len([line for line in result.error_lines if not line.startswith("skipped:")]) == 1, result.err
        assert case.says in result.err, result.err
    after = snapshot(world.tmp, world.ckpt.parent, world.artifact)
    replaced = set(world.tmp.glob(case.replaces)) if case.replaces else set()
    changed = [str(p) for p, digest in before.items() if after.get(p) != digest and p not in replaced]
    assert not changed, f"pre-existing files changed or vanished: {changed}"
    if case.check is not None:
        case.check(world, result)


def test_the_matrix_has_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


# -- training: divergence, resume ---------------------------------------------------------------
def test_a_diverging_resume_stops_in_one_line_and_keeps_the_last_good_checkpoint(cli: Callable[..., Ran], tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert cli("train", *TRAIN, "--iters", "2", "--save-every", "2", "--out", out).code == 0
    before = snapshot(out)
    result = cli("train", *TRAIN, "--iters", "8", "--save-every", "1", "--out", out, "--resume", "--lr", "1e30")
    assert result.code == 1 and "Traceback" not in result.err
    assert "--lr changed on resume: 0.0001 → 1e+30" in result.err
    assert len(result.error_lines) == 1 and "training diverged at step" in result.err and "last saved state is step 2" in result.err
    after = snapshot(out)
    assert all(after.get(p) == d for p, d in before.items()), "editor_last and the saved states are untouched"
    assert sorted(p.name for p in out.glob("state_*.json")) == ["state_00000002.json"], "no state saved from the diverged steps"


def test_a_run_directory_is_refused_to_a_second_trainer_and_free_after_a_sigkill(cli: Callable[..., Ran], tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from l2m_edge.io import OutputLock; lock = OutputLock({str(out)!r}, inside=True).acquire(); print('held', flush=True); import time; time.sleep(120)"],
        stdout=subprocess.PIPE, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = cli("train", *TRAIN, "--iters", "1", "--out", out)
        assert result.code == 1 and f"another l2m-edge process (pid {holder.pid}) is writing it" in result.err
        assert len(result.error_lines) == 1 and "Traceback" not in result.err
        assert not list(out.glob("state_*")) and not (out / "scalars.csv").exists()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        holder.kill()
        holder.wait()
    assert cli("train", *TRAIN, "--iters", "1", "--out", out).code == 0, "a killed holder leaves no stale lock"
    assert not (out / ".l2m-edge.lock").exists()


def test_two_runs_writing_one_video_the_second_is_refused_and_the_first_finishes(cli: Callable[..., Ran], tiny_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "same.mp4"
    with writing_video([CLI, *RUN, "-m", str(tiny_checkpoint), *FAST, "--from", "no_smile", "--sink", str(out)], out) as first:
        second = cli(*RUN, "-m", tiny_checkpoint, *FAST, "--seconds", "0.2", "--sink", out)
        first.send_signal(signal.SIGINT)
        output, _ = first.communicate(timeout=60)
    assert second.code == 1 and "another l2m-edge process" in second.err and "Traceback" not in second.err
    assert first.returncode == 0, output
    capture = cv2.VideoCapture(str(out))
    assert capture.isOpened() and capture.get(cv2.CAP_PROP_FRAME_COUNT) > 0
    capture.release()
    assert not list(tmp_path.glob(".same.*")), "no temporary or lock left behind"


def test_usage_errors_are_answered_before_torch_is_imported() -> None:
    probe = (
        "import sys\nfrom l2m_edge.cli import main\n"
        "try:\n    main(['run', '--source', 'pattern', '-m', 'x.safetensors', '--strength', 'nan'])\n"
        "except SystemExit as e:\n    print('exit', e.code, 'torch' in sys.modules, 'cv2' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "exit 2 False False", done.stdout + done.stderr
    assert "nan is not a finite number" in done.stderr
