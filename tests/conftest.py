"""Shared fixtures: small real things (a tiny checkpoint, seeded inputs, the CLI run in-process)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest
import torch

from l2m_edge.checkpoint import save_checkpoint
from l2m_edge.config import get_preset
from l2m_edge.model import build_editor
from l2m_edge.signal_stack import dangling_signal_stack

from runtime_helpers import Ran

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


@pytest.fixture(autouse=True)
def _signal_stack_left_usable() -> Iterator[None]:
    """No test may leave this thread's signal stack on unmapped memory: every signal a Python handler takes
    would write its frame into whatever is mapped there next (benchmarks/memory_fault.md)."""
    yield
    dangling = dangling_signal_stack()
    assert dangling is None, f"the thread's signal stack points at unmapped memory ({dangling.address:#x}, {dangling.size} bytes): a native library released it"


@pytest.fixture
def rng() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Iterator[Callable[..., Ran]]:
    """`l2m-edge ARGS…` in this process, through the console script's `main` (its error handling included)."""
    from l2m_edge.cli import console, err_console, main

    threads = torch.get_num_threads()
    monkeypatch.setenv("L2M_EDGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(console, "width", 400)
    monkeypatch.setattr(err_console, "width", 400)

    def run(*args: str) -> Ran:
        code = 0
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    yield run
    torch.set_num_threads(threads)
