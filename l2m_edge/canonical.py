"""Face framings: where a model expects the five landmarks in its crop.

`canonical` is the framing shared by SynthFaces and our trained models; `celeba-hq` is the one
the official L2M-GAN / StarGAN v2 weights were trained on. A checkpoint records its framing and
the runtime aligns faces to it.

Five landmarks in crop coordinates (fractions of the side, image-left first), placed as in
FFHQ / CelebA-HQ aligned crops: eyes on one horizontal line a little above the middle, the
mouth at about 70 % of the height. SynthFaces draws every face with its landmarks here
(plus pose jitter), and the runtime warps real faces so that their landmarks land here, so a
model trained on either sees faces framed the same way.
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError

CANONICAL_LANDMARKS = np.array(
    [
        [0.385, 0.470],  # eye centre, image left
        [0.615, 0.470],  # eye centre, image right
        [0.500, 0.585],  # nose tip
        [0.410, 0.700],  # mouth corner, image left
        [0.590, 0.700],  # mouth corner, image right
    ],
    dtype=np.float32,
)


def canonical_landmarks(size: int) -> np.ndarray:
    """The five canonical landmarks in pixels of a `size`×`size` crop, shape [5, 2]."""
    return CANONICAL_LANDMARKS * size


# CelebA-HQ (Karras et al. 2018, the crop StarGAN v2's CelebA-HQ images come from): a square of side
# 2·max(2·|eye→eye|, 1.8·|eye→mouth|) centred 0.1·(eye→mouth) below the eye midpoint. With CelebA's
# mean five points the eye distance decides, giving these positions (fractions of the side).
CELEBA_HQ_LANDMARKS = np.array(
    [
        [0.375, 0.474],  # eye centre, image left
        [0.625, 0.474],  # eye centre, image right
        [0.500, 0.608],  # nose tip
        [0.401, 0.737],  # mouth corner, image left
        [0.599, 0.737],  # mouth corner, image right
    ],
    dtype=np.float32,
)

FRAMINGS = {"canonical": CANONICAL_LANDMARKS, "celeba-hq": CELEBA_HQ_LANDMARKS}
DEFAULT_FRAMING = "canonical"


def check_framing(framing: str) -> str:
    if framing not in FRAMINGS:
        raise ConfigError(f"unknown face framing {framing!r}; choose one of {', '.join(FRAMINGS)}")
    return framing


def framing_landmarks(framing: str, size: int) -> np.ndarray:
    """The five landmarks of `framing` in pixels of a `size`×`size` crop, shape [5, 2]."""
    return FRAMINGS[check_framing(framing)] * size
