"""The data order as a pure function of (seed, step): what makes a resumed run see the same batches.

Epoch e visits the training set in the permutation drawn from a generator seeded with (seed, e);
step k (1-based) takes the (k−1)-th full global batch of that order (the last partial batch is
dropped). Position p of step k is global sample number (k−1)·B + p; every random draw made for a
sample (its augmentation, its target domain when there are more than two) comes from generators
seeded with (seed, stream, that number). Nothing here carries state between steps and nothing
depends on the rank, the number of ranks or the number of loader workers, so a run on 2 ranks
sees exactly the samples of a run on 1, and either can resume the other.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

_EPOCH_STREAM = 0x5EED_0001
_TARGET_STREAM = 0x5EED_0002
_AUGMENT_STREAM = 0x5EED_0003


def _seed_of(seed: int, stream: int, index: int) -> int:
    return (seed * 1_000_003 + stream * 7_919 + index) % (2**63 - 1)


def _generator(seed: int, stream: int, index: int) -> torch.Generator:
    return torch.Generator().manual_seed(_seed_of(seed, stream, index))


class SampleKey(NamedTuple):
    """One sample of one step: which dataset item, and its global number (the seed of its draws)."""

    step: int
    number: int  # (step − 1) · global batch + position in the global batch
    index: int  # dataset index


class BatchPlan:
    def __init__(self, num_samples: int, batch_size: int, seed: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch size must be ≥ 1, got {batch_size}")
        if num_samples < batch_size:
            raise ValueError(f"{num_samples} training samples cannot fill one batch of {batch_size}")
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.seed = seed
        self.batches_per_epoch = num_samples // batch_size
        self._cached: tuple[int, torch.Tensor] | None = None

    def epoch_of(self, step: int) -> int:
        return (step - 1) // self.batches_per_epoch

    def _permutation(self, epoch: int) -> torch.Tensor:
        if self._cached is None or self._cached[0] != epoch:
            self._cached = (epoch, torch.randperm(self.num_samples, generator=_generator(self.seed, _EPOCH_STREAM, epoch)))
        return self._cached[1]

    def indices(self, step: int) -> list[int]:
        """Dataset indices of the global batch of step `step` (1-based)."""
        if step < 1:
            raise ValueError(f"steps count from 1, got {step}")
        position = (step - 1) % self.batches_per_epoch
        order = self._permutation(self.epoch_of(step))
        return order[position * self.batch_size : (position + 1) * self.batch_size].tolist()

    def shard(self, step: int, rank: int = 0, world_size: int = 1) -> list[SampleKey]:
        """Rank `rank`'s contiguous slice of step `step`'s global batch (world_size divides the batch)."""
        if self.batch_size % world_size:
            raise ValueError(f"{world_size} ranks cannot split a global batch of {self.batch_size}")
        per_rank = self.batch_size // world_size
        first = (step - 1) * self.batch_size
        indices = self.indices(step)
        return [SampleKey(step, first + p, indices[p]) for p in range(rank * per_rank, (rank + 1) * per_rank)]

    def augment_seed(self, number: int) -> int:
        """Seed of the augmentation draws of global sample `number`."""
        return _seed_of(self.seed, _AUGMENT_STREAM, number)

    def target(self, number: int, source: int, num_domains: int) -> int:
        """Target domain of global sample `number`: the other one for two domains, else a random other one."""
        if num_domains == 2:
            return 1 - source
        shift = int(torch.randint(1, num_domains, (1,), generator=_generator(self.seed, _TARGET_STREAM, number)))
        return (source + shift) % num_domains
