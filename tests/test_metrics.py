"""Metrics on constructed cases with known answers, the classifier file, and the eval report."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from safetensors.torch import save_file

from l2m_edge.data.synthfaces import SynthFaces
from l2m_edge.errors import CheckpointError
from l2m_edge.metrics.classifier import (
    AttributeClassifier,
    ClassifierConfig,
    load_classifier,
    save_classifier,
    train_classifier,
)
from l2m_edge.metrics.evaluate import attribute_hits, preservation_outside
from l2m_edge.metrics.fid import InceptionFeatures, frechet_distance
from l2m_edge.metrics.image_metrics import masked_psnr, masked_ssim
from l2m_edge.metrics.pipeline import DEMO_CLASSIFIER, evaluate_checkpoint

TINY_DOMAINS = ("no_smile", "smile")
CLI = str(Path(sys.executable).with_name("l2m-edge"))


# ---- masked PSNR / SSIM on hand-made arrays --------------------------------------------------


def test_masked_psnr_counts_only_the_masked_pixels() -> None:
    a = torch.zeros(3, 8, 8)
    b = a.clone()
    b[:, :4, :] = 0.5  # the top half differs by 0.5, the bottom half is equal
    top = torch.zeros(8, 8, dtype=torch.bool)
    top[:4] = True
    assert masked_psnr(a, b, ~top) == math.inf
    assert masked_psnr(a, b, top) == pytest.approx(10 * math.log10(4 / 0.25))
    assert masked_psnr(a, b) == pytest.approx(10 * math.log10(4 / 0.125))


def test_masked_ssim_is_one_outside_a_changed_region_and_ignores_windows_touching_it() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.rand(3, 32, 32, generator=g) * 2 - 1
    b = a.clone()
    b[:, 4:12, 4:12] = torch.rand(3, 8, 8, generator=g) * 2 - 1
    region = torch.zeros(32, 32, dtype=torch.bool)
    region[4:12, 4:12] = True
    assert masked_ssim(a, b, ~region) == pytest.approx(1.0, abs=1e-12)
    assert masked_ssim(a, b) < 0.95
    assert masked_ssim(a, a) == pytest.approx(1.0, abs=1e-12)


def test_masked_metrics_reject_empty_masks_and_shape_mismatch() -> None:
    a = torch.zeros(3, 16, 16)
    with pytest.raises(ValueError, match="no pixel"):
        masked_psnr(a, a, torch.zeros(16, 16, dtype=torch.bool))
    sparse = torch.zeros(16, 16, dtype=torch.bool)
    sparse[::2, ::2] = True  # pixels, but no whole 7×7 window
    with pytest.raises(ValueError, match="window"):
        masked_ssim(a, a, sparse)
    with pytest.raises(ValueError, match="does not match"):
        masked_psnr(a, a, torch.ones(8, 8, dtype=torch.bool))


# ---- perfect, no-op and identity-destroying edits on SynthFaces ------------------------------


@pytest.fixture(scope="module")
def demo_classifier() -> AttributeClassifier:
    return load_classifier(DEMO_CLASSIFIER)


@pytest.fixture(scope="module")
def pairs() -> dict[str, torch.Tensor]:
    """16 held-out SynthFaces with their ground-truth counterfactuals and attribute regions."""
    faces = SynthFaces(16, 64, "smile", seed=7, split="val")
    items = [faces.edit_pair(i) for i in range(len(faces))]
    return {
        "source": torch.stack([p.source for p in items]),
        "counterfactual": torch.stack([p.target for p in items]),
        "region": torch.stack([p.mask[0] > 0.5 for p in items]),
        "source_label": torch.tensor([p.source_label for p in items]),
        "target_label": torch.tensor([p.target_label for p in items]),
    }


def test_perfect_edit_scores_full_accuracy_and_infinite_psnr_outside_the_region(demo_classifier, pairs) -> None:
    edited = pairs["counterfactual"]
    assert attribute_hits(demo_classifier, edited, pairs["target_label"]).mean() == 1.0
    psnr, ssim = preservation_outside(pairs["source"], edited, pairs["region"])
    assert all(p == math.inf for p in psnr)
    assert all(s == pytest.approx(1.0, abs=1e-9) for s in ssim)


def test_no_op_edit_fails_the_attribute_but_preserves_everything(demo_classifier, pairs) -> None:
    edited = pairs["source"]
    assert attribute_hits(demo_classifier, edited, pairs["target_label"]).mean() == 0.0
    psnr, _ = preservation_outside(pairs["source"], edited, pairs["region"])
    assert all(p == math.inf for p in psnr)


def test_identity_destroying_edit_scores_low_psnr_and_ssim(pairs) -> None:
    noise = torch.rand(pairs["source"].shape, generator=torch.Generator().manual_seed(3)) * 2 - 1
    psnr, ssim = preservation_outside(pairs["source"], noise, pairs["region"])
    assert max(psnr) < 12.0
    assert max(ssim) < 0.1


def test_shipped_classifier_records_its_heldout_accuracy() -> None:
    from l2m_edge.metrics.classifier import classifier_extra

    extra = classifier_extra(DEMO_CLASSIFIER)
    assert extra["heldout_accuracy"] >= 0.98
    assert load_classifier(DEMO_CLASSIFIER).config.attribute == "smile"


# ---- the classifier file ---------------------------------------------------------------------


@pytest.fixture
def one_thread():
    """Small CPU models gain little from threads, and on a busy 2-core runner the threads fight."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_classifier_training_learns_synthfaces_smile_in_a_few_steps(one_thread) -> None:
    faces = SynthFaces(64, 32, "smile", seed=1)
    model, result = train_classifier(faces, faces.domains, "smile", steps=50, batch_size=16, lr=3e-3, seed=0)
    assert result.history[-1] < result.history[0]
    assert result.train_accuracy > 0.8


def test_classifier_save_load_round_trip_is_bit_exact(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = AttributeClassifier(ClassifierConfig(img_size=64, domains=TINY_DOMAINS, attribute="smile"))
    path = save_classifier(model, tmp_path / "cls.safetensors", {"heldout_accuracy": 0.5})
    loaded = load_classifier(path)
    assert loaded.config == model.config
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    x = torch.rand(4, 3, 128, 128) * 2 - 1  # another size: resized to the trained one
    model.eval()
    assert torch.equal(loaded.predict_domain(x), model.predict_domain(x))
    assert loaded.predict_domain(x).shape == (4, 2)


def test_corrupt_or_foreign_classifier_files_are_rejected_with_one_line(tmp_path: Path, tiny_checkpoint: Path) -> None:
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00not a safetensors file at all" * 10)
    with pytest.raises(CheckpointError, match="not a safetensors attribute classifier") as info:
        load_classifier(garbage)
    assert "\n" not in str(info.value)
    with pytest.raises(CheckpointError, match="not an l2m-edge attribute classifier"):
        load_classifier(tiny_checkpoint)
    with pytest.raises(CheckpointError, match="no such attribute classifier file"):
        load_classifier(tmp_path / "missing.safetensors")


# ---- FID from given weights ------------------------------------------------------------------


def test_frechet_distance_matches_the_sqrtm_formula() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(300, 6, generator=g, dtype=torch.float64)
    b = torch.randn(200, 6, generator=g, dtype=torch.float64) @ torch.randn(6, 6, generator=g, dtype=torch.float64) + 0.3
    s1, s2 = np.cov(a.numpy(), rowvar=False), np.cov(b.numpy(), rowvar=False)
    ref = ((a.mean(0) - b.mean(0)) ** 2).sum().item() + np.trace(s1) + np.trace(s2) - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(a, b) == pytest.approx(ref, rel=1e-9)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_fid_is_computed_from_given_weights_and_other_files_are_refused_up_front(tmp_path: Path, tiny_checkpoint: Path, one_thread) -> None:
    torch.manual_seed(0)
    weights = tmp_path / "inception.safetensors"
    state = {k: v.contiguous() for k, v in InceptionFeatures().state_dict().items()}
    state["fc.weight"] = torch.zeros(1000, 2048)  # a full torchvision state dict: the head is ignored
    save_file(state, str(weights))
    report, _ = evaluate_checkpoint(tiny_checkpoint, tmp_path / "eval", n=2, rows=1, inception_weights=weights, progress=False)
    assert isinstance(report["fid"], float) and report["fid"] > 0
    with pytest.raises(CheckpointError, match="not Inception-v3 weights"):
        evaluate_checkpoint(tiny_checkpoint, tmp_path / "eval2", n=3, inception_weights=tiny_checkpoint, progress=False)
    assert not (tmp_path / "eval2").exists()


# ---- evaluate end to end on the tiny editor --------------------------------------------------


def test_evaluate_writes_json_markdown_and_grid_with_every_metric(tmp_path: Path, tiny_checkpoint: Path, one_thread) -> None:
    torch.manual_seed(0)
    classifier = save_classifier(
        AttributeClassifier(ClassifierConfig(img_size=64, domains=("no_smile", "smile"), attribute="smile")), tmp_path / "cls.safetensors"
    )
    report, paths = evaluate_checkpoint(tiny_checkpoint, tmp_path / "eval", data="synth", classifier=classifier, n=6, batch_size=4, rows=2, progress=False)
    assert sorted(p.name for p in (tmp_path / "eval").iterdir()) == ["eval.json", "eval.md", "eval.png"]
    saved = json.loads(paths["json"].read_text())
    assert set(saved["attribute_accuracy"]) == {"no_smile->smile", "smile->no_smile"}
    assert sum(v["n"] for v in saved["attribute_accuracy"].values()) == 6
    for key in ("psnr_outside_region_db", "ssim_outside_region", "s_un_cosine"):
        assert saved["preservation"][key]["n"] == 6
    assert set(saved["reconstruction"]) == {"l1", "psnr_db"}
    assert saved["fid"].startswith("not computed: no weights given")
    assert "smile → no_smile" in paths["md"].read_text()
    from PIL import Image

    with Image.open(paths["png"]) as grid:
        assert grid.width > 4 * 64 and grid.height > 2 * 64


@pytest.fixture(scope="module")
def face_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 SynthFaces written in the CelebA-HQ / StarGAN v2 folder layout (6 train, 6 val)."""
    from l2m_edge.data import write_synthfaces

    root = tmp_path_factory.mktemp("faces") / "faces"
    write_synthfaces(root, n=12, attribute="smile", size=64, seed=3, val_fraction=0.5, progress=False)
    return root


def test_evaluate_on_a_face_folder_reports_region_metrics_as_not_computed(tmp_path: Path, tiny_checkpoint: Path, face_folder: Path) -> None:
    report, paths = evaluate_checkpoint(tiny_checkpoint, tmp_path / "eval", data=str(face_folder), classifier=DEMO_CLASSIFIER, n=4, rows=2, progress=False)
    assert report["n"] == 4
    assert report["preservation"]["psnr_outside_region_db"].startswith("not computed")
    assert report["preservation"]["s_un_cosine"]["n"] == 4
    assert "not computed" in paths["md"].read_text()


def test_classifier_trains_on_a_seeded_subset_of_a_face_folder(tmp_path: Path, face_folder: Path, one_thread) -> None:
    from l2m_edge.metrics.classifier import classifier_extra
    from l2m_edge.metrics.pipeline import train_classifier_file

    run = train_classifier_file(str(face_folder), "smile", tmp_path / "cls.safetensors", img_size=32, n_train=4, steps=2, progress=False)
    extra = classifier_extra(run.path)
    assert extra["n_train"] == 4 and extra["n_heldout"] == 6
    assert load_classifier(run.path).domains == ("no_smile", "smile")


def test_eval_cli_reports_a_bad_classifier_as_one_red_line(tmp_path: Path, tiny_checkpoint: Path) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_text("nope")
    result = subprocess.run(
        [CLI, "eval", str(tiny_checkpoint), "--classifier", str(bad), "--n", "2", "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    assert "not a safetensors attribute classifier" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


def test_classifier_of_other_domains_is_refused_before_any_work(tmp_path: Path, tiny_checkpoint: Path) -> None:
    other = save_classifier(AttributeClassifier(ClassifierConfig(img_size=64, domains=("smile", "no_smile"))), tmp_path / "swapped.safetensors")
    with pytest.raises(CheckpointError, match="not the editor's"):
        evaluate_checkpoint(tiny_checkpoint, tmp_path / "eval", classifier=other, n=2, progress=False)
    assert not (tmp_path / "eval").exists()


def test_evaluate_runs_a_high_pass_model_with_synthfaces_masks_and_on_a_folder_with_cached_landmarks(tmp_path: Path, face_folder: Path, one_thread) -> None:
    """w_hpf > 0: SynthFaces' exact landmarks give the masks; on a folder, the MediaPipe landmarks cached
    beside it (built on first use; real photos: tests/test_landmark_cache.py)."""
    from l2m_edge.checkpoint import save_checkpoint
    from l2m_edge.config import get_preset
    from l2m_edge.data.landmark_cache import CACHE_NAME, read_cache
    from l2m_edge.model import build_editor

    torch.manual_seed(0)
    checkpoint = save_checkpoint(build_editor(get_preset("tiny", w_hpf=1.0), ["no_smile", "smile"], "smile"), tmp_path / "hpf.safetensors")
    report, _ = evaluate_checkpoint(checkpoint, tmp_path / "eval", data="synth", classifier=DEMO_CLASSIFIER, n=4, rows=2, progress=False)
    assert report["preservation"]["psnr_outside_region_db"]["n"] == 4 and report["cycle"]["psnr_db"]["n"] == 4
    report, _ = evaluate_checkpoint(checkpoint, tmp_path / "eval2", data=str(face_folder), classifier=DEMO_CLASSIFIER, n=6, rows=2, progress=False)
    faces = [rel for rel, entry in read_cache(face_folder / CACHE_NAME).items() if rel.startswith("val/") and entry.points is not None]
    assert faces and report["n"] == len(faces)  # the val images where MediaPipe finds a face
