"""Style encoder and the two L2M-GAN latent modules: the decomposer and the attribute transformer."""

from __future__ import annotations

import torch
from torch import nn

from l2m_edge.config import ModelConfig
from l2m_edge.kernels.latent import mlp, per_domain_mlp

from .layers import PerDomainLinear, downsampling_trunk


class StyleEncoder(nn.Module):
    """Shared ResBlk trunk, then one Linear head per domain chosen by the source label."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.trunk, self.feature_dim = downsampling_trunk(
            config.img_size, config.dim_in, config.max_conv_dim, config.encoder_downsamples
        )
        self.heads = PerDomainLinear(config.num_domains, self.feature_dim, config.style_dim)

    def forward(self, x: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        return self.heads(self.trunk(x), domain)


def _widths(config: ModelConfig) -> list[int]:
    """Input/output widths of the latent MLPs: S → H → … → H → S."""
    return [config.style_dim] + [config.latent_hidden] * (config.latent_layers - 1) + [config.style_dim]


class Decomposer(nn.Module):
    """The MLP P: s ↦ s_un = P(s), the attribute-irrelevant part; s_re = s − s_un is the rest."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        widths = _widths(config)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))

    def forward(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(s_un, s_re)."""
        s_un = mlp(s, tuple(layer.weight for layer in self.layers), tuple(layer.bias for layer in self.layers))
        return s_un, s - s_un


class AttributeTransformer(nn.Module):
    """One MLP per target domain: s_re ↦ s̃_re, the attribute-relevant code moved to the target."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        widths = _widths(config)
        self.layers = nn.ModuleList(PerDomainLinear(config.num_domains, a, b) for a, b in zip(widths, widths[1:]))

    def forward(self, s_re: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        weights = tuple(layer.weight for layer in self.layers)
        return per_domain_mlp(s_re, weights, tuple(layer.bias for layer in self.layers), target)
