"""`l2m-edge data …`: make and inspect training data."""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app, console, finite

data_app = typer.Typer(help="Make and inspect training data (SynthFaces, CelebA-HQ folders).", no_args_is_help=True, add_completion=False)
app.add_typer(data_app, name="data")


@data_app.command("synth")
def synth(
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write (StarGAN v2 layout: OUT/train/<domain>/*.png, OUT/val/…)."),
    n: int = typer.Option(5000, "--n", min=2, help="Number of faces in total (train + val)."),
    attr: str = typer.Option("smile", "--attr", help="Attribute: smile, eyeglasses or hair_colour (CelebA names such as Smiling also work)."),
    size: int = typer.Option(128, "--size", min=16, help="Side of the square images in pixels."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed writes the same faces."),
    split_val: float = typer.Option(0.1, "--split-val", callback=finite(at_least=0.0, at_most=0.99), help="Fraction of faces in the held-out val split (disjoint identities)."),
    force: bool = typer.Option(False, "--force", help="Replace OUT if it exists."),
) -> None:
    """Write SynthFaces to disk in the CelebA-HQ / StarGAN v2 folder layout."""
    from l2m_edge.data import synth_attribute, write_synthfaces

    counts = write_synthfaces(out, n, synth_attribute(attr), size=size, seed=seed, val_fraction=split_val, force=force)
    for split, per_domain in counts.items():
        console.print(f"{split}: " + ", ".join(f"{d} {k}" for d, k in per_domain.items()))
    console.print(f"wrote {sum(sum(c.values()) for c in counts.values())} faces to {out}")


@data_app.command("inspect")
def inspect(
    data: str = typer.Argument(..., help="'synth' or a data folder (StarGAN v2 layout or attribute file + images)."),
    attr: str = typer.Option("smile", "--attr", help="Attribute (for an attribute file or SynthFaces)."),
    size: int = typer.Option(128, "--size", min=16, help="Image side the loader would produce."),
) -> None:
    """Show the domains and image counts a data source yields, and how many files are unreadable."""
    from l2m_edge.data import build_dataset
    from l2m_edge.errors import DataError

    for split in ("train", "val"):
        try:
            ds = build_dataset(data, attr, size, split=split, augment=False)
        except DataError as exc:
            if split == "train":
                raise
            console.print(f"{split}: [yellow]{exc}[/]")
            continue
        labels = getattr(ds, "labels", None) or [ds[i][1] for i in range(len(ds))]
        counts = ", ".join(f"{d} {labels.count(i)}" for i, d in enumerate(ds.domains))
        unreadable = ds.find_unreadable() if hasattr(ds, "find_unreadable") else []
        console.print(f"{split}: {len(ds)} images ({counts}), {len(unreadable)} unreadable" + (f": {', '.join(map(str, unreadable[:3]))}{' …' if len(unreadable) > 3 else ''}" if unreadable else ""), highlight=False)


@data_app.command("landmarks")
def landmarks(
    data: str = typer.Argument(..., help="A face folder (StarGAN v2 layout or attribute file + images)."),
    attr: str = typer.Option("smile", "--attr", help="Attribute (for an attribute-file folder: which images it lists)."),
) -> None:
    """Compute the MediaPipe face landmarks of every image once and cache them beside the data.

    High-pass models (w_hpf > 0) draw their face masks from them; `train`, `eval` and `export --calib`
    build the cache themselves when it is missing. Only new or changed images are recomputed. The file
    is DATA/.l2m-landmarks.npz, or under ~/.cache/l2m-edge/landmarks/ when DATA is not writable;
    delete it to recompute everything.
    """
    from l2m_edge.data.landmark_cache import face_folder_landmarks

    table = face_folder_landmarks(data, attr, console)
    reused = len(table.points) - table.computed
    found = len(table.points) - len(table.no_face)
    console.print(f"landmarks of {len(table.points)} images ({found} with a face): {table.computed} computed, {reused} reused; {table.file}", highlight=False, soft_wrap=True)
