"""L2M-GAN training losses (StarGAN v2 style): what D and G minimise each step.

The generator side follows the L2M-GAN paper: adversarial towards the target domain, cycle
consistency back to the source with the image's own style code (G(G(x, s'), s) ≈ x), style
reconstruction (E(G(x, s'), y_trg) ≈ s') and the orthogonality of s_re / s̃_re to s_un. Three
optional terms (weight 0 by default) are not in the paper and are named as such:
`un` keeps the attribute-irrelevant code of the fake equal to the source's, `rec` trains the
α = 0 path to reconstruct (G(x, s) ≈ x), `preserve` penalises |G(x, s') − x|₁ so that the edit
changes as few pixels as it can.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from l2m_edge.model import orthogonality_loss
from l2m_edge.training_config import LossWeights

from .compute import Networks


def _full(t: torch.Tensor) -> torch.Tensor:
    """A bf16/fp16 autocast output in fp32 (fp32 and fp64 pass through): losses reduce at full precision."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


def r1_penalty(real_logits: torch.Tensor, x_real: torch.Tensor) -> torch.Tensor:
    """0.5·E‖∇_x D(x)‖² on real images (Mescheder et al. 2018), as in StarGAN v2.

    Taken in fp32 whatever D computed in: the logits are summed in fp32 and the gradient with
    respect to the fp32 input comes back in fp32, so bf16 never squares a gradient.
    """
    (grad,) = torch.autograd.grad(_full(real_logits).sum(), x_real, create_graph=True)
    return 0.5 * _full(grad).pow(2).reshape(grad.size(0), -1).sum(1).mean()


class EditForward(NamedTuple):
    """One edit of a batch, kept with its graph: D trains on `fake.detach()`, G on `fake` itself,
    so each step runs the generator forward once for both (the pix2pix / CycleGAN ordering)."""

    s: torch.Tensor
    s_edit: torch.Tensor
    s_un: torch.Tensor
    s_re: torch.Tensor
    s_re_edit: torch.Tensor
    fake: torch.Tensor
    masks: torch.Tensor | None  # the source faces' masks (high-pass models); the edit keeps their geometry


def edit_forward(nets: Networks, x: torch.Tensor, y_src: torch.Tensor, y_trg: torch.Tensor, masks: torch.Tensor | None = None) -> EditForward:
    with nets.autocast():
        s = _full(nets.style(x, y_src))
    s_edit, s_un, s_re, s_re_edit = nets.editor.edit_code(s, y_trg, 1.0)  # the latent MLPs stay in fp32
    with nets.autocast():
        fake = nets.generator(x, s_edit, masks)
    return EditForward(s, s_edit, s_un, s_re, s_re_edit, fake, masks)


def discriminator_loss(
    nets: Networks,
    x: torch.Tensor,
    y_src: torch.Tensor,
    fake: torch.Tensor,
    y_trg: torch.Tensor,
    weights: LossWeights,
    r1_scale: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Non-saturating BCE: real (x, y_src) → 1, fake (G(x, s'), y_trg) → 0; plus R1 when r1_scale > 0.

    `r1_scale` is the lazy-R1 factor: k on every k-th step, 0 on the others. Scalars come back as
    detached tensors: the trainer reads them once per log interval, not once per step.
    """
    use_r1 = r1_scale > 0 and weights.r1 > 0
    x_real = x.detach().requires_grad_(use_r1)
    with nets.autocast():
        real_logits = (nets.disc_r1 if use_r1 else nets.disc)(x_real, y_src)
        fake_logits = nets.disc(fake.detach(), y_trg)
    loss_real = F.softplus(-_full(real_logits)).mean()
    loss_fake = F.softplus(_full(fake_logits)).mean()
    loss = loss_real + loss_fake  # λ_adv weighs G's term; Adam would undo a scale on D's alone
    scalars = {"d_real": loss_real, "d_fake": loss_fake}
    if use_r1:
        r1 = r1_penalty(real_logits, x_real)
        loss = loss + weights.r1 * r1_scale * r1
        scalars["d_r1"] = r1
    scalars["d_total"] = loss
    return loss, {k: v.detach() for k, v in scalars.items()}


def generator_loss(
    nets: Networks,
    x: torch.Tensor,
    y_trg: torch.Tensor,
    edit: EditForward,
    weights: LossWeights,
    orth_kind: str = "elementwise",
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """All generator-side terms for one batch; returns the weighted sum and each term's value (detached)."""
    x = _full(x)
    fake = _full(edit.fake)
    with nets.autocast():
        fake_logits = nets.disc(edit.fake, y_trg)
        s_pred = nets.style(edit.fake, y_trg)
        cycled = nets.generator(edit.fake, edit.s, edit.masks)
    s_pred = _full(s_pred)
    adv = F.softplus(-_full(fake_logits)).mean()
    sty = (s_pred - edit.s_edit).abs().mean()
    cyc = (_full(cycled) - x).abs().mean()
    orth = orthogonality_loss(edit.s_un, edit.s_re, edit.s_re_edit, kind=orth_kind)
    loss = weights.adv * adv + weights.sty * sty + weights.cyc * cyc + weights.orth * orth
    scalars = {"g_adv": adv, "g_sty": sty, "g_cyc": cyc, "g_orth": orth}
    if weights.un > 0:
        un = (nets.editor.decomposer(s_pred)[0] - edit.s_un).abs().mean()
        loss = loss + weights.un * un
        scalars["g_un"] = un
    if weights.rec > 0:
        with nets.autocast():
            reconstructed = nets.generator(x, edit.s, edit.masks)
        rec = (_full(reconstructed) - x).abs().mean()
        loss = loss + weights.rec * rec
        scalars["g_rec"] = rec
    if weights.preserve > 0:
        preserve = (fake - x).abs().mean()
        loss = loss + weights.preserve * preserve
        scalars["g_preserve"] = preserve
    scalars["g_total"] = loss
    return loss, {k: v.detach() for k, v in scalars.items()}
