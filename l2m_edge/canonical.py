"""The canonical face framing shared by SynthFaces and the runtime's alignment.

Five landmarks in crop coordinates (fractions of the side, image-left first), placed as in
FFHQ / CelebA-HQ aligned crops: eyes on one horizontal line a little above the middle, the
mouth at about 70 % of the height. SynthFaces draws every face with its landmarks here
(plus pose jitter), and the runtime warps real faces so that their landmarks land here, so a
model trained on either sees faces framed the same way.
"""

from __future__ import annotations

import numpy as np

LANDMARK_NAMES = ("eye_left", "eye_right", "nose", "mouth_left", "mouth_right")

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
