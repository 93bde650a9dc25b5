"""Triton kernel for instance norm + AdaIN modulation + LeakyReLU over an [N, C, H, W] map.

One program per (n, c) row of H·W contiguous values; statistics in fp32 whatever the input.
- Rows of up to SINGLE_MAX values (every decoder map up to 128² in the presets) are held in
  registers: one read, exact two-pass mean/variance on the registers, one write — 2 memory
  passes, the minimum.
- Longer rows (256² maps) stream through in BLOCK-sized chunks: the statistics combine chunk
  means and centred sums of squares with Chan's formula (stable: no E[x²] − E[x]² cancellation),
  then a second sweep normalises and writes. It runs the chunks backwards, so the ones most
  recently read come first, while they are still in L2: between 2 and 3 memory passes.
Any H·W works: the tail chunk is masked.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from l2m_edge.errors import KernelError

from .packing import next_pow2

SINGLE_MAX = 16384  # fp32 values per row kept in registers: 32 per thread at 16 warps
BLOCK = 4096  # chunk of a streamed row
STREAM_WARPS = 8


@triton.jit
def _adain_kernel(
    x_ptr, gamma_ptr, beta_ptr, out_ptr,
    C, HW, stride_gn, stride_gc, stride_bn, stride_bc, eps, negative_slope,
    BLOCK: tl.constexpr, SINGLE: tl.constexpr,
):  # fmt: skip
    row = tl.program_id(0)
    n = row // C
    c = row % C
    base = row.to(tl.int64) * HW
    gamma = tl.load(gamma_ptr + n * stride_gn + c * stride_gc).to(tl.float32)
    beta = tl.load(beta_ptr + n * stride_bn + c * stride_bc).to(tl.float32)
    offs = tl.arange(0, BLOCK)

    if SINGLE:
        mask = offs < HW
        x = tl.load(x_ptr + base + offs, mask=mask, other=0.0).to(tl.float32)
        mean = tl.sum(x, axis=0) / HW
        centred = tl.where(mask, x - mean, 0.0)
        var = tl.sum(centred * centred, axis=0) / HW
        y = centred * ((1.0 + gamma) * tl.rsqrt(var + eps)) + beta
        y = tl.where(y >= 0.0, y, y * negative_slope)
        tl.store(out_ptr + base + offs, y.to(out_ptr.dtype.element_ty), mask=mask)
    else:
        count = 0.0
        mean = 0.0
        m2 = 0.0
        for start in range(0, HW, BLOCK):
            mask = start + offs < HW
            x = tl.load(x_ptr + base + start + offs, mask=mask, other=0.0).to(tl.float32)
            chunk = tl.minimum(HW - start, BLOCK).to(tl.float32)
            chunk_mean = tl.sum(x, axis=0) / chunk
            centred = tl.where(mask, x - chunk_mean, 0.0)
            chunk_m2 = tl.sum(centred * centred, axis=0)
            total = count + chunk
            delta = chunk_mean - mean
            mean += delta * (chunk / total)
            m2 += chunk_m2 + delta * delta * (count * chunk / total)
            count = total
        scale = (1.0 + gamma) * tl.rsqrt(m2 / HW + eps)
        shift = beta - mean * scale
        chunks = tl.cdiv(HW, BLOCK)
        for i in range(chunks):
            start = (chunks - 1 - i) * BLOCK
            mask = start + offs < HW
            x = tl.load(x_ptr + base + start + offs, mask=mask, other=0.0).to(tl.float32)
            y = x * scale + shift
            y = tl.where(y >= 0.0, y, y * negative_slope)
            tl.store(out_ptr + base + start + offs, y.to(out_ptr.dtype.element_ty), mask=mask)


def launch_config(hw: int) -> tuple[int, bool, int]:
    """(BLOCK, SINGLE, num_warps) for rows of `hw` values."""
    if hw <= SINGLE_MAX:
        block = max(128, next_pow2(hw))
        return block, True, min(16, max(1, block // 512))
    return BLOCK, False, STREAM_WARPS


def fused_adain_triton(
    x: torch.Tensor,
    gamma: torch.Tensor,
    beta: torch.Tensor,
    eps: float = 1e-5,
    negative_slope: float = 0.2,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """y [N,C,H,W] in x's dtype; gamma/beta [N,C] of any strides (slices of the packed params)."""
    if x.dim() != 4:
        raise KernelError(f"fused_adain takes an [N, C, H, W] map, got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    for name, t in (("gamma", gamma), ("beta", beta)):
        if t.shape != (n, c):
            raise KernelError(f"{name} must be [{n}, {c}] for a map of shape {tuple(x.shape)}, got {tuple(t.shape)}")
        if t.device != x.device:
            raise KernelError(f"{name} is on {t.device} but the map on {x.device}")
    x = x.contiguous()
    if out is None:
        out = torch.empty_like(x)
    elif out.shape != x.shape or out.dtype != x.dtype or not out.is_contiguous():
        raise KernelError(f"out must be a contiguous {tuple(x.shape)} {x.dtype} tensor")
    if x.numel() == 0:
        return out
    block, single, num_warps = launch_config(h * w)
    _adain_kernel[(n * c,)](
        x, gamma, beta, out,
        c, h * w, gamma.stride(0), gamma.stride(1), beta.stride(0), beta.stride(1), eps, negative_slope,
        BLOCK=block, SINGLE=single, num_warps=num_warps,
    )  # fmt: skip
    return out
