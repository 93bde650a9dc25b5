"""The whole latent path of an edit, from style features to every AdaIN layer's (γ, β).

    s      = head[source](h)                      per-domain style head
    s_un   = P(s)                                 decomposer MLP (attribute-irrelevant)
    s_re   = s − s_un                             attribute-relevant
    s̃_re   = T[target](s_re)                      per-domain transformer MLP
    s'     = s + α · (s̃_re − s_re)                = s_un + s_re + α(s̃_re − s_re); α=0 gives s exactly
    params = s' @ W_projᵀ + b_proj                all decoder AdaIN layers packed in one matrix

Split at s' for style reuse across frames: `style_and_delta` gives (s, δ = s̃_re − s_re), which
depend on the face and the target only; `move_code` applies any α later. The composition is the
same arithmetic in the same order as `fused_latent_reference`, so the two agree bit for bit.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .dispatch import active_impl
from .latent_weights import LatentWeights


def per_domain_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
    """x [N,in] through the Linear of each sample's domain: weight [D,out,in], bias [D,out]."""
    return torch.bmm(weight[domain], x.unsqueeze(-1)).squeeze(-1) + bias[domain]


def mlp(x: torch.Tensor, weights: tuple[torch.Tensor, ...], biases: tuple[torch.Tensor, ...]) -> torch.Tensor:
    for i, (w, b) in enumerate(zip(weights, biases)):
        x = F.linear(x, w, b)
        if i < len(weights) - 1:
            x = F.relu(x)
    return x


def per_domain_mlp(
    x: torch.Tensor, weights: tuple[torch.Tensor, ...], biases: tuple[torch.Tensor, ...], domain: torch.Tensor
) -> torch.Tensor:
    for i, (w, b) in enumerate(zip(weights, biases)):
        x = per_domain_linear(x, w, b, domain)
        if i < len(weights) - 1:
            x = F.relu(x)
    return x


def alpha_mix(s: torch.Tensor, s_re: torch.Tensor, s_re_edit: torch.Tensor, strength: torch.Tensor | float) -> torch.Tensor:
    """s' = s + α·(s̃_re − s_re), i.e. s_un + s_re + α(s̃_re − s_re): α = 0 returns s exactly, α = 1 is the
    paper's edit. The one definition training (`Editor.edit_code`) and the exported graph share;
    `strength` is a number or one α per sample [N]. The Triton kernel computes the same expression."""
    return move_code(s, s_re_edit - s_re, strength)


def move_code(s: torch.Tensor, delta: torch.Tensor, strength: torch.Tensor | float) -> torch.Tensor:
    """s' = s + α·δ with δ = s̃_re − s_re: `alpha_mix` once δ is known (kept per track across frames)."""
    alpha = torch.as_tensor(strength, dtype=s.dtype, device=s.device).reshape(-1, 1)
    return s + alpha * delta


def style_and_delta(
    h: torch.Tensor, source: torch.Tensor, target: torch.Tensor, weights: LatentWeights
) -> tuple[torch.Tensor, torch.Tensor]:
    """(s, δ = s̃_re − s_re) from style features h [N,F]: everything of the latent path that α does not touch."""
    s = per_domain_linear(h, weights.head_w, weights.head_b, source)
    s_re = s - mlp(s, weights.dec_w, weights.dec_b)
    return s, per_domain_mlp(s_re, weights.trans_w, weights.trans_b, target) - s_re


def fused_latent_reference(
    h: torch.Tensor, source: torch.Tensor, target: torch.Tensor, strength: torch.Tensor, weights: LatentWeights
) -> torch.Tensor:
    """PyTorch reference: h [N,F] style features, source/target [N] int64, strength [N] → params [N,P]."""
    s, delta = style_and_delta(h, source, target, weights)
    return F.linear(move_code(s, delta, strength), weights.proj_w, weights.proj_b)


def fused_latent(
    h: torch.Tensor,
    source: torch.Tensor,
    target: torch.Tensor,
    strength: torch.Tensor,
    weights: LatentWeights,
    impl: str = "auto",
) -> torch.Tensor:
    """The latent path in one launch on CUDA; see the module docstring. `impl`: auto | triton | reference."""
    if active_impl(impl, h, weights.proj_w) == "triton":
        from .triton_latent import fused_latent_triton

        return fused_latent_triton(h, source, target, strength, weights)
    return fused_latent_reference(h, source, target, strength, weights)
