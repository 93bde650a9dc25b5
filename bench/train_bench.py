"""Training throughput: timed steps of a preset on a device, precision and number of ranks.

Every row runs under torchrun, one rank or several (`python -m torch.distributed.run --standalone
--nproc_per_node W -m l2m_edge.bench.train_worker TASK ROW`): each row starts fresh processes,
so its peak memory and thread pools are its own, and 1 and W ranks are measured the same way.
The ranks run the real trainer (its DataLoader, SynthFaces rendered in workers, gradient
all_reduce) on the global batch; rank 0 writes the row. A step's time is the wall time from
asking for its batch to the end of its EMA update (the device synchronised), so input stalls count.
CPU time is this process's user+system time per step summed over ranks (loader workers excluded):
on a shared machine it shows the work done when the wall time shows the wait.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from l2m_edge.errors import BenchError

from .environment import load_average
from .harness import default_workdir, finish_result
from .rows import FailedRow, Row, TrainRow, row_from_json
from .stats import latency_stats

TRAIN_BACKENDS = ("torch", "torch-compile")
SYNTH_FACES = 512  # SynthFaces drawn for a benchmark: enough for several steps of any batch


@dataclass
class TrainBenchSettings:
    presets: tuple[str, ...] = ("demo",)
    ranks: tuple[int, ...] = (1,)
    backends: tuple[str, ...] = ("torch",)
    precisions: tuple[str | None, ...] = (None,)  # None: the trainer's default for the device
    batch: int = 8  # global
    steps: int = 10
    warmup: int = 2
    device: str = "auto"
    threads: int | None = None  # per rank
    workers: int | None = None  # per rank; None: the trainer's default
    channels_last: bool | None = None
    device_label: str | None = None
    workdir: Path = field(default_factory=default_workdir)
    row_timeout_s: float = 1800.0

    def __post_init__(self) -> None:
        unknown = [b for b in self.backends if b not in TRAIN_BACKENDS]
        if unknown:
            raise BenchError(f"unknown training backend(s) {', '.join(unknown)}; choose from {', '.join(TRAIN_BACKENDS)}")
        if self.steps < 1 or self.warmup < 0 or self.batch < 1 or any(r < 1 for r in self.ranks):
            raise BenchError("--steps and --batch must be ≥ 1, --warmup ≥ 0 and every --ranks ≥ 1")
        bad = [r for r in self.ranks if self.batch % r]
        if bad:
            raise BenchError(f"--batch {self.batch} is the global batch; {', '.join(map(str, bad))} rank(s) cannot split it evenly")
        self.workdir = Path(self.workdir)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "workdir": str(self.workdir)}


@dataclass
class TrainTask:
    """One row, as plain JSON values for the ranks."""

    preset: str
    backend: str
    precision: str | None
    batch: int
    ranks: int
    steps: int
    warmup: int
    device: str
    threads: int | None
    workers: int | None
    channels_last: bool | None
    out: str  # the throwaway run directory

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def failed(self, reason: str) -> FailedRow:
        """This task's ❌ row, with the reason it could not run."""
        return FailedRow(mode="train", backend=self.backend, precision=self.precision or "default", preset=self.preset,
                         batch=self.batch, device=self.device, reason=reason, ranks=self.ranks)


def measure_train_rank(task: TrainTask) -> TrainRow | None:
    """Run on every rank: build the trainer, time warm-up + steps; rank 0 returns the row."""
    import torch

    from l2m_edge.data import build_dataset
    from l2m_edge.train import TrainConfig, Trainer
    from l2m_edge.train.distributed import World
    from l2m_edge.train.trainer import resolve_compute

    from . import memory

    if task.threads is not None:
        torch.set_num_threads(task.threads)
    world = World.from_environment()
    iters = task.warmup + task.steps
    config = TrainConfig(out=Path(task.out), iters=iters, data="synth", synth_size=SYNTH_FACES, preset=task.preset, batch_size=task.batch,
                         sample_every=10**9, save_every=10**9, log_every=10**9, num_samples=2, device=task.device,
                         precision=task.precision, channels_last=task.channels_last, compile=task.backend == "torch-compile",
                         workers=task.workers)
    compute = resolve_compute(config, world)
    world.start(compute.device)
    try:
        from l2m_edge.config import get_preset

        train_set = build_dataset("synth", "smile", get_preset(task.preset).img_size, split="train", synth_size=SYNTH_FACES)
        trainer = Trainer(config, train_set, train_set, world=world, compute=compute)
        cuda = compute.device.type == "cuda"
        if cuda:
            torch.cuda.reset_peak_memory_stats(compute.device)
        wall_ms: list[float] = []
        cpu_s: list[float] = []
        batches = trainer.batches()
        for _ in range(iters):
            t0, c0 = time.perf_counter(), time.process_time()
            trainer.train_step(next(batches))
            if cuda:
                torch.cuda.synchronize(compute.device)
            wall_ms.append((time.perf_counter() - t0) * 1e3)
            cpu_s.append(time.process_time() - c0)
        timed_ms, timed_cpu = wall_ms[task.warmup:], cpu_s[task.warmup:]

        def figure(value: float) -> torch.Tensor:  # on the device: NCCL reduces only device tensors
            return torch.tensor(value, dtype=torch.float64, device=compute.device)

        cpu_per_step = float(world.sum(figure(sum(timed_cpu) / len(timed_cpu))))
        peak = float(world.max(figure(memory.peak_rss_mb())))
        total_rss = float(world.sum(figure(memory.peak_rss_mb())))
        gpu_peak = float(world.max(figure(torch.cuda.max_memory_allocated(compute.device) / 2**20))) if cuda else None
    finally:
        world.stop()
    if not world.is_main:
        return None
    mean_s = sum(timed_ms) / len(timed_ms) / 1e3
    return TrainRow(
        backend=task.backend, precision=compute.precision, preset=task.preset, batch=task.batch, device=str(compute.device),
        ranks=world.size, threads=torch.get_num_threads(), workers=trainer.workers, channels_last=compute.channels_last,
        warmup=task.warmup, steps=task.steps, first_step_s=round(wall_ms[0] / 1e3, 3),
        latency_ms=latency_stats(timed_ms), samples_ms=[round(v, 3) for v in timed_ms],
        steps_per_s=1.0 / mean_s, images_per_s=task.batch / mean_s, fps=task.batch / mean_s,
        s_per_100k_steps=1e5 * mean_s, cpu_s_per_step=cpu_per_step,
        memory={"peak_rss_mb": peak, "peak_rss_mb_all_ranks": total_rss, "gpu_peak_mb": gpu_peak},
    )


def _torchrun(ranks: int, task_path: Path, row_path: Path) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(ranks),
            "-m", "l2m_edge.bench.train_worker", str(task_path), str(row_path)]


def run_train_row(task: TrainTask, timeout_s: float) -> Row:
    """One row in fresh rank processes; a crash or a hang becomes a failed row with its reason."""
    tmp = Path(task.out)
    task_path, row_path = tmp / "task.json", tmp / "row.json"
    task_path.write_text(json.dumps(task.to_dict()))
    env = dict(os.environ)
    if task.threads is not None:
        env["OMP_NUM_THREADS"] = str(task.threads)
    try:
        done = subprocess.run(_torchrun(task.ranks, task_path, row_path), capture_output=True, text=True, timeout=timeout_s,
                              check=False, env=env, start_new_session=True)
    except subprocess.TimeoutExpired:
        return task.failed(f"row did not finish within {timeout_s:.0f} s")
    if done.returncode != 0 or not row_path.is_file():
        ours = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        tail = (ours or done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return task.failed(f"ranks failed (exit {done.returncode}): {tail}")
    return row_from_json(json.loads(row_path.read_text()))


def run_train_benchmark(settings: TrainBenchSettings, progress: Callable[[Row], None] | None = None) -> dict[str, Any]:
    """Every preset × backend × precision × number of ranks; the validated result (not yet written)."""
    settings.workdir.mkdir(parents=True, exist_ok=True)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    load_before = load_average()
    t0 = time.perf_counter()
    rows = []
    for preset in settings.presets:
        for backend in settings.backends:
            for precision in settings.precisions:
                for ranks in settings.ranks:
                    with tempfile.TemporaryDirectory(prefix="train-row-", dir=settings.workdir) as out:
                        task = TrainTask(preset, backend, precision, settings.batch, ranks, settings.steps, settings.warmup,
                                         settings.device, settings.threads, settings.workers, settings.channels_last, out)
                        row = run_train_row(task, settings.row_timeout_s)
                    rows.append(row)
                    if progress is not None:
                        progress(row)
    return finish_result("train", settings.device_label, settings.to_json(), load_before, started, t0, rows)
