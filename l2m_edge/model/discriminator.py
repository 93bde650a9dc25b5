"""StarGAN v2 multi-head discriminator: one real/fake logit per domain."""

from __future__ import annotations

import torch
from torch import nn

from l2m_edge.config import ModelConfig

from .layers import downsampling_trunk


class Discriminator(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.trunk, dim = downsampling_trunk(config.img_size, config.dim_in, config.max_conv_dim, config.encoder_downsamples)
        self.head = nn.Linear(dim, config.num_domains)  # StarGAN v2's 1×1 conv on a 1×1 map

    def forward(self, x: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        """The logit of each sample's own domain head, [N]."""
        logits = self.head(self.trunk(x))
        return logits.gather(1, domain.view(-1, 1)).squeeze(1)
