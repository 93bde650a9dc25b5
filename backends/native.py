"""The native runner (`l2m-edge-runner`, C++ in native/) from Python: build it with CMake, find it, run it.

The runner needs no Python on the device; this module is how the CLI and the tests build and
call it here. It parses the runner's `--json` report, whose `latency_ms`/`fps`/`backend`/
`device`/`precision` fields are those of `l2m-edge bench` rows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from l2m_edge.errors import NativeError

RUNNER_NAME = "l2m-edge-runner"
# `manifest`: compute what the export certified (the manifest's `compute_precision`), like `open_backend`.
DEFAULT_PRECISION = "manifest"


def source_dir() -> Path:
    """The source checkout holding CMakeLists.txt and native/ (backends/ sits at its top level)."""
    return Path(__file__).resolve().parents[1]


def default_build_dir() -> Path:
    return source_dir() / "build" / "native"


def missing_tools() -> list[str]:
    """What a native build lacks here: cmake, a C++ compiler, the C++ sources (a wheel install has none)."""
    missing = []
    if shutil.which("cmake") is None:
        missing.append("cmake")
    if not any(shutil.which(c) for c in (os.environ.get("CXX", ""), "c++", "g++", "clang++") if c):
        missing.append("a C++17 compiler (g++ or clang++)")
    if not (source_dir() / "CMakeLists.txt").is_file() or not (source_dir() / "native").is_dir():
        missing.append(f"the native sources (CMakeLists.txt, native/) under {source_dir()}: use a source checkout")
    return missing


@dataclass(frozen=True)
class BuildResult:
    runner: Path
    build_dir: Path
    seconds: float


def build_runner(
    build_dir: str | os.PathLike | None = None,
    with_tensorrt: bool = False,
    with_openvino: bool = True,
    jobs: int = 2,
    extra_args: Sequence[str] = (),
) -> BuildResult:
    """Configure (Release) and build the runner; OpenVINO comes from this interpreter's openvino wheel.

    Re-running on an existing build dir only rebuilds what changed. Failures raise NativeError with
    the first compiler/CMake error line.
    """
    missing = missing_tools()
    if missing:
        raise NativeError(f"cannot build {RUNNER_NAME}: missing {', '.join(missing)}")
    build = Path(build_dir) if build_dir is not None else default_build_dir()
    configure = [
        "cmake", "-S", str(source_dir()), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
        f"-DPython3_EXECUTABLE={sys.executable}",
        f"-DL2M_EDGE_WITH_OPENVINO={'ON' if with_openvino else 'OFF'}",
        f"-DL2M_EDGE_WITH_TENSORRT={'ON' if with_tensorrt else 'OFF'}",
        *extra_args,
    ]
    start = time.perf_counter()
    _run_step(configure, "configure")
    _run_step(["cmake", "--build", str(build), "--parallel", str(jobs)], "build")
    runner = find_runner(build)
    if runner is None:
        raise NativeError(f"the build finished but {RUNNER_NAME} is not under {build}")
    return BuildResult(runner, build, time.perf_counter() - start)


def _run_step(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        output = (result.stderr + "\n" + result.stdout).splitlines()
        first = next((line.strip() for line in output if "error" in line.lower()), output[-1] if output else "")
        raise NativeError(f"{RUNNER_NAME} {what} failed: {first} (run `{' '.join(command)}` to see everything)")


def find_runner(build_dir: str | os.PathLike | None = None) -> Path | None:
    """The built runner in `build_dir` (default build/native), or None."""
    build = Path(build_dir) if build_dir is not None else default_build_dir()
    for candidate in (build / "native" / RUNNER_NAME, build / RUNNER_NAME, build / "bin" / RUNNER_NAME):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def runner_command(
    runner: str | os.PathLike,
    artifact: str | os.PathLike,
    input: str | os.PathLike,
    output: str | os.PathLike | None = None,
    source: int | str = 0,
    target: int | str = 1,
    strength: float = 1.0,
    device: str = "CPU",
    precision: str = DEFAULT_PRECISION,
    threads: int = 0,
    warmup: int = 5,
    iters: int = 50,
    backend: str = "auto",
    masks: str | os.PathLike | None = None,
) -> list[str]:
    command = [
        str(runner), str(artifact), "--input", str(input), "--source", str(source), "--target", str(target),
        "--strength", repr(float(strength)), "--device", device, "--precision", precision, "--threads", str(threads),
        "--warmup", str(warmup), "--iters", str(iters), "--backend", backend, "--json",
    ]
    if output is not None:
        command += ["--output", str(output)]
    if masks is not None:
        command += ["--masks", str(masks)]
    return command


def run_runner(runner: str | os.PathLike, artifact: str | os.PathLike, input: str | os.PathLike, **options: Any) -> dict[str, Any]:
    """Run the runner once (keyword options as in `runner_command`) and return its JSON report.

    A refusal (an edited manifest, a tampered file, a bad domain, an unreadable input) raises
    NativeError with the runner's own one-line message: the runner checks the manifest's self-hash
    and every file's hash itself. A split-style artifact is refused here in words (the runner only
    knows that its manifest schema is not the one-graph one).
    """
    from l2m_edge.contract.manifest import read_manifest

    if read_manifest(artifact).split:
        raise NativeError(
            f"{RUNNER_NAME} runs one-graph artifacts and {artifact} is split-style (a style graph and a generator graph); "
            "export it again without --split-style for the native runner, or run this one with `l2m-edge run`"
        )
    result = subprocess.run(runner_command(runner, artifact, input, **options), capture_output=True, text=True)
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        message = lines[-1].removeprefix("error: ") if lines else f"exit code {result.returncode}"
        raise NativeError(f"{RUNNER_NAME}: {message}")
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        raise NativeError(f"{RUNNER_NAME} printed no JSON report: {result.stdout.strip()[:200]!r}") from None
