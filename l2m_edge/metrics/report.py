"""Write an evaluation as `eval.json` (machine), `eval.md` (people) and `eval.png` (the grid)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from l2m_edge.io import atomic_path

GRID_COLUMNS = ("source", "edit α=0.5", "edit α=1", "reverse edit")
PNG_LABELS = ("source", "alpha 0.5", "alpha 1", "reverse")  # PIL's built-in font has no α


def _json_safe(value: Any) -> Any:
    """inf/nan become the strings "inf"/"nan": strict JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[..., 3, H, W] in [−1, 1] → [..., H, W, 3] uint8."""
    array = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return array.movedim(-3, -1).cpu().numpy()


def grid_image(grid: torch.Tensor, pad: int = 2, header: int = 14, min_tile: int = 128) -> Image.Image:
    """A [rows, cols, 3, H, W] tensor as one picture with a column header line.

    Small tiles are enlarged (nearest neighbour, whole factors) to at least `min_tile` pixels,
    so a 64² model's grid is readable without blurring what the model produced.
    """
    rows, cols, _, height, width = grid.shape
    factor = max(1, -(-min_tile // width))
    tiles = to_uint8(grid)
    if factor > 1:
        tiles = tiles.repeat(factor, axis=-3).repeat(factor, axis=-2)
        height, width = height * factor, width * factor
    canvas = Image.new("RGB", (cols * (width + pad) + pad, header + rows * (height + pad) + pad), "white")
    draw = ImageDraw.Draw(canvas)
    for c in range(cols):
        draw.text((pad + c * (width + pad), 1), PNG_LABELS[c] if c < len(PNG_LABELS) else "", fill="black")
        for r in range(rows):
            canvas.paste(Image.fromarray(tiles[r, c]), (pad + c * (width + pad), header + pad + r * (height + pad)))
    return canvas


def _fmt(stat: Any, key: str = "mean", digits: int = 2) -> str:
    if isinstance(stat, str):
        return stat
    value = stat.get(key)
    if value is None:
        return "n/a"
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"


def markdown(report: dict[str, Any], png_name: str = "eval.png") -> str:
    """A human summary of the metrics dict from `evaluate`."""
    pres, rec = report["preservation"], report["reconstruction"]
    lines = [
        f"# Evaluation: {report.get('checkpoint', report['preset'])}",
        "",
        f"Attribute `{report['attribute']}`, domains {', '.join(report['domains'])}; {report['n']} held-out images "
        f"of {report['data'] or 'the given data'} at {report['img_size']}², seed {report['seed']}.",
        "",
        "## Attribute correctness (classifier says \"target\" for the α=1 edit)",
        "",
        "| direction | accuracy | n |",
        "|---|---:|---:|",
    ]
    for key, value in report["attribute_accuracy"].items():
        lines.append(f"| {key.replace('->', ' → ')} | {100 * value['accuracy']:.1f} % | {value['n']} |")
    lines += [
        f"| mean | {100 * report['attribute_accuracy_mean']:.1f} % | |",
        "",
        f"Classifier accuracy on the unedited sources: {100 * report['classifier_accuracy_on_sources']:.1f} %"
        + _classifier_note(report) + ".",
        "",
        "## Preservation and reconstruction",
        "",
        "| metric | mean | median | min |",
        "|---|---:|---:|---:|",
        _row("PSNR outside the attribute region (dB), source vs edit", pres["psnr_outside_region_db"]),
        _row("SSIM outside the attribute region", pres["ssim_outside_region"], digits=4),
        _row("s_un cosine, before vs after the edit", pres["s_un_cosine"], digits=4),
        _row("reconstruction L1 at α=0", rec["l1"], digits=4),
        _row("reconstruction PSNR at α=0 (dB)", rec["psnr_db"]),
        _row("cycle PSNR, reverse edit vs source (dB)", report["cycle"]["psnr_db"]),
        "",
        f"FID: {report['fid'] if isinstance(report['fid'], str) else format(report['fid'], '.2f')}",
        "",
        f"![{' | '.join(GRID_COLUMNS)}]({png_name})",
        "",
        f"Grid columns: {' | '.join(GRID_COLUMNS)}.",
        "",
    ]
    return "\n".join(lines)


def _classifier_note(report: dict[str, Any]) -> str:
    name = report.get("classifier")
    if not name:
        return ""
    heldout = report.get("classifier_heldout_accuracy")
    return f" (classifier: {name}" + (f", {100 * heldout:.1f} % on its own held-out set)" if heldout is not None else ")")


def _row(name: str, stat: Any, digits: int = 2) -> str:
    if isinstance(stat, str):
        return f"| {name} | {stat} | | |"
    return f"| {name} | {_fmt(stat, 'mean', digits)} | {_fmt(stat, 'median', digits)} | {_fmt(stat, 'min', digits)} |"


REPORT_KINDS = ("json", "md", "png")


def write_report(report: dict[str, Any], grid: torch.Tensor, out_dir: str | os.PathLike, stem: str = "eval", replace: bool = True) -> dict[str, Path]:
    """Write `<stem>.json`, `<stem>.md`, `<stem>.png` into out_dir (each atomically; over existing files only with `replace`); return their paths."""
    out = Path(out_dir)
    paths = {kind: out / f"{stem}.{kind}" for kind in REPORT_KINDS}
    with atomic_path(paths["json"], replace) as tmp:
        tmp.write_text(json.dumps(_json_safe(report), indent=2, sort_keys=True, allow_nan=False) + "\n")
    with atomic_path(paths["md"], replace) as tmp:
        tmp.write_text(markdown(report, paths["png"].name))
    with atomic_path(paths["png"], replace) as tmp:
        grid_image(grid).save(tmp, format="PNG")
    return paths
