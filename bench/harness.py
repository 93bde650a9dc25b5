"""The benchmark run: backend × precision × preset × batch rows, each measured in a fresh process.

`run_benchmark(settings)` plans one task per row (`plan`: the one loop, model or pipeline mode),
prepares what the rows share (a checkpoint per preset, seeded inputs and the PyTorch fp32
reference output per preset × batch, exported artifacts cached in the work dir), measures every
row with the function its mode picks (`worker.measure_task`), and returns one result dict in the
`l2m-edge.bench/1` format. A row that cannot run here (TensorRT missing, an export that fails, a
crash) stays in the result as a failed row with its reason; the run always finishes.
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
from l2m_edge.contract.signature import IMAGE, SOURCE, STRENGTH, TARGET
from l2m_edge.errors import BenchError, L2MError
from l2m_edge.runtime.defaults import DEFAULT_STYLE_EVERY

from .artifacts import artifact_for, default_precisions, export_target, preflight
from .environment import capture_environment, load_average
from .pipeline_bench import CLIP_SIZE, generated_clip
from .rows import Row, row_from_json
from .schema import SCHEMA, validate_result
from .task import RowTask
from .worker import measure_task

DEFAULT_BACKENDS = ("torch", "onnxruntime", "openvino", "tensorrt")  # torch-compile only on request: it compiles per row
BENCH_SEED = 4004  # SynthFaces seed of the benchmark inputs: not the export's calibration or parity crops


@dataclass
class PipelineOptions:
    """Pipeline mode: the live pipeline on a video instead of the bare model (`--pipeline`)."""

    source: Path | None = None  # None: the generated 640×480 clip
    frames: int | None = None  # stop after this many frames (None: the whole clip)
    realtime: bool = True  # play the video like a camera: glass-to-glass latency, stale frames dropped
    style_every: int = DEFAULT_STYLE_EVERY  # frames between a track's style codes (> 1: split-style artifacts)

    def __post_init__(self) -> None:
        if self.source is not None and not Path(self.source).is_file():
            raise BenchError(f"{self.source}: no such video file (omit --source to use the generated {CLIP_SIZE[0]}×{CLIP_SIZE[1]} clip)")
        if self.style_every < 1 or (self.frames is not None and self.frames < 1):
            raise BenchError("--style-every and --frames must be ≥ 1")


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
    pipeline: PipelineOptions | None = None  # None: model rows
    rounds: int = 1  # the whole plan this many times, interleaved (A, B, A, B, …): each row's spread over rounds

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
        if self.warmup < 0 or any(b < 1 for b in self.batches) or self.rounds < 1:
            raise BenchError("--warmup must be ≥ 0, every --batch ≥ 1 and --rounds ≥ 1")
        if self.device not in ("cpu", "cuda"):
            raise BenchError(f"--device must be cpu or cuda, got {self.device!r}")
        self.workdir = Path(self.workdir)

    @property
    def mode(self) -> str:
        return "model" if self.pipeline is None else "pipeline"

    def to_json(self) -> dict[str, Any]:
        """The settings as recorded in a result file (a pipeline run's options beside the others)."""
        data = asdict(self)
        data["workdir"] = str(self.workdir)
        options = data.pop("pipeline")
        if options is not None:
            data.update(options, source=str(options["source"]))
        return data


def default_workdir() -> Path:
    """`$L2M_EDGE_CACHE/bench`, else `$XDG_CACHE_HOME/l2m-edge/bench`, else ~/.cache/l2m-edge/bench."""
    if "L2M_EDGE_CACHE" in os.environ:
        return Path(os.environ["L2M_EDGE_CACHE"]) / "bench"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "l2m-edge" / "bench"


Progress = Callable[[Row], None]


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


def prepare_inputs(checkpoint: Path, batch: int, workdir: Path, seed: int) -> Path:
    """SynthFaces crops for one preset × batch and the PyTorch eager fp32 output on them (the parity reference).

    Face crops, not noise: the export room's parity bars are set on such crops, and reduced
    precisions behave differently on out-of-distribution inputs.
    """
    import torch

    from l2m_edge.checkpoint import load_editor
    from l2m_edge.export.calibration import parity_batch
    from l2m_edge.io import atomic_path, sha256_file

    path = workdir / "inputs" / f"{sha256_file(checkpoint)[:16]}-b{batch}-seed{seed}.npz"
    if path.is_file() and _readable_inputs(path):
        return path  # a damaged (or older-layout) cache entry is rebuilt below
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
    """Whether a cached inputs file reads back whole, with the editor's inputs keyed by signature name."""
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = {IMAGE, SOURCE, TARGET, STRENGTH, "reference"}
            return keys <= set(data.files) and all(data[key].size > 0 for key in data.files)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return False


def _row_keys(settings: BenchSettings, models: dict[str, Path]) -> list[tuple[str, Path, str, str, int, str | None]]:
    """(preset, model, backend, precision, batch, export target) per row of one round.

    A checkpoint is exported on the fly for each backend's target; an exported artifact (a device
    without torch) runs as it is, in its own precision, on each of `settings.backends` that loads its format."""
    from l2m_edge.backends import is_artifact
    from l2m_edge.contract.manifest import read_manifest

    keys: list[tuple[str, Path, str, str, int, str | None]] = []
    for preset, model in models.items():
        if is_artifact(model):  # its files are hash-checked when each row's backend opens it
            manifest = read_manifest(model)
            loaders = [backend for backend in settings.backends if manifest.format in get_backend(backend).formats]
            if not loaders:
                raise BenchError(f"{model}: a {manifest.format} artifact, which none of --backends {','.join(settings.backends)} loads")
            keys += [(preset, model, backend, manifest.precision, 1, None) for backend in loaders]
            continue
        keys += [
            (preset, model, backend, precision, batch, export_target(backend))
            for backend in settings.backends
            for precision in settings.precisions or default_precisions(backend, settings.device)
            for batch in (settings.batches if settings.pipeline is None else (1,))
        ]
    return keys


def models_to_bench(settings: BenchSettings, model: Path | None) -> dict[str, Path]:
    """preset → model: an exported artifact as it is (pipeline rows only: model rows compare against
    PyTorch and need the checkpoint), else the checkpoints `prepare_checkpoints` gives."""
    from l2m_edge.backends import is_artifact
    from l2m_edge.contract.manifest import read_manifest

    if model is None or not is_artifact(model):
        return prepare_checkpoints(settings, model)
    if settings.pipeline is None:
        raise BenchError(f"{model}: an exported artifact is benchmarked with --pipeline; model rows compare against PyTorch and need the checkpoint")
    return {read_manifest(model).preset: model}


def plan(settings: BenchSettings, models: dict[str, Path]) -> list[RowTask]:
    """One task per row, in table order: round × preset × backend × precision × batch (pipeline rows: batch 1).

    With several rounds the whole table repeats, so each row's rounds are interleaved with the others'
    and a change in the machine's load falls on every row alike."""
    options = settings.pipeline
    keys = _row_keys(settings, models)
    tasks = []
    for round_ in range(settings.rounds):
        for preset, checkpoint, backend, precision, batch, target in keys:
            task = RowTask(
                backend=backend, precision=precision, preset=preset, batch=batch, device=backend_device(backend, settings.device),
                model_path=str(checkpoint), inputs_path="", warmup=settings.warmup, iters=settings.iters,
                duration_s=settings.duration_s, threads=settings.threads, target=target, isolated=settings.isolate, round=round_,
            )
            if options is not None:
                task.mode, task.iters, task.duration_s = "pipeline", None, None
                task.source, task.frames, task.realtime, task.style_every = str(options.source), options.frames, options.realtime, options.style_every
            tasks.append(task)
    return tasks


def prepare(task: RowTask, settings: BenchSettings) -> RowTask:
    """Fill in what a task needs before it is measured: inputs (model rows) and its exported artifact.

    Raises L2MError with the reason when the row cannot run here (checked before any export)."""
    checkpoint = Path(task.model_path)
    if task.target is not None:  # an exported artifact runs as it is: nothing is built here
        preflight(task.backend, task.precision, settings.device)
    if task.mode == "model":
        task.inputs_path = str(prepare_inputs(checkpoint, task.batch, settings.workdir, settings.seed))
    if task.target is None:
        files = checkpoint.iterdir() if checkpoint.is_dir() else (checkpoint,)
        task.artifact_bytes = sum(f.stat().st_size for f in files if f.is_file())
        return task
    artifact = artifact_for(checkpoint, task.target, task.precision, task.batch, settings.device, settings.workdir, split_style=task.style_every > 1)
    task.model_path = str(artifact.directory)
    task.artifact_bytes, task.export_s, task.export_cached = artifact.bytes, artifact.export_s, artifact.cached
    task.export_parity = artifact.export_parity
    return task


def run_isolated(task: RowTask, workdir: Path, timeout_s: float) -> Row:
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
        return task.failed(f"row did not finish within {timeout_s:.0f} s")
    if done.returncode != 0 or not row_path.is_file():
        tail = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return task.failed(f"worker process failed (exit {done.returncode}): {tail}")
    row = row_from_json(json.loads(row_path.read_text()))
    for p in (task_path, row_path):
        p.unlink(missing_ok=True)
    tmp.rmdir()
    return row


def measure(task: RowTask, settings: BenchSettings) -> Row:
    """One row, from preflight through export to the measurement (in a fresh process unless told otherwise)."""
    try:
        task = prepare(task, settings)
    except L2MError as exc:
        return task.failed(str(exc))
    if settings.isolate:
        return run_isolated(task, settings.workdir, settings.row_timeout_s)
    return measure_task(task)


def run_benchmark(settings: BenchSettings, checkpoint: str | os.PathLike | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Measure every planned row (model rows, or pipeline rows with `settings.pipeline`) and return the validated result (not yet written)."""
    settings.workdir.mkdir(parents=True, exist_ok=True)
    if settings.pipeline is not None and settings.pipeline.source is None:
        settings.pipeline.source = generated_clip(settings.workdir)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    load_before = load_average()
    t0 = time.perf_counter()
    rows = []
    for task in plan(settings, models_to_bench(settings, Path(checkpoint) if checkpoint is not None else None)):
        row = measure(task, settings)
        rows.append(row)
        if progress is not None:
            progress(row)
    settings_json = {**settings.to_json(), "checkpoint": str(checkpoint) if checkpoint is not None else None,
                     "weights": "checkpoint" if checkpoint is not None else f"random, seed {settings.seed}"}
    return finish_result(settings.mode, settings.device_label, settings_json, load_before, started, t0, rows)


IRTool = Callable[[str, str, Path, Path, dict[str, Any]], dict[str, Any]]


def over_openvino_irs(
    settings: BenchSettings, checkpoint: Path | None, schema: str, measure_ir: IRTool, tool_settings: dict[str, Any], progress: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Run a per-IR tool (`bench crosscheck`, `bench profile`) on every OpenVINO precision of every preset, batch 1.

    `measure_ir(preset, precision, artifact directory, inputs .npz, environment)` returns one JSON-ready
    entry; the result holds them with the environment, the settings and the load before and after."""
    settings.workdir.mkdir(parents=True, exist_ok=True)
    environment = capture_environment(settings.device_label)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    before = load_average()
    entries = []
    for preset, ckpt in prepare_checkpoints(settings, checkpoint).items():
        inputs = prepare_inputs(ckpt, 1, settings.workdir, settings.seed)
        for precision in settings.precisions or default_precisions("openvino", "cpu"):
            artifact = artifact_for(ckpt, "openvino", precision, 1, "cpu", settings.workdir)
            entry = measure_ir(preset, precision, artifact.directory, inputs, environment)
            entries.append(entry)
            if progress is not None:
                progress(entry)
    return {
        "schema": schema,
        "environment": environment,
        "settings": {"threads": settings.threads, **tool_settings, "batch": 1},
        "load_average": {"before": before, "after": load_average()},
        "started": started,
        "entries": entries,
    }


def finish_result(
    kind: str, device_label: str | None, settings_json: dict[str, Any], load_before: Any, started: str, t0: float, rows: list[Row]
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
        "rows": [row.to_json() for row in rows],
    }
    return validate_result(result)


def write_result(result: dict[str, Any], out_dir: str | os.PathLike, name: str | None = None, tag: str | None = None) -> Path:
    """benchmarks/results/<device>-<tag or kind>-<date>.json (atomic); returns the path."""
    from l2m_edge.io import write_json_atomic

    validate_result(result)
    if name is None:
        label = "".join(c if c.isalnum() else "-" for c in result["environment"]["device_label"].lower()).strip("-")
        label = "-".join(filter(None, label.split("-")))[:40]
        stamp = result["started"].replace(":", "").replace("-", "")[:15]
        name = f"{label}-{tag or result.get('kind', 'model')}-{stamp}.json"
    path = Path(out_dir) / name
    write_json_atomic(path, result)
    return path
