"""StarGAN v2 building blocks (Choi et al., CVPR 2020), with its high-pass filter for the masked skips."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from l2m_edge.kernels import fused_adain
from l2m_edge.kernels.latent import per_domain_linear

_INV_SQRT2 = 1 / math.sqrt(2)


class ResBlk(nn.Module):
    """Pre-activation residual block; optional InstanceNorm and 2× average-pool down-sampling."""

    def __init__(self, dim_in: int, dim_out: int, normalize: bool = False, downsample: bool = False) -> None:
        super().__init__()
        self.normalize = normalize
        self.downsample = downsample
        self.conv1 = nn.Conv2d(dim_in, dim_in, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        if normalize:
            self.norm1 = nn.InstanceNorm2d(dim_in, affine=True)
            self.norm2 = nn.InstanceNorm2d(dim_in, affine=True)
        self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False) if dim_in != dim_out else None

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv1x1 is not None:
            x = self.conv1x1(x)
        return F.avg_pool2d(x, 2) if self.downsample else x

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            x = self.norm1(x)
        x = self.conv1(F.leaky_relu(x, 0.2))
        if self.downsample:
            x = F.avg_pool2d(x, 2)
        if self.normalize:
            x = self.norm2(x)
        return self.conv2(F.leaky_relu(x, 0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self._shortcut(x) + self._residual(x)) * _INV_SQRT2


class AdainResBlk(nn.Module):
    """Residual block modulated by per-sample (γ, β); 2× nearest up-sampling when asked.

    The (γ, β) come from outside: the generator computes every layer's at once from the style
    code (one packed Linear, see `Generator.style_params`), so this block owns no style weights.
    `residual_only` (generators with high-pass skips) returns the residual branch alone, as
    StarGAN v2 does for w_hpf > 0: the masked skips carry the detail a shortcut would.
    """

    def __init__(self, dim_in: int, dim_out: int, upsample: bool = False, residual_only: bool = False) -> None:
        super().__init__()
        self.dim_in, self.dim_out = dim_in, dim_out
        self.upsample = upsample
        self.residual_only = residual_only
        self.conv1 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_out, dim_out, 3, 1, 1)
        learned_shortcut = dim_in != dim_out and not residual_only
        self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False) if learned_shortcut else None

    @property
    def modulated_channels(self) -> tuple[int, int]:
        """Channels of the two AdaIN layers, in order."""
        return (self.dim_in, self.dim_out)

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv1x1(x) if self.conv1x1 is not None else x

    def forward(
        self, x: torch.Tensor, gamma1: torch.Tensor, beta1: torch.Tensor, gamma2: torch.Tensor, beta2: torch.Tensor
    ) -> torch.Tensor:
        h = fused_adain(x, gamma1, beta1)
        if self.upsample:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = self.conv1(h)
        h = self.conv2(fused_adain(h, gamma2, beta2))
        if self.residual_only:
            return h
        return (self._shortcut(x) + h) * _INV_SQRT2


class HighPass(nn.Module):
    """Depthwise 3×3 Laplacian-like high-pass [[-1,-1,-1],[-1,8,-1],[-1,-1,-1]] ÷ w_hpf, zero padding.

    A fixed filter, not a weight: a non-persistent buffer, so checkpoints never carry it. Built
    for `channels` at construction so its shape is static: a kernel expanded from the input's
    channel count would be traced from a Shape op, which a dynamic-batch ONNX export cannot size.
    """

    def __init__(self, w_hpf: float, channels: int) -> None:
        super().__init__()
        kernel = -torch.ones(3, 3)
        kernel[1, 1] = 8.0
        self.register_buffer("kernel", (kernel / w_hpf).expand(channels, 1, 3, 3).contiguous(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.kernel.to(x.dtype), padding=1, groups=self.kernel.shape[0])


class PerDomainLinear(nn.Module):
    """One Linear per domain, chosen per sample: a Gather + MatMul when exported.

    Stacked weights [D, out, in] replace StarGAN v2's ModuleList of heads so that the choice
    by label is a tensor op (no Python control flow in the exported graph).
    """

    def __init__(self, num_domains: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_domains, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(num_domains, out_features))
        bound = 1 / math.sqrt(in_features)  # nn.Linear's default init, per domain
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        return per_domain_linear(x, self.weight, self.bias, domain)


def downsampling_trunk(img_size: int, dim_in: int, max_conv_dim: int, repeat: int) -> tuple[nn.Sequential, int]:
    """The shared trunk of the style encoder and discriminator: image → [N, dim_out] at 1×1."""
    blocks: list[nn.Module] = [nn.Conv2d(3, dim_in, 3, 1, 1)]
    dim = dim_in
    for _ in range(repeat):
        dim_out = min(dim * 2, max_conv_dim)
        blocks.append(ResBlk(dim, dim_out, downsample=True))
        dim = dim_out
    blocks += [nn.LeakyReLU(0.2), nn.Conv2d(dim, dim, 4, 1, 0), nn.LeakyReLU(0.2), nn.Flatten()]
    return nn.Sequential(*blocks), dim
