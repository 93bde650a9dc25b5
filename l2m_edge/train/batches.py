"""The data order as a pure function of (seed, step): what makes a resumed run see the same batches.

Epoch e visits the training set in the permutation drawn from a generator seeded with (seed, e);
step k (1-based) takes the (k−1)-th full batch of that order (the last partial batch is dropped).
The target domain of each sample is 1 − source for two domains, else a random other domain
drawn from a generator seeded with (seed, step). Nothing here carries state between steps.
"""

from __future__ import annotations

import torch

_EPOCH_STREAM = 0x5EED_0001
_TARGET_STREAM = 0x5EED_0002


def _generator(seed: int, stream: int, index: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + stream * 7_919 + index) % (2**63 - 1))


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
        """Dataset indices of step `step` (1-based)."""
        if step < 1:
            raise ValueError(f"steps count from 1, got {step}")
        position = (step - 1) % self.batches_per_epoch
        order = self._permutation(self.epoch_of(step))
        return order[position * self.batch_size : (position + 1) * self.batch_size].tolist()

    def targets(self, step: int, sources: torch.Tensor, num_domains: int) -> torch.Tensor:
        if num_domains == 2:
            return 1 - sources
        shift = torch.randint(1, num_domains, sources.shape, generator=_generator(self.seed, _TARGET_STREAM, step))
        return (sources + shift) % num_domains
