"""The MediaPipe landmark cache of face folders and the masks of high-pass models trained on them.

Real MediaPipe on real photos: a tiny StarGAN v2 folder of astronaut crops and flips, and one
image without a face (skimage's coffee).
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.console import Console
from skimage import data as skdata

from l2m_edge.data import build_dataset
from l2m_edge.data.landmark_cache import CACHE_NAME, cache_file, detect, landmark_table, read_cache
from l2m_edge.data.transforms import Placement, seeded_draws
from l2m_edge.face_mesh import new_face_mesh
from l2m_edge.masks import face_masks, masks_from_mediapipe, wflw_from_mediapipe
from l2m_edge.train.face_masks import folder_with_landmarks

SIZE = 128
# (split, domain, name): image. The astronaut's face lies at x 179–271, y 71–177 of the 512² photo.
ASTRONAUT = skdata.astronaut()
IMAGES = {
    ("train", "no_smile", "a.png"): ASTRONAUT[0:300, 100:400],
    ("train", "no_smile", "b.png"): ASTRONAUT[20:260, 120:360][:, ::-1],
    ("train", "smile", "c.png"): ASTRONAUT[10:330, 60:380],
    ("train", "smile", "coffee.png"): skdata.coffee(),
    ("val", "no_smile", "d.png"): ASTRONAUT[0:280, 110:390][:, ::-1],
    ("val", "smile", "e.png"): ASTRONAUT[30:290, 90:350],
}


def _write_folder(root: Path) -> Path:
    for (split, domain, name), rgb in IMAGES.items():
        (root / split / domain).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(rgb)).save(root / split / domain / name)
    return root


def _all_images(root: Path) -> list[Path]:
    return sorted(root.glob("*/*/*.png"))


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder with its cache built once (tests that change files make their own copy)."""
    root = _write_folder(tmp_path_factory.mktemp("faces"))
    landmark_table(root, _all_images(root))
    return root


@pytest.fixture(scope="module")
def mesh():  # noqa: ANN201
    model = new_face_mesh(still=True, refine_iris=True)
    yield model
    model.close()


def test_the_cache_is_built_once_then_reused_and_says_which_image_has_no_face(tmp_path: Path) -> None:
    root = _write_folder(tmp_path)
    out = io.StringIO()
    first = landmark_table(root, _all_images(root), Console(file=out, width=300))
    assert first.file == root / CACHE_NAME and first.computed == len(IMAGES)
    assert first.no_face == [root / "train" / "smile" / "coffee.png"]
    lines = out.getvalue().splitlines()
    assert any(line.startswith(f"landmarks: running MediaPipe FaceMesh once on {len(IMAGES)} images") for line in lines)
    assert any(line.startswith(f"landmarks: no face found in 1 of {len(IMAGES)} images (coffee.png)") for line in lines)
    stamp = (root / CACHE_NAME).stat().st_mtime_ns

    second = landmark_table(root, _all_images(root))
    assert second.computed == 0 and (root / CACHE_NAME).stat().st_mtime_ns == stamp  # nothing recomputed, nothing rewritten
    for path, points in first.points.items():
        assert (points is None and second.points[path] is None) or np.array_equal(points, second.points[path])

    entries = read_cache(root / CACHE_NAME)  # np.load(allow_pickle=False) inside
    assert sorted(entries) == sorted(p.relative_to(root).as_posix() for p in _all_images(root))
    assert entries["train/no_smile/a.png"].points.shape == (478, 2)


def test_an_edited_or_added_image_is_recomputed_and_the_others_reused(tmp_path: Path) -> None:
    root = _write_folder(tmp_path)
    before = landmark_table(root, _all_images(root))
    edited = root / "train" / "no_smile" / "a.png"
    Image.fromarray(np.ascontiguousarray(ASTRONAUT[40:300, 140:400])).save(edited)  # another crop: the face moves
    added = root / "train" / "smile" / "f.png"
    Image.fromarray(np.ascontiguousarray(ASTRONAUT[0:320, 80:400])).save(added)
    after = landmark_table(root, _all_images(root))
    assert after.computed == 2
    shift = before.points[edited].mean(0) - after.points[edited].mean(0)  # type: ignore[union-attr]
    assert np.allclose(shift, (40, 40), atol=3)  # the new crop starts 40 px further right and down: the face moves 40 up-left
    unchanged = root / "val" / "smile" / "e.png"
    assert np.array_equal(before.points[unchanged], after.points[unchanged])


def test_the_cached_points_are_those_mediapipe_finds_in_the_file(faces: Path, mesh: object) -> None:
    table = landmark_table(faces, _all_images(faces))
    path = faces / "train" / "smile" / "c.png"
    assert np.allclose(table.points[path], detect(path, mesh), atol=1e-3)  # type: ignore[arg-type]


def _chamfer(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance from each point to the nearest of the other set, both ways: blind to left/right naming."""
    d = np.linalg.norm(a[:, None] - b[None], axis=2)
    return float((d.min(1).mean() + d.min(0).mean()) / 2)


@pytest.mark.parametrize(
    "placement",
    [
        Placement(300, 300, SIZE, None, True),  # flip only
        Placement(300, 300, SIZE, (30, 10, 250, 270), False),  # crop, non-square
        Placement(300, 300, SIZE, (12, 40, 260, 236), True),  # crop and flip
    ],
    ids=["flip", "crop", "crop+flip"],
)
def test_moved_landmarks_match_mediapipe_on_the_augmented_image(faces: Path, mesh: object, placement: Placement) -> None:
    path = faces / "train" / "no_smile" / "a.png"
    cached = landmark_table(faces, [path]).points[path]
    img = Image.open(path).convert("RGB")
    served = np.asarray(((placement.image(img).permute(1, 2, 0).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8))
    direct = detect_array(served, mesh)
    moved = placement.points(cached)  # type: ignore[arg-type]
    assert _chamfer(moved, direct) < 1.0  # px at 128²; measured 0.4–0.7 (MediaPipe on a resampled copy of the face)
    # The masks drawn from the moved points are those of the face MediaPipe sees in the augmented image
    # (measured 11–18 % mean difference: MediaPipe's sub-pixel jitter moves blobs of σ = 2 px).
    ours, theirs = masks_from_mediapipe(moved, SIZE)[0], masks_from_mediapipe(direct, SIZE)[0]
    assert np.abs(ours - theirs).mean() < 0.3 * theirs.mean()
    if placement.flip:  # points that missed the flip are caught: the face is off the image's centre line (3.5–6 px)
        unflipped = Placement(placement.width, placement.height, SIZE, placement.box, False).points(cached)  # type: ignore[arg-type]
        assert _chamfer(unflipped, direct) > 2.5


def detect_array(rgb: np.ndarray, mesh: object) -> np.ndarray:
    from l2m_edge.face_mesh import mesh_landmarks

    points = mesh_landmarks(mesh, rgb)
    assert points is not None, "MediaPipe finds the astronaut in the augmented image"
    return points


def test_masks_of_flipped_landmarks_are_the_flipped_masks(faces: Path) -> None:
    """The mask recipe is left/right symmetric: which eye a WFLW index names after a flip does not matter."""
    path = faces / "train" / "no_smile" / "a.png"
    cached = landmark_table(faces, [path]).points[path]
    straight = face_masks(wflw_from_mediapipe(Placement(300, 300, SIZE).points(cached)), SIZE)[0]  # type: ignore[arg-type]
    flipped = face_masks(wflw_from_mediapipe(Placement(300, 300, SIZE, None, True).points(cached)), SIZE)[0]  # type: ignore[arg-type]
    # face_masks puts pixel i's centre at x = i, MediaPipe's points at i + ½ (x = S − x mirrors them):
    # the mirrored masks land one pixel over, so compare with the flipped masks shifted by that pixel.
    mirrored = np.roll(straight[:, :, ::-1], 1, axis=2)
    assert np.abs(flipped - mirrored).max() < 1e-4
    assert straight.max() > 0.99 and np.abs(flipped - straight[:, :, ::-1]).mean() < 0.2 * straight.mean()


def test_the_loader_moves_points_with_the_same_draws_as_the_image(faces: Path, mesh: object) -> None:
    folder = folder_with_landmarks(build_dataset(str(faces), "smile", SIZE, split="train", augment=True))
    assert len(folder) == 3  # coffee.png (no face) is left out
    kinds = set()
    for seed in range(8):
        with seeded_draws(seed):
            image, label, wflw = folder.face_item(0)
        with seeded_draws(seed):
            again, _, wflw_again = folder.face_item(0)
        assert np.array_equal(image.numpy(), again.numpy()) and np.array_equal(wflw, wflw_again)  # a function of the seed
        with seeded_draws(seed):
            kinds.add(folder.transform.place(300, 300).box is not None)
        served = ((image.permute(1, 2, 0).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
        direct = wflw_from_mediapipe(detect_array(served, mesh))
        assert _chamfer(wflw, direct) < 1.5, f"seed {seed}"  # px at 128²
    assert kinds == {True, False}  # both a crop and no crop were served


def test_an_hpf_model_trains_on_a_face_folder(faces: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from l2m_edge.checkpoint import load_editor
    from l2m_edge.cli import main
    from l2m_edge.train import EDITOR_LAST

    monkeypatch.setattr(sys, "argv", ["l2m-edge", "train", "--data", str(faces), "--preset", "tiny:w_hpf=1", "--iters", "2",
                                      "--batch", "2", "--workers", "0", "--save-every", "2", "--sample-every", "2",
                                      "--out", str(tmp_path / "run")])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code in (0, None), err
    assert "no face found in 1 of 4 images (coffee.png)" in err
    assert "running MediaPipe" not in err  # the fixture built the cache: reused
    assert load_editor(tmp_path / "run" / EDITOR_LAST).config.uses_masks
    assert (tmp_path / "run" / "samples" / "step_00000002.png").is_file()

    # `eval` of the hpf model on the folder's val split: masks from the cached landmarks.
    code, out, err = _cli(monkeypatch, capsys, "eval", str(tmp_path / "run" / EDITOR_LAST), "--data", str(faces), "--n", "2",
                          "--rows", "2", "--out", str(tmp_path / "eval"))
    assert code == 0, err
    assert json.loads((tmp_path / "eval" / "eval.json").read_text())["n"] == 2


def _cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from l2m_edge.cli import main

    monkeypatch.setattr(sys, "argv", ["l2m-edge", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


def test_data_landmarks_builds_then_reuses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _write_folder(tmp_path / "faces")
    code, out, _ = _cli(monkeypatch, capsys, "data", "landmarks", str(root))
    assert code == 0 and f"landmarks of {len(IMAGES)} images ({len(IMAGES) - 1} with a face): {len(IMAGES)} computed, 0 reused" in out
    code, out, _ = _cli(monkeypatch, capsys, "data", "landmarks", str(root))
    assert code == 0 and f"0 computed, {len(IMAGES)} reused; {root / CACHE_NAME}" in out


@pytest.mark.parametrize("bad", ["missing", "empty", "synth", "cache-blocked"])
def test_data_landmarks_on_a_bad_folder_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], bad: str) -> None:
    target = {"missing": tmp_path / "nope", "empty": tmp_path, "synth": "synth"}.get(bad)
    if bad == "cache-blocked":  # the cache file's place is taken by a folder: it cannot be written
        target = _write_folder(tmp_path / "faces")
        (target / CACHE_NAME).mkdir()
    code, out, err = _cli(monkeypatch, capsys, "data", "landmarks", str(target))
    assert code == 1 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_folder_caches_in_the_user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _write_folder(tmp_path / "faces")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root.chmod(0o555)
    try:
        table = landmark_table(root, _all_images(root))
        assert table.file == cache_file(root) and table.file.is_relative_to(tmp_path / "cache" / "l2m-edge" / "landmarks")
        assert table.file.is_file() and not (root / CACHE_NAME).exists()
        assert landmark_table(root, _all_images(root)).computed == 0
    finally:
        root.chmod(0o755)


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="no sysfs here")
def test_a_folder_that_takes_no_file_even_from_root_caches_in_the_user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sysfs refuses new files to root too, whom `os.access` tells it may write: the cache goes to the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert cache_file(Path("/sys/kernel")).is_relative_to(tmp_path / "cache" / "l2m-edge" / "landmarks")
    assert cache_file(tmp_path) == tmp_path / CACHE_NAME and list(tmp_path.iterdir()) == []  # the probe left nothing


def test_int8_calibration_of_an_hpf_model_on_a_folder_takes_masks_from_the_cache(tmp_path: Path, mesh: object) -> None:
    from l2m_edge.errors import ExportError
    from l2m_edge.export.calibration import MIN_CALIBRATION, calibration_batch, centre_square

    folder = tmp_path / "calib"
    folder.mkdir()
    for i in range(MIN_CALIBRATION):  # 100 crops of the astronaut, the face somewhere else in each
        top, left = 4 * (i % 10), 80 + 4 * (i // 10)
        Image.fromarray(np.ascontiguousarray(ASTRONAUT[top : top + 280, left : left + 300])).save(folder / f"{i:03d}.png")
    Image.fromarray(skdata.coffee()).save(folder / "coffee.png")
    batch, info = calibration_batch(folder, SIZE, 2, masks=True)
    assert info["count"] == MIN_CALIBRATION and batch.masks is not None and batch.masks.shape == (MIN_CALIBRATION, 2, SIZE, SIZE)
    # The masks are those of the face MediaPipe sees in the centre crop calibration feeds.
    crop = ((batch.image[7].transpose(1, 2, 0) + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
    direct = masks_from_mediapipe(detect_array(np.ascontiguousarray(crop), mesh), SIZE)[0]
    assert np.abs(batch.masks[7] - direct).mean() < 0.3 * direct.mean()
    assert centre_square(300, 280, SIZE).box == (10, 0, 280, 280)

    (folder / "000.png").unlink()  # 99 faces (and the coffee): too few
    with pytest.raises(ExportError, match="99 images with a face MediaPipe finds, INT8 calibration needs at least 100"):
        calibration_batch(folder, SIZE, 2, masks=True)


def test_an_attribute_file_folder_is_cached_by_paths_under_its_root(tmp_path: Path) -> None:
    """CelebA's layout: an attribute file beside CelebA-HQ-img/; the cache sits in the root, keyed by paths below it."""
    images = tmp_path / "CelebA-HQ-img"
    images.mkdir()
    pictures = {"0.jpg": ASTRONAUT[0:300, 100:400], "1.jpg": ASTRONAUT[10:330, 60:380][:, ::-1], "2.jpg": skdata.coffee()}
    for name, rgb in pictures.items():
        Image.fromarray(np.ascontiguousarray(rgb)).save(images / name, quality=95)
    (tmp_path / "CelebAMask-HQ-attribute-anno.txt").write_text("3\nSmiling Young\n0.jpg 1 -1\n1.jpg -1 1\n2.jpg 1 1\n")
    folder = folder_with_landmarks(build_dataset(str(tmp_path), "Smiling", SIZE, split="train", augment=True))
    assert sorted(read_cache(tmp_path / CACHE_NAME)) == [f"CelebA-HQ-img/{name}" for name in sorted(pictures)]
    assert [p.name for p, _ in folder.items] == ["0.jpg", "1.jpg"]  # the coffee has no face
    with seeded_draws(3):
        image, label, wflw = folder.face_item(1)
    assert image.shape == (3, SIZE, SIZE) and label == 0 and wflw.shape == (98, 2)
