"""Shared fixtures: small real things (a tiny checkpoint, seeded inputs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from l2m_edge.checkpoint import save_checkpoint
from l2m_edge.config import get_preset
from l2m_edge.model import build_editor

TINY_DOMAINS = ("no_smile", "smile")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised tiny-preset editor checkpoint (seeded, so every run sees the same weights)."""
    torch.manual_seed(0)
    editor = build_editor("tiny", TINY_DOMAINS, attribute="smile")
    return save_checkpoint(editor, tmp_path_factory.mktemp("ckpt") / "tiny.safetensors")


@pytest.fixture(scope="session")
def hpf_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny preset with the official graph's high-pass skips (`tiny:w_hpf=1`): its editor takes face masks."""
    torch.manual_seed(0)
    editor = build_editor(get_preset("tiny", w_hpf=1.0), TINY_DOMAINS, attribute="smile")
    return save_checkpoint(editor, tmp_path_factory.mktemp("ckpt") / "tiny-hpf.safetensors")


@pytest.fixture
def rng() -> torch.Generator:
    return torch.Generator().manual_seed(1234)
