"""The planned batches as the training ranks together see them, and a child process that compares them.

`python tests/loader_batches.py FOLDER` serves the plan's steps with several worker and rank counts in
this fresh interpreter, compares each with the 1-process reference and prints the mismatches as JSON.
The test runs it as a child because a training run is such a process: the suite's own process has by
then run some 400 tests' native libraries, and there, now and then, a worker's batch arrived with a
few hundred of its floats overwritten by 64-bit native pointers (issue #11's closing note).
"""

from __future__ import annotations

import json
import sys

import torch
from torch.utils.data import Dataset

from l2m_edge.data import folder_dataset
from l2m_edge.train.batches import BatchPlan
from l2m_edge.train.loader import plan_loader

NUM_DOMAINS = 3
STEPS = 6  # two epochs of the 12-image folder at batch 4
SETTINGS = ((2, 1), (0, 2), (1, 4))  # (workers, ranks) against the reference's (0, 1)


def augmented(folder: str) -> Dataset:
    return folder_dataset(folder, split="train", img_size=32, augment=True)  # random crop + flip per draw


def plan_of(dataset: Dataset) -> BatchPlan:
    return BatchPlan(len(dataset), batch_size=4, seed=11)  # type: ignore[arg-type]


def served_steps(dataset: Dataset, plan: BatchPlan, workers: int, world_size: int) -> list[torch.Tensor]:
    """Steps 1–6 as rows of (pixels…, source, target): the rank slices concatenated in rank order."""
    per_rank = [list(plan_loader(dataset, plan, NUM_DOMAINS, 1, STEPS, rank=r, world_size=world_size, workers=workers)) for r in range(world_size)]
    return [torch.cat([torch.cat([b.images.flatten(1), b.sources[:, None].float(), b.targets[:, None].float()], 1) for b in batches])
            for batches in zip(*per_rank)]


def _where(row: torch.Tensor, steps: list[torch.Tensor]) -> str:
    """Where `row` stands in the reference batches: tells a reordering from a different draw."""
    found = [f"step {k} row {r}" for k, batch in enumerate(steps, start=1) for r in range(len(batch)) if torch.equal(batch[r], row)]
    return ", ".join(found) or "nowhere"


def mismatches(folder: str) -> list[str]:
    """Every row that a setting serves differently from the 1-process reference, said in one line."""
    dataset = augmented(folder)
    plan = plan_of(dataset)
    reference = served_steps(dataset, plan, workers=0, world_size=1)
    found = []
    for workers, world_size in SETTINGS:
        for step, (a, b) in enumerate(zip(reference, served_steps(dataset, plan, workers, world_size)), start=1):
            found += [f"step {step} row {r} with {workers} workers on {world_size} ranks: (source, target) {tuple(a[r, -2:].tolist())} → "
                      f"{tuple(b[r, -2:].tolist())}, max pixel difference {(a[r, :-2] - b[r, :-2]).abs().max():.3g}, "
                      f"the served row is the reference's {_where(b[r], reference)}"
                      for r in range(len(a)) if not torch.equal(a[r], b[r])]
    return found


if __name__ == "__main__":
    print(json.dumps(mismatches(sys.argv[1])))
