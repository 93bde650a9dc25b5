"""Parameter and MAC counts per frame, for `l2m-edge info --preset`."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from l2m_edge.config import ModelConfig

from .discriminator import Discriminator
from .editor import Editor


@dataclass(frozen=True)
class ComponentCost:
    name: str
    params: int
    macs: int  # multiply-accumulates for one frame (convs and matmuls; norms and activations excluded)


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _macs(fn, *args) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn(*args)
    return counter.get_total_flops() // 2


def model_costs(config: ModelConfig) -> list[ComponentCost]:
    """Cost of each component on one frame; the meta device keeps even `paper` instant."""
    with torch.device("meta"):
        editor = Editor(config)
        disc = Discriminator(config)
        x = torch.empty(1, 3, config.img_size, config.img_size)
        d = torch.zeros(1, dtype=torch.long)
        a = torch.ones(1)
        s = torch.empty(1, config.style_dim)
        m = torch.empty(1, 2, config.img_size, config.img_size) if config.uses_masks else None
        latent = count_params(editor.decomposer) + count_params(editor.transformer)
        return [
            ComponentCost("generator", count_params(editor.generator), _macs(editor.generator, x, s, m)),
            ComponentCost("style encoder", count_params(editor.style_encoder), _macs(editor.style_encoder, x, d)),
            ComponentCost("decomposer + transformer", latent, _macs(lambda: editor.edit_code(s, d, a))),
            ComponentCost("editor (all of the above)", count_params(editor), _macs(editor, x, d, d, a, m)),
            ComponentCost("discriminator (training only)", count_params(disc), _macs(disc, x, d)),
        ]
