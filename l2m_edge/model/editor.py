"""The Editor: the one inference graph that training evaluates, export traces and the runtime runs."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from l2m_edge.canonical import DEFAULT_FRAMING, check_framing
from l2m_edge.config import ModelConfig, get_preset
from l2m_edge.kernels import LatentWeights, alpha_mix, fused_latent
from l2m_edge.kernels.latent import move_code, style_and_delta

from .generator import Generator
from .style import AttributeTransformer, Decomposer, StyleEncoder


def default_domains(num_domains: int) -> tuple[str, ...]:
    return tuple(f"domain{i}" for i in range(num_domains))


class Editor(nn.Module):
    """(image [N,3,H,W] in [−1,1], source [N] int64, target [N] int64, strength [N] float
    [, masks [N,2,H,W] in [0,1] when config.w_hpf > 0]) → image.

    strength α scales the move of the attribute-relevant code: s' = s_un + s_re + α(s̃_re − s_re).
    α = 0 reconstructs (s' = s exactly), α = 1 is the paper's edit; α may go beyond [0, 1]. This is
    the official inference formula `s1 + s2 + degree·(s3 − s2)` with α = degree.
    masks (high-pass models only): channel 0 gates the skip at 32², channel 1 those at 64²/128²
    (see `l2m_edge.masks`).
    """

    def __init__(
        self, config: ModelConfig, domains: Sequence[str] | None = None, attribute: str = "", framing: str = DEFAULT_FRAMING
    ) -> None:
        super().__init__()
        domains = tuple(domains) if domains is not None else default_domains(config.num_domains)
        if len(domains) != config.num_domains:
            raise ValueError(f"{len(domains)} domain names given for num_domains={config.num_domains}")
        self.config = config
        self.domains = domains
        self.attribute = attribute
        self.framing = check_framing(framing)  # where faces must sit in the crop (l2m_edge.canonical)
        self.style_encoder = StyleEncoder(config)
        self.decomposer = Decomposer(config)
        self.transformer = AttributeTransformer(config)
        self.generator = Generator(config)

    # -- the pieces training uses -------------------------------------------------------------
    def style(self, x: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        return self.style_encoder(x, domain)

    def edit_code(
        self, s: torch.Tensor, target: torch.Tensor, strength: torch.Tensor | float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(s', s_un, s_re, s̃_re) for style code s moved towards `target`."""
        s_un, s_re = self.decomposer(s)
        s_re_edit = self.transformer(s_re, target)
        return alpha_mix(s, s_re, s_re_edit, strength), s_un, s_re, s_re_edit

    def reconstruct(self, x: torch.Tensor, source: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """Encode with the unedited code: the α = 0 path."""
        return self.generator(x, self.style(x, source), masks)

    # -- inference ----------------------------------------------------------------------------
    def latent_weights(self) -> LatentWeights:
        """Views (no copies) of every latent-path parameter, in the layout `fused_latent` reads."""
        return LatentWeights(
            head_w=self.style_encoder.heads.weight,
            head_b=self.style_encoder.heads.bias,
            dec_w=tuple(layer.weight for layer in self.decomposer.layers),
            dec_b=tuple(layer.bias for layer in self.decomposer.layers),
            trans_w=tuple(layer.weight for layer in self.transformer.layers),
            trans_b=tuple(layer.bias for layer in self.transformer.layers),
            proj_w=self.generator.style_proj.weight,
            proj_b=self.generator.style_proj.bias,
        )

    def forward(
        self,
        image: torch.Tensor,
        source_domain: torch.Tensor,
        target_domain: torch.Tensor,
        strength: torch.Tensor,
        masks: torch.Tensor | None = None,
    ) -> torch.Tensor:
        features = self.style_encoder.trunk(image)
        params = fused_latent(features, source_domain, target_domain, strength, self.latent_weights())
        content, skips = self.generator.encode_with_skips(image)
        return self.generator.decode_with(content, params, skips, masks)

    # -- the two stages of style reuse (a tracked face's style code changes slowly) ----------------
    def style_stage(
        self, image: torch.Tensor, source_domain: torch.Tensor, target_domain: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(s, δ): the face's style code and its move towards the target, before any strength.

        α stays out so that a live strength change needs no new style code; `generate` applies it.
        """
        return style_and_delta(self.style_encoder.trunk(image), source_domain, target_domain, self.latent_weights())

    def generate(
        self,
        image: torch.Tensor,
        style: torch.Tensor,
        style_delta: torch.Tensor,
        strength: torch.Tensor,
        masks: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The generator with s' = s + α·δ: `generate(x, *style_stage(x, …), α)` equals `forward` bit for bit (CPU)."""
        params = self.generator.style_params(move_code(style, style_delta, strength))
        content, skips = self.generator.encode_with_skips(image)
        return self.generator.decode_with(content, params, skips, masks)


class StyleStage(nn.Module):
    """`Editor.style_stage` as a module of its own: the graph export traces for the style path."""

    def __init__(self, editor: Editor) -> None:
        super().__init__()
        self.editor = editor

    def forward(self, image: torch.Tensor, source_domain: torch.Tensor, target_domain: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.editor.style_stage(image, source_domain, target_domain)


class GeneratorStage(nn.Module):
    """`Editor.generate` as a module of its own: the graph export traces for the generator path."""

    def __init__(self, editor: Editor) -> None:
        super().__init__()
        self.editor = editor

    def forward(
        self, image: torch.Tensor, style: torch.Tensor, style_delta: torch.Tensor, strength: torch.Tensor, masks: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.editor.generate(image, style, style_delta, strength, masks)


def build_editor(preset: str | ModelConfig = "mobile", domains: Sequence[str] | None = None, attribute: str = "") -> Editor:
    """A freshly initialised editor of a registered preset (or an explicit config)."""
    config = get_preset(preset) if isinstance(preset, str) else preset
    return Editor(config, domains, attribute)
