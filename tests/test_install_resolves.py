"""The device install resolves from PyPI on x86-64 and aarch64 (Jetson, Raspberry Pi), Python 3.10–3.12.

pip's own resolver, asked for wheels only (`--only-binary=:all:`) for a foreign platform and Python
(`--platform … --python-version … --dry-run --report`), so a future pin that drops ARM fails here.
pip evaluates environment markers for the machine it runs on, not for `--platform`, so the project's
markers (MediaPipe 0.10.18 on aarch64) are evaluated here for the target and the plain requirements
handed to pip; markers inside dependencies still follow this machine (a known pip limitation).
Needs PyPI (marked `pypi`; skipped with the reason where it cannot be reached). The six resolutions
run in parallel with a pip that reads PyPI's metadata files (PEP 658) instead of downloading wheels.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import urllib.request
import venv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
PYTHONS = ("3.10", "3.11", "3.12")
# glibc 2.35 = Ubuntu 22.04 (JetPack 6); pip does not widen a manylinux_2_35 tag to older ones, so each is named.
PLATFORMS = {
    machine: [f"manylinux_2_{minor}_{machine}" for minor in range(35, 16, -1)] + [f"manylinux2014_{machine}"]
    for machine in ("x86_64", "aarch64")
}
MEDIAPIPE = {"x86_64": "0.10.21", "aarch64": "0.10.18"}
PIP_WITH_METADATA = Version("24.1")  # reads PEP 658 metadata files: no wheel downloads in a dry run

pytestmark = pytest.mark.pypi


def device_requirements(machine: str, python: str) -> list[str]:
    """pyproject's default dependencies with their markers evaluated for (machine, python) on Linux."""
    environment = {
        "platform_machine": machine, "python_version": python, "python_full_version": f"{python}.0", "sys_platform": "linux",
        "platform_system": "Linux", "os_name": "posix", "implementation_name": "cpython", "platform_python_implementation": "CPython",
    }
    chosen = []
    for line in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            requirement.marker = None
            chosen.append(str(requirement))
    return chosen


def _pypi_reachable() -> bool:
    try:
        with urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=15):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def pip(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A pip that resolves from metadata alone: this interpreter's when new enough, else a fresh one in a venv."""
    if not _pypi_reachable():
        pytest.skip("PyPI is not reachable from here: pip's resolver needs it")
    import pip as own_pip

    if Version(own_pip.__version__) >= PIP_WITH_METADATA:
        return [sys.executable, "-m", "pip"]
    env_dir = tmp_path_factory.mktemp("pip")
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", f"pip>={PIP_WITH_METADATA}"], check=True, capture_output=True, timeout=300)
    return [python, "-m", "pip"]


@pytest.fixture(scope="module")
def resolutions(pip: list[str], tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[subprocess.CompletedProcess, dict]]:
    """(machine, python) → (pip's process, its --report), all six resolved at once."""
    out = tmp_path_factory.mktemp("resolve")

    def resolve(combo: tuple[str, str]) -> tuple[subprocess.CompletedProcess, dict]:
        machine, python = combo
        report = out / f"{machine}-{python}.json"
        platforms = [arg for tag in PLATFORMS[machine] for arg in ("--platform", tag)]
        command = [
            *pip, "install", "--dry-run", "--ignore-installed", "--quiet", "--only-binary=:all:", "--target", str(out / "never-written"),
            *platforms, "--python-version", python, "--report", str(report), *device_requirements(machine, python),
        ]
        ran = subprocess.run(command, capture_output=True, text=True, timeout=600)
        return ran, json.loads(report.read_text()) if report.is_file() else {}

    combos = [(machine, python) for machine in PLATFORMS for python in PYTHONS]
    with ThreadPoolExecutor(len(combos)) as pool:
        return dict(zip(combos, pool.map(resolve, combos)))


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("machine", list(PLATFORMS))
def test_device_install_resolves(resolutions: dict, machine: str, python: str) -> None:
    ran, report = resolutions[(machine, python)]
    assert ran.returncode == 0, f"pip cannot resolve the device install for {machine}, Python {python}:\n{ran.stderr[-3000:]}"
    versions = {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in report["install"]}
    assert versions["mediapipe"] == MEDIAPIPE[machine]
    assert Version(versions["numpy"]) < Version("2")
    assert {"onnxruntime", "openvino", "opencv-contrib-python"} <= set(versions)
    assert "torch" not in versions, "the device install must not pull torch"
    wheels = [item["download_info"]["url"].rsplit("/", 1)[1] for item in report["install"]]
    assert all(w.endswith("-none-any.whl") or machine in w for w in wheels), wheels


def test_markers_pick_mediapipe_per_machine() -> None:
    for machine, version in MEDIAPIPE.items():
        assert f"mediapipe=={version}" in device_requirements(machine, "3.11")
        assert not any(r.startswith("torch") for r in device_requirements(machine, "3.11"))


def test_python_313_gets_pips_refusal_not_a_resolver_dump(pip: list[str], tmp_path: Path) -> None:
    """requires-python names the Pythons MediaPipe's numpy<2 has wheels for: pip refuses 3.13 by name, before any dependency."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("l2m_edge-*.whl")
    ran = subprocess.run(
        [*pip, "install", "--dry-run", "--no-index", "--only-binary=:all:", "--python-version", "3.13", "--target", str(tmp_path / "never-written"), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert ran.returncode != 0
    assert "requires a different Python: 3.13.0 not in '<3.13,>=3.10'" in ran.stderr, ran.stderr
