"""kernels/, contract/, backends/, export/, runtime/ and bench/ install as l2m_edge.* — in the editable install and in a built wheel."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAPPED = {"l2m_edge.kernels": "kernels", "l2m_edge.contract": "contract", "l2m_edge.backends": "backends", "l2m_edge.export": "export", "l2m_edge.runtime": "runtime", "l2m_edge.bench": "bench"}


def test_editable_install_maps_the_top_level_folders() -> None:
    import importlib

    for module, folder in MAPPED.items():
        assert Path(importlib.import_module(module).__file__) == REPO / folder / "__init__.py"


def test_every_package_folder_is_listed_in_pyproject() -> None:
    import tomllib

    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    roots = {"l2m_edge": REPO / "l2m_edge", **{m: REPO / f for m, f in MAPPED.items()}}
    found = set()
    for name, root in roots.items():
        for init in root.rglob("__init__.py"):
            relative = init.parent.relative_to(root).parts
            found.add(".".join((name, *relative)))
    data_only = set(setuptools["package-data"]) - found  # folders of files only (the studio's page), listed so setuptools ships them
    assert data_only <= listed
    assert found | data_only == listed


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True,
        capture_output=True,
    )
    return next(out.glob("l2m_edge-*.whl"))


def test_wheel_installs_no_bare_top_level_packages(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert not tops & set(MAPPED.values())
    assert "l2m_edge/kernels/adain.py" in names and "l2m_edge/runtime/__init__.py" in names
    assert "l2m_edge/bench/harness.py" in names
    assert {f"l2m_edge/runtime/studio/static/{name}" for name in ("index.html", "studio.js", "studio.css")} <= set(names)  # the studio's page, served offline


def test_wheel_imports_from_a_clean_venv(wheel: Path, tmp_path: Path) -> None:
    """Install the wheel alone into a fresh venv; its heavy dependencies come from this venv, after it."""
    env_dir = tmp_path / "clean"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        check=True,
        capture_output=True,
    )
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], check=True, capture_output=True, text=True
    ).stdout.strip()
    Path(site, "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    probe = (
        "import importlib.util, l2m_edge, l2m_edge.kernels, l2m_edge.contract.manifest, l2m_edge.runtime, l2m_edge.bench.stats;"
        "print(l2m_edge.kernels.__file__);"
        "assert all(importlib.util.find_spec(bare) is None for bare in ('kernels', 'contract', 'backends', 'runtime', 'bench'))"
    )
    result = subprocess.run([python, "-I", "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(site)
