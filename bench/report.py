"""Merge result files (from any number of devices) into one Markdown table and one PNG plot.

Rows keep their device's label, so a Jetson's or a GPU server's results drop in beside this
machine's. Speed-ups are against PyTorch eager fp32 on the same device, preset and batch.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Iterable

from l2m_edge.errors import BenchError
from l2m_edge.io import atomic_path, check_output_file, write_text_atomic

from .schema import SCHEMA, load_result

STATUS_MARK = {"ok": "✅", "parity_failed": "⚠️ parity", "failed": "❌"}


def merged_rows(results: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every row of every result, each tagged with its device label, result date and machine load."""
    rows = []
    for result in results:
        env = result["environment"]
        for row in result["rows"]:
            rows.append({**row, "device_label": env["device_label"], "date": env["date"], "load_average": result.get("load_average")})
    return rows


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _separator(head: str) -> str:
    return "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"


def _short_precision(row: dict[str, Any]) -> str:
    actual = row.get("actual_precision")
    return row["precision"] if not actual or actual == row["precision"] else f"{row['precision']}→{actual}"


def _precision(row: dict[str, Any]) -> str:
    actual = row.get("actual_precision")
    return row["precision"] if not actual or actual == row["precision"] else f"{row['precision']} (ran {actual})"


def _eager_p50(rows: list[dict[str, Any]]) -> dict[tuple[str, str, int], float]:
    base = {}
    for r in rows:
        if r["mode"] == "model" and r["backend"] == "torch" and r["precision"] == "fp32" and r["status"] != "failed":
            key = (r["device_label"], r["preset"], r["batch"])
            base[key] = min(base.get(key, float("inf")), r["latency_ms"]["p50"])  # the fastest eager run (e.g. of several thread counts)
    return base


def model_table(rows: list[dict[str, Any]]) -> str:
    rows = [r for r in rows if r["mode"] == "model"]
    if not rows:
        return ""
    base = _eager_p50(rows)
    head = (
        "| device | preset | backend | precision | batch | threads | status | size MB | load s | first ms | p50 ms | mean ± std ms "
        "| p90 | p95 | p99 | min | max | FPS | × eager | CPU ms/call | peak RSS MB | max abs err | PSNR dB |"
    )
    lines = [head, _separator(head)]
    for r in rows:
        mark = STATUS_MARK[r["status"]]
        if r["status"] == "failed":
            lines.append(f"| {r['device_label']} | {r['preset']} | {r['backend']} | {r['precision']} | {r['batch']} | – | {mark} {r['reason']} |" + " – |" * (head.count("|") - 8))
            continue
        lat = r["latency_ms"]
        eager = base.get((r["device_label"], r["preset"], r["batch"]))
        parity = r.get("parity") or {}
        size = r.get("artifact_bytes")
        status = mark if r["status"] == "ok" else f"{mark}: {r['reason']}"
        lines.append(
            f"| {r['device_label']} | {r['preset']} | {r['backend']} | {_precision(r)} | {r['batch']} | {r.get('threads') or '–'} | {status} "
            f"| {_fmt(size / 2**20 if size else None)} | {_fmt(r['load_s'], 2)} | {_fmt(r['first_inference_ms'])} "
            f"| **{_fmt(lat['p50'])}** | {_fmt(lat['mean'])} ± {_fmt(lat['std'])} | {_fmt(lat['p90'])} | {_fmt(lat['p95'])} "
            f"| {_fmt(lat['p99'])} | {_fmt(lat['min'])} | {_fmt(lat['max'])} | {_fmt(r['fps'])} "
            f"| {_fmt(eager / lat['p50'], 2) + '×' if eager else '–'} | {_fmt(r.get('cpu_ms_per_call'))} | {_fmt(r['memory'].get('peak_rss_mb'), 0)} "
            f"| {_fmt(parity.get('max_abs'), 4)} | {_fmt(parity.get('psnr_db'))} |"
        )
    return "\n".join(lines)


def pipeline_table(rows: list[dict[str, Any]]) -> str:
    rows = [r for r in rows if r["mode"] == "pipeline"]
    if not rows:
        return ""
    stages: list[str] = []
    for r in rows:
        for s in r.get("stages", {}):
            if s not in stages:
                stages.append(s)
    head = "| device | preset | backend | precision | source | frames | dropped | status | FPS | glass-to-glass p50 | p90 | p99 | CPU ms/frame | " + " | ".join(f"{s} p50" for s in stages) + " |"
    lines = [head, _separator(head)]
    for r in rows:
        if r["status"] == "failed":
            lines.append(f"| {r['device_label']} | {r['preset']} | {r['backend']} | {r['precision']} | – | – | – | ❌ {r['reason']} |" + " – |" * (head.count("|") - 9))
            continue
        lat = r["latency_ms"]
        per_stage = " | ".join(_fmt(r["stages"][s]["p50"], 2) if s in r["stages"] else "–" for s in stages)
        lines.append(
            f"| {r['device_label']} | {r['preset']} | {r['backend']} | {_precision(r)} | {Path(r['source']).name} "
            f"({'×'.join(map(str, r['frame_size']))}{', paced' if r.get('paced') else ''}) | {r['frames']} | {r.get('frames_dropped', '–')} | {STATUS_MARK[r['status']]} | {_fmt(r['fps'])} "
            f"| {_fmt(lat['p50'])} | {_fmt(lat['p90'])} | {_fmt(lat['p99'])} | {_fmt(r.get('cpu_ms_per_frame'))} | {per_stage} |"
        )
    return "\n".join(lines)


def train_table(rows: list[dict[str, Any]]) -> str:
    """Training throughput; × 1 rank = steps/s over the 1-rank row of the same device, preset, backend, precision and batch."""
    rows = [r for r in rows if r["mode"] == "train"]
    if not rows:
        return ""
    single = {(r["device_label"], r["preset"], r["backend"], r["precision"], r["batch"]): r["steps_per_s"]
              for r in rows if r["status"] == "ok" and r["ranks"] == 1}
    head = ("| device | preset | backend | precision | global batch | ranks | threads/rank | workers/rank | status | step p50 ms | steps/s "
            "| images/s | h per 100k steps | CPU s/step (all ranks) | × 1 rank | peak RSS MB/rank | GPU peak MB | first step s |")
    lines = [head, _separator(head)]
    for r in rows:
        if r["status"] == "failed":
            lines.append(f"| {r['device_label']} | {r['preset']} | {r['backend']} | {r['precision']} | {r['batch']} | {r.get('ranks', '–')} "
                         f"| – | – | ❌ {r['reason']} |" + " – |" * (head.count("|") - 10))
            continue
        base = single.get((r["device_label"], r["preset"], r["backend"], r["precision"], r["batch"]))
        lines.append(
            f"| {r['device_label']} | {r['preset']} | {r['backend']} | {r['precision']} | {r['batch']} | {r['ranks']} | {r['threads']} "
            f"| {r['workers']} | {STATUS_MARK[r['status']]} | {_fmt(r['latency_ms']['p50'])} | **{_fmt(r['steps_per_s'], 2)}** "
            f"| {_fmt(r['images_per_s'])} | {_fmt(r['s_per_100k_steps'] / 3600)} | {_fmt(r['cpu_s_per_step'], 2)} "
            f"| {_fmt(r['steps_per_s'] / base, 2) + '×' if base else '–'} | {_fmt(r['memory'].get('peak_rss_mb'), 0)} "
            f"| {_fmt(r['memory'].get('gpu_peak_mb'), 0)} | {_fmt(r['first_step_s'], 1)} |"
        )
    return "\n".join(lines)


# Issue 7's goals, on the mobile preset at batch 1: P1 best parity-passing backend vs PyTorch eager,
# P4 OpenVINO INT8 vs f32 and vs bf16. Reported, never asserted.
P1_SPEEDUP = 5.0
P4_VS_F32 = 2.3
P4_VS_BF16 = 1.25


def _ratio(num: dict[str, Any] | None, den: dict[str, Any] | None, key: str) -> float | None:
    if not num or not den:
        return None
    a, b = (num["latency_ms"]["p50"], den["latency_ms"]["p50"]) if key == "p50" else (num.get("cpu_ms_per_call"), den.get("cpu_ms_per_call"))
    return a / b if a and b else None


def _verdict(ratio: float | None, goal: float) -> str:
    return "–" if ratio is None else f"{ratio:.2f}× {'✅' if ratio >= goal else '❌'}"


def goals_table(rows: list[dict[str, Any]], preset: str = "mobile") -> str:
    """Measured vs goal per device (p50 ratios; CPU-time ratios beside them, which load disturbs less)."""
    lines = [
        f"| device | goal | compared ({preset}, batch 1) | p50 ratio | CPU-time ratio | target |",
        "|---|---|---|---|---|---|",
    ]
    for device in dict.fromkeys(r["device_label"] for r in rows):
        ran = [r for r in rows if r["device_label"] == device and r["mode"] == "model" and r["preset"] == preset
               and r["batch"] == 1 and r["status"] != "failed"]

        def find(backend: str, actual: str) -> dict[str, Any] | None:
            return next((r for r in ran if r["backend"] == backend and r.get("actual_precision") == actual), None)

        eagers = [r for r in ran if r["backend"] == "torch" and r.get("actual_precision") == "fp32"]
        eager = min(eagers, key=lambda r: r["latency_ms"]["p50"]) if eagers else None  # the fastest thread count
        eager_threads = f" ({eager['threads']} thr)" if eager and eager.get("threads") else ""
        passing = [r for r in ran if r["status"] == "ok" and r["backend"] not in ("torch",)]
        best = min(passing, key=lambda r: r["latency_ms"]["p50"]) if passing else None
        fastest = min((r for r in ran if r["backend"] != "torch"), key=lambda r: r["latency_ms"]["p50"], default=None)
        name = lambda r: f"{r['backend']} {_short_precision(r)}" if r else "none"  # noqa: E731
        lines.append(f"| {device} | P1 | PyTorch eager{eager_threads} ÷ best backend whose parity passes ({name(best)}) | {_verdict(_ratio(eager, best, 'p50'), P1_SPEEDUP)} | {_verdict(_ratio(eager, best, 'cpu'), P1_SPEEDUP)} | ≥ {P1_SPEEDUP:g}× |")
        if fastest is not None and fastest is not best:
            lines.append(f"| {device} | (P1, any parity) | PyTorch eager ÷ fastest backend ({name(fastest)}, {STATUS_MARK[fastest['status']]}) | {_verdict(_ratio(eager, fastest, 'p50'), P1_SPEEDUP)} | {_verdict(_ratio(eager, fastest, 'cpu'), P1_SPEEDUP)} | ≥ {P1_SPEEDUP:g}× |")
        f32, bf16, int8 = find("openvino", "fp32"), find("openvino", "bf16"), find("openvino", "int8")
        int8_note = f" (INT8 {STATUS_MARK[int8['status']]})" if int8 else ""
        lines.append(f"| {device} | P4 | OpenVINO f32 ÷ INT8{int8_note} | {_verdict(_ratio(f32, int8, 'p50'), P4_VS_F32)} | {_verdict(_ratio(f32, int8, 'cpu'), P4_VS_F32)} | ≥ {P4_VS_F32:g}× |")
        lines.append(f"| {device} | P4 | OpenVINO bf16 ÷ INT8{int8_note} | {_verdict(_ratio(bf16, int8, 'p50'), P4_VS_BF16)} | {_verdict(_ratio(bf16, int8, 'cpu'), P4_VS_BF16)} | ≥ {P4_VS_BF16:g}× |")
    return "\n".join(lines)


def markdown_report(results: list[dict[str, Any]], sources: list[str] | None = None) -> str:
    rows = merged_rows(results)
    parts = ["# l2m-edge benchmark report", ""]
    parts.append("Latencies in ms per call (a call is one batch); FPS = batch × 1000 / mean; × eager = PyTorch eager fp32 p50 ÷ this p50 on the same device, preset and batch.")
    parts.append("")
    parts.append("## Devices")
    parts.append("")
    for result in results:
        env = result["environment"]
        gpus = ", ".join(f"{g['name']} (driver {g.get('driver')})" for g in env["gpus"]) or "no GPU"
        load = result.get("load_average") or {}
        parts.append(
            f"- **{env['device_label']}** — {env['cpu']['model']}, {env['cpu'].get('usable_cores')} cores; {gpus}; {env['os']}; "
            f"Python {env['python']}; power mode {env.get('power_mode') or 'n/a'}; {env['date']}; commit {env['git_commit'][:12]}; "
            f"load avg before {load.get('before')} after {load.get('after')}"
        )
    table = model_table(rows)
    if table:
        parts += ["", "## Model latency", "", table]
    if any(r["mode"] == "model" and r["preset"] == "mobile" for r in rows):
        parts += ["", "## Goals (mobile preset, batch 1)", "", goals_table(rows)]
    table = pipeline_table(rows)
    if table:
        parts += ["", "## Live pipeline", "", table]
    table = train_table(rows)
    if table:
        parts += ["", "## Training throughput", "", table]
    if sources:
        parts += ["", "Merged from: " + ", ".join(f"`{s}`" for s in sources)]
    return "\n".join(parts) + "\n"


def plot_report(results: list[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Latency distributions per row (box plots, log scale) and FPS by preset (grouped bars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ran = [r for r in merged_rows(results) if r["status"] != "failed"]
    rows = [r for r in ran if r.get("samples_ms")]  # native runner rows carry statistics only
    if not ran:
        raise BenchError("no row with timings to plot (every row failed)")
    several = len({r["device_label"] for r in ran}) > 1
    by_threads = len({r.get("threads") for r in ran if r["mode"] == "model"}) > 1

    def threads_of(r: dict[str, Any]) -> str:
        return f" {r['threads']}thr" if by_threads and r.get("threads") else ""

    labels = [
        f"{r['device_label'] + ' · ' if several else ''}{r['preset']} · {r['backend']} {_short_precision(r)}{threads_of(r)}"
        + (f" · b{r['batch']}" if r["batch"] != 1 else "") + (" · pipeline" if r["mode"] == "pipeline" else "") + (f" · train ×{r['ranks']}" if r["mode"] == "train" else "")
        for r in rows
    ]
    fig, (ax_lat, ax_fps) = plt.subplots(1, 2, figsize=(16, max(4.0, 0.32 * len(rows) + 1.5)), gridspec_kw={"width_ratios": [3, 2]})
    if rows:
        ax_lat.boxplot([r["samples_ms"] for r in rows], vert=False, tick_labels=labels, showfliers=True, flierprops={"markersize": 2})
    ax_lat.set_xscale("log")
    ax_lat.set_xlabel("latency per call, ms (log scale)")
    ax_lat.set_title("latency distribution per row")
    ax_lat.invert_yaxis()
    ax_lat.grid(axis="x", which="both", alpha=0.3)

    model_rows = [r for r in ran if r["mode"] == "model"]
    if model_rows:
        smallest = min(r["batch"] for r in model_rows)
        model_rows = [r for r in model_rows if r["batch"] == smallest]

    def series_of(r: dict[str, Any]) -> str:
        return f"{r['device_label'] + ' · ' if several else ''}{r['backend']} {_short_precision(r)}{threads_of(r)}"

    presets = list(dict.fromkeys(r["preset"] for r in model_rows))
    series = list(dict.fromkeys(series_of(r) for r in model_rows))
    fps = {(series_of(r), r["preset"]): r["fps"] for r in model_rows}
    width = 0.8 / max(len(series), 1)
    for i, name in enumerate(series):
        values = [fps.get((name, preset), 0.0) for preset in presets]
        ax_fps.bar([p + i * width - 0.4 + width / 2 for p in range(len(presets))], values, width, label=name)
    ax_fps.set_xticks(range(len(presets)), presets)
    ax_fps.set_yscale("log")
    ax_fps.set_ylabel("frames per second (log scale)")
    ax_fps.set_title("throughput by preset" + (f" (batch {model_rows[0]['batch']})" if model_rows else ""))
    ax_fps.grid(axis="y", which="both", alpha=0.3)
    if series:
        ax_fps.legend(fontsize=7, loc="best")
    fig.tight_layout()
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        plt.close(fig)
    return path


def bench_files(paths: list[str | os.PathLike]) -> tuple[list[Path], list[Path]]:
    """(our result files, other JSON files) — `benchmarks/results/*.json` also holds other tools' results.

    A file that claims our schema but is broken is not skipped: `load_result` refuses it.
    """
    ours, others = [], []
    for p in map(Path, paths):
        try:
            schema = json.loads(p.read_text()).get("schema", "") if p.is_file() else SCHEMA
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            schema = SCHEMA  # let load_result name the problem
        (ours if str(schema).startswith(SCHEMA.split("/")[0] + "/") else others).append(p)
    return ours, others


def write_report(result_paths: list[str | os.PathLike], markdown_path: str | os.PathLike, png_path: str | os.PathLike) -> tuple[Path, Path]:
    """Read and validate every result file (other tools' JSON is skipped), then write the merged Markdown and PNG."""
    md, png = check_output_file(markdown_path), check_output_file(png_path)
    paths, _ = bench_files(list(result_paths))
    if not paths:
        raise BenchError("no l2m-edge bench result files given; e.g. `l2m-edge bench report benchmarks/results/*.json`")
    results = [load_result(p) for p in paths]
    plot_report(results, png)
    rel_png = os.path.relpath(png, md.parent)
    write_text_atomic(md, markdown_report(results, [str(p) for p in paths]) + f"\n![latency and FPS]({rel_png})\n")
    return md, png
