"""Real-face loaders: StarGAN v2 folders, CelebA attribute files, augmentation, bad files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from l2m_edge.data import SynthFaces, build_dataset, folder_dataset, read_attribute_file, write_synthfaces
from l2m_edge.data.transforms import StarGANAugment, random_resized_crop_box
from l2m_edge.errors import DataError

NAMES = ["5_o_Clock_Shadow", "Eyeglasses", "Male", "Smiling", "Young"]


def _write_images(folder: Path, names: list[str], size: int = 40) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        Image.fromarray(rng.integers(0, 255, (size, size + 8, 3), dtype=np.uint8)).save(folder / name)


def _table(n: int) -> dict[str, list[int]]:
    """Image i smiles when i is odd and wears glasses when i % 3 == 0."""
    return {f"{i}.jpg": [-1, 1 if i % 3 == 0 else -1, 1, 1 if i % 2 else -1, -1] for i in range(n)}


def test_synthfaces_written_to_disk_read_back_with_the_same_images_and_labels(tmp_path):
    out = tmp_path / "faces"
    write_synthfaces(out, 12, "hair_colour", size=32, seed=5, val_fraction=0.25, progress=False)
    for split, n in (("train", 9), ("val", 3)):
        loaded = build_dataset(str(out), "hair_colour", 32, split=split, augment=False)
        assert loaded.domains == ("dark_hair", "blond_hair")  # the recorded order, not alphabetical
        source = SynthFaces(n, 32, "hair_colour", seed=5, split=split)
        by_name = {path.stem: i for i, (path, _) in enumerate(loaded.items)}
        for i in range(n):
            image, label = loaded[by_name[f"{i:06d}"]]
            assert label == source.label(i)
            assert torch.equal(image, source[i][0])  # PNG is lossless


def test_stargan_layout_puts_the_negative_domain_first_else_alphabetical(tmp_path):
    for d in ("smile", "no_smile"):
        _write_images(tmp_path / "a" / "train" / d, ["x.png", "y.png"])
    for d in ("male", "female"):
        _write_images(tmp_path / "b" / "train" / d, ["x.jpg"])
    assert folder_dataset(tmp_path / "a", augment=False).domains == ("no_smile", "smile")
    b = folder_dataset(tmp_path / "b", img_size=24, augment=False)
    assert b.domains == ("female", "male") and b.labels == [0, 1]
    assert b[0][0].shape == (3, 24, 24)


def test_empty_folder_and_empty_domain_are_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty folder"):
        build_dataset(str(tmp_path / "empty"), "Smiling", 32)
    _write_images(tmp_path / "d" / "train" / "smile", ["x.png"])
    (tmp_path / "d" / "train" / "no_smile").mkdir()
    with pytest.raises(DataError, match="empty domain folder"):
        build_dataset(str(tmp_path / "d"), "smile", 32)
    with pytest.raises(DataError, match="no such folder"):
        build_dataset(str(tmp_path / "missing"), "smile", 32)


def _write_celebamask_hq(root: Path, n: int) -> None:
    lines = [str(n), " ".join(NAMES)]
    lines += [name + " " + " ".join(str(v) for v in values) for name, values in _table(n).items()]
    (root / "CelebAMask-HQ-attribute-anno.txt").write_text("\n".join(lines) + "\n")
    _write_images(root / "CelebA-HQ-img", list(_table(n)))


def _write_list_attr_celeba(root: Path, n: int) -> None:
    """CelebA's quirks: trailing space on the names line, values padded to two columns, CRLF."""
    lines = [str(n), " ".join(NAMES) + " "]
    lines += [name + " " + " ".join(f"{v:2d}" for v in values) for name, values in _table(n).items()]
    (root / "list_attr_celeba.txt").write_text("\r\n".join(lines) + "\r\n")
    partition = [f"{name} {1 if i >= n - 4 else 0}" for i, name in enumerate(_table(n))]
    (root / "list_eval_partition.txt").write_text("\n".join(partition) + "\n")
    _write_images(root / "img_align_celeba", list(_table(n)))


def _write_csv(root: Path, n: int) -> None:
    lines = ["image_id," + ",".join(NAMES)] + [name + "," + ",".join(str(v) for v in values) for name, values in _table(n).items()]
    (root / "list_attr_celeba.csv").write_text("\n".join(lines) + "\n")
    _write_images(root / "images", list(_table(n)))


@pytest.mark.parametrize("writer", [_write_celebamask_hq, _write_list_attr_celeba, _write_csv])
def test_attribute_file_splits_images_into_two_domains(tmp_path, writer):
    writer(tmp_path, 24)
    table = read_attribute_file(next(p for p in tmp_path.iterdir() if p.suffix in (".txt", ".csv") and "attr" in p.name.lower()))
    assert table.names == tuple(NAMES) and len(table.rows) == 24
    seen = {}
    for split in ("train", "val"):
        try:
            ds = build_dataset(str(tmp_path), "Smiling", 32, split=split, augment=False)
        except DataError:
            assert split == "val" and writer is not _write_list_attr_celeba  # hash split: val may be empty at n=24
            continue
        assert ds.domains == ("not_Smiling", "Smiling")
        seen.update({path.name: label for path, label in ds.items})
    assert seen == {f"{i}.jpg": i % 2 for i in range(24)}
    glasses = build_dataset(str(tmp_path), "eyeglasses", 32, augment=False)  # case-insensitive / SynthFaces spelling
    assert glasses.domains == ("not_Eyeglasses", "Eyeglasses")
    assert all(label == (int(path.stem) % 3 == 0) for path, label in glasses.items)


def test_list_eval_partition_decides_the_val_split(tmp_path):
    _write_list_attr_celeba(tmp_path, 24)
    val = build_dataset(str(tmp_path), "Male", 32, split="val", augment=False)
    assert sorted(p.name for p, _ in val.items) == ["20.jpg", "21.jpg", "22.jpg", "23.jpg"]


def test_unknown_attribute_lists_the_valid_ones(tmp_path):
    _write_celebamask_hq(tmp_path, 6)
    with pytest.raises(DataError, match="no attribute 'Bearded'; valid ones: 5_o_Clock_Shadow, Eyeglasses, Male, Smiling, Young"):
        build_dataset(str(tmp_path), "Bearded", 32)


def test_unreadable_image_is_skipped_and_counted_without_stopping_the_epoch(tmp_path):
    _write_images(tmp_path / "train" / "no_smile", ["a.png", "b.png"])
    _write_images(tmp_path / "train" / "smile", ["c.png", "d.png"])
    (tmp_path / "train" / "no_smile" / "b.png").write_bytes(b"\x89PNG garbage, not an image")
    ds = build_dataset(str(tmp_path), "smile", 32)
    items = [ds[i] for i in range(len(ds))]
    assert all(image.shape == (3, 32, 32) for image, _ in items)
    assert ds.num_skipped == 1 and {p.name for p in ds.skipped} == {"b.png"}
    assert items[1][1] == 1  # index of b.png served the next readable image (c.png, smile)
    for i in range(len(ds)):
        ds[i]
    assert ds.num_skipped == 1  # counted once, not once per visit


def test_a_process_out_of_file_descriptors_is_an_error_not_an_unreadable_image(tmp_path):
    """Skipping a good file for EMFILE would swap the sample in this process only (the loader's order breaks)."""
    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    script = (
        "import os, resource\n"
        "from l2m_edge.data.transforms import load_rgb\n"
        "from l2m_edge.errors import DataError\n"
        f"path = {str(tmp_path / 'ok.png')!r}\n"
        "assert load_rgb(path) is not None\n"
        "free = [os.open(os.devnull, os.O_RDONLY) for _ in range(3)]\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (max(free) + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))\n"
        "try:\n"
        "    load_rgb(path)\n"
        "except DataError as exc:\n"
        "    print('refused:', exc)\n"
        "else:\n"
        "    print('skipped as unreadable')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("refused:") and "ulimit -n" in result.stdout, result.stdout


def test_stargan_augmentation_is_seeded_by_torch_and_stays_in_range():
    img = Image.fromarray(np.random.default_rng(1).integers(0, 255, (50, 60, 3), dtype=np.uint8))
    augment = StarGANAugment(32)
    torch.manual_seed(3)
    first = [augment(img) for _ in range(8)]
    torch.manual_seed(3)
    again = [augment(img) for _ in range(8)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert len({a.sum().item() for a in first}) > 1  # crops and flips vary
    assert all(a.shape == (3, 32, 32) and a.min() >= -1 and a.max() <= 1 for a in first)


def test_random_resized_crop_box_respects_scale_and_ratio():
    torch.manual_seed(0)
    for _ in range(200):
        left, top, w, h = random_resized_crop_box(100, 80)
        assert 0 <= left and left + w <= 100 and 0 <= top and top + h <= 80
        assert 0.8 * 8000 * 0.97 <= w * h <= 8000 and 0.88 <= w / h <= 1.12


def test_cli_data_synth_writes_the_layout(tmp_path):
    out = tmp_path / "synth"
    cli = Path(sys.executable).with_name("l2m-edge")
    done = subprocess.run([str(cli), "data", "synth", "--out", str(out), "--n", "10", "--attr", "eyeglasses", "--size", "32", "--seed", "1", "--split-val", "0.2"],
                          capture_output=True, text=True, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert len(list((out / "train" / "glasses").glob("*.png"))) == 4
    assert len(list((out / "val" / "no_glasses").glob("*.png"))) == 1
    again = subprocess.run([str(cli), "data", "synth", "--out", str(out), "--n", "10"], capture_output=True, text=True, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert again.returncode == 1 and "--force" in again.stderr and "Traceback" not in again.stderr
