"""The L2M-GAN orthogonality loss (the GAN losses live with the trainer)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def orthogonality_loss(s_un: torch.Tensor, s_re: torch.Tensor, s_re_edit: torch.Tensor, kind: str = "elementwise") -> torch.Tensor:
    """Penalise overlap of the attribute-relevant codes (before and after the edit) with s_un.

    "elementwise": mean|s_re ⊙ s_un| + mean|s̃_re ⊙ s_un| (the reference re-implementation);
    "cosine": mean|cos(s_re, s_un)| + mean|cos(s̃_re, s_un)| (scale-free variant).
    Zero exactly when both codes are orthogonal to s_un (element-wise: disjoint supports).
    """
    if kind == "elementwise":
        return (s_re * s_un).abs().mean() + (s_re_edit * s_un).abs().mean()
    if kind == "cosine":
        return F.cosine_similarity(s_re, s_un, dim=1).abs().mean() + F.cosine_similarity(s_re_edit, s_un, dim=1).abs().mean()
    raise ValueError(f"unknown orthogonality loss {kind!r}; use 'elementwise' or 'cosine'")
