"""L2M-GAN training: losses, resumable state, the loop."""

from l2m_edge.training_config import LossWeights, TrainConfig

from .losses import EditForward, discriminator_loss, edit_forward, generator_loss, r1_penalty
from .state import TrainingState, load_state, save_state, saved_steps
from .trainer import EDITOR_LAST, Trainer, TrainResult, train

__all__ = [
    "EDITOR_LAST",
    "EditForward",
    "LossWeights",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingState",
    "discriminator_loss",
    "edit_forward",
    "generator_loss",
    "load_state",
    "r1_penalty",
    "save_state",
    "saved_steps",
    "train",
]
