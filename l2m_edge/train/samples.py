"""Sample grids: one row per source image, columns source | α=0 | α=0.5 | α=1 (towards the other domain)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from l2m_edge.io import atomic_path
from l2m_edge.model import Editor

STRENGTHS = (0.0, 0.5, 1.0)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[N,3,H,W] in [−1,1] → [N,H,W,3] uint8."""
    return ((images.detach().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def sample_grid(editor: Editor, images: torch.Tensor, sources: torch.Tensor, targets: torch.Tensor, masks: torch.Tensor | None = None) -> np.ndarray:
    """The grid as an [rows·H, 4·W, 3] uint8 array."""
    columns = [images]
    for alpha in STRENGTHS:
        strength = torch.full((images.size(0),), alpha, device=images.device)
        columns.append(editor(images, sources, targets, strength, masks))
    tiles = [to_uint8(c) for c in columns]  # each [N,H,W,3]
    rows = [np.concatenate([t[i] for t in tiles], axis=1) for i in range(images.size(0))]
    return np.concatenate(rows, axis=0)


def save_sample_grid(
    editor: Editor, images: torch.Tensor, sources: torch.Tensor, targets: torch.Tensor, path: Path, masks: torch.Tensor | None = None
) -> Path:
    was_training = editor.training
    editor.eval()
    grid = sample_grid(editor, images, sources, targets, masks)
    editor.train(was_training)
    with atomic_path(path) as tmp:
        Image.fromarray(grid).save(tmp, format="PNG")
    return path
