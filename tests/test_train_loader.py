"""The training input pipeline: plan order and per-sample draws, whatever the workers and ranks.

The equality test runs in the suite's own process again: its batches had been overwritten there by the
kernel's signal frames, on a signal stack that OpenVINO's CPU plugins had left on unmapped memory
(benchmarks/memory_fault.md); tests/conftest.py now checks that stack after every test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from l2m_edge.data import folder_dataset, write_synthfaces
from l2m_edge.train.batches import BatchPlan
from l2m_edge.train.loader import default_workers, plan_loader

NUM_DOMAINS = 3
STEPS = 6  # two epochs of the 12-image folder at batch 4
SETTINGS = ((2, 1), (0, 2), (1, 4))  # (workers, ranks) against the reference's (0, 1)


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faces") / "synth"
    write_synthfaces(root, n=12, size=32, seed=5, val_fraction=0.0, progress=False)
    return root


def augmented(folder: Path) -> Dataset:
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


@pytest.mark.parametrize("workers, world_size", SETTINGS)
def test_batches_are_the_same_whatever_the_workers_and_ranks(faces: Path, workers: int, world_size: int) -> None:
    dataset = augmented(faces)
    plan = plan_of(dataset)
    reference = served_steps(dataset, plan, workers=0, world_size=1)
    served = served_steps(dataset, plan, workers, world_size)
    mismatches = [f"step {step} row {r}: (source, target) {tuple(a[r, -2:].tolist())} → {tuple(b[r, -2:].tolist())}, "
                  f"max pixel difference {(a[r, :-2] - b[r, :-2]).abs().max():.3g}, the served row is the reference's {_where(b[r], reference)}"
                  for step, (a, b) in enumerate(zip(reference, served), start=1) for r in range(len(a)) if not torch.equal(a[r], b[r])]
    assert not mismatches, "; ".join(mismatches[:3])


def test_the_plan_is_followed_and_each_visit_draws_anew(faces: Path) -> None:
    dataset = augmented(faces)
    plan = plan_of(dataset)
    reference = served_steps(dataset, plan, workers=0, world_size=1)
    first = plan.indices(1)
    assert torch.equal(reference[0][:, -2], torch.tensor([dataset.items[i][1] for i in first], dtype=torch.float))
    # An image seen again in the next epoch (a new global sample number) is augmented differently.
    i = first[0]
    step = next(k for k in (4, 5, 6) if i in plan.indices(k))  # epoch 2 visits every image once
    assert not torch.equal(reference[0][0], reference[step - 1][plan.indices(step).index(i)])
    # Three domains: the target is another domain, drawn per sample.
    targets, sources = reference[0][:, -1], reference[0][:, -2]
    assert torch.all(targets != sources)


def test_default_workers_leave_each_cpu_rank_its_core() -> None:
    cores = len(os.sched_getaffinity(0))
    assert default_workers(torch.device("cpu"), local_world_size=cores) == 0
    assert default_workers(torch.device("cuda"), local_world_size=1) == min(8, cores - 1)
