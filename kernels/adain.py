"""Instance norm + AdaIN modulation + LeakyReLU, the decoder's per-layer hot path.

y = leaky_relu((1 + γ) · (x − μ) / sqrt(σ² + ε) + β, 0.2), statistics per (sample, channel)
over H×W, as StarGAN v2's AdainResBlk applies before every conv.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .dispatch import active_impl

EPS = 1e-5
NEGATIVE_SLOPE = 0.2


def fused_adain_reference(
    x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float = EPS, negative_slope: float = NEGATIVE_SLOPE
) -> torch.Tensor:
    """PyTorch reference: x [N,C,H,W], gamma/beta [N,C]; statistics in fp32 for any input dtype.

    `F.instance_norm` exports as ONNX InstanceNormalization, which every runtime fuses.
    """
    x_hat = F.instance_norm(x.float(), eps=eps)
    y = x_hat * (1 + gamma.float()[:, :, None, None]) + beta.float()[:, :, None, None]
    return F.leaky_relu(y, negative_slope).to(x.dtype)


def fused_adain(
    x: torch.Tensor,
    gamma: torch.Tensor,
    beta: torch.Tensor,
    eps: float = EPS,
    negative_slope: float = NEGATIVE_SLOPE,
    impl: str = "auto",
) -> torch.Tensor:
    """Fused AdaIN + LeakyReLU; see the module docstring. `impl`: auto | triton | reference."""
    if active_impl(impl, x, gamma, beta) == "triton":
        from .triton_adain import fused_adain_triton

        return fused_adain_triton(x, gamma, beta, eps, negative_slope)
    return fused_adain_reference(x, gamma, beta, eps, negative_slope)
