"""`l2m-edge native build` (CMake) and `l2m-edge native run ARTIFACT …` (the C++ runner)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from l2m_edge.backends.native import DEFAULT_PRECISION

from .app import app, console, finite

native_app = typer.Typer(help="The native C++ runner (l2m-edge-runner): build it, run it.", add_completion=False, no_args_is_help=True)
app.add_typer(native_app, name="native")


@native_app.command("build")
def build(
    build_dir: Optional[Path] = typer.Option(None, "--build-dir", help="CMake build directory (default: build/native in the source checkout)."),
    with_tensorrt: bool = typer.Option(False, "--with-tensorrt", help="Also build the TensorRT backend (needs TensorRT and CUDA)."),
    without_openvino: bool = typer.Option(False, "--without-openvino", help="Leave out the OpenVINO backend (e.g. on a Jetson)."),
    jobs: int = typer.Option(2, "--jobs", "-j", min=1, help="Parallel compile jobs."),
) -> None:
    """Configure and build l2m-edge-runner with CMake (Release); OpenVINO comes from the installed openvino wheel."""
    from l2m_edge.backends.native import build_runner

    result = build_runner(build_dir, with_tensorrt=with_tensorrt, with_openvino=not without_openvino, jobs=jobs)
    console.print(f"built [bold]{result.runner}[/] in {result.seconds:.1f} s")


@native_app.command("run")
def run(
    artifact: Path = typer.Argument(..., help="Exported artifact directory (with manifest.json)."),
    input: Path = typer.Option(..., "--input", "-i", help="Image (.ppm, .png) or raw float32 NCHW tensor (.bin)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Edited image (.ppm, .png) or tensor (.bin)."),
    masks: Optional[Path] = typer.Option(None, "--masks", help="High-pass models (w_hpf > 0): face masks, float32 [N,2,H,W] .bin."),
    source: str = typer.Option("0", "--source", help="Source domain: index or name."),
    target: str = typer.Option("1", "--target", help="Target domain: index or name."),
    strength: float = typer.Option(1.0, "--strength", callback=finite(), help="Edit strength α (0 reconstructs, 1 is the trained edit)."),
    device: str = typer.Option("CPU", "--device", help="OpenVINO device (CPU, GPU, NPU) or CUDA device index for TensorRT."),
    precision: str = typer.Option(
        DEFAULT_PRECISION, "--precision", help="manifest (what the export certified), fp32, fp16, bf16 or default (the device's fastest)."
    ),
    threads: int = typer.Option(0, "--threads", min=0, help="CPU inference threads (0: the runtime's choice)."),
    warmup: int = typer.Option(5, "--warmup", min=0, help="Untimed runs first."),
    iters: int = typer.Option(50, "--iters", "-n", min=0, help="Timed runs."),
    backend: str = typer.Option("auto", "--backend", help="auto, openvino or tensorrt."),
    build_dir: Optional[Path] = typer.Option(None, "--build-dir", help="Where the runner was built (default: build/native)."),
) -> None:
    """Run the built l2m-edge-runner on ARTIFACT and print its JSON report (latency fields as in `l2m-edge bench`)."""
    from l2m_edge.errors import NativeError
    from l2m_edge.backends.native import find_runner, run_runner

    runner = find_runner(build_dir)
    if runner is None:
        raise NativeError("l2m-edge-runner is not built; run `l2m-edge native build` first")
    report = run_runner(
        runner, artifact, input, output=output, source=source, target=target, strength=strength, device=device,
        precision=precision, threads=threads, warmup=warmup, iters=iters, backend=backend, masks=masks,
    )
    console.print_json(json.dumps(report))
