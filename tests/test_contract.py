"""The editor signature: one I/O contract for export, manifest, backends and bench, with the optional masks input."""

from __future__ import annotations

import numpy as np
import pytest

from l2m_edge.config import get_preset
from l2m_edge.contract.manifest import Manifest
from l2m_edge.contract.signature import BATCH, MASKS, editor_signature, inputs_of
from l2m_edge.errors import ConfigError


def _feed_args(n: int, size: int = 64) -> tuple[np.ndarray, ...]:
    image = np.zeros((n, 3, size, size), np.float64)  # dtypes deliberately not the graph's
    return image, np.zeros(n, np.int32), np.ones(n, np.int32), np.ones(n, np.float64)


def test_signature_lists_the_four_inputs_in_graph_order_with_static_batch() -> None:
    signature = editor_signature(get_preset("tiny"), batch=2)
    assert signature.input_names == ("image", "source_domain", "target_domain", "strength")
    assert signature.output_names == ("edited",)
    assert signature.input("image").shape == [2, 3, 64, 64] and signature.input("image").value_range == [-1.0, 1.0]
    assert signature.input("target_domain").dtype == "int64" and signature.input("target_domain").value_range == [0, 1]
    assert signature.static_batch == 2 and signature.img_size == 64 and not signature.has_masks


def test_dynamic_batch_marks_every_first_axis() -> None:
    signature = editor_signature(get_preset("mobile"), batch=None)
    assert {spec.shape[0] for spec in (*signature.inputs, *signature.outputs)} == {BATCH}
    assert signature.static_batch is None and signature.img_size == 128


def test_masks_input_is_present_exactly_when_w_hpf_is_positive() -> None:
    assert not editor_signature(get_preset("tiny", w_hpf=0.0)).has_masks
    signature = editor_signature(get_preset("tiny", w_hpf=1.0), batch=None)
    masks = signature.input(MASKS)
    assert signature.input_names[-1] == MASKS
    assert (masks.shape, masks.dtype, masks.value_range, masks.layout) == ([BATCH, 2, 64, 64], "float32", [0.0, 1.0], "NCHW")


def test_feed_casts_to_the_graph_dtypes_in_input_order() -> None:
    feed = editor_signature(get_preset("tiny")).feed(*_feed_args(1))
    assert list(feed) == ["image", "source_domain", "target_domain", "strength"]
    assert [a.dtype for a in feed.values()] == [np.float32, np.int64, np.int64, np.float32]


def test_feed_requires_masks_for_a_w_hpf_model_and_refuses_them_otherwise() -> None:
    masks = np.zeros((1, 2, 64, 64), np.float32)
    with pytest.raises(ConfigError, match="needs the 'masks' input"):
        editor_signature(get_preset("tiny", w_hpf=1.0)).feed(*_feed_args(1))
    with pytest.raises(ConfigError, match="takes no 'masks' input"):
        editor_signature(get_preset("tiny")).feed(*_feed_args(1), masks)
    assert list(editor_signature(get_preset("tiny", w_hpf=1.0)).feed(*_feed_args(1), masks))[-1] == MASKS


def test_inputs_of_picks_the_editor_inputs_of_an_archive_in_graph_order() -> None:
    arrays = {"reference": np.zeros(1), "strength": np.ones(1), "image": np.zeros((1, 3, 4, 4)), "target_domain": np.ones(1), "source_domain": np.zeros(1)}
    assert list(inputs_of(arrays)) == ["image", "source_domain", "target_domain", "strength"]


def test_a_signature_with_masks_survives_the_manifest_json_round_trip() -> None:
    signature = editor_signature(get_preset("tiny", w_hpf=1.0), batch=None)
    manifest = Manifest(
        format="onnx", target="onnx", precision="fp32", compute_precision="fp32", files=[], inputs=list(signature.inputs), outputs=list(signature.outputs),
        preset="tiny", config={}, domains=["a", "b"], attribute="", checkpoint_sha256="", tools={},
    )
    assert Manifest.from_dict(manifest.to_dict()).signature == signature


def test_a_batch_below_one_is_refused() -> None:
    with pytest.raises(ConfigError, match="batch 0"):
        editor_signature(get_preset("tiny"), batch=0)
