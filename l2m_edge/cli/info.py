"""`l2m-edge info`: environment, usable backends and kernels, and a preset's size."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from .app import app, console


@app.command()
def info(
    preset: Optional[str] = typer.Option(None, "--preset", "-p", help="Also print parameters and MACs per frame of this preset (NAME or NAME:field=value, e.g. mobile:w_hpf=1)."),
) -> None:
    """Versions, which backends are usable here (and why not), which kernels run, and preset sizes."""
    from l2m_edge.backends import BACKENDS
    from l2m_edge.config import preset_from_spec
    from l2m_edge.environment import package_versions, torch_installed

    if preset is not None:
        preset_from_spec(preset)  # an unknown name fails before anything is printed

    versions = Table(title="packages", show_header=True)
    versions.add_column("package")
    versions.add_column("version")
    for name, version in package_versions().items():
        versions.add_row(name, version or "[dim]not installed[/]")
    console.print(versions)

    backends = Table(title="backends", show_header=True)
    for column in ("backend", "loads", "devices", "precision", "usable", "detail"):
        backends.add_column(column)
    for entry in BACKENDS.values():
        status = entry.status()
        usable = "[green]yes[/]" if status.usable else "[red]no[/]"
        backends.add_row(entry.name, ", ".join(entry.formats), entry.device_names, entry.precision_help, usable, status.detail)
    console.print(backends)
    if torch_installed():
        from l2m_edge.kernels import describe_kernels

        console.print(f"kernels: {describe_kernels()}")
    else:
        console.print("kernels: none on a device install (they run in PyTorch: the \\[train] extra)")

    if preset is not None:
        _print_preset(preset)


def _print_preset(name: str) -> None:
    from l2m_edge.config import preset_description, preset_from_spec
    from l2m_edge.model.summary import model_costs

    config = preset_from_spec(name)
    hpf = f", high-pass skips w_hpf={config.w_hpf:g} (takes face masks)" if config.uses_masks else ""
    table = Table(title=f"preset {name}: {preset_description(config.name)} ({config.img_size}², dim_in {config.dim_in}, max {config.max_conv_dim}{hpf})")
    table.add_column("component")
    table.add_column("parameters", justify="right")
    table.add_column("MACs / frame", justify="right")
    for cost in model_costs(config):
        table.add_row(cost.name, f"{cost.params / 1e6:.2f} M", f"{cost.macs / 1e9:.3f} G")
    console.print(table)
