"""The `l2m-edge` console script, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from l2m_edge import __version__
from l2m_edge.config import preset_names
from l2m_edge.kernels import describe_kernels

CLI = str(Path(sys.executable).with_name("l2m-edge"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "info" in result.stdout


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"l2m-edge {__version__}"


def test_info_reports_versions_backends_kernels_and_preset_size() -> None:
    result = run("info", "--preset", "mobile")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for name in ("torch", "onnxruntime", "openvino", "triton", "mediapipe"):
        assert name in out
    assert "tensorrt" in out and "not installed" in out
    assert f"kernels: {describe_kernels()}" in out  # whatever this machine runs (Triton on a GPU, the reference here)
    assert "10.30 M" in out and "4.495 G" in out  # the mobile editor


def test_unknown_preset_is_one_red_line_and_exit_1() -> None:
    result = run("info", "--preset", "huge")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"error: unknown preset 'huge'; choose one of {', '.join(preset_names())}"]


def test_unknown_command_is_a_usage_error() -> None:
    result = run("frobnicate")
    assert result.returncode == 2
    assert "No such command" in result.stderr
