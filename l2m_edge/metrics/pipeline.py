"""The two jobs the CLI runs, as library calls: train a classifier, evaluate a checkpoint.

Each takes file paths and a data spec (`synth` or a folder), does the whole job, writes its
files and returns what it measured, so Python users get the CLI's behaviour without it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from l2m_edge.checkpoint import load_editor
from l2m_edge.data.sources import SYNTH_ALIASES
from l2m_edge.errors import CheckpointError, DataError
from l2m_edge.io import check_output_dir, check_output_file, output_lock

from . import defaults as D
from .classifier import AttributeClassifier, classifier_extra, evaluate_classifier, load_classifier, save_classifier, train_classifier
from .eval_data import eval_dataset, train_dataset
from .evaluate import evaluate, edit_grid
from .report import REPORT_KINDS, write_report

DEMO_CLASSIFIER = Path(__file__).resolve().parent.parent / "assets" / "demo_classifier.safetensors"


@dataclass
class ClassifierRun:
    path: Path
    train_accuracy: float
    heldout_accuracy: float
    seconds: float


def train_classifier_file(
    data: str,
    attribute: str,
    out: str | os.PathLike,
    img_size: int = D.CLASSIFIER_SIZE,
    n_train: int = D.CLASSIFIER_TRAIN,
    n_val: int = D.CLASSIFIER_VAL,
    steps: int = D.CLASSIFIER_STEPS,
    batch_size: int = D.CLASSIFIER_BATCH,
    seed: int = D.SEED,
    progress: bool = True,
) -> ClassifierRun:
    """Train on the data's train split, measure on its held-out split, save both in the file."""
    check_output_file(out, create=False)
    start = time.perf_counter()
    train_set, domains, train_name = train_dataset(data, attribute, img_size, n_train, seed)
    model, result = train_classifier(train_set, domains, attribute, img_size, steps=steps, batch_size=batch_size, seed=seed, progress=progress)
    val_set, _, val_name = eval_dataset(data, attribute, img_size, n_val, seed)
    heldout = evaluate_classifier(model, val_set)
    seconds = time.perf_counter() - start
    extra = {
        "data": train_name,
        "heldout_data": val_name,
        "n_train": len(train_set),  # type: ignore[arg-type]
        "n_heldout": len(val_set),  # type: ignore[arg-type]
        "steps": steps,
        "batch_size": batch_size,
        "seed": seed,
        "train_accuracy": result.train_accuracy,
        "heldout_accuracy": heldout,
        "train_seconds": round(seconds, 1),
    }
    path = save_classifier(model, out, extra)
    return ClassifierRun(Path(path), result.train_accuracy, heldout, seconds)


def resolve_classifier(path: str | os.PathLike | None, attribute: str) -> AttributeClassifier:
    """The given classifier, or the shipped demo one when it judges the same attribute."""
    if path is not None:
        return load_classifier(path)
    if not DEMO_CLASSIFIER.is_file():
        raise CheckpointError("no --classifier given and no shipped demo classifier; train one with `l2m-edge classifier train`")
    model = load_classifier(DEMO_CLASSIFIER)
    if _canonical(model.config.attribute) != _canonical(attribute):
        raise CheckpointError(
            f"the shipped classifier judges {model.config.attribute!r}, not {attribute!r}; "
            f"train one with `l2m-edge classifier train --attr {attribute}` and pass --classifier"
        )
    return model


def _canonical(attribute: str) -> str:
    """`Smiling` and `smile` name one attribute (CelebA column vs SynthFaces name)."""
    return SYNTH_ALIASES.get(attribute.lower(), attribute.lower())


def evaluate_checkpoint(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    data: str = D.EVAL_DATA,
    attribute: str | None = None,
    classifier: str | os.PathLike | None = None,
    n: int = D.EVAL_IMAGES,
    batch_size: int = D.EVAL_BATCH,
    seed: int = D.SEED,
    rows: int = D.EVAL_GRID_ROWS,
    inception_weights: str | os.PathLike | None = None,
    progress: bool = True,
    stem: str = D.EVAL_STEM,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Load, evaluate on the held-out split, write <stem>.{json,md,png}; return (metrics, paths).

    The output folder is checked and locked before the evaluation, so an unwritable `out` costs
    nothing and two evaluations never write one report.
    """
    out = check_output_dir(out, create=False)  # made when the report is written
    for kind in REPORT_KINDS:
        check_output_file(out / f"{stem}.{kind}", create=False)
    with output_lock(out):
        return _evaluate_checkpoint(checkpoint, out, data, attribute, classifier, n, batch_size, seed, rows, inception_weights, progress, stem)


def _evaluate_checkpoint(
    checkpoint: str | os.PathLike, out: Path, data: str, attribute: str | None, classifier: str | os.PathLike | None, n: int,
    batch_size: int, seed: int, rows: int, inception_weights: str | os.PathLike | None, progress: bool, stem: str,
) -> tuple[dict[str, Any], dict[str, Path]]:
    torch.manual_seed(seed)
    editor = load_editor(checkpoint)
    attribute = attribute or editor.attribute
    if not attribute:
        raise DataError(f"{checkpoint}: the checkpoint names no attribute; pass --attr")
    judge = resolve_classifier(classifier, attribute)
    dataset, domains, name = eval_dataset(data, attribute, editor.config.img_size, n, seed, masks=editor.config.uses_masks,
                                          console=Console(stderr=True) if progress else None)
    if tuple(domains) != tuple(editor.domains):
        raise DataError(f"the data's domains {list(domains)} are not the checkpoint's {list(editor.domains)} (same names, same order)")
    report = evaluate(editor, judge, dataset, n=n, batch_size=batch_size, seed=seed, inception_weights=inception_weights, progress=progress, data_name=name)
    report["checkpoint"] = Path(checkpoint).name
    report["classifier"] = str(classifier) if classifier is not None else f"shipped {DEMO_CLASSIFIER.name}"
    report["classifier_heldout_accuracy"] = classifier_extra(classifier or DEMO_CLASSIFIER).get("heldout_accuracy")
    grid = edit_grid(editor, dataset, rows=rows, seed=seed)
    return report, write_report(report, grid, out, stem=stem)
