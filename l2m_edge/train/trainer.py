"""The L2M-GAN training loop: alternating D / G steps, EMA editor, samples, logs, resumable saves.

`train(config)` is the one entry point (the CLI only wires to it). A run directory holds
`state_<step>.{safetensors,json}` (last K kept), `editor_last.safetensors` (the EMA editor as a
plain checkpoint for `load_editor`), `samples/step_<step>.png` and `scalars.csv`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch.utils.data import Dataset

from l2m_edge.checkpoint import save_checkpoint
from l2m_edge.checks import require_number
from l2m_edge.config import get_preset
from l2m_edge.errors import CheckpointError, ConfigError, DataError
from l2m_edge.io import check_output_dir, output_lock
from l2m_edge.model import Discriminator, Editor
from l2m_edge.model.editor import default_domains

from .batches import BatchPlan
from .losses import LossWeights, discriminator_loss, edit_forward, generator_loss
from .samples import save_sample_grid
from .scalars import ScalarLog
from .state import TrainingState, capture_rng, load_state, restore_rng, save_state, saved_steps

EDITOR_LAST = "editor_last.safetensors"


@dataclass(frozen=True)
class TrainConfig:
    """One run. Fields that fix the model and the data order must match on --resume."""

    out: Path
    iters: int
    data: str = "synth"
    synth_size: int | None = None  # SynthFaces training faces (None: the data module's default)
    attribute: str = "smile"
    preset: str = "demo"
    batch_size: int = 8
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

    def identity(self) -> dict[str, Any]:
        """What a resumed run must agree on (iters, intervals and loss weights may change)."""
        return {"data": self.data, "synth_size": self.synth_size, "attribute": self.attribute, "preset": self.preset, "batch_size": self.batch_size, "seed": self.seed}

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["out"] = str(self.out)
        return d


@dataclass
class TrainResult:
    step: int
    editor_path: Path
    seconds: float
    last_scalars: dict[str, float]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def default_dataset(config: TrainConfig, img_size: int, split: str) -> Dataset:
    """The project's data loader (folders, attribute files or SynthFaces) for this run."""
    from l2m_edge.data import build_dataset

    return build_dataset(config.data, config.attribute, img_size, split=split, seed=config.seed,
                         augment=config.augment and split == "train", synth_size=config.synth_size if split == "train" else None)


def _item(sample: Any) -> tuple[torch.Tensor, int]:
    if isinstance(sample, dict):
        return sample["image"], int(sample["label"])
    image, label = sample[0], sample[1]
    return image, int(label)


def collate(dataset: Dataset, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    items = [_item(dataset[i]) for i in indices]
    return torch.stack([img for img, _ in items]), torch.tensor([lab for _, lab in items], dtype=torch.long)


def pick_samples(dataset: Dataset, num_domains: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `count` images, balanced over domains as far as the data allows (fixed for a run)."""
    per_domain = max(1, count // num_domains)
    chosen: dict[int, list[int]] = {d: [] for d in range(num_domains)}
    for i in range(min(len(dataset), 50 * count)):
        label = _item(dataset[i])[1]
        if len(chosen[label]) < per_domain:
            chosen[label].append(i)
        if sum(len(v) for v in chosen.values()) >= per_domain * num_domains:
            break
    indices = [i for d in range(num_domains) for i in chosen[d]]
    return collate(dataset, indices)


@torch.no_grad()
def update_ema(ema: Editor, model: Editor, beta: float) -> None:
    for p_ema, p in zip(ema.parameters(), model.parameters()):
        p_ema.lerp_(p, 1.0 - beta)
    for b_ema, b in zip(ema.buffers(), model.buffers()):
        b_ema.copy_(b)


def _domains_of(dataset: Dataset) -> tuple[str, ...] | None:
    domains = getattr(dataset, "domains", None)
    return tuple(domains) if domains is not None else None


class Trainer:
    """Holds the models, optimisers and data order of one run; `run()` trains to `config.iters`."""

    def __init__(
        self,
        config: TrainConfig,
        train_set: Dataset,
        sample_set: Dataset | None = None,
        resume: bool = False,
        console: Console | None = None,
    ) -> None:
        self.config = config
        self.console = console or Console(stderr=True)
        self.out = Path(config.out)
        self.train_set = train_set
        if len(train_set) < config.batch_size:
            raise DataError(f"{len(train_set)} training images cannot fill one batch of {config.batch_size}; add data or lower --batch")
        model_config = get_preset(config.preset)
        domains = _domains_of(train_set) or default_domains(model_config.num_domains)
        model_config = model_config.replace(num_domains=len(domains))
        self.domains = domains
        existing = saved_steps(self.out)
        if existing and not resume:
            raise CheckpointError(f"{self.out} already holds a run (step {existing[-1]}); pass --resume to continue it or choose another --out")

        seed_everything(config.seed)
        self.editor = Editor(model_config, domains, config.attribute).train()
        self.disc = Discriminator(model_config).train()
        self.ema = copy.deepcopy(self.editor).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        lr_d = config.lr if config.lr_d is None else config.lr_d
        self.opt_g = torch.optim.Adam(self.editor.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=lr_d, betas=config.betas, weight_decay=config.weight_decay)
        self.plan = BatchPlan(len(train_set), config.batch_size, config.seed)
        self.samples = pick_samples(sample_set if sample_set is not None else train_set, len(domains), config.num_samples)
        self.step = 0
        self.last_saved = 0
        self.elapsed = 0.0
        if resume:
            self._restore(load_state(self.out))
        # Fresh runs continue from the seeded state; resumed ones from the saved RNG (set in _restore).

    # -- state ------------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        return {"identity": self.config.identity(), "config": self.config.to_json(), "domains": list(self.domains),
                "attribute": self.config.attribute, "elapsed": self.elapsed}

    def _restore(self, state: TrainingState) -> None:
        saved = state.meta.get("identity", {})
        mismatched = {k: (saved.get(k), v) for k, v in self.config.identity().items() if saved.get(k) != v}
        if mismatched:
            detail = ", ".join(f"{k}: saved {a!r} vs now {b!r}" for k, (a, b) in mismatched.items())
            raise CheckpointError(f"{self.out}: cannot resume with different settings ({detail})")
        self.editor.load_state_dict(state.modules["editor"])
        self.ema.load_state_dict(state.modules["ema"])
        self.disc.load_state_dict(state.modules["disc"])
        self.opt_g.load_state_dict(state.optimizers["opt_g"])
        self.opt_d.load_state_dict(state.optimizers["opt_d"])
        for name, opt, lr in (("--lr", self.opt_g, self.config.lr), ("--lr-d", self.opt_d, self.config.lr if self.config.lr_d is None else self.config.lr_d)):
            for group in opt.param_groups:
                if group["lr"] != lr:
                    self.console.print(f"[yellow]note:[/] {name} changed on resume: {group['lr']:g} → {lr:g} (from step {state.step})", highlight=False)
                    break
            for group in opt.param_groups:
                group["lr"] = lr
        self.step = self.last_saved = state.step
        self.elapsed = float(state.meta.get("elapsed", 0.0))
        restore_rng(state.rng)

    def save(self) -> Path:
        """Training state (atomic pair, last K kept) and the EMA editor as a plain checkpoint."""
        for name, module in (("editor", self.editor), ("ema", self.ema), ("disc", self.disc)):
            if not all(bool(torch.isfinite(p).all()) for p in module.parameters()):
                _refuse_divergence(self.step, f"the {name}'s weights", self.config, self.last_saved)
        state = TrainingState(
            step=self.step,
            modules={"editor": self.editor.state_dict(), "ema": self.ema.state_dict(), "disc": self.disc.state_dict()},
            optimizers={"opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict()},
            rng=capture_rng(),
            meta=self._meta(),
        )
        save_state(self.out, state, self.config.keep)
        self.last_saved = self.step
        extra = {"step": self.step, "seed": self.config.seed, "data": self.config.data, "train_seconds": round(self.elapsed, 1),
                 "weights": "ema", "train_config": self.config.to_json()}
        return save_checkpoint(self.ema, self.out / EDITOR_LAST, extra=extra)

    # -- one step ---------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        step = self.step + 1
        x, y_src = collate(self.train_set, self.plan.indices(step))
        y_trg = self.plan.targets(step, y_src, len(self.domains))
        k = self.config.r1_every
        r1_scale = float(k) if step % k == 0 else 0.0
        weights = self.config.weights

        edit = edit_forward(self.editor, x, y_src, y_trg)
        d_loss, d_scalars = discriminator_loss(self.disc, x, y_src, edit.fake, y_trg, weights, r1_scale)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()

        self.disc.requires_grad_(False)
        g_loss, g_scalars = generator_loss(self.editor, self.disc, x, y_trg, edit, weights, self.config.orth_kind)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self.disc.requires_grad_(True)

        update_ema(self.ema, self.editor, self.config.ema_beta)
        self.step = step
        scalars = {**d_scalars, **g_scalars}
        bad = [k for k, v in scalars.items() if not math.isfinite(v)]
        if bad:
            _refuse_divergence(step, f"loss {', '.join(bad)}", self.config, self.last_saved)
        return scalars

    def write_samples(self) -> Path:
        images, sources = self.samples
        targets = (sources + 1) % len(self.domains)  # the other domain (for two domains: 1 − source)
        return save_sample_grid(self.ema, images, sources, targets, self.out / "samples" / f"step_{self.step:08d}.png")

    # -- the loop ---------------------------------------------------------------------------
    def run(self, on_step: Callable[[int], None] | None = None) -> TrainResult:
        """Train to `config.iters`; `on_step(step)` runs after each step (tests stop runs with it)."""
        cfg = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        scalar_names = ["d_real", "d_fake", "d_r1", "d_total", "g_adv", "g_sty", "g_cyc", "g_orth", "g_un", "g_rec", "g_preserve", "g_total"]
        log = ScalarLog(self.out / "scalars.csv", scalar_names, self.step)
        totals: dict[str, float] = {}
        counts: dict[str, int] = {}
        last: dict[str, float] = {}
        start = time.perf_counter() - self.elapsed
        with Progress(
            TextColumn("[bold]train[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), TextColumn("{task.fields[losses]}"), console=self.console, transient=False,
        ) as progress:
            task = progress.add_task("train", total=cfg.iters, completed=self.step, losses="")
            while self.step < cfg.iters:
                scalars = self.train_step()
                self.elapsed = time.perf_counter() - start
                for k, v in scalars.items():
                    totals[k] = totals.get(k, 0.0) + v
                    counts[k] = counts.get(k, 0) + 1
                if self.step % cfg.log_every == 0 or self.step == cfg.iters:
                    last = {k: totals[k] / counts[k] for k in totals}
                    log.write(self.step, self.elapsed, last)
                    summary = " ".join(f"{k}={last[k]:.3f}" for k in ("d_total", "g_adv", "g_cyc", "g_sty") if k in last)
                    progress.update(task, losses=summary)
                    if not self.console.is_terminal:
                        self.console.print(f"step {self.step}/{cfg.iters} {self.elapsed:.0f}s {summary}", highlight=False)
                    totals, counts = {}, {}
                progress.update(task, completed=self.step)
                if self.step % cfg.sample_every == 0 or self.step == cfg.iters:
                    self.write_samples()
                if self.step % cfg.save_every == 0 or self.step == cfg.iters:
                    self.save()
                if on_step is not None:
                    on_step(self.step)
        return TrainResult(step=self.step, editor_path=self.out / EDITOR_LAST, seconds=self.elapsed, last_scalars=last)


def train(config: TrainConfig, resume: bool = False, train_set: Dataset | None = None, sample_set: Dataset | None = None,
          console: Console | None = None) -> TrainResult:
    """Build the data (unless given), the models and optimisers, resume if asked, and train."""
    check_output_dir(config.out)
    with output_lock(config.out, inside=True):  # one writer per run directory
        img_size = get_preset(config.preset).img_size
        if train_set is None:
            train_set = default_dataset(config, img_size, "train")
            if sample_set is None:
                try:
                    sample_set = default_dataset(config, img_size, "val")
                except DataError:
                    sample_set = None  # no held-out split: samples come from the training images
        return Trainer(config, train_set, sample_set, resume=resume, console=console).run()


def _refuse_divergence(step: int, what: str, config: TrainConfig, last_saved: int) -> None:
    """Stop with one line when a loss or a weight went non-finite: nothing is saved from it."""
    since = f"the last saved state is step {last_saved}; resume from it with a lower --lr" if last_saved else "nothing was saved"
    raise ConfigError(f"training diverged at step {step}: {what} not finite (lr {config.lr:g}); stopped, {since}")
