"""`l2m-edge eval` (score a checkpoint) and `l2m-edge classifier train` (the yardstick it uses)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from l2m_edge.metrics import defaults as D

from .app import app, console

classifier_app = typer.Typer(help="The attribute classifier that scores edits and guesses a face's domain.", no_args_is_help=True)
app.add_typer(classifier_app, name="classifier")


@app.command("eval")
def eval_command(
    checkpoint: Path = typer.Argument(..., help="Editor checkpoint (.safetensors)."),
    data: str = typer.Option(D.EVAL_DATA, "--data", help="`synth` (SynthFaces, held-out split) or a CelebA-HQ-layout folder."),
    attr: Optional[str] = typer.Option(None, "--attr", help="Attribute; defaults to the checkpoint's."),
    classifier: Optional[Path] = typer.Option(None, "--classifier", help="Classifier file; defaults to the shipped demo classifier."),
    n: int = typer.Option(D.EVAL_IMAGES, "--n", min=1, help="Held-out images to score."),
    out: Path = typer.Option(Path("eval"), "--out", help="Folder for the report: <stem>.json, <stem>.md, <stem>.png."),
    stem: str = typer.Option(D.EVAL_STEM, "--stem", help="File name stem of the report files."),
    batch_size: int = typer.Option(D.EVAL_BATCH, "--batch-size", min=1),
    seed: int = typer.Option(D.SEED, "--seed"),
    rows: int = typer.Option(D.EVAL_GRID_ROWS, "--rows", min=1, help="Rows of the PNG grid."),
    inception_weights: Optional[Path] = typer.Option(
        None, "--inception-weights", help="Inception-v3 weights (safetensors, torchvision layout) to compute FID; never downloaded."
    ),
) -> None:
    """Attribute accuracy (both directions), preservation outside the attribute region, s_un cosine, reconstruction, FID."""
    from l2m_edge.metrics.pipeline import evaluate_checkpoint

    report, paths = evaluate_checkpoint(
        checkpoint, out, data=data, attribute=attr, classifier=classifier, n=n, batch_size=batch_size,
        seed=seed, rows=rows, inception_weights=inception_weights, stem=stem,
    )
    for direction, value in report["attribute_accuracy"].items():
        console.print(f"attribute accuracy {direction}: {100 * value['accuracy']:.1f} %")
    psnr = report["preservation"]["psnr_outside_region_db"]
    console.print(f"PSNR outside the attribute region: {psnr if isinstance(psnr, str) else format(psnr['mean'], '.2f') + ' dB'}")
    console.print(f"s_un cosine: {report['preservation']['s_un_cosine']['mean']:.4f}; reconstruction PSNR at α=0: {report['reconstruction']['psnr_db']['mean']:.2f} dB")
    console.print(f"wrote {', '.join(str(p) for p in paths.values())}")


@classifier_app.command("train")
def classifier_train(
    data: str = typer.Option(D.EVAL_DATA, "--data", help="`synth` (SynthFaces) or a CelebA-HQ-layout folder."),
    attr: str = typer.Option("smile", "--attr", help="Attribute whose two domains it tells apart."),
    preset_size: int = typer.Option(D.CLASSIFIER_SIZE, "--preset-size", help="Input size it trains at (other sizes are resized to it)."),
    out: Path = typer.Option(..., "--out", help="Classifier file to write (.safetensors)."),
    n_train: int = typer.Option(D.CLASSIFIER_TRAIN, "--n-train", min=2, help="Training images (SynthFaces drawn, or a seeded subset of a folder's train split)."),
    n_val: int = typer.Option(D.CLASSIFIER_VAL, "--n-val", min=2, help="Held-out images to report accuracy on (SynthFaces; a folder's val split is used whole)."),
    steps: int = typer.Option(D.CLASSIFIER_STEPS, "--steps", min=1),
    batch_size: int = typer.Option(D.CLASSIFIER_BATCH, "--batch-size", min=1),
    seed: int = typer.Option(D.SEED, "--seed"),
) -> None:
    """Train the attribute classifier on the data's train split and report held-out accuracy."""
    from l2m_edge.metrics.pipeline import train_classifier_file

    run = train_classifier_file(data, attr, out, img_size=preset_size, n_train=n_train, n_val=n_val, steps=steps, batch_size=batch_size, seed=seed)
    console.print(
        f"classifier: train accuracy {100 * run.train_accuracy:.2f} %, held-out {100 * run.heldout_accuracy:.2f} % "
        f"({run.seconds:.0f} s) → {run.path}"
    )
