"""Merge result files (from any number of devices) into one Markdown table and one PNG plot.

Rows keep their device's label, so a Jetson's or a GPU server's results drop in beside this
machine's. Speed-ups are against PyTorch eager fp32 on the same device, preset and batch.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from l2m_edge.errors import BenchError
from l2m_edge.io import atomic_path, check_output_file, write_text_atomic

from .environment import ISA_FLAGS
from .schema import SCHEMA, load_result

STATUS_MARK = {"ok": "✅", "parity_failed": "⚠️ parity", "failed": "❌"}


def merged_rows(results: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every row of every result, each tagged with its device label, result date and machine load; a row
    measured in several rounds (`--rounds`) is one row: its median round, with the spread over the rounds."""
    rows = []
    for result in results:
        env = result["environment"]
        for row in result["rows"]:
            rows.append({**row, "device_label": env["device_label"], "date": env["date"], "load_average": result.get("load_average")})
    return collapse_rounds(rows)


def collapse_rounds(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per run × row key: the round with the median p50 (a failed round only when none ran), with
    `rounds` (how many ran) and `spread` (min, max of p50 and p90 over them)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        key = (r["device_label"], r["date"], r["mode"], r["preset"], r["backend"], r["precision"], r["batch"], r.get("ranks"), r.get("threads"))
        groups.setdefault(key, []).append(r)
    out = []
    for group in groups.values():
        ran = sorted((r for r in group if r["status"] != "failed"), key=lambda r: r["latency_ms"]["p50"])
        if len(ran) < 2:
            out.append(ran[0] if ran else group[0])
            continue
        spread = {k: (ran[0]["latency_ms"][k], ran[-1]["latency_ms"][k]) for k in ("p50",)}
        p90 = sorted(r["latency_ms"]["p90"] for r in ran)
        out.append({**ran[(len(ran) - 1) // 2], "rounds": len(ran), "spread": {**spread, "p90": (p90[0], p90[-1])}})
    return out


def _with_spread(row: dict[str, Any], key: str, digits: int = 1) -> str:
    """A latency figure, and its min–max over the rounds when the row has several."""
    value = _fmt(row["latency_ms"][key], digits)
    low_high = (row.get("spread") or {}).get(key)
    return value if not low_high else f"{value} [{_fmt(low_high[0], digits)}–{_fmt(low_high[1], digits)}, {row['rounds']} rounds]"


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


CrossChecks = dict[tuple[str, str, str], dict[str, Any]]


def crosscheck_index(crosschecks: Iterable[dict[str, Any]]) -> CrossChecks:
    """(device label, preset, precision) → the cross-check summary of that IR (the latest file wins)."""
    from .crosscheck import crosscheck_summary

    index = {}
    for result in crosschecks:
        for entry in result["entries"]:
            index[(result["environment"]["device_label"], entry["preset"], entry["precision"])] = crosscheck_summary(entry)
    return index


def _spread_text(spread: dict[str, Any], digits: int = 1, unit: str = "") -> str:
    return f"{spread['median']:.{digits}f}{unit} [{spread['min']:.{digits}f}–{spread['max']:.{digits}f}]"


def crosscheck_cell(row: dict[str, Any], crosschecks: CrossChecks) -> str:
    """benchmark_app's median on the same IR and ours ÷ app (interleaved rounds, spread in brackets), for an OpenVINO row."""
    summary = crosschecks.get((row["device_label"], row["preset"], row["precision"])) if row["backend"] == "openvino" and row["batch"] == 1 else None
    if summary is None:
        return "–"
    mark = "✅" if summary["agrees"] else "❌"
    return f"{_spread_text(summary['app_ms'])} ms; ours ÷ app {_spread_text(summary['ours_over_app'], 2, '×')} {mark}"


def crosscheck_table(crosschecks: CrossChecks) -> str:
    """Every cross-checked IR: ours, benchmark_app (hint none and hint latency), ratios and CPU ms per call, with spreads."""
    if not crosschecks:
        return ""
    head = ("| device | preset | IR | ours p50 ms | benchmark_app p50 ms (-hint none, same threads, 1 stream) | ours ÷ app "
            "| benchmark_app -hint latency p50 ms | ours ÷ app (latency hint) | CPU ms/call ours | CPU ms/call app | within 10 % |")
    lines = [head, _separator(head)]
    for (device, preset, precision), s in crosschecks.items():
        cpu = [_spread_text(s[k]) if s.get(k) else "–" for k in ("cpu_ms_ours", "cpu_ms_app")]
        lines.append(
            f"| {device} | {preset} | {precision} | {_spread_text(s['ours_ms'])} | {_spread_text(s['app_ms'])} | {_spread_text(s['ours_over_app'], 2, '×')} "
            f"| {_spread_text(s['app_latency_hint_ms'])} | {_spread_text(s['ours_over_app_latency_hint'], 2, '×')} | {cpu[0]} | {cpu[1]} | {'✅' if s['agrees'] else '❌'} |"
        )
    return "\n".join(lines)


def model_table(rows: list[dict[str, Any]], crosschecks: CrossChecks | None = None) -> str:
    rows = [r for r in rows if r["mode"] == "model"]
    if not rows:
        return ""
    base = _eager_p50(rows)
    crosschecks = crosschecks or {}
    head = (
        "| device | preset | backend | precision | batch | threads | status | size MB | load s | first ms | p50 ms | mean ± std ms "
        "| p90 | p95 | p99 | min | max | FPS | × eager | CPU ms/call | peak RSS MB | max abs err | PSNR dB | benchmark_app p50 [spread] (cross-check) |"
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
            f"| **{_with_spread(r, 'p50')}** | {_fmt(lat['mean'])} ± {_fmt(lat['std'])} | {_fmt(lat['p90'])} | {_fmt(lat['p95'])} "
            f"| {_fmt(lat['p99'])} | {_fmt(lat['min'])} | {_fmt(lat['max'])} | {_fmt(r['fps'])} "
            f"| {_fmt(eager / lat['p50'], 2) + '×' if eager else '–'} | {_fmt(r.get('cpu_ms_per_call'))} | {_fmt(r['memory'].get('peak_rss_mb'), 0)} "
            f"| {_fmt(parity.get('max_abs'), 4)} | {_fmt(parity.get('psnr_db'))} | {crosscheck_cell(r, crosschecks)} |"
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
            f"({'×'.join(map(str, r['frame_size']))}{', paced' if r.get('paced') else ''}{_style_reuse(r)}) | {r['frames']} | {r.get('frames_dropped', '–')} | {STATUS_MARK[r['status']]} | {_fmt(r['fps'])} "
            f"| {_with_spread(r, 'p50')} | {_with_spread(r, 'p90')} | {_fmt(lat['p99'])} | {_fmt(r.get('cpu_ms_per_frame'))} | {per_stage} |"
        )
    return "\n".join(lines)


def _style_reuse(row: dict[str, Any]) -> str:
    """`, style every K` for a pipeline row that reused style codes (`--style-every K`)."""
    every = row.get("style_every") or 1
    return f", style every {every}" if every > 1 else ""


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


@dataclass(frozen=True)
class RowPick:
    """Which row of a device a goal compares: the fastest (p50) matching all the given fields."""

    backend: str | None = None
    precision: str | None = None  # the precision that actually ran
    status: str | None = None  # e.g. "ok": parity passed
    exclude_backends: tuple[str, ...] = ()

    def pick(self, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        matching = [
            r for r in rows
            if (self.backend is None or r["backend"] == self.backend) and (self.precision is None or r.get("actual_precision") == self.precision)
            and (self.status is None or r["status"] == self.status) and r["backend"] not in self.exclude_backends
        ]
        return min(matching, key=lambda r: r["latency_ms"]["p50"], default=None)


@dataclass(frozen=True)
class CpuCondition:
    """The CPUs a goal applies to, by the ISA flags a result records (`environment.cpu.isa`): all of
    `isa_all`, at least one of `isa_any` (when given) and none of `isa_none`."""

    isa_all: tuple[str, ...] = ()
    isa_any: tuple[str, ...] = ()
    isa_none: tuple[str, ...] = ()

    def holds(self, isa: Iterable[str]) -> bool:
        flags = set(isa)
        return set(self.isa_all) <= flags and (not self.isa_any or bool(flags & set(self.isa_any))) and not flags & set(self.isa_none)

    def needs(self) -> str:
        """What a CPU needs for the goal to apply, in words: 'avx2; none of avx512f, …'."""
        parts = [" and ".join(self.isa_all)] if self.isa_all else []
        parts += [f"one of {', '.join(self.isa_any)}"] if self.isa_any else []
        parts += [f"none of {', '.join(self.isa_none)}"] if self.isa_none else []
        return "; ".join(parts)


@dataclass(frozen=True)
class Goal:
    """slower ÷ faster (p50, and CPU time per call beside it) must reach `at_least`, on the CPUs `applies_when` admits (None: all)."""

    name: str
    what: str
    slower: RowPick
    faster: RowPick
    at_least: float
    applies_when: CpuCondition | None = None


@dataclass(frozen=True)
class Goals:
    """A project's speed goals, read from a JSON file (benchmarks/goals.json): data, not library code."""

    preset: str
    batch: int
    goals: tuple[Goal, ...]


def read_goals(path: str | os.PathLike) -> Goals:
    """Goals from a JSON file; a malformed one is a one-line BenchError naming the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        goals = tuple(
            Goal(g["name"], g["what"], _pick(g["slower"]), _pick(g["faster"]), float(g["at_least"]), _condition(g.get("applies_when")))
            for g in data["goals"]
        )
        return Goals(str(data["preset"]), int(data["batch"]), goals)
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BenchError(f"{path}: not a goals file ({type(exc).__name__}: {exc}); see benchmarks/goals.json") from None


def _pick(data: dict[str, Any]) -> RowPick:
    return RowPick(data.get("backend"), data.get("precision"), data.get("status"), tuple(data.get("exclude_backends", ())))


def _condition(data: dict[str, Any] | None) -> CpuCondition | None:
    """A goal's `applies_when`; a key or a flag a result never records is refused (it could never match)."""
    if data is None:
        return None
    keys = ("isa_all", "isa_any", "isa_none")
    lists = isinstance(data, dict) and data and set(data) <= set(keys) and all(isinstance(v, list) for v in data.values())
    if not lists or any(flag not in ISA_FLAGS for flags in data.values() for flag in flags):
        raise ValueError(f"applies_when {data!r}: takes {', '.join(keys)}, each a list of the recorded flags {', '.join(ISA_FLAGS)}")
    return CpuCondition(*(tuple(data.get(k, ())) for k in keys))


def _ratio(num: dict[str, Any] | None, den: dict[str, Any] | None, key: str) -> float | None:
    if not num or not den:
        return None
    a, b = (num["latency_ms"]["p50"], den["latency_ms"]["p50"]) if key == "p50" else (num.get("cpu_ms_per_call"), den.get("cpu_ms_per_call"))
    return a / b if a and b else None


def _verdict(ratio: float | None, goal: float) -> str:
    return "–" if ratio is None else f"{ratio:.2f}× {'✅' if ratio >= goal else '❌'}"


def device_isa(results: Iterable[dict[str, Any]]) -> dict[str, list[str] | None]:
    """Device label → the CPU's ISA flags its results record (None: not recorded)."""
    return {result["environment"]["device_label"]: result["environment"]["cpu"].get("isa") for result in results}


def goals_table(rows: list[dict[str, Any]], goals: Goals, isa: dict[str, list[str] | None]) -> str:
    """Measured vs goal per device (p50 ratios; CPU-time ratios beside them, which load disturbs less); a goal
    whose `applies_when` the device's CPU (`isa`: device label → ISA flags) does not meet is not scored."""
    lines = [
        f"| device | goal | compared ({goals.preset}, batch {goals.batch}) | p50 ratio | CPU-time ratio | target |",
        "|---|---|---|---|---|---|",
    ]

    def name(r: dict[str, Any] | None) -> str:
        if r is None:
            return "none"
        threads = f", {r['threads']} thr" if r["backend"] == "torch" and r.get("threads") else ""
        return f"{r['backend']} {_short_precision(r)}{threads}, {STATUS_MARK[r['status']]}"

    for device in dict.fromkeys(r["device_label"] for r in rows):
        ran = [r for r in rows if r["device_label"] == device and r["mode"] == "model" and r["preset"] == goals.preset
               and r["batch"] == goals.batch and r["status"] != "failed"]
        for goal in goals.goals:
            condition, flags = goal.applies_when, isa.get(device)
            if condition is not None and (flags is None or not condition.holds(flags)):
                why = "not applicable on this CPU" if flags is not None else "not scored: this device's CPU flags are not recorded"
                lines.append(f"| {device} | {goal.name} | {goal.what} | {why} (needs {condition.needs()}) | – | ≥ {goal.at_least:g}× |")
                continue
            slower, faster = goal.slower.pick(ran), goal.faster.pick(ran)
            compared = f"{goal.what} ({name(slower)} ÷ {name(faster)})"
            lines.append(
                f"| {device} | {goal.name} | {compared} | {_verdict(_ratio(slower, faster, 'p50'), goal.at_least)} "
                f"| {_verdict(_ratio(slower, faster, 'cpu'), goal.at_least)} | ≥ {goal.at_least:g}× |"
            )
    return "\n".join(lines)


def markdown_report(
    results: list[dict[str, Any]], sources: list[str] | None = None, goals: Goals | None = None, crosschecks: list[dict[str, Any]] | None = None
) -> str:
    rows = merged_rows(results)
    checks = crosscheck_index(crosschecks or [])
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
    table = model_table(rows, checks)
    if table:
        parts += ["", "## Model latency", "", table]
    table = crosscheck_table(checks)
    if table:
        parts += ["", "## Cross-check with OpenVINO's benchmark_app (same IR, interleaved rounds: median [min–max])", "", table]
    if goals is not None and any(r["mode"] == "model" and r["preset"] == goals.preset for r in rows):
        parts += ["", f"## Goals ({goals.preset} preset, batch {goals.batch})", "", goals_table(rows, goals, device_isa(results))]
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


def bench_files(paths: list[str | os.PathLike]) -> tuple[list[Path], list[Path], list[Path]]:
    """(our result files, `bench crosscheck` files, other JSON files) — `benchmarks/results/*.json` also holds other tools' results.

    A file that claims our schema but is broken is not skipped: `load_result` refuses it.
    """
    from .crosscheck import CROSSCHECK_SCHEMA

    ours, checks, others = [], [], []
    for p in map(Path, paths):
        try:
            schema = json.loads(p.read_text()).get("schema", "") if p.is_file() else SCHEMA
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            schema = SCHEMA  # let load_result name the problem
        if str(schema).startswith(SCHEMA.split("/")[0] + "/"):
            ours.append(p)
        elif str(schema).startswith(CROSSCHECK_SCHEMA.split("/")[0] + "/"):
            checks.append(p)
        else:
            others.append(p)
    return ours, checks, others


def load_crosscheck(path: Path) -> dict[str, Any]:
    """A `bench crosscheck` file (either version): its environment and entries, or a one-line BenchError."""
    try:
        data = json.loads(Path(path).read_text())
        data["environment"]["device_label"], list(data["entries"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise BenchError(f"{path}: not a bench crosscheck file ({type(exc).__name__}: {exc})") from None
    return data


def write_report(
    result_paths: list[str | os.PathLike], markdown_path: str | os.PathLike, png_path: str | os.PathLike, goals: Goals | None = None
) -> tuple[Path, Path]:
    """Read and validate every result file (cross-check files become a column beside the OpenVINO rows;
    other tools' JSON is skipped), then write the merged Markdown (with a goals table when `goals` are given) and PNG."""
    md, png = check_output_file(markdown_path), check_output_file(png_path)
    paths, checks, _ = bench_files(list(result_paths))
    if not paths:
        raise BenchError("no l2m-edge bench result files given; e.g. `l2m-edge bench report benchmarks/results/*.json`")
    results = [load_result(p) for p in paths]
    crosschecks = [load_crosscheck(p) for p in checks]
    plot_report(results, png)
    rel_png = os.path.relpath(png, md.parent)
    sources = [str(p) for p in paths + checks]
    write_text_atomic(md, markdown_report(results, sources, goals, crosschecks) + f"\n![latency and FPS]({rel_png})\n")
    return md, png
