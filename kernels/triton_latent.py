"""Triton kernel for the latent path: style head → decomposer → transformer → α-mix → all (γ, β).

One launch for the batch. Grid: (sample blocks, projection column blocks). Every program
recomputes the small MLP chain for its BLOCK_N samples (a few hundred thousand FMAs, weights
read from L2) and then writes its BLOCK_P columns of the big projection, so the projection,
the only part with real bytes (P·S weights), is spread over the whole GPU even at batch 1.
Per-sample domains are handled by looping over the D domains (D is 2 to a handful): a domain
no sample of the block uses is skipped, the rows of the others are selected with `where`.
Everything is computed in fp32 and stored in the features' dtype. Dots use 3×TF32 on NVIDIA
GPUs from Ampere on (tensor cores, about fp32 accuracy; plain TF32 would miss the 1e-4 target),
IEEE fp32 elsewhere. A sample whose source or target index is out of range gets NaN parameters:
checking on the host would cost a device sync per call.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from l2m_edge.errors import KernelError

from .latent_weights import LatentWeights
from .packing import PackedLatent, packed_latent

BLOCK_N = 16  # the smallest tl.dot tile: batch 1 wastes 15 rows of cheap FMAs, not bytes
BLOCK_P = 128
NUM_WARPS = 8  # at 4 warps the chain's dot operands spill (ptxas, sm_90); at 8 they fit


@triton.jit
def _mlp(x, w_ptr, b_ptr, LAYERS: tl.constexpr, STRIDE: tl.constexpr, W: tl.constexpr, PRECISION: tl.constexpr):
    """x [BLOCK_N, W] through LAYERS padded layers (weights W×W apart by STRIDE), ReLU between."""
    wi = tl.arange(0, W)
    for layer in tl.static_range(LAYERS):
        w = tl.load(w_ptr + layer * STRIDE * W * W + wi[:, None] * W + wi[None, :]).to(tl.float32)
        b = tl.load(b_ptr + layer * STRIDE * W + wi).to(tl.float32)
        x = tl.dot(x, w, input_precision=PRECISION) + b[None, :]
        if layer < LAYERS - 1:
            x = tl.maximum(x, 0.0)
    return x


@triton.jit
def _latent_kernel(
    h_ptr, src_ptr, tgt_ptr, alpha_ptr, out_ptr,
    head_w_ptr, head_b_ptr, dec_w_ptr, dec_b_ptr, tr_w_ptr, tr_b_ptr, proj_w_ptr, proj_b_ptr,
    N, F, F_PAD, P, stride_hn, stride_hf, stride_on,
    D: tl.constexpr, L_DEC: tl.constexpr, L_TR: tl.constexpr, W: tl.constexpr,
    BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_P: tl.constexpr, PRECISION: tl.constexpr,
):  # fmt: skip
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    row_ok = rows < N
    src = tl.load(src_ptr + rows, mask=row_ok, other=-1)
    tgt = tl.load(tgt_ptr + rows, mask=row_ok, other=-1)
    alpha = tl.load(alpha_ptr + rows, mask=row_ok, other=0.0).to(tl.float32)
    wi = tl.arange(0, W)
    ks = tl.arange(0, BLOCK_K)

    # s = head[source](h): the features stream through in BLOCK_K slices
    s = tl.zeros((BLOCK_N, W), dtype=tl.float32)
    for d in range(D):
        is_d = src == d
        if tl.sum(is_d.to(tl.int32), axis=0) > 0:
            acc = tl.zeros((BLOCK_N, W), dtype=tl.float32)
            for k0 in range(0, F, BLOCK_K):
                k = k0 + ks
                hk = tl.load(
                    h_ptr + rows[:, None] * stride_hn + k[None, :] * stride_hf,
                    mask=row_ok[:, None] & (k < F)[None, :],
                    other=0.0,
                ).to(tl.float32)
                wk = tl.load(head_w_ptr + (d * F_PAD + k)[:, None] * W + wi[None, :]).to(tl.float32)
                acc = tl.dot(hk, wk, acc, input_precision=PRECISION)
            acc += tl.load(head_b_ptr + d * W + wi).to(tl.float32)[None, :]
            s = tl.where(is_d[:, None], acc, s)

    # s_un = P(s), s_re = s − s_un
    s_re = s - _mlp(s, dec_w_ptr, dec_b_ptr, L_DEC, 1, W, PRECISION)

    # s̃_re = T[target](s_re)
    s_re_edit = tl.zeros((BLOCK_N, W), dtype=tl.float32)
    for d in range(D):
        is_d = tgt == d
        if tl.sum(is_d.to(tl.int32), axis=0) > 0:
            t = _mlp(s_re, tr_w_ptr + d * W * W, tr_b_ptr + d * W, L_TR, D, W, PRECISION)
            s_re_edit = tl.where(is_d[:, None], t, s_re_edit)

    s_mixed = s + alpha[:, None] * (s_re_edit - s_re)

    # this program's columns of params = s' W_projᵀ + b
    cols = tl.program_id(1) * BLOCK_P + tl.arange(0, BLOCK_P)
    col_ok = cols < P
    pw = tl.load(proj_w_ptr + wi[:, None] * P + cols[None, :], mask=col_ok[None, :], other=0.0).to(tl.float32)
    pb = tl.load(proj_b_ptr + cols, mask=col_ok, other=0.0).to(tl.float32)
    params = tl.dot(s_mixed, pw, input_precision=PRECISION) + pb[None, :]
    valid = (src >= 0) & (src < D) & (tgt >= 0) & (tgt < D)
    params = tl.where(valid[:, None], params, float("nan"))
    tl.store(
        out_ptr + rows[:, None] * stride_on + cols[None, :],
        params.to(out_ptr.dtype.element_ty),
        mask=row_ok[:, None] & col_ok[None, :],
    )


def dot_precision(device: torch.device) -> str:
    """3×TF32 where tensor cores do TF32 (CUDA, compute capability ≥ 8), IEEE fp32 otherwise."""
    if device.type == "cuda" and torch.version.hip is None and torch.cuda.get_device_capability(device)[0] >= 8:
        return "tf32x3"
    return "ieee"


def _vector(t: torch.Tensor, n: int, name: str, device: torch.device) -> torch.Tensor:
    """A per-sample input as a contiguous [n] tensor on `device`; a single value is broadcast."""
    flat = torch.as_tensor(t, device=device).reshape(-1)
    if flat.numel() == 1 and n != 1:
        flat = flat.expand(n)
    if flat.numel() != n:
        raise KernelError(f"{name} must have one value per sample ({n}), got shape {tuple(t.shape)}")
    return flat.contiguous()


def fused_latent_triton(
    h: torch.Tensor,
    source: torch.Tensor,
    target: torch.Tensor,
    strength: torch.Tensor,
    weights: LatentWeights | PackedLatent,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """params [N, P] in h's dtype; `weights` packed on first use (cached) unless given packed."""
    packed = weights if isinstance(weights, PackedLatent) else packed_latent(weights)
    if h.dim() != 2 or h.shape[1] != packed.features:
        raise KernelError(f"style features must be [N, {packed.features}], got shape {tuple(h.shape)}")
    if h.device != packed.proj_w.device:
        raise KernelError(f"style features are on {h.device} but the latent weights on {packed.proj_w.device}")
    n, p = h.shape[0], packed.params
    source, target = _vector(source, n, "source_domain", h.device), _vector(target, n, "target_domain", h.device)
    if source.dtype.is_floating_point or target.dtype.is_floating_point:
        raise KernelError("source_domain and target_domain must be integer tensors")
    strength = _vector(strength, n, "strength", h.device)
    if out is None:
        out = torch.empty(n, p, dtype=h.dtype, device=h.device)
    elif out.shape != (n, p) or out.dtype != h.dtype or out.stride(1) != 1:
        raise KernelError(f"out must be a row-major [{n}, {p}] {h.dtype} tensor, got {tuple(out.shape)} {out.dtype}")
    if n == 0:
        return out
    grid = (triton.cdiv(n, BLOCK_N), triton.cdiv(p, BLOCK_P))
    _latent_kernel[grid](
        h, source, target, strength, out,
        packed.head_w, packed.head_b, packed.dec_w, packed.dec_b,
        packed.trans_w, packed.trans_b, packed.proj_w, packed.proj_b,
        n, packed.features, packed.head_w.shape[1], p, h.stride(0), h.stride(1), out.stride(0),
        D=packed.num_domains, L_DEC=packed.dec_w.shape[0], L_TR=packed.trans_w.shape[0], W=packed.width,
        BLOCK_N=BLOCK_N, BLOCK_K=packed.block_k, BLOCK_P=BLOCK_P, PRECISION=dot_precision(h.device),
        num_warps=NUM_WARPS,
    )  # fmt: skip
    return out

