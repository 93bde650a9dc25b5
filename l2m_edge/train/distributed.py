"""Data parallel training over torch.distributed (started by torchrun; NCCL on GPUs, gloo on CPUs).

Every rank holds the full models and computes the losses of its slice of the global batch; after
each backward the gradients are averaged over ranks with one all_reduce of their flattened
concatenation, so every rank takes the same optimiser step and the models never drift apart.

Why not DistributedDataParallel: its reducer hooks fire only for backwards that follow the
wrapper's own forward, while an L2M-GAN step calls the style encoder, the generator and the
discriminator piecewise, freezes D during the generator step and differentiates D's gradient for
R1 (a double backward DDP does not support). StyleGAN2-ADA and StyleGAN3 synchronise their GANs
the same way, with one all_reduce of the flattened gradients per optimiser step.
"""

from __future__ import annotations

import datetime
import os
import signal
import sys
from dataclasses import dataclass
from typing import Iterable

import torch
import torch.distributed as dist
from torch import nn

from l2m_edge.errors import ConfigError

TIMEOUT = datetime.timedelta(minutes=10)  # a rank that waits longer than this for the others gives up


def _die_with_launcher() -> None:
    """Ask Linux to SIGKILL this rank when torchrun dies.

    torchrun starts every rank in a session of its own, so a torchrun killed with SIGKILL (a
    scheduler's timeout, an OOM kill) would leave its ranks training on as orphans, writing
    states and holding GPUs. Elsewhere than Linux this is a no-op.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() == 1:  # the launcher died before the request took effect
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class World:
    """This process's place among the ranks torchrun started (rank 0 of 1 without torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @classmethod
    def from_environment(cls) -> World:
        """Read torchrun's RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE."""
        env = os.environ
        try:
            size = int(env.get("WORLD_SIZE", "1"))
            rank = int(env.get("RANK", "0"))
            return cls(rank, size, int(env.get("LOCAL_RANK", "0")), int(env.get("LOCAL_WORLD_SIZE", str(size))))
        except ValueError:
            raise ConfigError("RANK/WORLD_SIZE/LOCAL_RANK are not integers; start several ranks with torchrun") from None

    def check_batch(self, batch_size: int) -> None:
        if batch_size % self.size:
            lower, upper = batch_size - batch_size % self.size, batch_size + self.size - batch_size % self.size
            raise ConfigError(f"--batch {batch_size} is the global batch and {self.size} ranks cannot split it evenly; "
                              f"use a multiple of {self.size} (e.g. {lower or upper} or {upper}) or another number of ranks")

    def start(self, device: torch.device) -> None:
        """Join the process group (NCCL for CUDA, gloo for the CPU); a no-op for one rank."""
        if not self.distributed or dist.is_initialized():
            return
        _die_with_launcher()
        if device.type == "cuda":
            torch.cuda.set_device(device)
            dist.init_process_group("nccl", timeout=TIMEOUT, device_id=device)
        else:
            dist.init_process_group("gloo", timeout=TIMEOUT)

    def stop(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()

    # -- collectives ---------------------------------------------------------------------
    def average_gradients(self, params: Iterable[nn.Parameter]) -> None:
        """Replace every gradient by its mean over ranks (one all_reduce; a missing grad counts as 0)."""
        if not self.distributed:
            return
        params = [p for p in params if p.requires_grad]
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        dist.all_reduce(flat)
        flat.div_(self.size)
        offset = 0
        for p in params:
            n = p.numel()
            p.grad.copy_(flat[offset : offset + n].view_as(p.grad))
            offset += n

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The element-wise mean of `values` over ranks."""
        if not self.distributed:
            return values
        values = values.clone()
        dist.all_reduce(values)
        return values / self.size

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        if not self.distributed:
            return values
        values = values.clone()
        dist.all_reduce(values)
        return values

    def max(self, values: torch.Tensor) -> torch.Tensor:
        if not self.distributed:
            return values
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.MAX)
        return values
