"""`l2m-edge bench …` (measure) and `l2m-edge bench report FILES…` (merge into a table and a plot)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from l2m_edge.backends import backend_names
from l2m_edge.bench.artifacts import default_precisions
from l2m_edge.bench.harness import DEFAULT_BACKENDS, BenchSettings, PipelineOptions
from l2m_edge.bench.rows import FailedRow, Row, TrainRow
from l2m_edge.export.targets import artifact_precisions

from .app import app, console, finite

bench_app = typer.Typer(help="Latency benchmarks across backends, precisions, presets and devices.", add_completion=False)
app.add_typer(bench_app, name="bench")

DEFAULT_RESULTS = Path("benchmarks/results")
DEFAULT_GOALS = Path("benchmarks/goals.json")


def _split(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    items = tuple(t.strip() for t in text.split(",") if t.strip())
    return items or None


def _batches(text: str) -> tuple[int, ...]:
    from l2m_edge.errors import BenchError

    try:
        return tuple(int(b) for b in _split(text) or ("1",))
    except ValueError:
        raise BenchError(f"--batch takes comma-separated integers, e.g. 1,4 (got {text!r})") from None


@bench_app.callback(invoke_without_command=True)
def bench(
    ctx: typer.Context,
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Editor checkpoint (.safetensors). Without it, --preset benchmarks random-weight editors."),
    backends: str = typer.Option(",".join(DEFAULT_BACKENDS), "--backends", "-b", help=f"Comma list of {', '.join(backend_names())}."),
    precision: Optional[str] = typer.Option(None, "--precision", help=f"Comma list of artifact precisions, {', '.join(artifact_precisions())} (default: every precision each backend's export target offers)."),
    preset: Optional[str] = typer.Option(None, "--preset", "-p", help="Comma list of presets (random weights, seeded) when no --model is given; NAME:field=value varies one, e.g. mobile:w_hpf=1."),
    batch: str = typer.Option(",".join(map(str, BenchSettings.batches)), "--batch", help="Comma list of batch sizes, e.g. 1,4."),
    warmup: int = typer.Option(BenchSettings.warmup, "--warmup", help="Untimed calls after the first inference."),
    iters: Optional[int] = typer.Option(None, "--iters", "-n", help=f"Timed calls per row (default {BenchSettings.iters} unless --duration is given)."),
    duration: Optional[float] = typer.Option(None, "--duration", callback=finite(above=0), help="Time each row for this many seconds instead of --iters."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for every backend (default: each runtime's own choice)."),
    rounds: int = typer.Option(BenchSettings.rounds, "--rounds", help="Measure the whole plan this many times, interleaved; the report shows each row's median round and spread."),
    device: str = typer.Option(BenchSettings.device, "--device", help="cpu or cuda."),
    device_label: Optional[str] = typer.Option(None, "--device-label", help="Name of this machine in merged reports (default: GPU or CPU model)."),
    workdir: Optional[Path] = typer.Option(None, "--workdir", help="Cache of exported artifacts, inputs and random-weight checkpoints (default: $L2M_EDGE_CACHE/bench or ~/.cache/l2m-edge/bench)."),
    out: Path = typer.Option(DEFAULT_RESULTS, "--out", "-o", help="Directory the result JSON is written to."),
    in_process: bool = typer.Option(False, "--in-process", help="Measure every row in this process (faster; memory figures then overlap)."),
    pipeline: bool = typer.Option(False, "--pipeline", help="Measure the live pipeline per stage on --source instead of the bare model."),
    source: Optional[Path] = typer.Option(None, "--source", help="Video file for --pipeline."),
    frames: Optional[int] = typer.Option(None, "--frames", help="--pipeline: stop after this many frames (default: the whole clip)."),
    realtime: bool = typer.Option(PipelineOptions.realtime, "--realtime/--every-frame", help="--pipeline: play the video like a camera (glass-to-glass latency, stale frames dropped) or process every frame (throughput)."),
    style_every: int = typer.Option(PipelineOptions.style_every, "--style-every", min=1, help="--pipeline: compute each track's style code every K frames (exported rows use --split-style artifacts)."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="Also write this run's Markdown table here."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also write this run's PNG plot here."),
) -> None:
    """Measure rows of backend × precision × preset × batch (or, with --pipeline, the live pipeline)."""
    if ctx.invoked_subcommand is not None:
        return
    from l2m_edge.bench.harness import default_workdir, run_benchmark, write_result
    from l2m_edge.io import check_output_dir, check_output_file

    check_output_dir(out)  # before the measurements, not after
    for extra in (markdown, plot):
        if extra is not None:
            check_output_file(extra)

    settings = BenchSettings(
        backends=_split(backends) or (),
        precisions=_split(precision),
        presets=_split(preset),
        batches=_batches(batch),
        warmup=warmup,
        iters=iters if iters is not None or duration is not None else BenchSettings.iters,
        duration_s=duration,
        threads=threads,
        rounds=rounds,
        device=device,
        workdir=workdir or default_workdir(),
        isolate=not in_process,
        device_label=device_label,
        pipeline=PipelineOptions(source, frames, realtime, style_every) if pipeline else None,
    )
    result = run_benchmark(settings, model, progress=_print_row)
    path = write_result(result, out)
    console.print(f"wrote [bold]{path}[/]")
    _write_extras(path, markdown, plot)
    _fail_when_nothing_ran(result)


def _fail_when_nothing_ran(result: dict) -> None:
    from l2m_edge.errors import BenchError

    rows = result["rows"]
    if rows and all(r["status"] == "failed" for r in rows):
        raise BenchError(f"every row failed ({len(rows)}; reasons above) — nothing was measured")


def _print_row(row: Row) -> None:
    if isinstance(row, FailedRow):
        console.print(f"❌ {row.preset} {row.backend} {row.precision} b{row.batch}: {row.reason}", highlight=False)
        return
    lat = row.latency_ms  # type: ignore[attr-defined]
    mark = "✅" if row.status == "ok" else "⚠️ "
    ran = getattr(row, "actual_precision", None) or row.precision
    console.print(
        f"{mark} {row.preset} {row.backend} {row.precision} (ran {ran}) b{row.batch}: "
        f"p50 {lat['p50']:.2f} ms, p99 {lat['p99']:.2f} ms, {row.fps:.1f} FPS" + (f" — {row.reason}" if row.reason else ""),  # type: ignore[attr-defined]
        highlight=False,
    )


def _write_extras(path: Path, markdown: Path | None, plot: Path | None) -> None:
    from l2m_edge.bench.report import write_report

    if markdown is None and plot is None:
        return
    md, png = write_report([path], markdown or path.with_suffix(".md"), plot or path.with_suffix(".png"))
    console.print(f"wrote [bold]{md}[/] and [bold]{png}[/]")


@bench_app.command("report")
def report(
    files: list[Path] = typer.Argument(..., help="Result JSON files, from any number of devices (e.g. benchmarks/results/*.json)."),
    markdown: Path = typer.Option(Path("benchmarks/report.md"), "--markdown", help="Merged Markdown table."),
    plot: Path = typer.Option(Path("benchmarks/report.png"), "--plot", help="Merged PNG plot."),
    goals: Optional[Path] = typer.Option(
        DEFAULT_GOALS, "--goals", help="Speed goals (JSON, see benchmarks/goals.json) to report against; skipped when the default file is absent."
    ),
) -> None:
    """Merge result files from several devices into one Markdown table and one PNG plot."""
    from l2m_edge.bench.report import bench_files, merged_rows, read_goals, write_report
    from l2m_edge.bench.schema import load_result

    wanted = goals is not None and (goals != DEFAULT_GOALS or goals.is_file())
    md, png = write_report(files, markdown, plot, read_goals(goals) if wanted else None)
    ours, _, others = bench_files(files)
    for other in others:
        console.print(f"[dim]skipped {other}: not an l2m-edge bench result[/]")
    rows = merged_rows(load_result(f) for f in ours)
    table = Table(title=f"{len(rows)} rows from {len(ours)} file(s)")
    for column in ("device", "preset", "backend", "precision", "batch", "status", "p50 ms", "FPS"):
        table.add_column(column)
    for r in rows:
        ok = r["status"] != "failed"
        table.add_row(
            r["device_label"], r["preset"], r["backend"], r.get("actual_precision") or r["precision"], str(r["batch"]),
            {"ok": "✅", "parity_failed": "⚠️ parity", "failed": "❌ " + (r.get("reason") or "")}[r["status"]],
            f"{r['latency_ms']['p50']:.2f}" if ok else "–", f"{r['fps']:.1f}" if ok else "–",
        )
    console.print(table)
    console.print(f"wrote [bold]{md}[/] and [bold]{png}[/]")


@bench_app.command("train")
def train(
    preset: str = typer.Option("demo", "--preset", "-p", help="Comma list of presets."),
    ranks: str = typer.Option("1", "--ranks", help="Comma list of rank counts (each row runs under torchrun, gloo on CPUs, NCCL on GPUs)."),
    backends: str = typer.Option("torch", "--backends", "-b", help="Comma list: torch (eager), torch-compile."),
    precision: Optional[str] = typer.Option(None, "--precision", help="Comma list of fp32, bf16 (default: the trainer's default for the device)."),
    batch: int = typer.Option(8, "--batch", help="Global batch, split over the ranks."),
    steps: int = typer.Option(10, "--steps", "-n", help="Timed training steps per row."),
    warmup: int = typer.Option(2, "--warmup", help="Untimed steps first (compilation, allocator, loader start)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda (each rank takes cuda:LOCAL_RANK)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch CPU threads per rank."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Loader processes per rank (default: the trainer's)."),
    channels_last: Optional[bool] = typer.Option(None, "--channels-last/--no-channels-last", help="NHWC activations (default: the trainer's, on for CUDA)."),
    device_label: Optional[str] = typer.Option(None, "--device-label", help="Name of this machine in merged reports."),
    workdir: Optional[Path] = typer.Option(None, "--workdir", help="Scratch space for the rows' throwaway runs."),
    out: Path = typer.Option(DEFAULT_RESULTS, "--out", "-o", help="Directory the result JSON is written to."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="Also write this run's Markdown table here."),
) -> None:
    """Training throughput: steps/s, images/s, hours per 100k steps and peak memory per preset × backend × precision × ranks."""
    from l2m_edge.bench.harness import default_workdir, write_result
    from l2m_edge.bench.train_bench import TrainBenchSettings, run_train_benchmark
    from l2m_edge.errors import BenchError
    from l2m_edge.io import check_output_dir, check_output_file, write_text_atomic

    check_output_dir(out)  # before the training rows, not after
    if markdown is not None:
        check_output_file(markdown)
    try:
        rank_counts = tuple(int(r) for r in _split(ranks) or ("1",))
    except ValueError:
        raise BenchError(f"--ranks takes comma-separated integers, e.g. 1,2 (got {ranks!r})") from None
    settings = TrainBenchSettings(
        presets=_split(preset) or ("demo",), ranks=rank_counts, backends=_split(backends) or ("torch",),
        precisions=_split(precision) or (None,), batch=batch, steps=steps, warmup=warmup, device=device, threads=threads,
        workers=workers, channels_last=channels_last, device_label=device_label, workdir=workdir or default_workdir(),
    )
    result = run_train_benchmark(settings, progress=_print_train_row)
    path = write_result(result, out, tag="train")
    console.print(f"wrote [bold]{path}[/]")
    if markdown is not None:
        from l2m_edge.bench.report import markdown_report

        write_text_atomic(markdown, markdown_report([result], [str(path)]))
        console.print(f"wrote [bold]{markdown}[/]")


def _print_train_row(row: Row) -> None:
    head = f"{row.preset} {row.backend} {row.precision} batch {row.batch} × {getattr(row, 'ranks', None)} rank(s)"
    if not isinstance(row, TrainRow):
        console.print(f"❌ {head}: {row.reason}", highlight=False)
        return
    console.print(
        f"✅ {head} on {row.device}: {row.steps_per_s:.2f} steps/s, {row.images_per_s:.1f} images/s, "
        f"{row.s_per_100k_steps / 3600:.1f} h per 100k steps, CPU {row.cpu_s_per_step:.2f} s/step, "
        f"peak RSS {row.memory['peak_rss_mb']:.0f} MB/rank", highlight=False,
    )


# The options of the per-IR tools (crosscheck, profile): every OpenVINO IR of the presets or the checkpoint.
IR_MODEL = typer.Option(None, "--model", "-m", help="Editor checkpoint; without it, --preset builds random-weight editors.")
IR_PRESET = typer.Option("mobile", "--preset", "-p", help="Comma list of presets (ignored with --model).")
IR_PRECISION = typer.Option(None, "--precision", help=f"Comma list of OpenVINO artifact precisions (default: {','.join(default_precisions('openvino', 'cpu'))}, the openvino target's).")
IR_THREADS = typer.Option(2, "--threads", help="CPU threads: OpenVINO's INFERENCE_NUM_THREADS (and benchmark_app's -nthreads).")
IR_WORKDIR = typer.Option(None, "--workdir", help="Artifact cache shared with `l2m-edge bench`.")
IR_LABEL = typer.Option(None, "--device-label", help="Name of this machine: the same as the bench results' puts the cross-check beside their rows.")


def _ir_settings(model: Path | None, preset: str | None, precision: str | None, threads: int, workdir: Path | None, label: str | None) -> BenchSettings:
    from l2m_edge.bench.harness import default_workdir

    return BenchSettings(backends=("openvino",), precisions=_split(precision), presets=None if model else _split(preset), threads=threads,
                         workdir=workdir or default_workdir(), device_label=label)


@bench_app.command("crosscheck")
def crosscheck(
    model: Optional[Path] = IR_MODEL,
    preset: Optional[str] = IR_PRESET,
    precision: Optional[str] = IR_PRECISION,
    seconds: float = typer.Option(10.0, "--seconds", callback=finite(above=0), help="Length of each measurement (ours and each benchmark_app run) per round."),
    rounds: int = typer.Option(3, "--rounds", min=1, help="Interleaved rounds per IR (ours, app, app, ours, …): medians and their spread."),
    threads: int = IR_THREADS,
    workdir: Optional[Path] = IR_WORKDIR,
    device_label: Optional[str] = IR_LABEL,
    out: Path = typer.Option(Path("benchmarks/crosscheck.json"), "--out", "-o", help="Where the comparison JSON goes (`bench report` reads it beside the result files)."),
) -> None:
    """Time the same IR with our loop and with OpenVINO's benchmark_app, interleaved."""
    from l2m_edge.bench.crosscheck import run_crosscheck
    from l2m_edge.io import check_output_file, write_json_atomic

    check_output_file(out)  # before the measurements, not after
    settings = _ir_settings(model, preset, precision, threads, workdir, device_label)

    def show(entry: dict) -> None:
        s = entry["summary"]
        console.print(
            f"{entry['preset']} openvino {entry['precision']} (median ms [min–max] over {rounds} rounds): ours {s['ours_ms']['median']:.2f} "
            f"[{s['ours_ms']['min']:.2f}–{s['ours_ms']['max']:.2f}]; benchmark_app -hint none -nthreads {threads} {s['app_ms']['median']:.2f} "
            f"[{s['app_ms']['min']:.2f}–{s['app_ms']['max']:.2f}]; ours ÷ app {s['ours_over_app']['median']:.2f}× "
            f"({'within' if s['agrees'] else 'outside'} 10 %); -hint latency {s['app_latency_hint_ms']['median']:.2f}",
            highlight=False, markup=False,
        )

    result = run_crosscheck(settings, model, seconds, progress=show, rounds=rounds)
    write_json_atomic(out, result)
    console.print(f"wrote [bold]{out}[/]")


@bench_app.command("profile")
def profile(
    model: Optional[Path] = IR_MODEL,
    preset: Optional[str] = IR_PRESET,
    precision: Optional[str] = IR_PRECISION,
    iters: int = typer.Option(30, "--iters", "-n", min=1, help="Profiled calls per IR (each node's median is kept)."),
    threads: int = IR_THREADS,
    workdir: Optional[Path] = IR_WORKDIR,
    device_label: Optional[str] = IR_LABEL,
    out: Path = typer.Option(Path("benchmarks/profile.json"), "--out", "-o", help="The profile JSON; the Markdown tables go beside it (.md)."),
) -> None:
    """Where the time goes: OpenVINO's per-layer counters summed by op kind, beside the CPU's arithmetic limit."""
    from l2m_edge.bench.profile import markdown_entry, markdown_profile, run_profile
    from l2m_edge.io import check_output_file, write_json_atomic, write_text_atomic

    check_output_file(out)
    check_output_file(out.with_suffix(".md"))
    settings = _ir_settings(model, preset, precision, threads, workdir, device_label)
    result = run_profile(settings, model, iters, progress=lambda entry: console.print(markdown_entry(entry), highlight=False))
    write_json_atomic(out, result)
    write_text_atomic(out.with_suffix(".md"), markdown_profile(result))
    console.print(f"wrote [bold]{out}[/] and [bold]{out.with_suffix('.md')}[/]")


@bench_app.command("import-native")
def import_native(
    files: list[Path] = typer.Argument(..., help="Output of `l2m-edge-runner … --json` (one report per line, or a JSON list)."),
    device_label: Optional[str] = typer.Option(None, "--device-label", help="Name of this machine in merged reports."),
    out: Path = typer.Option(DEFAULT_RESULTS, "--out", "-o", help="Directory the result JSON is written to."),
) -> None:
    """Wrap native runner reports as a result file (run it on the device that ran the runner)."""
    from l2m_edge.bench.harness import write_result
    from l2m_edge.bench.native_import import wrap_native

    result = wrap_native(files, device_label)
    path = write_result(result, out, tag="native")
    console.print(f"wrote [bold]{path}[/] ({len(result['rows'])} native rows)")
