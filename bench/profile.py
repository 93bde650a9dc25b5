"""Where an OpenVINO IR's time goes: per-layer performance counters summed by op kind, beside each
kind's arithmetic limit on this CPU.

`profile_ir` compiles an IR the way the OpenVINO backend does (its `compile_config`: LATENCY hint,
the row's threads, the compute precision the manifest records — f32 for an FP32 IR, the CPU default
otherwise) with `PERF_COUNT`, runs it on the benchmark's inputs and keeps each executed node's
median time over the timed calls (a median, so another job's burst on a shared machine moves it
little), its type, and the precision its kernel ran in (the suffix of OpenVINO's exec type:
`jit_avx2_I8` ran in int8). `summarise` groups the nodes by (type, precision) and puts each
group's multiply-accumulates beside the time the CPU's vector units would need for them at peak:
`% of limit` = limit ÷ measured, 100 % is the arithmetic limit.

The peak MACs per cycle and core per precision come from the ISA (`macs_per_cycle`): fp32 FMA is
16 (AVX2: two 8-lane FMA ports) or 32 (AVX-512); int8 is 32 on AVX2 without VNNI (vpmaddubsw's
pairs need a widening vpmaddwd), 64 with AVX-VNNI and 128 with AVX512-VNNI; bf16 is 64 with
AVX512-BF16 dot products. The clock is /proc/cpuinfo's `cpu MHz` (nominal: a turbo clock makes
the real limit lower still, so the % figures are upper bounds).
"""

from __future__ import annotations

import re
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from l2m_edge.contract.signature import inputs_of
from l2m_edge.errors import BenchError

from .artifacts import openvino_ir

# What each OpenVINO CPU node type is in this graph, for the reader of the table.
ROLES = {
    "Convolution": "conv (fused bias/activation)",
    "GroupConvolution": "grouped conv",
    "FullyConnected": "style MLP / AdaIN affine (linear)",
    "MatMul": "matmul",
    "MVN": "instance norm / AdaIN normalisation",
    "Interpolate": "nearest 2× upsampling",
    "AvgPool": "2× downsampling",
    "Subgraph": "fused elementwise (AdaIN affine, activations, skips, (de)quantisation)",
    "Eltwise": "elementwise",
    "Reorder": "layout / precision conversion",
    "FakeQuantize": "quantise",
    "Convert": "precision conversion",
    "Gather": "domain-code lookup",
}
PROFILE_SCHEMA = "l2m-edge.bench-profile/1"
MAC_OPS = ("Convolution", "GroupConvolution", "MatMul", "ConvolutionBackpropData")


def macs_per_cycle(isa: list[str] | tuple[str, ...]) -> dict[str, int]:
    """Peak multiply-accumulates per cycle and core per compute precision the ISA offers (see module doc)."""
    flags = set(isa)
    peak: dict[str, int] = {"f32": 32 if "avx512f" in flags else 16 if {"avx2", "fma"} <= flags else 4}
    if "avx512_vnni" in flags or "amx_int8" in flags:
        peak["i8"] = 128
    elif "avx_vnni" in flags:
        peak["i8"] = 64
    elif "avx2" in flags:
        peak["i8"] = 32
    if "avx512_bf16" in flags or "amx_bf16" in flags:
        peak["bf16"] = 64
    return peak


def exec_precision(exec_type: str) -> str:
    """The precision a kernel ran in, from OpenVINO's exec type: `jit_avx2_1x1_I8` → i8, `brgemm_avx2_f32` → f32."""
    tail = exec_type.rsplit("_", 1)[-1].lower()
    return {"u8": "i8", "i8": "i8"}.get(tail, tail) if re.fullmatch(r"[a-z]+\d+", tail) else "–"


def layer_macs(model: Any) -> dict[str, int]:
    """Multiply-accumulates per original layer (by friendly name) of an ov.Model: convolutions and matmuls."""
    macs = {}
    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        if kind not in MAC_OPS or op.get_output_partial_shape(0).is_dynamic:
            continue
        out = [int(d) for d in op.get_output_shape(0)]
        weights = [int(d) for d in op.get_input_partial_shape(1).get_shape()] if op.get_input_partial_shape(1).is_static else None
        if weights is None:
            continue
        if kind == "MatMul":
            a = [int(d) for d in op.get_input_shape(0)]
            transpose_a = bool(op.get_attributes().get("transpose_a", False))
            inner = a[-2] if transpose_a else a[-1]
            macs[op.get_friendly_name()] = int(np.prod(out)) * inner
        elif kind == "GroupConvolution":  # weights [G, Co/G, Ci/G, kh, kw]
            macs[op.get_friendly_name()] = int(np.prod(out)) * int(np.prod(weights[2:]))
        else:  # [Co, Ci, kh, kw] (ConvolutionBackpropData: [Ci, Co, kh, kw], counted per input pixel)
            macs[op.get_friendly_name()] = int(np.prod(out)) * int(np.prod(weights[1:]))
    return macs


@dataclass(frozen=True)
class NodeTime:
    """One executed node of the compiled graph: its median time per call and the MACs it carries."""

    name: str
    kind: str
    exec_type: str
    precision: str
    ms: float
    macs: int


@dataclass(frozen=True)
class Profile:
    """An IR's executed nodes (median ms per call each), the wall ms of each timed call and the process CPU ms per call."""

    nodes: list[NodeTime]
    wall_ms: list[float]
    cpu_ms_per_call: float


def profile_ir(xml: Path, inputs_npz: Path, compute_precision: str | None, threads: int | None, iters: int, warmup: int = 3) -> Profile:
    """Profile one IR on the benchmark's inputs, compiled as the OpenVINO backend compiles it (`compile_config`:
    `compute_precision`, None for the device's default) plus PERF_COUNT."""
    import time

    from l2m_edge.backends.openvino_backend import compile_config
    from l2m_edge.backends.openvino_core import openvino_core

    if iters < 1:
        raise BenchError("--iters must be ≥ 1")
    core = openvino_core()
    model = core.read_model(str(xml))
    compiled = core.compile_model(model, "CPU", {**compile_config(compute_precision, threads or 0), "PERF_COUNT": "YES"})
    request = compiled.create_infer_request()
    feed = inputs_of(np.load(inputs_npz))
    for _ in range(warmup):
        request.infer(feed)
    times: dict[str, list[float]] = {}
    kinds: dict[str, tuple[str, str]] = {}
    wall = []
    cpu_start = time.process_time()
    for _ in range(iters):
        start = time.perf_counter()
        request.infer(feed)
        wall.append((time.perf_counter() - start) * 1000.0)
        for info in request.get_profiling_info():
            if info.status.name != "EXECUTED":
                continue
            times.setdefault(info.node_name, []).append(info.real_time.total_seconds() * 1000.0)
            kinds[info.node_name] = (info.node_type, info.exec_type)
    cpu_ms = (time.process_time() - cpu_start) * 1000.0 / iters
    original = layer_macs(model)
    fused = {}
    for op in compiled.get_runtime_model().get_ordered_ops():
        names = op.get_rt_info()["originalLayersNames"].astype(str)
        fused[op.get_friendly_name()] = sum(original.get(n, 0) for n in names.split(",") if n)
    nodes = [
        NodeTime(name, kinds[name][0], kinds[name][1], exec_precision(kinds[name][1]), statistics.median(values), fused.get(name, 0))
        for name, values in times.items()
    ]
    return Profile(nodes, wall, cpu_ms)


@dataclass(frozen=True)
class KindTime:
    """The nodes of one (type, precision): their time, share of the total, MACs and share of the arithmetic limit."""

    kind: str
    precision: str
    role: str
    nodes: int
    ms: float
    share: float  # of the summed node time
    gmacs: float
    limit_ms: float | None  # the MACs at this CPU's peak for the precision the kernel ran in
    of_limit: float | None  # limit_ms ÷ ms


def summarise(nodes: list[NodeTime], peak_macs_per_ms: dict[str, float]) -> list[KindTime]:
    """Nodes grouped by (type, precision that ran), slowest group first."""
    total = sum(n.ms for n in nodes) or 1.0
    groups: dict[tuple[str, str], list[NodeTime]] = {}
    for node in nodes:
        groups.setdefault((node.kind, node.precision), []).append(node)
    out = []
    for (kind, precision), members in groups.items():
        ms = sum(n.ms for n in members)
        macs = sum(n.macs for n in members)
        peak = peak_macs_per_ms.get(precision)
        limit = macs / peak if macs and peak else None
        out.append(KindTime(kind, precision, ROLES.get(kind, ""), len(members), ms, ms / total, macs / 1e9, limit, limit / ms if limit and ms else None))
    return sorted(out, key=lambda k: -k.ms)


def peak_macs_per_ms(isa: list[str], cores: int, mhz: float) -> dict[str, float]:
    """Peak MACs per millisecond per precision on `cores` cores at `mhz`."""
    return {precision: per_cycle * cores * mhz * 1e3 for precision, per_cycle in macs_per_cycle(isa).items()}


def profile_entry(artifact: Path, inputs_npz: Path, preset: str, precision: str, threads: int | None, iters: int, cpu: dict[str, Any]) -> dict[str, Any]:
    """One IR artifact profiled and summarised, JSON-ready: by kind, the model's MACs and its limit at each precision.

    It computes in what its benchmark row computes in: the backend registry's rule on the manifest's
    `compute_precision` (an FP32 IR in f32, an FP16/INT8 IR in the CPU's default)."""
    xml, compute_precision = openvino_ir(artifact)
    profile = profile_ir(xml, inputs_npz, compute_precision, threads, iters)
    nodes = profile.nodes
    cores = threads or cpu["usable_cores"]
    peaks = peak_macs_per_ms(cpu["isa"], cores, cpu["mhz"] or 0.0)
    kinds = summarise(nodes, peaks)
    macs = sum(n.macs for n in nodes)
    return {
        "preset": preset,
        "precision": precision,
        "ir": str(xml),
        "threads": cores,
        "iters": iters,
        "wall_ms_median": round(statistics.median(profile.wall_ms), 3),
        "cpu_ms_per_call": round(profile.cpu_ms_per_call, 3),
        "node_ms_total": round(sum(n.ms for n in nodes), 3),
        "gmacs": round(macs / 1e9, 3),
        "limit_ms": {p: round(macs / peak, 3) for p, peak in peaks.items()},
        "by_kind": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(kind).items()} for kind in kinds],
        "slowest_nodes": [asdict(n) for n in sorted(nodes, key=lambda n: -n.ms)[:15]],
    }


def _fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown_entry(entry: dict[str, Any]) -> str:
    """One IR's table: op kind × precision, time, share, MACs and % of the arithmetic limit."""
    limits = ", ".join(f"{p} {ms:.1f} ms" for p, ms in entry["limit_ms"].items())
    lines = [
        f"### {entry['preset']} · {entry['precision']} IR · {entry['threads']} threads",
        "",
        f"Wall median {entry['wall_ms_median']:.1f} ms per call ({entry['iters']} calls), CPU {_fmt(entry.get('cpu_ms_per_call'))} ms per call (all threads); "
        f"node times sum to {entry['node_ms_total']:.1f} ms; "
        f"{entry['gmacs']:.2f} GMACs, arithmetic limit {limits}.",
        "",
        "| op kind | ran in | what it is | nodes | ms | share | GMACs | limit ms | % of limit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for k in entry["by_kind"]:
        lines.append(
            f"| {k['kind']} | {k['precision']} | {k['role']} | {k['nodes']} | {k['ms']:.2f} | {100 * k['share']:.1f} % | {_fmt(k['gmacs'] or None, 3)} "
            f"| {_fmt(k['limit_ms'], 2)} | {_fmt(100 * k['of_limit'] if k['of_limit'] else None)} {'%' if k['of_limit'] else ''} |"
        )
    return "\n".join(lines)


def run_profile(settings: Any, checkpoint: Path | None, iters: int = 30, progress: Any = None) -> dict[str, Any]:
    """Profile every OpenVINO precision of every preset in `settings` on this CPU; a JSON-ready result."""
    from .harness import over_openvino_irs

    def measure(preset: str, precision: str, artifact: Path, inputs: Path, environment: dict[str, Any]) -> dict[str, Any]:
        return profile_entry(artifact, inputs, preset, precision, settings.threads, iters, environment["cpu"])

    return over_openvino_irs(settings, checkpoint, PROFILE_SCHEMA, measure, {"iters": iters}, progress)


def summary_table(entries: list[dict[str, Any]]) -> str:
    """One line per IR: wall and CPU time, the convolutions' share and precision, and the whole model against its limit."""
    lines = [
        "| preset | IR | wall p50 ms | CPU ms/call | convs ran in | conv share | not conv | limit ms (convs' precision) | wall at % of limit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        convs = [k for k in e["by_kind"] if k["kind"] in MAC_OPS]
        ran_in = max(convs, key=lambda k: k["ms"])["precision"] if convs else "–"
        share = sum(k["share"] for k in convs)
        limit = e["limit_ms"].get(ran_in)
        lines.append(
            f"| {e['preset']} | {e['precision']} | {e['wall_ms_median']:.1f} | {_fmt(e.get('cpu_ms_per_call'))} | {ran_in} | {100 * share:.1f} % "
            f"| {100 * (1 - share):.1f} % | {_fmt(limit, 1)} | {_fmt(100 * limit / e['wall_ms_median'] if limit else None)} % |"
        )
    return "\n".join(lines)


def markdown_profile(result: dict[str, Any]) -> str:
    """The whole profile as Markdown: the CPU, its flags and load, then one table per IR."""
    env = result["environment"]
    cpu = env["cpu"]
    load = result["load_average"]
    head = [
        "# Where the time goes: OpenVINO per-layer counters by op kind",
        "",
        f"{cpu['model']}, {cpu['usable_cores']} cores usable, {cpu.get('mhz')} MHz nominal, ISA flags {', '.join(cpu['isa']) or 'none of note'}; "
        f"openvino {env['packages'].get('openvino')}; {env['date']}; load average before {load['before']}, after {load['after']}.",
        f"Peak MACs per cycle and core used for the limit: {macs_per_cycle(cpu['isa'])} (bench/profile.py says why).",
        "",
    ]
    return "\n".join(head + [summary_table(result["entries"]), "", "\n\n".join(markdown_entry(e) for e in result["entries"])]) + "\n"
