"""The input pipeline: a DataLoader that reads, augments (or renders, for SynthFaces) in worker
processes, in exactly the order the batch plan fixes.

The batch sampler yields, step by step, this rank's keys of the plan; the dataset wrapper turns a
key into (image, source, target) with torch's generator seeded from the sample's global number
around the dataset's own draws. A batch is therefore the same whatever the number of workers,
ranks or restarts, and the DataLoader keeps batches in sampler order while workers run ahead.
"""

from __future__ import annotations

import os
from typing import Any, Iterator, NamedTuple

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from l2m_edge.data.transforms import seeded_draws
from l2m_edge.errors import DataError

from .batches import BatchPlan, SampleKey

PREFETCH_BATCHES = 4  # per worker: enough to hide a slow image decode behind a fast GPU step
PIXEL_BOUND = 1.0 + 1e-6  # every transform serves [−1, 1]; the margin is float rounding


class Batch(NamedTuple):
    images: torch.Tensor  # [N, 3, H, W] in [−1, 1]
    sources: torch.Tensor  # [N] int64
    targets: torch.Tensor  # [N] int64
    masks: torch.Tensor | None = None  # [N, 2, H, W] in [0, 1]: models with high-pass skips

    def checked(self, step: int) -> Batch:
        """This batch, once its pixels are seen to lie in [−1, 1].

        Every transform serves that range, so a batch outside it had its memory overwritten on the
        way, as the test suite's process once saw: signal frames written through a signal stack a
        native library had left on unmapped memory (benchmarks/memory_fault.md). The pass costs
        0.5 ms for a 256² batch of 8 on one core; a step trained on such a batch would spoil the
        weights silently.
        """
        worst = float(self.images.abs().amax())
        if not worst <= PIXEL_BOUND:  # NaN fails too
            raise DataError(f"step {step}: the loader served pixels of magnitude {worst:.3g}, outside [−1, 1] (the batch's memory was "
                            "overwritten); resume with --resume, or with --workers 0 if it happens again")
        return self

    def to(self, device: torch.device, dtype: torch.dtype = torch.float32, channels_last: bool = False) -> Batch:
        """Non-blocking copies (from pinned memory on CUDA, so they overlap the previous step)."""
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        masks = None if self.masks is None else self.masks.to(device, dtype, non_blocking=True)
        return Batch(self.images.to(device, dtype, non_blocking=True, memory_format=memory_format),
                     self.sources.to(device, non_blocking=True), self.targets.to(device, non_blocking=True), masks)


def item_of(sample: Any) -> tuple[torch.Tensor, int]:
    """(image, label) from a dataset item given as a tuple or as a {"image", "label"} dict."""
    if isinstance(sample, dict):
        return sample["image"], int(sample["label"])
    return sample[0], int(sample[1])


class PlannedSamples(Dataset):
    """`dataset` addressed by plan keys: key → (image, source, target), the draws seeded per sample."""

    def __init__(self, dataset: Dataset, plan: BatchPlan, num_domains: int) -> None:
        self.dataset = dataset
        self.plan = plan
        self.num_domains = num_domains

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: SampleKey) -> tuple[torch.Tensor, int, int, torch.Tensor | None]:
        # The augmentation draws from a generator seeded per sample: a function of the key alone.
        with seeded_draws(self.plan.augment_seed(key.number)):
            sample = self.dataset[key.index]
        image, source = item_of(sample)
        masks = sample.get("masks") if isinstance(sample, dict) else None
        return image, source, self.plan.target(key.number, source, self.num_domains), masks


class PlanSampler(Sampler[list[SampleKey]]):
    """This rank's keys of steps first..last, one list per step."""

    def __init__(self, plan: BatchPlan, first: int, last: int, rank: int = 0, world_size: int = 1) -> None:
        self.plan, self.first, self.last, self.rank, self.world_size = plan, first, last, rank, world_size

    def __iter__(self) -> Iterator[list[SampleKey]]:
        for step in range(self.first, self.last + 1):
            yield self.plan.shard(step, self.rank, self.world_size)

    def __len__(self) -> int:
        return max(0, self.last - self.first + 1)


def _collate(items: list[tuple[torch.Tensor, int, int, torch.Tensor | None]]) -> Batch:
    images, sources, targets, masks = zip(*items)
    stacked = None if masks[0] is None else torch.stack(masks)
    return Batch(torch.stack(images), torch.tensor(sources, dtype=torch.long), torch.tensor(targets, dtype=torch.long), stacked)


def default_workers(device: torch.device, local_world_size: int = 1) -> int:
    """Loader processes per rank.

    On CUDA the training process mostly waits for the GPU: workers take the cores left after one
    per rank, at most 8. On the CPU every core a worker takes is one the step cannot use, and
    reading a batch costs a few ms beside a step of hundreds: one worker where a rank has a core
    to spare (it hides the read), none otherwise (the rank reads its own batch).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    spare = cores // max(1, local_world_size) - 1
    return max(0, min(8 if device.type == "cuda" else 1, spare))


def plan_loader(dataset: Dataset, plan: BatchPlan, num_domains: int, first: int, last: int, *, rank: int = 0, world_size: int = 1,
                workers: int = 0, pin_memory: bool = False) -> DataLoader:
    """The batches of steps first..last for this rank, in plan order."""
    return DataLoader(
        PlannedSamples(dataset, plan, num_domains),
        batch_sampler=PlanSampler(plan, first, last, rank, world_size),
        collate_fn=_collate,
        num_workers=workers,
        pin_memory=pin_memory,
        prefetch_factor=PREFETCH_BATCHES if workers > 0 else None,
    )
