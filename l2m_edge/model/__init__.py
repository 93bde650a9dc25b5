"""L2M-GAN on a StarGAN v2 backbone."""

from .discriminator import Discriminator
from .editor import Editor, build_editor
from .generator import Generator
from .losses import orthogonality_loss
from .style import AttributeTransformer, Decomposer, StyleEncoder

__all__ = [
    "AttributeTransformer",
    "Decomposer",
    "Discriminator",
    "Editor",
    "Generator",
    "StyleEncoder",
    "build_editor",
    "orthogonality_loss",
]
