"""The editor's latent-path parameters as one record: what the reference (`latent.py`), the packing
(`packing.py`) and the Triton kernel (`triton_latent.py`) all take, so none imports another for it."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LatentWeights:
    """Views of the editor's latent-path parameters, gathered once.

    head_w [D,S,F], head_b [D,S]; dec_w[i] [out,in], dec_b[i] [out];
    trans_w[i] [D,out,in], trans_b[i] [D,out]; proj_w [P,S], proj_b [P].
    Every MLP has ReLU between its layers and none after the last.
    """

    head_w: torch.Tensor
    head_b: torch.Tensor
    dec_w: tuple[torch.Tensor, ...]
    dec_b: tuple[torch.Tensor, ...]
    trans_w: tuple[torch.Tensor, ...]
    trans_b: tuple[torch.Tensor, ...]
    proj_w: torch.Tensor
    proj_b: torch.Tensor
