"""The Jetson bundle up to the engine: its scripts parse and pass shellcheck, `setup.sh` refuses what is
not JetPack 6 in one line (a PC, JetPack 5's Python 3.8, a Python without JetPack's TensorRT), and
the README walks from unpacking to `l2m-edge run --source csi://0` on the TensorRT backend.
No Jetson here: the engine build, the venv install and the camera are not run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from l2m_edge.backends import open_artifact
from l2m_edge.backends.classifier import classifier_record
from l2m_edge.export import export_model
from l2m_edge.export.jetson import ENGINE_NAME, SCRIPT_NAME, SETUP_NAME

PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"


@pytest.fixture(scope="module")
def bundle(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_model(tiny_checkpoint, "jetson", tmp_path_factory.mktemp("jetson") / "bundle", precision="fp16", jetpack=6, device="orin-nano")


def _python(version: str) -> str | None:
    """An interpreter of `version` (major.minor) on this machine: on PATH or under pyenv."""
    found = shutil.which(f"python{version}")
    if found and subprocess.run([found, "--version"], capture_output=True).returncode == 0:
        return found
    candidates = sorted(PYENV.glob(f"{version}.*/bin/python{version}"))
    return str(candidates[-1]) if candidates else None


def _setup(bundle: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    venv = tmp_path / "venv"
    result = subprocess.run(["bash", str(bundle / SETUP_NAME)], capture_output=True, text=True, timeout=120, env={**os.environ, "VENV": str(venv), **env})
    assert not venv.exists(), "setup.sh made a venv before its checks passed"
    return result


@pytest.mark.parametrize("script", [SETUP_NAME, SCRIPT_NAME])
def test_the_bundles_scripts_parse_and_pass_shellcheck(bundle: Path, script: str) -> None:
    path = bundle / script
    assert os.access(path, os.X_OK)
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    checked = subprocess.run(["shellcheck", "--severity=style", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout


def test_the_bundle_hashes_setup_and_carries_the_classifier_for_onnxruntime(bundle: Path) -> None:
    artifact = open_artifact(bundle)
    listed = {f.path for f in artifact.manifest.files}
    assert {SETUP_NAME, SCRIPT_NAME, "README.md", "model.onnx", "classifier.onnx"} <= listed
    assert ENGINE_NAME not in listed  # built on the device
    record = classifier_record(artifact)
    assert record is not None and record.graph == "classifier.onnx" and record.parity["passed"]


def test_setup_refuses_a_machine_that_is_not_a_jetson(bundle: Path, tmp_path: Path) -> None:
    result = _setup(bundle, tmp_path, TEGRA_RELEASE=str(tmp_path / "absent"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"setup.sh: not a Jetson (no {tmp_path / 'absent'}); on a PC: pip install l2m-edge"


def _setup_on_jetpack(bundle: Path, tmp_path: Path, python_version: str, release: str) -> subprocess.CompletedProcess[str]:
    """setup.sh as on a Jetson whose L4T release file reads `release`, with this machine's Python `python_version`."""
    python = _python(python_version)
    if python is None:
        pytest.skip(f"no Python {python_version} here to stand in for the JetPack's")
    release_file = tmp_path / "nv_tegra_release"
    release_file.write_text(f"# {release}\n")
    return _setup(bundle, tmp_path, TEGRA_RELEASE=str(release_file), PYTHON=python)


def test_setup_sends_jetpack_5s_python_to_the_cpp_runner(bundle: Path, tmp_path: Path) -> None:
    result = _setup_on_jetpack(bundle, tmp_path, "3.8", "R35 (release), REVISION: 4.1")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "setup.sh: Python 3.8: l2m-edge's runtime needs Python 3.10-3.12 (JetPack 6). "
        "JetPack 5 (Python 3.8) runs the C++ runner only: see README.md, 'JetPack 5'"
    )


def test_setup_names_jetpacks_tensorrt_bindings_when_they_are_missing(bundle: Path, tmp_path: Path) -> None:
    result = _setup_on_jetpack(bundle, tmp_path, "3.10", "R36 (release), REVISION: 4.0")
    assert result.returncode == 1
    assert result.stderr.strip() == "setup.sh: JetPack's TensorRT Python bindings are missing: sudo apt-get install python3-libnvinfer"


def test_the_readme_goes_from_unpacking_to_a_live_csi_camera_on_tensorrt(bundle: Path) -> None:
    text = (bundle / "README.md").read_text()
    steps = [f"./{SETUP_NAME}", f"l2m-edge run --source csi://0 --model {ENGINE_NAME} --backend tensorrt --sink window", "## Build the engine", "## JetPack 5: the C++ runner only"]
    positions = [text.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "--system-site-packages" in text and "no torch" in text and "Not run on a Jetson" in text
    setup = (bundle / SETUP_NAME).read_text()
    assert "--system-site-packages" in setup and "torch" not in setup.replace("no torch", "").replace("PyPI's torch", "")
