"""Fused kernels for the editor's hot paths, each beside its plain PyTorch reference.

`fused_adain` and `fused_latent` take `impl="auto"|"triton"|"reference"`; "auto" runs the
Triton kernel on CUDA tensors outside export and the reference everywhere else.
`L2M_EDGE_KERNELS=triton|reference|auto` overrides the default for the whole process.
"""

from .adain import fused_adain, fused_adain_reference
from .dispatch import active_impl, describe_kernels
from .latent import alpha_mix, fused_latent, fused_latent_reference
from .latent_weights import LatentWeights
from .packing import PackedLatent, clear_latent_cache, pack_latent_weights

__all__ = [
    "LatentWeights",
    "PackedLatent",
    "active_impl",
    "alpha_mix",
    "clear_latent_cache",
    "describe_kernels",
    "fused_adain",
    "fused_adain_reference",
    "fused_latent",
    "fused_latent_reference",
    "pack_latent_weights",
]
