"""`l2m-edge import`: bring another implementation's checkpoint into l2m-edge (wiring to l2m_edge.import_official)."""

from __future__ import annotations

from pathlib import Path

import typer

from l2m_edge.import_formats import FORMATS

from .app import app, console


@app.command("import")
def import_checkpoint(
    checkpoint: Path = typer.Argument(..., help="The official checkpoint, e.g. expr/checkpoints/100000_nets_ema.ckpt."),
    fmt: str = typer.Option(FORMATS[0], "--format", help=" | ".join(FORMATS)),
    domains: str = typer.Option(
        ..., "--domains",
        help="Comma-separated domain names in the official order: its domains are the training data's folder names, "
        "sorted (CelebA-HQ smile: no_smile,smile). The file does not record them.",
    ),
    attr: str = typer.Option("", "--attr", help="The attribute the model edits (e.g. smile)."),
    out: Path = typer.Option(..., "--out", "-o", help="Our checkpoint to write (.safetensors)."),
    force: bool = typer.Option(False, "--force", help="Replace --out if it is an l2m-edge checkpoint (never any other file)."),
) -> None:
    """Import an official L2M-GAN checkpoint (generator + style encoder) as an l2m-edge checkpoint."""
    from l2m_edge.import_official import import_checkpoint as run_import

    result = run_import(checkpoint, out, [d.strip() for d in domains.split(",") if d.strip()], attr, fmt, force=force)
    config = result.config
    console.print(
        f"[green]imported[/] {checkpoint} → {result.out}: {config.img_size}², style {config.style_dim}, "
        f"{config.num_domains} domains ({', '.join(result.domains)}), w_hpf {config.w_hpf:g}, preset {config.name}; "
        f"{result.mapped} tensors mapped",
        highlight=False,
    )
    if result.skipped:
        console.print(f"skipped {len(result.skipped)} tensors the official forward never uses: {', '.join(result.skipped)}", highlight=False)
    if result.ignored_networks:
        console.print(f"ignored networks not needed to edit: {', '.join(result.ignored_networks)}", highlight=False)
