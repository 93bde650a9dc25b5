"""StarGAN v2 generator (w_hpf = 0) with all AdaIN style projections packed into one Linear."""

from __future__ import annotations

import torch
from torch import nn

from l2m_edge.config import ModelConfig

from .layers import AdainResBlk, ResBlk


class Generator(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        dim_in = config.dim_in
        self.from_rgb = nn.Conv2d(3, dim_in, 3, 1, 1)
        encode: list[nn.Module] = []
        decode: list[AdainResBlk] = []
        dim = dim_in
        for _ in range(config.generator_downsamples):
            dim_out = min(dim * 2, config.max_conv_dim)
            encode.append(ResBlk(dim, dim_out, normalize=True, downsample=True))
            decode.insert(0, AdainResBlk(dim_out, dim, upsample=True))
            dim = dim_out
        for _ in range(config.n_bottleneck):
            encode.append(ResBlk(dim, dim, normalize=True))
            decode.insert(0, AdainResBlk(dim, dim))
        self.encode = nn.Sequential(*encode)
        self.decode = nn.ModuleList(decode)
        self.to_rgb = nn.Sequential(nn.InstanceNorm2d(dim_in, affine=True), nn.LeakyReLU(0.2), nn.Conv2d(dim_in, 3, 1, 1, 0))
        # One Linear for every AdaIN layer of the decoder: StarGAN v2's per-layer `fc`s, stacked.
        self.style_channels = [c for block in self.decode for c in block.modulated_channels]
        self.style_proj = nn.Linear(config.style_dim, 2 * sum(self.style_channels))

    def style_params(self, s: torch.Tensor) -> torch.Tensor:
        """Style code [N,S] → packed (γ, β) of every AdaIN layer [N, 2·ΣC], layer by layer γ then β."""
        return self.style_proj(s)

    def decode_with(self, features: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Run the decoder on encoder features with packed AdaIN params."""
        chunks = iter(torch.split(params, [c for c in self.style_channels for _ in (0, 1)], dim=1))
        x = features
        for block in self.decode:
            g1, b1, g2, b2 = next(chunks), next(chunks), next(chunks), next(chunks)
            x = block(x, g1, b1, g2, b2)
        return self.to_rgb(x)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return self.decode_with(self.encode(self.from_rgb(x)), self.style_params(s))
