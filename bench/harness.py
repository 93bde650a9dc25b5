"""The benchmark run: backend × precision × preset × batch rows, each measured in a fresh process.

`run_benchmark(settings)` prepares what the rows share (a checkpoint per preset, seeded inputs
and the PyTorch fp32 reference output per preset × batch, exported artifacts cached in the work
dir), measures every row, and returns one result dict in the `l2m-edge.bench/1` format. A row
that cannot run here (TensorRT missing, an export that fails, a crash) stays in the result as a
failed row with its reason; the run always finishes.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from l2m_edge.backends import backend_names, get_backend
from l2m_edge.checks import number_problem
from l2m_edge.errors import BenchError, L2MError

from .artifacts import artifact_for, default_precisions, export_target, preflight
from .environment import capture_environment, load_average
from .measure import RowTask, failed_row, measure_row
from .schema import SCHEMA, validate_result

DEFAULT_BACKENDS = ("torch", "onnxruntime", "openvino", "tensorrt")  # torch-compile only on request: it compiles per row
BENCH_SEED = 4004  # SynthFaces seed of the benchmark inputs: not the export's calibration or parity crops


@dataclass
class BenchSettings:
    """What to measure and how long. `iters` and `duration_s` are exclusive; one must be set."""

    backends: tuple[str, ...] = DEFAULT_BACKENDS
    precisions: tuple[str, ...] | None = None  # None: every precision each backend's target offers
    presets: tuple[str, ...] | None = None  # None: the checkpoint's preset
    batches: tuple[int, ...] = (1,)
    warmup: int = 10
    iters: int | None = 100
    duration_s: float | None = None
    threads: int | None = None
    device: str = "cpu"  # cpu | cuda
    workdir: Path = field(default_factory=lambda: default_workdir())
    isolate: bool = True  # a fresh process per row (meaningful peak memory, no shared thread pools)
    seed: int = 0
    row_timeout_s: float = 1800.0
    device_label: str | None = None

    def __post_init__(self) -> None:
        unknown = [b for b in self.backends if b not in backend_names()]
        if unknown:
            raise BenchError(f"unknown backend(s) {', '.join(unknown)}; choose from {', '.join(backend_names())}")
        if (self.iters is None) == (self.duration_s is None):
            raise BenchError("give either --iters N or --duration S (one of them, not both)")
        if self.iters is not None and self.iters < 1:
            raise BenchError(f"--iters must be ≥ 1, got {self.iters}")
        if self.duration_s is not None and number_problem(self.duration_s, above=0):
            raise BenchError(f"--duration: {number_problem(self.duration_s, above=0)} (seconds)")
        if self.warmup < 0 or any(b < 1 for b in self.batches):
            raise BenchError("--warmup must be ≥ 0 and every --batch ≥ 1")
        if self.device not in ("cpu", "cuda"):
            raise BenchError(f"--device must be cpu or cuda, got {self.device!r}")
        self.workdir = Path(self.workdir)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["workdir"] = str(self.workdir)
        return data


def default_workdir() -> Path:
    """`$L2M_EDGE_CACHE/bench`, else `$XDG_CACHE_HOME/l2m-edge/bench`, else ~/.cache/l2m-edge/bench."""
    if "L2M_EDGE_CACHE" in os.environ:
        return Path(os.environ["L2M_EDGE_CACHE"]) / "bench"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "l2m-edge" / "bench"


Progress = Callable[[dict[str, Any]], None]


def backend_device(backend: str, device: str) -> str:
    """The device string a runtime expects for the machine-level choice cpu | cuda (from the backend registry)."""
    entry = get_backend(backend)
    return entry.devices.get(device, entry.default_device)


def prepare_checkpoints(settings: BenchSettings, checkpoint: Path | None) -> dict[str, Path]:
    """preset → checkpoint: the given one, or a seeded random-weight editor per preset (cached)."""
    from l2m_edge.checkpoint import read_metadata

    if checkpoint is not None:
        preset = json.loads(read_metadata(checkpoint)["config"])["name"]
        if settings.presets and set(settings.presets) != {preset}:
            raise BenchError(f"{checkpoint} is a {preset!r} checkpoint; drop --preset or pass only --preset {preset}")
        return {preset: Path(checkpoint)}
    if not settings.presets:
        raise BenchError("give --model CKPT, or --preset NAME[,NAME…] to benchmark random-weight editors")
    import torch

    from l2m_edge.checkpoint import save_checkpoint
    from l2m_edge.config import preset_from_spec
    from l2m_edge.model import build_editor

    out: dict[str, Path] = {}
    for preset in settings.presets:
        path = settings.workdir / "checkpoints" / f"{preset}-random-seed{settings.seed}.safetensors"
        if not path.is_file():
            torch.manual_seed(settings.seed)
            save_checkpoint(build_editor(preset_from_spec(preset)), path, extra={"weights": f"random, seed {settings.seed} (benchmark only)"})
        out[preset] = path
    return out


_INPUTS_LAYOUT = 2  # 2: arrays keyed by the signature's input names; a cache of an older layout is never misread


def prepare_inputs(checkpoint: Path, batch: int, workdir: Path, seed: int) -> Path:
    """SynthFaces crops for one preset × batch and the PyTorch eager fp32 output on them (the parity reference).

    Face crops, not noise: the export room's parity bars are set on such crops, and reduced
    precisions behave differently on out-of-distribution inputs.
    """
    import torch

    from l2m_edge.checkpoint import load_editor
    from l2m_edge.export.calibration import parity_batch
    from l2m_edge.io import atomic_path, sha256_file

    path = workdir / "inputs" / f"{sha256_file(checkpoint)[:16]}-b{batch}-seed{seed}-v{_INPUTS_LAYOUT}.npz"
    if path.is_file() and _readable_inputs(path):
        return path  # a damaged cache entry is rebuilt below
    editor = load_editor(checkpoint)
    faces = parity_batch(editor.config.img_size, len(editor.domains), batch, BENCH_SEED + seed, editor.attribute or "smile", editor.config.uses_masks)
    feed = faces.feed()
    with torch.inference_mode():
        reference = editor(*(torch.from_numpy(np.ascontiguousarray(a)) for a in feed.values())).numpy()
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **feed, reference=reference)
    return path


def _readable_inputs(path: Path) -> bool:
    try:
        with np.load(path, allow_pickle=False) as data:
            return "reference" in data.files and all(data[key].size > 0 for key in data.files)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return False


def plan(settings: BenchSettings, checkpoints: dict[str, Path]) -> list[tuple[str, str, str, int]]:
    """(backend, precision, preset, batch) for every row, in table order."""
    rows = []
    for preset in checkpoints:
        for backend in settings.backends:
            for precision in settings.precisions or default_precisions(backend, settings.device):
                for batch in settings.batches:
                    rows.append((backend, precision, preset, batch))
    return rows


def run_isolated(task: RowTask, workdir: Path, timeout_s: float) -> dict[str, Any]:
    """Measure a row in a fresh interpreter; a crash or a hang becomes a failed row."""
    tmp = Path(tempfile.mkdtemp(prefix="row-", dir=workdir))
    task_path, row_path = tmp / "task.json", tmp / "row.json"
    task_path.write_text(json.dumps(task.to_dict()))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "l2m_edge.bench.worker", str(task_path), str(row_path)],
            capture_output=True, text=True, timeout=timeout_s, check=False,
        )
    except subprocess.TimeoutExpired:
        return failed_row(task, f"row did not finish within {timeout_s:.0f} s")
    if done.returncode != 0 or not row_path.is_file():
        tail = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return failed_row(task, f"worker process failed (exit {done.returncode}): {tail}")
    row = json.loads(row_path.read_text())
    for p in (task_path, row_path):
        p.unlink(missing_ok=True)
    tmp.rmdir()
    return row


def measure(settings: BenchSettings, backend: str, precision: str, preset: str, batch: int, checkpoint: Path) -> dict[str, Any]:
    """One row, from preflight through export to the measurement."""
    device = backend_device(backend, settings.device)
    task = RowTask(
        backend=backend, precision=precision, preset=preset, batch=batch, device=device,
        model_path=str(checkpoint), inputs_path="", warmup=settings.warmup, iters=settings.iters,
        duration_s=settings.duration_s, threads=settings.threads,
        target=export_target(backend), isolated=settings.isolate,
    )
    try:
        preflight(backend, precision, settings.device)
        task.inputs_path = str(prepare_inputs(checkpoint, batch, settings.workdir, settings.seed))
        if task.target is not None:
            artifact = artifact_for(checkpoint, task.target, precision, batch, settings.device, settings.workdir)
            task.model_path = str(artifact.directory)
            task.artifact_bytes, task.export_s, task.export_cached = artifact.bytes, artifact.export_s, artifact.cached
            task.export_parity = artifact.export_parity
        else:
            task.artifact_bytes = checkpoint.stat().st_size
    except L2MError as exc:
        return failed_row(task, str(exc))
    if settings.isolate:
        return run_isolated(task, settings.workdir, settings.row_timeout_s)
    return measure_row(task)


def run_benchmark(settings: BenchSettings, checkpoint: str | os.PathLike | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Measure every planned row and return the validated result (not yet written)."""
    settings.workdir.mkdir(parents=True, exist_ok=True)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    load_before = load_average()
    t0 = time.perf_counter()
    checkpoints = prepare_checkpoints(settings, Path(checkpoint) if checkpoint is not None else None)
    rows = []
    for backend, precision, preset, batch in plan(settings, checkpoints):
        row = measure(settings, backend, precision, preset, batch, checkpoints[preset])
        rows.append(row)
        if progress is not None:
            progress(row)
    settings_json = {**settings.to_json(), "checkpoint": str(checkpoint) if checkpoint is not None else None,
                     "weights": "checkpoint" if checkpoint is not None else f"random, seed {settings.seed}"}
    return finish_result("model", settings.device_label, settings_json, load_before, started, t0, rows)


def finish_result(
    kind: str, device_label: str | None, settings_json: dict[str, Any], load_before: Any, started: str, t0: float, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """A run's result file content (schema-checked): environment, settings, load before/after, rows."""
    result = {
        "schema": SCHEMA,
        "kind": kind,
        "environment": capture_environment(device_label),
        "settings": settings_json,
        "load_average": {"before": load_before, "after": load_average()},
        "started": started,
        "wall_s": round(time.perf_counter() - t0, 2),
        "rows": rows,
    }
    return validate_result(result)


def write_result(result: dict[str, Any], out_dir: str | os.PathLike, name: str | None = None, tag: str | None = None) -> Path:
    """benchmarks/results/<device>-<tag or kind>-<date>.json (atomic); returns the path."""
    from l2m_edge.io import atomic_path

    validate_result(result)
    if name is None:
        label = "".join(c if c.isalnum() else "-" for c in result["environment"]["device_label"].lower()).strip("-")
        label = "-".join(filter(None, label.split("-")))[:40]
        stamp = result["started"].replace(":", "").replace("-", "")[:15]
        name = f"{label}-{tag or result.get('kind', 'model')}-{stamp}.json"
    path = Path(out_dir) / name
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(result, indent=1) + "\n")
    return path
