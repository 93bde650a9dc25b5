"""One training run's settings, torch-free: the CLI reads its defaults here without importing torch.

`TrainConfig` fields that fix the model and the data order must match on --resume; the compute
fields (device … workers) may change between a run and its resumption.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from l2m_edge.checks import require_number
from l2m_edge.errors import ConfigError
from l2m_edge.limits import MAX_LOADER_WORKERS


@dataclass(frozen=True)
class LossWeights:
    """λ of every term. Defaults are the paper's (adv 1, R1 γ=1, cycle 1, style 1, orth 1)."""

    adv: float = 1.0
    r1: float = 1.0
    cyc: float = 1.0
    sty: float = 1.0
    orth: float = 1.0
    un: float = 0.0
    rec: float = 0.0
    preserve: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            require_number(f"--lambda-{f.name}", getattr(self, f.name), at_least=0)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class TrainConfig:
    """One run, written into its states so that --resume can check what must not change (`identity`)."""

    out: Path
    iters: int = 10_000  # train until this step
    data: str = "synth"
    synth_size: int | None = None  # SynthFaces training faces (None: the data module's default)
    attribute: str = "smile"
    preset: str = "demo"
    batch_size: int = 8  # the global batch: split evenly over the ranks
    seed: int = 0
    lr: float = 1e-4
    lr_d: float | None = None  # None: same as lr
    betas: tuple[float, float] = (0.0, 0.99)
    weight_decay: float = 1e-4
    ema_beta: float = 0.999
    r1_every: int = 1  # lazy R1: the penalty every k-th D step, scaled by k
    orth_kind: str = "elementwise"
    weights: LossWeights = field(default_factory=LossWeights)
    sample_every: int = 500
    save_every: int = 500
    log_every: int = 10
    keep: int = 3
    num_samples: int = 8
    augment: bool = True
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str | None = None  # fp32 | bf16 | fp64; None: bf16 on GPUs that have it, else fp32
    channels_last: bool | None = None  # None: on for CUDA, off on the CPU
    compile: bool = False  # torch.compile the style encoder, generator and discriminator
    workers: int | None = None  # loader processes per rank; None: `default_workers`

    def __post_init__(self) -> None:
        for name in ("iters", "batch_size", "r1_every", "sample_every", "save_every", "log_every", "keep"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be ≥ 1, got {getattr(self, name)}")
        require_number("--lr", self.lr, above=0)
        if self.lr_d is not None:
            require_number("--lr-d", self.lr_d, above=0)
        require_number("--ema", self.ema_beta, at_least=0)
        if not self.ema_beta < 1:
            raise ConfigError(f"ema beta must be in [0, 1), got {self.ema_beta}")
        if self.workers is not None and not 0 <= self.workers <= MAX_LOADER_WORKERS:
            raise ConfigError(f"--workers must be from 0 (0 reads batches in the training process) to {MAX_LOADER_WORKERS}, got {self.workers}")
        if self.synth_size is not None and self.synth_size < 1:
            raise ConfigError(f"--synth-size must be ≥ 1 (omit it for the data module's default), got {self.synth_size}")

    def identity(self) -> dict[str, Any]:
        """What a resumed run must agree on (iters, intervals, loss weights, device and ranks may change)."""
        return {"data": self.data, "synth_size": self.synth_size, "attribute": self.attribute, "preset": self.preset, "batch_size": self.batch_size, "seed": self.seed}

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["out"] = str(self.out)
        return d
