"""The L2M-GAN training loop: alternating D / G steps, EMA editor, samples, logs, resumable saves.

`train(config)` is the one entry point (the CLI only wires to it); under torchrun it runs data
parallel (see `distributed.py`), with `config.batch_size` the global batch. A run directory holds
`state_<step>.{safetensors,json}` (last K kept), `editor_last.safetensors` (the EMA editor as a
plain checkpoint for `load_editor`), `samples/step_<step>.png` and `scalars.csv`; rank 0 alone
writes them, draws the progress bar and prints.
"""

from __future__ import annotations

import contextlib
import copy
import math
import random
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch.utils.data import Dataset

from l2m_edge.checkpoint import save_checkpoint
from l2m_edge.config import preset_from_spec
from l2m_edge.errors import CheckpointError, ConfigError, DataError, DivergedError, L2MError, PeerError
from l2m_edge.io import check_output_dir, output_lock
from l2m_edge.model import Discriminator, Editor
from l2m_edge.model.editor import default_domains
from l2m_edge.training_config import TrainConfig

from .batches import BatchPlan
from .compute import Compute, Networks, resolve_device
from .distributed import World
from .loader import Batch, default_workers, item_of, plan_loader
from .losses import discriminator_loss, edit_forward, generator_loss
from .face_masks import sample_masks, with_masks
from .samples import save_sample_grid
from .scalars import ScalarLog
from .state import TrainingState, capture_rng, load_state, restore_rng, save_state, saved_steps

EDITOR_LAST = "editor_last.safetensors"
SCALARS = ("d_real", "d_fake", "d_r1", "d_total", "g_adv", "g_sty", "g_cyc", "g_orth", "g_un", "g_rec", "g_preserve", "g_total")


@dataclass
class TrainResult:
    step: int
    editor_path: Path
    seconds: float
    last_scalars: dict[str, float]
    rank: int = 0  # the CLI reports from rank 0 only


def resolve_compute(config: TrainConfig, world: World) -> Compute:
    """This rank's device and the per-device defaults of precision and memory format."""
    device = resolve_device(config.device, world.local_rank, world.size)
    return Compute.resolve(device, config.precision, config.channels_last, config.compile)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def default_dataset(config: TrainConfig, img_size: int, split: str) -> Dataset:
    """The project's data loader (folders, attribute files or SynthFaces) for this run."""
    from l2m_edge.data import build_dataset

    return build_dataset(config.data, config.attribute, img_size, split=split, seed=config.seed,
                         augment=config.augment and split == "train", synth_size=config.synth_size if split == "train" else None)


def collate(dataset: Dataset, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    items = [item_of(dataset[i]) for i in indices]
    return torch.stack([img for img, _ in items]), torch.tensor([lab for _, lab in items], dtype=torch.long)


def pick_samples(dataset: Dataset, num_domains: int, count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The first `count` images, balanced over domains as far as the data allows (fixed for a run)."""
    per_domain = max(1, count // num_domains)
    chosen: dict[int, list[int]] = {d: [] for d in range(num_domains)}
    for i in range(min(len(dataset), 50 * count)):
        label = item_of(dataset[i])[1]
        if len(chosen[label]) < per_domain:
            chosen[label].append(i)
        if sum(len(v) for v in chosen.values()) >= per_domain * num_domains:
            break
    indices = [i for d in range(num_domains) for i in chosen[d]]
    return (*collate(dataset, indices), sample_masks(dataset, indices))


@torch.no_grad()
def update_ema(ema: Editor, model: Editor, beta: float) -> None:
    """ema ← ema + (1 − β)(model − ema), every parameter in one fused call (timm's ModelEmaV3 way)."""
    torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1.0 - beta)
    for b_ema, b in zip(ema.buffers(), model.buffers()):
        b_ema.copy_(b)


def _domains_of(dataset: Dataset) -> tuple[str, ...] | None:
    domains = getattr(dataset, "domains", None)
    return tuple(domains) if domains is not None else None


class Trainer:
    """Holds the models, optimisers and data order of one run (this rank's part of it);
    `run()` trains to `config.iters`."""

    def __init__(
        self,
        config: TrainConfig,
        train_set: Dataset,
        sample_set: Dataset | None = None,
        resume: bool = False,
        console: Console | None = None,
        world: World | None = None,
        compute: Compute | None = None,
    ) -> None:
        self.config = config
        self.world = world or World()
        self.world.check_batch(config.batch_size)
        self.compute = compute or resolve_compute(config, self.world)
        self.device = self.compute.device
        self.console = (console or Console(stderr=True)) if self.world.is_main else Console(quiet=True)
        self.out = Path(config.out)
        self.workers = config.workers if config.workers is not None else default_workers(self.device, self.world.local_size)
        model_config = preset_from_spec(config.preset)
        domains = _domains_of(train_set) or default_domains(model_config.num_domains)
        model_config = model_config.replace(num_domains=len(domains))
        self.train_set = train_set = with_masks(train_set, model_config, self.console)  # type: ignore[assignment]
        sample_set = with_masks(sample_set, model_config, self.console)
        if len(train_set) < config.batch_size:
            raise DataError(f"{len(train_set)} training images cannot fill one batch of {config.batch_size}; add data or lower --batch")
        self.domains = domains
        existing = saved_steps(self.out)
        if existing and not resume:
            raise CheckpointError(f"{self.out} already holds a run (step {existing[-1]}); pass --resume to continue it or choose another --out")

        seed_everything(config.seed)  # every rank builds the same initial weights
        self.editor = Editor(model_config, domains, config.attribute).train()
        self.disc = Discriminator(model_config).train()
        self.compute.place(self.editor)
        self.compute.place(self.disc)
        self.ema = copy.deepcopy(self.editor).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        lr_d = config.lr if config.lr_d is None else config.lr_d
        self.opt_g = torch.optim.Adam(self.editor.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=lr_d, betas=config.betas, weight_decay=config.weight_decay)
        self.nets = Networks.build(self.editor, self.disc, self.compute)
        self.plan = BatchPlan(len(train_set), config.batch_size, config.seed)
        self.samples = (pick_samples(sample_set if sample_set is not None else train_set, len(domains), config.num_samples)
                        if self.world.is_main else None)
        self.step = 0
        self.last_saved = 0
        self.elapsed = 0.0
        if resume:
            self._restore(load_state(self.out))
        # Fresh runs continue from the seeded state; resumed ones from the saved RNG (set in _restore).

    # -- state ------------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        return {"identity": self.config.identity(), "config": self.config.to_json(), "domains": list(self.domains),
                "attribute": self.config.attribute, "elapsed": self.elapsed, "world_size": self.world.size,
                "compute": self.compute.describe()}

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

    # -- data -------------------------------------------------------------------------------
    def batches(self, last: int | None = None) -> Iterator[Batch]:
        """This rank's batches of steps step+1 … last (default config.iters), on the device."""
        loader = plan_loader(self.train_set, self.plan, len(self.domains), self.step + 1, last or self.config.iters,
                             rank=self.world.rank, world_size=self.world.size, workers=self.workers,
                             pin_memory=self.device.type == "cuda")
        for step, batch in enumerate(loader, start=self.step + 1):
            yield batch.checked(step).to(self.device, self.compute.dtype, self.compute.channels_last)

    # -- one step ---------------------------------------------------------------------------
    def train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One D and one G update on this rank's part of the global batch; the losses' values as
        detached tensors on the device (read them at log time: each read waits for the device)."""
        step = self.step + 1
        x, y_src, y_trg, masks = batch
        k = self.config.r1_every
        r1_scale = float(k) if step % k == 0 else 0.0
        weights = self.config.weights

        edit = edit_forward(self.nets, x, y_src, y_trg, masks)
        d_loss, d_scalars = discriminator_loss(self.nets, x, y_src, edit.fake, y_trg, weights, r1_scale)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.world.average_gradients(self.disc.parameters())
        self.opt_d.step()

        self.disc.requires_grad_(False)
        g_loss, g_scalars = generator_loss(self.nets, x, y_trg, edit, weights, self.config.orth_kind)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.world.average_gradients(self.editor.parameters())
        self.opt_g.step()
        self.disc.requires_grad_(True)

        update_ema(self.ema, self.editor, self.config.ema_beta)
        self.step = step
        return {**d_scalars, **g_scalars}

    def write_samples(self) -> Path:
        assert self.samples is not None, "samples are drawn by rank 0 only"
        images, sources = self.samples[0].to(self.device, self.compute.dtype), self.samples[1].to(self.device)
        masks = None if self.samples[2] is None else self.samples[2].to(self.device, self.compute.dtype)
        targets = (sources + 1) % len(self.domains)  # the other domain (for two domains: 1 − source)
        return save_sample_grid(self.ema, images, sources, targets, self.out / "samples" / f"step_{self.step:08d}.png", masks)

    # -- the loop ---------------------------------------------------------------------------
    def run(self, on_step: Callable[[int], None] | None = None) -> TrainResult:
        """Train to `config.iters`; `on_step(step)` runs after each step (tests stop runs with it)."""
        cfg = self.config
        main = self.world.is_main
        if main:
            self.out.mkdir(parents=True, exist_ok=True)
        log = ScalarLog(self.out / "scalars.csv", list(SCALARS), self.step) if main else None
        totals: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}
        last: dict[str, float] = {}
        start = time.perf_counter() - self.elapsed
        with Progress(
            TextColumn("[bold]train[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), TextColumn("{task.fields[losses]}"), console=self.console, transient=False, disable=not main,
        ) as progress:
            task = progress.add_task("train", total=cfg.iters, completed=self.step, losses="")
            for batch in self.batches():
                scalars = self.train_step(batch)
                self.elapsed = time.perf_counter() - start
                for k, v in scalars.items():
                    totals[k] = totals[k] + v if k in totals else v
                    counts[k] = counts.get(k, 0) + 1
                if self.step % cfg.log_every == 0 or self.step == cfg.iters:
                    last = self._global_means(totals, counts)
                    diverged = [k for k, v in last.items() if not math.isfinite(v)]
                    if diverged:  # checked where the losses are read anyway: no extra device sync per step
                        _refuse_divergence(self.step, f"loss {', '.join(diverged)}", self.config, self.last_saved)
                    summary = " ".join(f"{k}={last[k]:.3f}" for k in ("d_total", "g_adv", "g_cyc", "g_sty") if k in last)
                    if log is not None:
                        log.write(self.step, self.elapsed, last)
                    progress.update(task, losses=summary)
                    if main and not self.console.is_terminal:
                        self.console.print(f"step {self.step}/{cfg.iters} {self.elapsed:.0f}s {summary}", highlight=False)
                    totals, counts = {}, {}
                progress.update(task, completed=self.step)
                if main and (self.step % cfg.sample_every == 0 or self.step == cfg.iters):
                    self.write_samples()
                if main and (self.step % cfg.save_every == 0 or self.step == cfg.iters):
                    self.save()
                if on_step is not None:
                    on_step(self.step)
        return TrainResult(step=self.step, editor_path=self.out / EDITOR_LAST, seconds=self.elapsed, last_scalars=last, rank=self.world.rank)

    def _global_means(self, totals: dict[str, torch.Tensor], counts: dict[str, int]) -> dict[str, float]:
        """Each loss averaged over the interval's steps and over the ranks (one all_reduce, one device read)."""
        names = sorted(totals)
        means = torch.stack([totals[k].float() / counts[k] for k in names])
        return dict(zip(names, self.world.mean(means).tolist()))


def train(config: TrainConfig, resume: bool = False, train_set: Dataset | None = None, sample_set: Dataset | None = None,
          console: Console | None = None) -> TrainResult:
    """Build the data (unless given), the models and optimisers, resume if asked, and train.

    Under torchrun this is one rank of a data-parallel run. Errors every rank meets alike (a bad
    option, a batch the ranks cannot split, a divergence, met by all at the same step) are said by
    rank 0 alone. Any other error of one rank during training names the rank. Rank 0, the one
    that writes, holds the run directory's lock: a second training into it is refused.
    """
    world = World.from_environment()
    if not world.is_main:
        warnings.simplefilter("ignore")  # other ranks print nothing
    lock = contextlib.ExitStack()
    try:
        compute = resolve_compute(config, world)
        if world.is_main:
            lock.enter_context(output_lock(check_output_dir(config.out), inside=True))
        img_size = preset_from_spec(config.preset).img_size
        if train_set is None:
            train_set = default_dataset(config, img_size, "train")
            if sample_set is None and world.is_main:
                try:
                    sample_set = default_dataset(config, img_size, "val")
                except DataError:
                    sample_set = None  # no held-out split: samples come from the training images
        world.start(compute.device)
        trainer = Trainer(config, train_set, sample_set, resume=resume, console=console, world=world, compute=compute)
    except L2MError as exc:
        world.stop()
        lock.close()
        raise _said_once(world, exc) from None
    try:
        return trainer.run()
    except DivergedError as exc:  # met alike by every rank
        raise _said_once(world, exc) from None
    except L2MError as exc:
        raise type(exc)(f"rank {world.rank}: {exc}" if world.distributed else str(exc)) from None
    except torch.distributed.DistError:
        raise PeerError(f"rank {world.rank}: lost the other ranks (one of them failed and says why)") from None
    except torch.OutOfMemoryError:
        raise ConfigError(f"{'rank ' + str(world.rank) + ': ' if world.distributed else ''}out of memory on {compute.device} "
                          f"at step {trainer.step + 1} with {config.batch_size // world.size} images per rank; lower --batch, "
                          "use --precision bf16 or more ranks") from None
    finally:
        world.stop()
        lock.close()


def _said_once(world: World, exc: L2MError) -> L2MError:
    """An error every rank meets alike, as this rank raises it: rank 0 says it, the others stop with a silent PeerError."""
    return exc if world.is_main else PeerError(f"rank {world.rank}: stopped with rank 0 ({exc})")


def _refuse_divergence(step: int, what: str, config: TrainConfig, last_saved: int) -> None:
    """Stop with one line when a loss or a weight went non-finite: nothing is saved from it."""
    since = f"the last saved state is step {last_saved}; resume from it with a lower --lr" if last_saved else "nothing was saved"
    raise DivergedError(f"training diverged at step {step}: {what} not finite (lr {config.lr:g}); stopped, {since}")
