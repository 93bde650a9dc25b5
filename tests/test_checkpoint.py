"""Checkpoints: bit-exact round trip, atomic writes, one-line errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from l2m_edge.checkpoint import load_editor, read_metadata, save_checkpoint
from l2m_edge.errors import CheckpointError
from l2m_edge.model import build_editor


def test_round_trip_is_bit_exact(tmp_path: Path) -> None:
    torch.manual_seed(0)
    editor = build_editor("tiny", ["no_glasses", "glasses"], attribute="eyeglasses")
    path = save_checkpoint(editor, tmp_path / "e.safetensors")
    loaded = load_editor(path)
    assert loaded.domains == ("no_glasses", "glasses") and loaded.attribute == "eyeglasses"
    assert loaded.config == editor.config
    for (name, a), (_, b) in zip(editor.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    assert not loaded.training


def test_save_leaves_no_temporary_files(tmp_path: Path) -> None:
    save_checkpoint(build_editor("tiny"), tmp_path / "e.safetensors")
    assert [p.name for p in tmp_path.iterdir()] == ["e.safetensors"]


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such editor checkpoint file"):
        load_editor(tmp_path / "nope.safetensors")


def test_corrupted_file_is_rejected_with_its_name(tmp_path: Path, tiny_checkpoint: Path) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(tiny_checkpoint.read_bytes()[:200])
    with pytest.raises(CheckpointError, match=r"bad\.safetensors: not a safetensors editor checkpoint"):
        load_editor(bad)


def test_foreign_safetensors_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(CheckpointError, match="not an l2m-edge editor checkpoint"):
        load_editor(other)


def _resave_with_config(source: Path, target: Path, **changes: int) -> Path:
    from safetensors.torch import load_file

    metadata = read_metadata(source)
    metadata["config"] = json.dumps({**json.loads(metadata["config"]), **changes})
    save_file(load_file(str(source)), str(target), metadata=metadata)
    return target


def test_tensor_shapes_that_do_not_match_the_config_are_named(tmp_path: Path, tiny_checkpoint: Path) -> None:
    mismatched = _resave_with_config(tiny_checkpoint, tmp_path / "mismatched.safetensors", style_dim=32)
    with pytest.raises(CheckpointError, match=r"mismatched\.safetensors: tensor \S+ has shape .* preset 'tiny' expects"):
        load_editor(mismatched)


def test_tensor_names_that_do_not_match_the_config_are_listed(tmp_path: Path, tiny_checkpoint: Path) -> None:
    mismatched = _resave_with_config(tiny_checkpoint, tmp_path / "wider.safetensors", dim_in=16)
    with pytest.raises(CheckpointError, match=r"wider\.safetensors: tensors do not match preset 'tiny': .*unexpected \['"):
        load_editor(mismatched)


def test_single_line_messages(tmp_path: Path) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError) as info:
        load_editor(bad)
    assert "\n" not in str(info.value)


def test_w_hpf_round_trips_through_the_checkpoint_metadata(tmp_path: Path) -> None:
    from l2m_edge.config import get_preset

    config = get_preset("tiny", w_hpf=1.0)
    path = save_checkpoint(build_editor(config), tmp_path / "hpf.safetensors")
    assert json.loads(read_metadata(path)["config"])["w_hpf"] == 1.0
    assert load_editor(path).config.w_hpf == 1.0


def test_a_checkpoint_written_before_w_hpf_existed_loads_with_w_hpf_zero(tmp_path: Path, tiny_checkpoint: Path) -> None:
    from safetensors.torch import load_file

    metadata = read_metadata(tiny_checkpoint)
    config = json.loads(metadata["config"])
    del config["w_hpf"]
    old = tmp_path / "old.safetensors"
    save_file(load_file(str(tiny_checkpoint)), str(old), metadata={**metadata, "config": json.dumps(config)})
    assert load_editor(old).config.w_hpf == 0.0


@pytest.mark.parametrize("w_hpf", [-1.0, float("nan"), float("inf")])
def test_a_negative_or_non_finite_w_hpf_is_refused_naming_the_field(w_hpf: float) -> None:
    from l2m_edge.config import get_preset
    from l2m_edge.errors import ConfigError

    with pytest.raises(ConfigError, match="w_hpf must be a finite number ≥ 0"):
        get_preset("tiny", w_hpf=w_hpf)
