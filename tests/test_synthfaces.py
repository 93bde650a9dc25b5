"""SynthFaces: deterministic, exactly labelled, canonically framed, with ground-truth edit pairs."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from l2m_edge.canonical import canonical_landmarks
from l2m_edge.data import ATTRIBUTES, SynthFaces, face_landmarks, render_face, sample_identity, write_synthfaces
from l2m_edge.errors import DataError


def test_same_seed_renders_identical_faces_and_another_seed_differs():
    a = SynthFaces(6, 64, "smile", seed=3)
    b = SynthFaces(6, 64, "smile", seed=3)
    c = SynthFaces(6, 64, "smile", seed=4)
    for i in range(6):
        assert torch.equal(a[i][0], b[i][0])
    assert not torch.equal(a[0][0], c[0][0])


def test_identity_is_a_function_of_seed_and_index_alone():
    smile = SynthFaces(10, 64, "smile", seed=7)
    glasses = SynthFaces(10, 128, "eyeglasses", seed=7)
    for i in (0, 1, 9):
        assert smile.identity(i) == glasses.identity(i) == sample_identity(7, i)
    assert sample_identity(7, 0) != sample_identity(7, 1)


@pytest.mark.parametrize("attribute", list(ATTRIBUTES))
@pytest.mark.parametrize("size", [64, 128, 97])
def test_attribute_flip_changes_pixels_only_inside_region_mask(attribute, size):
    """Outside the mask the two states are bit-identical; inside, the change is large (visible)."""
    for index in range(8):
        identity = sample_identity(11, index)
        off, mask_off = render_face(identity, attribute, False, size)
        on, mask_on = render_face(identity, attribute, True, size)
        assert np.array_equal(mask_off, mask_on)
        assert set(np.unique(mask_on)) <= {0.0, 1.0}
        changed = (off != on).any(axis=-1)
        assert not (changed & (mask_on == 0)).any(), "a pixel outside the region mask changed"
        inside = mask_on > 0
        diff = np.abs(off.astype(np.int16) - on.astype(np.int16)).max(axis=-1)
        assert (diff[inside] > 40).mean() > 0.25, "the attribute barely changes its region"
        assert 0.005 < inside.mean() < 0.6


@pytest.mark.parametrize("size", [64, 128])
def test_items_are_normalised_images_with_balanced_labels(size):
    ds = SynthFaces(10, size, "hair_colour", seed=0)
    labels = [ds[i][1] for i in range(len(ds))]
    assert labels.count(0) == labels.count(1) == 5
    assert ds.labels == labels
    image, _ = ds[3]
    assert image.shape == (3, size, size) and image.dtype == torch.float32
    assert image.min() >= -1.0 and image.max() <= 1.0
    assert image.min() < -0.5 and image.max() > 0.5  # uses the range, not a flat grey


def test_train_and_val_splits_share_no_identity():
    train = SynthFaces(50, 64, "smile", seed=0, split="train")
    val = SynthFaces(50, 64, "smile", seed=0, split="val")
    assert not {train.identity(i) for i in range(50)} & {val.identity(i) for i in range(50)}


def test_edit_pair_is_the_same_identity_with_the_attribute_flipped():
    ds = SynthFaces(4, 64, "eyeglasses", seed=2)
    for i in (0, 1):
        pair = ds.edit_pair(i)
        image, label = ds[i]
        assert torch.equal(pair.source, image) and pair.source_label == label
        assert pair.target_label == 1 - label
        assert pair.mask.shape == (1, 64, 64)
        outside = pair.mask.expand(3, -1, -1) == 0
        assert torch.equal(pair.source[outside], pair.target[outside])
        assert not torch.equal(pair.source, pair.target)


def test_faces_are_drawn_in_the_canonical_framing():
    """Without jitter the landmarks are exactly canonical, and the drawn pupils sit on the eye landmarks."""
    still = dataclasses.replace(sample_identity(0, 5), angle=0.0, scale=1.0, shift=(0.0, 0.0), eye_dx=0.0, mouth_scale=1.0, glasses=False)
    np.testing.assert_allclose(face_landmarks(still, 256), canonical_landmarks(256), atol=1e-4)
    rgb, _ = render_face(still, "smile", False, 256)
    grey = rgb.astype(np.float32).mean(axis=-1)
    skin = float(np.mean(still.skin))
    for x, y in canonical_landmarks(256)[:2]:
        assert grey[int(round(y)), int(round(x))] < min(80.0, skin - 40)
    # jittered faces keep their landmarks near the canonical ones
    for i in range(20):
        assert np.abs(face_landmarks(sample_identity(0, i), 128) - canonical_landmarks(128)).max() < 0.08 * 128


def test_unknown_attribute_and_split_are_clear_errors():
    with pytest.raises(DataError, match="smile"):
        SynthFaces(4, 64, "beard")
    with pytest.raises(DataError, match="val"):
        SynthFaces(4, 64, "smile", split="test")


def test_writer_produces_the_stargan_layout_with_disjoint_balanced_splits(tmp_path):
    out = tmp_path / "faces"
    counts = write_synthfaces(out, 20, "smile", size=32, seed=1, val_fraction=0.2, progress=False)
    assert counts == {"train": {"no_smile": 8, "smile": 8}, "val": {"no_smile": 2, "smile": 2}}
    for split, per_domain in counts.items():
        for domain, k in per_domain.items():
            assert len(list((out / split / domain).glob("*.png"))) == k
    assert json.loads((out / "synthfaces.json").read_text())["domains"] == ["no_smile", "smile"]
    with pytest.raises(DataError, match="--force"):
        write_synthfaces(out, 4, "smile", size=32, progress=False)
