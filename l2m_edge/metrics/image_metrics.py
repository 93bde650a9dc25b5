"""Pure image and latent metrics on images in [−1, 1] (data range 2).

Masks select the pixels a metric looks at (True = counted). For irrelevance preservation the
mask is the complement of the attribute's region, so a perfect edit scores PSNR = inf and
SSIM = 1 there whatever it does inside the region.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.ndimage import binary_erosion
from skimage.metrics import structural_similarity

DATA_RANGE = 2.0  # images live in [−1, 1]
SSIM_WINDOW = 7  # skimage's default Gaussian-free 7×7 window


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape or a.dim() != 3:
        raise ValueError(f"expected two images [C,H,W] of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def _check_mask(mask: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    if mask.shape != image.shape[-2:]:
        raise ValueError(f"mask {tuple(mask.shape)} does not match image {tuple(image.shape[-2:])}")
    return mask.to(torch.bool)


def psnr_from_mse(mse: float, data_range: float = DATA_RANGE) -> float:
    """PSNR in dB; identical images give inf."""
    return math.inf if mse <= 0 else 10.0 * math.log10(data_range**2 / mse)


def masked_mse(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Mean squared error over the masked pixels of every channel of two [C,H,W] images."""
    _check_pair(a, b)
    diff = (a.double() - b.double()) ** 2
    if mask is None:
        return float(diff.mean())
    mask = _check_mask(mask, a)
    if not bool(mask.any()):
        raise ValueError("the mask selects no pixel")
    return float(diff[:, mask].mean())


def masked_psnr(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None, data_range: float = DATA_RANGE) -> float:
    """PSNR of two [C,H,W] images over the masked pixels (all pixels without a mask)."""
    return psnr_from_mse(masked_mse(a, b, mask), data_range)


def masked_ssim(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None, data_range: float = DATA_RANGE) -> float:
    """Mean SSIM over the masked pixels whose whole 7×7 window lies inside the mask.

    Eroding the mask by the window keeps pixels of the excluded region (and the image border,
    which skimage also leaves out of its mean) from leaking into the score.
    """
    _check_pair(a, b)
    x = a.detach().double().permute(1, 2, 0).cpu().numpy()
    y = b.detach().double().permute(1, 2, 0).cpu().numpy()
    _, ssim_map = structural_similarity(x, y, channel_axis=-1, data_range=data_range, win_size=SSIM_WINDOW, full=True)
    keep = np.ones(x.shape[:2], dtype=bool) if mask is None else _check_mask(mask, a).cpu().numpy()
    keep = binary_erosion(keep, structure=np.ones((SSIM_WINDOW, SSIM_WINDOW), dtype=bool), border_value=0)
    if not keep.any():
        raise ValueError(f"the mask holds no {SSIM_WINDOW}×{SSIM_WINDOW} window of pixels; SSIM is undefined there")
    return float(ssim_map[keep].mean())


def mean_abs_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image L1 error of two batches [N,C,H,W] → [N]."""
    return (a - b).abs().flatten(1).mean(1)


def batch_psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = DATA_RANGE) -> torch.Tensor:
    """Per-image PSNR over all pixels of two batches [N,C,H,W] → [N] (inf where identical)."""
    mse = ((a.double() - b.double()) ** 2).flatten(1).mean(1)
    return 10.0 * torch.log10(data_range**2 / mse)


def cosine_similarity(u: torch.Tensor, v: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Row-wise cosine similarity of two [N,D] code batches → [N]."""
    return torch.nn.functional.cosine_similarity(u, v, dim=1, eps=eps)
