"""The shapes the fused kernels see at each preset, and random latent weights of those shapes.

Shared by the kernel tests and `benchmarks/kernels.py`, so both exercise exactly the decoder's
real AdaIN maps and latent-path sizes, derived from the model rather than written down.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from l2m_edge.config import get_preset
from l2m_edge.kernels import LatentWeights

from .editor import build_editor
from .generator import Generator


@dataclass(frozen=True)
class LatentShape:
    features: int  # F, style encoder trunk output
    style_dim: int  # S
    hidden: int
    layers: int
    num_domains: int
    params: int  # P = 2·ΣC over the decoder's AdaIN layers


def adain_shapes(preset: str) -> list[tuple[int, int, int]]:
    """(C, H, W) of every fused_adain call of the preset's decoder, in call order."""
    config = get_preset(preset)
    with torch.device("meta"):
        generator = Generator(config)
    size = config.img_size >> config.generator_downsamples
    shapes = []
    for block in generator.decode:
        shapes.append((block.dim_in, size, size))
        if block.upsample:
            size *= 2
        shapes.append((block.dim_out, size, size))
    return shapes


def latent_shape(preset: str) -> LatentShape:
    config = get_preset(preset)
    with torch.device("meta"):
        editor = build_editor(config)
    return LatentShape(
        features=editor.style_encoder.feature_dim,
        style_dim=config.style_dim,
        hidden=config.latent_hidden,
        layers=config.latent_layers,
        num_domains=config.num_domains,
        params=editor.generator.style_proj.out_features,
    )


def random_latent_weights(shape: LatentShape, dtype: torch.dtype = torch.float32, device: str = "cpu") -> LatentWeights:
    """Fresh random weights of this shape, scaled like nn.Linear's init so activations stay O(1)."""
    widths = [shape.style_dim] + [shape.hidden] * (shape.layers - 1) + [shape.style_dim]
    d = shape.num_domains

    def w(*size: int) -> torch.Tensor:
        return (torch.randn(*size, device=device) / size[-1] ** 0.5).to(dtype)

    def b(*size: int) -> torch.Tensor:
        return (0.1 * torch.randn(*size, device=device)).to(dtype)

    pairs = list(zip(widths, widths[1:]))
    return LatentWeights(
        head_w=w(d, shape.style_dim, shape.features), head_b=b(d, shape.style_dim),
        dec_w=tuple(w(o, i) for i, o in pairs), dec_b=tuple(b(o) for _, o in pairs),
        trans_w=tuple(w(d, o, i) for i, o in pairs), trans_b=tuple(b(d, o) for _, o in pairs),
        proj_w=w(shape.params, shape.style_dim), proj_b=b(shape.params),
    )  # fmt: skip
