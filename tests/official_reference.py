"""An independent float64 model of the official L2M-GAN inference, and checkpoints in its key layout.

Written from reading rucmlcv/L2M-GAN `core/model.py` and `metrics/eval.py` (nothing copied, nothing
shared with l2m_edge.model): a functional forward over the official state-dict names, so an
import that maps a key wrongly, packs a projection in the wrong order or builds one block too
many shows up as a different image.

Official inference: s, s1, s2, s3 = style_encoder(x, y_src, y_trg)   (s1 = transform1(s), s2 = s − s1,
s3 = transform2[y_trg](s2));  x_fake = generator(x, s1 + s2 + degree·(s3 − s2), masks).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

SKIP_SIZES = (32, 64, 128)


# -- checkpoints in the official layout -------------------------------------------------------------
def official_state(
    img_size: int = 256, style_dim: int = 64, num_domains: int = 2, w_hpf: float = 1.0,
    max_conv_dim: int = 512, dim_in: int | None = None, seed: int = 0,
) -> dict[str, dict[str, torch.Tensor]]:
    """{generator, style_encoder, fan, vgg} state dicts with the official names and shapes, random weights.

    Conv weights are He-scaled and biases/affine terms non-trivial, so every tensor matters.
    """  # fmt: skip
    g = torch.Generator().manual_seed(seed)
    dim_in = dim_in or 2**14 // img_size

    def conv(prefix: str, out: dict, c_out: int, c_in: int, k: int, bias: bool = True) -> None:
        out[f"{prefix}.weight"] = torch.randn(c_out, c_in, k, k, generator=g) * math.sqrt(2.0 / (c_in * k * k))
        if bias:
            out[f"{prefix}.bias"] = 0.1 * torch.randn(c_out, generator=g)

    def linear(prefix: str, out: dict, c_out: int, c_in: int) -> None:
        out[f"{prefix}.weight"] = torch.randn(c_out, c_in, generator=g) / math.sqrt(c_in)
        out[f"{prefix}.bias"] = 0.1 * torch.randn(c_out, generator=g)

    def affine(prefix: str, out: dict, c: int) -> None:
        out[f"{prefix}.weight"] = 1 + 0.1 * torch.randn(c, generator=g)
        out[f"{prefix}.bias"] = 0.1 * torch.randn(c, generator=g)

    def resblk(prefix: str, out: dict, c_in: int, c_out: int, normalize: bool) -> None:
        conv(f"{prefix}.conv1", out, c_in, c_in, 3)
        conv(f"{prefix}.conv2", out, c_out, c_in, 3)
        if normalize:
            affine(f"{prefix}.norm1", out, c_in)
            affine(f"{prefix}.norm2", out, c_in)
        if c_in != c_out:
            conv(f"{prefix}.conv1x1", out, c_out, c_in, 1, bias=False)

    def adain_resblk(prefix: str, out: dict, c_in: int, c_out: int) -> None:
        conv(f"{prefix}.conv1", out, c_out, c_in, 3)
        conv(f"{prefix}.conv2", out, c_out, c_out, 3)
        linear(f"{prefix}.norm1.fc", out, 2 * c_in, style_dim)
        linear(f"{prefix}.norm2.fc", out, 2 * c_out, style_dim)
        if c_in != c_out:  # built even when w_hpf > 0, where the forward never reads it
            conv(f"{prefix}.conv1x1", out, c_out, c_in, 1, bias=False)

    def mlp(prefix: str, out: dict) -> None:
        for index in (0, 2, 4):
            linear(f"{prefix}.{index}", out, style_dim, style_dim)

    gen: dict[str, torch.Tensor] = {}
    conv("from_rgb", gen, dim_in, 3, 3)
    repeat = int(math.log2(img_size)) - 4 + (1 if w_hpf > 0 else 0)
    encode, decode = [], []  # (c_in, c_out, normalize) / (c_in, c_out) in module order
    d = dim_in
    for _ in range(repeat):
        d_out = min(d * 2, max_conv_dim)
        encode.append((d, d_out))
        decode.insert(0, (d_out, d))
        d = d_out
    for _ in range(2):
        encode.append((d, d))
        decode.insert(0, (d, d))
    for i, (a, b) in enumerate(encode):
        resblk(f"encode.{i}", gen, a, b, normalize=True)
    for i, (a, b) in enumerate(decode):
        adain_resblk(f"decode.{i}", gen, a, b)
    affine("to_rgb.0", gen, dim_in)
    conv("to_rgb.2", gen, 3, dim_in, 1)
    linear("attention.layers.0", gen, style_dim, style_dim)
    linear("attention.layers.2", gen, style_dim, style_dim)

    enc: dict[str, torch.Tensor] = {}
    conv("shared.0", enc, dim_in, 3, 3)
    d = dim_in
    blocks = int(math.log2(img_size)) - 2
    for i in range(blocks):
        d_out = min(d * 2, max_conv_dim)
        resblk(f"shared.{i + 1}", enc, d, d_out, normalize=False)
        d = d_out
    conv(f"shared.{blocks + 2}", enc, d, d, 4)
    for k in range(num_domains):
        linear(f"unshared.{k}", enc, style_dim, d)
    mlp("transform1", enc)
    for k in range(num_domains):
        mlp(f"transform2.{k}", enc)
    linear("attention.layers.0", enc, style_dim, style_dim)
    linear("attention.layers.2", enc, style_dim, style_dim)

    fan = {"conv1.conv.weight": torch.randn(64, 5, 7, 7, generator=g), "bn1.running_mean": torch.zeros(64)}
    vgg = {"0.weight": torch.randn(64, 3, 7, 7, generator=g)}
    return {"generator": gen, "style_encoder": enc, "fan": fan, "vgg": vgg}


def save_official(state: dict, path: Path) -> Path:
    torch.save(state, path)  # what the official CheckpointIO.save writes
    return path


# -- the official forward, float64 -------------------------------------------------------------------
def _conv(p: dict, key: str, x: torch.Tensor, padding: int) -> torch.Tensor:
    return F.conv2d(x, p[f"{key}.weight"], p.get(f"{key}.bias"), padding=padding)


def _resblk(p: dict, key: str, x: torch.Tensor, normalize: bool, downsample: bool) -> torch.Tensor:
    shortcut = x
    if f"{key}.conv1x1.weight" in p:
        shortcut = F.conv2d(shortcut, p[f"{key}.conv1x1.weight"])
    if downsample:
        shortcut = F.avg_pool2d(shortcut, 2)
    r = x
    if normalize:
        r = F.instance_norm(r, weight=p[f"{key}.norm1.weight"], bias=p[f"{key}.norm1.bias"], eps=1e-5)
    r = _conv(p, f"{key}.conv1", F.leaky_relu(r, 0.2), 1)
    if downsample:
        r = F.avg_pool2d(r, 2)
    if normalize:
        r = F.instance_norm(r, weight=p[f"{key}.norm2.weight"], bias=p[f"{key}.norm2.bias"], eps=1e-5)
    r = _conv(p, f"{key}.conv2", F.leaky_relu(r, 0.2), 1)
    return (shortcut + r) / math.sqrt(2)


def _adain(p: dict, key: str, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    h = F.linear(s, p[f"{key}.fc.weight"], p[f"{key}.fc.bias"])
    gamma, beta = h[:, : h.shape[1] // 2, None, None], h[:, h.shape[1] // 2 :, None, None]
    return (1 + gamma) * F.instance_norm(x, eps=1e-5) + beta


def _adain_resblk(p: dict, key: str, x: torch.Tensor, s: torch.Tensor, w_hpf: float, upsample: bool) -> torch.Tensor:
    r = F.leaky_relu(_adain(p, f"{key}.norm1", x, s), 0.2)
    if upsample:
        r = F.interpolate(r, scale_factor=2, mode="nearest")
    r = _conv(p, f"{key}.conv1", r, 1)
    r = _conv(p, f"{key}.conv2", F.leaky_relu(_adain(p, f"{key}.norm2", r, s), 0.2), 1)
    if w_hpf > 0:
        return r
    shortcut = F.interpolate(x, scale_factor=2, mode="nearest") if upsample else x
    if f"{key}.conv1x1.weight" in p:
        shortcut = F.conv2d(shortcut, p[f"{key}.conv1x1.weight"])
    return (r + shortcut) / math.sqrt(2)


def _high_pass(x: torch.Tensor, w_hpf: float) -> torch.Tensor:
    kernel = torch.tensor([[-1.0, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=x.dtype) / w_hpf
    return F.conv2d(x, kernel.expand(x.shape[1], 1, 3, 3), padding=1, groups=x.shape[1])


def official_generator(p: dict, x: torch.Tensor, s: torch.Tensor, masks: tuple[torch.Tensor, torch.Tensor] | None, w_hpf: float) -> torch.Tensor:
    img_size = x.shape[2]
    repeat = int(math.log2(img_size)) - 4 + (1 if w_hpf > 0 else 0)
    n_encode = len({k.split(".")[1] for k in p if k.startswith("encode.")})
    n_decode = len({k.split(".")[1] for k in p if k.startswith("decode.")})
    x = _conv(p, "from_rgb", x, 1)
    cache = {}
    for i in range(n_encode):
        if masks is not None and x.shape[2] in SKIP_SIZES:
            cache[x.shape[2]] = x
        x = _resblk(p, f"encode.{i}", x, normalize=True, downsample=i < repeat)
    for i in range(n_decode):
        x = _adain_resblk(p, f"decode.{i}", x, s, w_hpf, upsample=i >= 2)
        if masks is not None and x.shape[2] in SKIP_SIZES:
            mask = masks[0] if x.shape[2] == 32 else masks[1]
            mask = F.interpolate(mask, size=x.shape[2], mode="bilinear", align_corners=False)
            x = x + _high_pass(mask * cache[x.shape[2]], w_hpf)
    x = F.instance_norm(x, weight=p["to_rgb.0.weight"], bias=p["to_rgb.0.bias"], eps=1e-5)
    return _conv(p, "to_rgb.2", F.leaky_relu(x, 0.2), 0)


def _mlp(p: dict, key: str, s: torch.Tensor) -> torch.Tensor:
    for index in (0, 2, 4):
        s = F.linear(s, p[f"{key}.{index}.weight"], p[f"{key}.{index}.bias"])
        if index < 4:
            s = F.relu(s)
    return s


def official_style(p: dict, x: torch.Tensor, y: torch.Tensor, y1: torch.Tensor):
    """(s, s1, s2, s3) as the official StyleEncoder.forward returns them."""
    blocks = int(math.log2(x.shape[2])) - 2
    h = _conv(p, "shared.0", x, 1)
    for i in range(blocks):
        h = _resblk(p, f"shared.{i + 1}", h, normalize=False, downsample=True)
    h = F.leaky_relu(_conv(p, f"shared.{blocks + 2}", F.leaky_relu(h, 0.2), 0), 0.2).flatten(1)
    s = torch.stack([F.linear(h[n], p[f"unshared.{int(y[n])}.weight"], p[f"unshared.{int(y[n])}.bias"]) for n in range(len(y))])
    s1 = _mlp(p, "transform1", s)
    s2 = s - s1
    s3 = torch.stack([_mlp(p, f"transform2.{int(y1[n])}", s2[n : n + 1])[0] for n in range(len(y1))])
    return s, s1, s2, s3


def official_edit(
    state: dict, x: torch.Tensor, y_src: torch.Tensor, y_trg: torch.Tensor, degree: float,
    masks: torch.Tensor | None, w_hpf: float = 1.0,
) -> torch.Tensor:
    """metrics/eval.py's edit in float64: generator(x, s1 + s2 + degree·(s3 − s2), masks); masks [N,2,H,W] → the pair."""  # fmt: skip
    gen = {k: v.double() for k, v in state["generator"].items()}
    enc = {k: v.double() for k, v in state["style_encoder"].items()}
    x = x.double()
    _, s1, s2, s3 = official_style(enc, x, y_src, y_trg)
    pair = None if masks is None else (masks[:, 0:1].double(), masks[:, 1:2].double())
    return official_generator(gen, x, s1 + s2 + degree * (s3 - s2), pair, w_hpf)
