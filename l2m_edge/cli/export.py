"""`l2m-edge export` and `l2m-edge verify`: wiring to l2m_edge.export (arguments named as in `yolo export`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from l2m_edge.export.options import DEFAULT_BATCH, DEFAULT_JETPACK, DEFAULT_OPSET, DEFAULT_WORKSPACE_GIB
from l2m_edge.export.targets import artifact_precisions, target_names

from .app import app, console, finite


@app.command()
def export(
    checkpoint: Path = typer.Argument(..., help="Editor checkpoint (.safetensors)."),
    target: str = typer.Option("onnx", "--target", "-t", help=" | ".join(target_names())),
    precision: Optional[str] = typer.Option(None, "--precision", help=f"The artifact's precision: {' | '.join(artifact_precisions())} (default: the target's)."),
    imgsz: Optional[int] = typer.Option(None, "--imgsz", help="Input size; must match the checkpoint's preset."),
    batch: Optional[int] = typer.Option(None, "--batch", help=f"Static batch size (default {DEFAULT_BATCH})."),
    dynamic: bool = typer.Option(False, "--dynamic", help="Variable batch axis instead of --batch."),
    opset: Optional[int] = typer.Option(None, "--opset", help=f"ONNX opset (default {DEFAULT_OPSET}: the newest JetPack 5's TensorRT parses)."),
    calib: Optional[str] = typer.Option(None, "--calib", help="INT8 calibration: 'synth' (SynthFaces) or a folder of ≥ 100 face crops."),
    device: Optional[str] = typer.Option(None, "--device", help="openvino: cpu|gpu|npu; jetson: orin-nano|orin-nx|agx-orin."),
    workspace: Optional[float] = typer.Option(
        None, "--workspace", callback=finite(above=0), help=f"tensorrt, jetson: builder workspace in GiB (default {DEFAULT_WORKSPACE_GIB:g})."
    ),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Artifact directory (default exports/<checkpoint>-<target>-<precision>)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
    jetpack: Optional[int] = typer.Option(None, "--jetpack", help=f"jetson: JetPack 5 or 6 (default {DEFAULT_JETPACK})."),
    dla_core: Optional[int] = typer.Option(None, "--dla-core", help="jetson: run on this DLA core (GPU fallback allowed)."),
    classifier: Optional[Path] = typer.Option(None, "--classifier", help="Attribute classifier: exported beside the editor for run --from auto (default: the shipped one when it knows the domains); records (for INT8 enforces) edit accuracy."),
    split_style: bool = typer.Option(
        False, "--split-style", help="onnx, openvino, tensorrt: the editor as a style graph and a generator graph, each parity-checked (for run --style-every K)."
    ),
) -> None:
    """Export a checkpoint for a deployment target, with measured parity and a manifest."""
    from l2m_edge.export.api import export_model
    from l2m_edge.contract.manifest import read_manifest

    directory = export_model(
        checkpoint, target, out, precision=precision, imgsz=imgsz, batch=batch, dynamic=dynamic, opset=opset, calib=calib,
        device=device, workspace=workspace, force=force, jetpack=jetpack, dla_core=dla_core, classifier=classifier,
        split_style=split_style or None,  # None: not asked, so a target without the option is not refused
    )
    manifest = read_manifest(directory)
    console.print(f"[green]exported[/] {manifest.target} {manifest.precision} → {directory}")
    console.print(_parity_line(manifest.parity))
    _classifier_line(manifest.options.get("classifier", {}).get("parity"))


@app.command()
def verify(
    directory: Path = typer.Argument(..., help="Artifact directory (or a file in it)."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Checkpoint to re-check parity against (default: the one recorded)."),
) -> None:
    """Re-check an artifact's file hashes and its parity against PyTorch on fresh inputs."""
    from l2m_edge.environment import TRAIN_EXTRA_HINT, torch_installed

    if not torch_installed():  # a device install: the hashes, not the parity (it runs PyTorch)
        from rich.markup import escape

        from l2m_edge.contract.manifest import verify_files

        manifest = verify_files(directory.parent if directory.is_file() else directory)
        console.print(f"[green]hashes ok[/]: {len(manifest.files)} files of a {manifest.format} {manifest.precision} artifact")
        console.print(f"[yellow]parity not re-checked[/]: it runs PyTorch, {escape(TRAIN_EXTRA_HINT)}")
        return
    from l2m_edge.export.api import verify_artifact

    result = verify_artifact(directory, checkpoint)
    console.print(f"[green]hashes ok[/]: {result['files']} files of a {result['format']} {result['precision']} artifact")
    if result["parity"] is None:
        console.print(f"[yellow]parity not re-checked[/]: {result['parity_skipped']}")
    else:
        console.print(_parity_line(result["parity"]))
    _classifier_line(result["classifier"])


def _classifier_line(report: Optional[dict]) -> None:
    if report is None:
        return
    if "skipped" in report:
        console.print(f"[yellow]classifier not re-checked[/]: {report['skipped']}")
    else:
        console.print(f"classifier graph vs PyTorch ({report['runtime']}): max abs {report['max_abs']:.2e} of its probabilities — [green]passed[/]")


def _parity_line(parity: dict, what: str = "parity vs PyTorch") -> str:
    """One line per graph: the editor's, then (split-style) each stage's."""
    psnr = parity["psnr_db"]
    psnr_text = psnr if isinstance(psnr, str) else f"{psnr:.1f}"
    line = (
        f"{what} ({parity.get('runtime')}, computing in {parity.get('compute')}): max abs {parity['max_abs']:.2e}, "
        f"mean abs {parity['mean_abs']:.2e}, PSNR {psnr_text} dB — {parity['threshold']['precision']} bar "
        f"{'[green]passed[/]' if parity['passed'] else '[red]failed[/]'}"
    )
    stages = [_parity_line(part, f"  {stage} stage") for stage, part in parity.get("stages", {}).items()]
    return "\n".join([line, *stages])
