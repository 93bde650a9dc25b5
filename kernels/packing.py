"""Latent-path weights laid out once for the fused latent kernel, and a cache so that is once.

The kernel multiplies row blocks of activations by weight tiles (`x @ Wᵀ`), so every matrix is
stored transposed (input-major, output contiguous) and zero-padded to one width `W` (a power of
two ≥ 16, the smallest `tl.dot` tile): padded columns stay exactly zero through every layer
(zero weights, zero bias, ReLU(0) = 0), so one tile shape serves the style code, the MLPs'
hidden layers and the projection's input. Pure PyTorch: packing needs no Triton.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from dataclasses import dataclass

import torch

from l2m_edge.errors import KernelError

from .latent_weights import LatentWeights

MIN_TILE = 16  # tl.dot needs every tile dimension ≥ 16
_CACHE_SIZE = 8


def next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


@dataclass(frozen=True)
class PackedLatent:
    """Contiguous, padded, transposed latent weights (dtype and device of the originals).

    head_w [D, F_pad, W], head_b [D, W]; dec_w [L_dec, W, W], dec_b [L_dec, W];
    trans_w [L_tr, D, W, W], trans_b [L_tr, D, W]; proj_w [W, P], proj_b [P].
    """

    head_w: torch.Tensor
    head_b: torch.Tensor
    dec_w: torch.Tensor
    dec_b: torch.Tensor
    trans_w: torch.Tensor
    trans_b: torch.Tensor
    proj_w: torch.Tensor
    proj_b: torch.Tensor
    features: int  # F, the style features' width
    width: int  # W
    block_k: int  # tile along F; F_pad is a multiple of it
    num_domains: int
    params: int  # P


def _check(weights: LatentWeights) -> tuple[int, int, int, int]:
    """(D, S, F, P) after checking that the pieces chain; a one-line KernelError otherwise."""
    if weights.head_w.dim() != 3:
        raise KernelError(f"head_w must be [D, S, F], got shape {tuple(weights.head_w.shape)}")
    d, s, f = weights.head_w.shape
    width = s
    for i, w in enumerate(weights.dec_w):
        if w.dim() != 2 or w.shape[1] != width:
            raise KernelError(f"decomposer layer {i} weight {tuple(w.shape)} does not take width {width}")
        width = w.shape[0]
    if width != s:
        raise KernelError(f"decomposer ends at width {width}, the style code has {s}")
    for i, w in enumerate(weights.trans_w):
        if w.dim() != 3 or w.shape[0] != d or w.shape[2] != width:
            raise KernelError(f"transformer layer {i} weight {tuple(w.shape)} is not [{d}, out, {width}]")
        width = w.shape[1]
    if width != s:
        raise KernelError(f"transformer ends at width {width}, the style code has {s}")
    if weights.proj_w.dim() != 2 or weights.proj_w.shape[1] != s:
        raise KernelError(f"proj_w must be [P, {s}], got shape {tuple(weights.proj_w.shape)}")
    return d, s, f, weights.proj_w.shape[0]


def pack_latent_weights(weights: LatentWeights) -> PackedLatent:
    """Lay the weights out for the kernel (one copy; call at load, or let `packed_latent` cache it)."""
    d, s, f, p = _check(weights)
    widths = [s] + [w.shape[0] for w in weights.dec_w] + [w.shape[1] for w in weights.trans_w]
    width = max(MIN_TILE, next_pow2(max(widths)))
    block_k = max(MIN_TILE, min(64, next_pow2(f)))
    f_pad = -(-f // block_k) * block_k
    ref = weights.proj_w
    zeros = lambda *shape: torch.zeros(*shape, dtype=ref.dtype, device=ref.device)  # noqa: E731

    with torch.no_grad():
        head_w, head_b = zeros(d, f_pad, width), zeros(d, width)
        head_w[:, :f, :s] = weights.head_w.transpose(1, 2)
        head_b[:, :s] = weights.head_b
        dec_w, dec_b = zeros(len(weights.dec_w), width, width), zeros(len(weights.dec_w), width)
        for i, (w, b) in enumerate(zip(weights.dec_w, weights.dec_b)):
            dec_w[i, : w.shape[1], : w.shape[0]] = w.t()
            dec_b[i, : b.shape[0]] = b
        trans_w, trans_b = zeros(len(weights.trans_w), d, width, width), zeros(len(weights.trans_w), d, width)
        for i, (w, b) in enumerate(zip(weights.trans_w, weights.trans_b)):
            trans_w[i, :, : w.shape[2], : w.shape[1]] = w.transpose(1, 2)
            trans_b[i, :, : b.shape[1]] = b
        proj_w = zeros(width, p)
        proj_w[:s] = weights.proj_w.t()
        proj_b = weights.proj_b.detach().clone().contiguous()
    return PackedLatent(head_w, head_b, dec_w, dec_b, trans_w, trans_b, proj_w, proj_b, f, width, block_k, d, p)


def _tensors(weights: LatentWeights) -> tuple[torch.Tensor, ...]:
    return (
        weights.head_w, weights.head_b, *weights.dec_w, *weights.dec_b,
        *weights.trans_w, *weights.trans_b, weights.proj_w, weights.proj_b,
    )  # fmt: skip


def _key(tensors: tuple[torch.Tensor, ...]) -> tuple:
    """Address and version of every tensor: an in-place update (optimizer step, load_state_dict)
    bumps `_version` and so repacks; rebinding `.data` moves the address. Writes through `.data`
    bypass the counter: call `clear_latent_cache()` after those. Kept to two integers per tensor:
    it is computed on every call, on the host, at batch 1 in the critical path. Inference tensors
    (made under torch.inference_mode) keep no version: -1, so only a new address repacks them."""
    return tuple((t.data_ptr(), -1 if t.is_inference() else t._version) for t in tensors)


# key → (weak references to the tensors packed, packed form). The references tell a freed model
# from a new one that reuses its addresses, so a stale entry is never served.
_cache: OrderedDict[tuple, tuple[tuple[weakref.ref, ...], PackedLatent]] = OrderedDict()


def packed_latent(weights: LatentWeights) -> PackedLatent:
    """The packed form of these weights, packed on first use and reused while they are unchanged.

    Pass the parameters themselves (as `Editor.latent_weights()` does): views made afresh per
    call die at once and would repack every time.
    """
    tensors = _tensors(weights)
    key = _key(tensors)
    entry = _cache.get(key)
    if entry is not None and all(ref() is t for ref, t in zip(entry[0], tensors)):
        _cache.move_to_end(key)
        return entry[1]
    packed = pack_latent_weights(weights)
    for stale in [k for k, (refs, _) in _cache.items() if any(ref() is None for ref in refs)]:
        del _cache[stale]  # the model it came from is gone: free its packed copy now
    _cache[key] = (tuple(weakref.ref(t) for t in tensors), packed)
    _cache.move_to_end(key)
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return packed


def clear_latent_cache() -> None:
    _cache.clear()
