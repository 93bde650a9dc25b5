"""The training input pipeline: plan order and per-sample draws, whatever the workers and ranks."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import torch

from l2m_edge.data import write_synthfaces
from l2m_edge.train.loader import default_workers
from loader_batches import augmented, plan_of, served_steps
from runtime_helpers import finish_group, start_group


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faces") / "synth"
    write_synthfaces(root, n=12, size=32, seed=5, val_fraction=0.0, progress=False)
    return root


def test_batches_are_the_same_whatever_the_workers_and_ranks(faces: Path) -> None:
    # In a fresh interpreter, as a training run is: 2 workers on 1 rank, 0 on 2, 1 on 4, against 0 on 1.
    out, err = finish_group(start_group([sys.executable, str(Path(__file__).with_name("loader_batches.py")), str(faces)]), timeout=180)
    assert out.strip(), f"the loader child printed nothing: {err[-2000:]}"
    mismatches = json.loads(out)
    assert not mismatches, "; ".join(mismatches[:3])


def test_the_plan_is_followed_and_each_visit_draws_anew(faces: Path) -> None:
    dataset = augmented(str(faces))
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
