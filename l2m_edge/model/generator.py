"""StarGAN v2 generator with all AdaIN style projections packed into one Linear.

With `config.w_hpf > 0` it is the graph the official L2M-GAN and StarGAN v2 release: one more
down/up block, residual-only AdaIN blocks, and after each decoder block whose map is 32², 64² or
128² a high-pass skip `x + HighPass(mask × encoder map of that size)`; mask channel 0 at 32²,
channel 1 at 64² and 128², resized bilinearly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from l2m_edge.config import MASK_CHANNELS, ModelConfig

from .layers import AdainResBlk, HighPass, ResBlk

HPF_SIZES = (32, 64, 128)  # map sides that get a masked high-pass skip (the official code's fixed set)


def mask_channel(size: int) -> int:
    """Which mask channel the skip at a `size`² map uses."""
    return 0 if size == HPF_SIZES[0] else 1


class Generator(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        dim_in = config.dim_in
        residual_only = config.uses_masks
        self.from_rgb = nn.Conv2d(3, dim_in, 3, 1, 1)
        encode: list[nn.Module] = []
        decode: list[AdainResBlk] = []
        dim, side = dim_in, config.img_size
        skip_channels: dict[int, int] = {}  # side → channels of the encoder map a high-pass skip takes there
        for _ in range(config.generator_downsamples):
            dim_out = min(dim * 2, config.max_conv_dim)
            skip_channels[side] = dim
            encode.append(ResBlk(dim, dim_out, normalize=True, downsample=True))
            decode.insert(0, AdainResBlk(dim_out, dim, upsample=True, residual_only=residual_only))
            dim, side = dim_out, side // 2
        for _ in range(config.n_bottleneck):
            skip_channels[side] = dim
            encode.append(ResBlk(dim, dim, normalize=True))
            decode.insert(0, AdainResBlk(dim, dim, residual_only=residual_only))
        self.encode = nn.Sequential(*encode)
        self.decode = nn.ModuleList(decode)
        self.to_rgb = nn.Sequential(nn.InstanceNorm2d(dim_in, affine=True), nn.LeakyReLU(0.2), nn.Conv2d(dim_in, 3, 1, 1, 0))
        # One Linear for every AdaIN layer of the decoder: StarGAN v2's per-layer `fc`s, stacked.
        self.style_channels = [c for block in self.decode for c in block.modulated_channels]
        self.style_proj = nn.Linear(config.style_dim, 2 * sum(self.style_channels))
        # One fixed filter per skip side, sized for its channels (a static kernel shape for export).
        self.hpf = (
            nn.ModuleDict({str(s): HighPass(config.w_hpf, c) for s, c in skip_channels.items() if s in HPF_SIZES}) if config.uses_masks else None
        )

    @property
    def uses_masks(self) -> bool:
        return self.hpf is not None

    def style_params(self, s: torch.Tensor) -> torch.Tensor:
        """Style code [N,S] → packed (γ, β) of every AdaIN layer [N, 2·ΣC], layer by layer γ then β."""
        return self.style_proj(s)

    def encode_with_skips(self, image: torch.Tensor) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Encoder features, and (high-pass generators) the map entering each encoder block of side 32/64/128."""
        x = self.from_rgb(image)
        if not self.uses_masks:
            return self.encode(x), {}
        skips: dict[int, torch.Tensor] = {}
        for block in self.encode:
            size = int(x.shape[2])  # a plain int even while tracing: the map sizes are static
            if size in HPF_SIZES:
                skips[size] = x
            x = block(x)
        return x, skips

    def decode_with(
        self,
        features: torch.Tensor,
        params: torch.Tensor,
        skips: dict[int, torch.Tensor] | None = None,
        masks: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Run the decoder on encoder features with packed AdaIN params (and masked skips when it has them)."""
        if self.uses_masks:
            check_masks(masks, features.shape[0])
        chunks = iter(torch.split(params, [c for c in self.style_channels for _ in (0, 1)], dim=1))
        x = features
        for block in self.decode:
            g1, b1, g2, b2 = next(chunks), next(chunks), next(chunks), next(chunks)
            x = block(x, g1, b1, g2, b2)
            size = int(x.shape[2])
            if self.hpf is not None and skips is not None and size in skips:
                channel = mask_channel(size)
                mask = F.interpolate(masks[:, channel : channel + 1], size=(size, size), mode="bilinear", align_corners=False)
                x = x + self.hpf[str(size)](mask * skips[size])
        return self.to_rgb(x)

    def forward(self, x: torch.Tensor, s: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        features, skips = self.encode_with_skips(x)
        return self.decode_with(features, self.style_params(s), skips, masks)


def check_masks(masks: torch.Tensor | None, batch: int) -> None:
    """Masks are required by high-pass generators: [N, 2, H, W] in [0, 1]."""
    if masks is None:
        raise ValueError(
            "this model has high-pass skips (w_hpf > 0) and needs face masks [N, 2, H, W]; "
            "compute them from landmarks with l2m_edge.masks"
        )
    if masks.dim() != 4 or masks.shape[1] != MASK_CHANNELS or (not torch.jit.is_tracing() and masks.shape[0] != batch):
        raise ValueError(f"masks must have shape [N={batch}, {MASK_CHANNELS}, H, W], got {tuple(masks.shape)}")
