"""`l2m-edge bench`: rows measured on real runtimes, a schema-checked JSON, a merged table and a plot."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from l2m_edge.bench.environment import capture_environment
from l2m_edge.bench.harness import BenchSettings, PipelineOptions, run_benchmark, write_result
from l2m_edge.bench.pipeline_bench import generated_clip
from l2m_edge.bench.report import markdown_report, write_report
from l2m_edge.bench.schema import load_result, validate_result
from l2m_edge.bench.stats import LATENCY_KEYS, latency_stats, throughput_fps
from l2m_edge.errors import BenchError

CLI = str(Path(sys.executable).with_name("l2m-edge"))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_run(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """One real run on the tiny preset: torch eager, TensorRT (not installed here), onnxruntime."""
    work = tmp_path_factory.mktemp("bench")
    settings = BenchSettings(backends=("torch", "tensorrt", "onnxruntime"), precisions=("fp32",), warmup=1, iters=3, workdir=work / "cache")
    result = run_benchmark(settings, tiny_checkpoint)
    return result, write_result(result, work / "results")


def test_harness_writes_a_complete_schema_valid_json(tiny_run: tuple[dict, Path]) -> None:
    result, path = tiny_run
    again = load_result(path)  # read back from disk and validated
    assert again["rows"] == json.loads(json.dumps(result["rows"]))
    env = again["environment"]
    assert env["cpu"]["model"] and env["cpu"]["logical_cores"] >= 1
    assert env["packages"]["torch"] and env["packages"]["onnxruntime"]
    assert len(env["git_commit"]) >= 7
    assert set(again["load_average"]) == {"before", "after"}
    ok = {r["backend"]: r for r in again["rows"] if r["status"] == "ok"}
    assert set(ok) == {"torch", "onnxruntime"}
    for row in ok.values():
        assert row["iters"] == 3 and len(row["samples_ms"]) == 3 and row["warmup"] == 1
        assert set(LATENCY_KEYS) <= set(row["latency_ms"]) and row["fps"] > 0
        assert row["actual_precision"] == "fp32" and row["threads"] >= 1
        assert row["load_s"] > 0 and row["first_inference_ms"] > 0 and row["artifact_bytes"] > 0
        assert row["memory"]["peak_rss_mb"] >= row["memory"]["baseline_rss_mb"] > 0
        assert row["parity"]["passed"] is True
    assert ok["onnxruntime"]["parity"]["max_abs"] <= 1e-4  # the export room's fp32 bar
    assert ok["onnxruntime"]["export_s"] > 0 and ok["onnxruntime"]["export_parity"]["passed"] is True


def test_backend_that_cannot_load_is_a_failed_row_with_its_reason_and_the_run_goes_on(tiny_run: tuple[dict, Path]) -> None:
    result, _ = tiny_run
    backends = [r["backend"] for r in result["rows"]]
    assert backends == ["torch", "tensorrt", "onnxruntime"]  # the row after the failure still ran
    trt = result["rows"][1]
    assert trt["status"] == "failed" and "tensorrt is not installed" in trt["reason"]
    assert "latency_ms" not in trt


def test_artifact_that_misses_its_parity_bar_is_timed_and_marked(tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """export_model refuses it; the benchmark still times it and says why it is not ✅ (rows run in this process)."""
    from l2m_edge.export import parity as P

    monkeypatch.setitem(P.THRESHOLDS, "fp32", P.Threshold(min_psnr_of_range=1000.0))  # a bar no float artifact clears
    settings = BenchSettings(backends=("onnxruntime",), precisions=("fp32",), warmup=0, iters=2, workdir=tmp_path / "cache", isolate=False)
    (row,) = run_benchmark(settings, tiny_checkpoint)["rows"]
    assert row["status"] == "parity_failed" and "export parity failed (PSNR" in row["reason"]
    assert row["export_parity"]["passed"] is False and row["latency_ms"]["p50"] > 0
    assert "⚠️ parity" in markdown_report([{"environment": capture_environment(), "rows": [row]}])


def test_report_renders_a_table_and_a_png(tiny_run: tuple[dict, Path], tmp_path: Path) -> None:
    _, path = tiny_run
    md, png = write_report([path], tmp_path / "report.md", tmp_path / "plots" / "report.png")
    text = md.read_text()
    assert "| device | preset | backend | precision |" in text
    assert "| tiny | onnxruntime | fp32 | 1 | 2 | ✅" in text or "| tiny | onnxruntime | fp32 | 1 | 1 | ✅" in text
    assert "❌ tensorrt is not installed" in text
    assert "![latency and FPS](plots/report.png)" in text
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 10_000


def test_results_from_two_devices_merge_into_one_table(tiny_run: tuple[dict, Path], tmp_path: Path) -> None:
    result, path = tiny_run
    other = copy.deepcopy(result)
    other["environment"]["device_label"] = "Jetson Orin Nano 8GB"
    other["environment"]["power_mode"] = "NV Power Mode: 15W"
    for row in other["rows"]:
        if row["status"] != "failed":
            row["latency_ms"] = {k: v * 3 for k, v in row["latency_ms"].items()}
            row["samples_ms"] = [s * 3 for s in row["samples_ms"]]
    other_path = write_result(other, tmp_path, "jetson.json")
    md, png = write_report([path, other_path], tmp_path / "merged.md", tmp_path / "merged.png")
    text = md.read_text()
    table = text.split("## Model latency")[1]
    assert table.count("| Jetson Orin Nano 8GB | tiny |") == 3
    assert table.count(f"| {result['environment']['device_label']} | tiny |") == 3
    assert table.count("| device | preset |") == 1  # one table, not one per file
    assert "NV Power Mode: 15W" in text and png.is_file()


def test_markdown_speedup_is_against_torch_eager_on_the_same_device(tiny_run: tuple[dict, Path]) -> None:
    result, _ = tiny_run
    text = markdown_report([result])
    torch_line = next(line for line in text.splitlines() if "| torch | fp32 |" in line)
    assert "| 1.00× |" in torch_line


def test_goals_are_read_as_data_and_reported_per_device(tiny_run: tuple[dict, Path], tmp_path: Path) -> None:
    from l2m_edge.bench.report import read_goals

    result, path = tiny_run
    assert "## Goals" not in markdown_report([result])  # no goals given: none reported
    goals_file = tmp_path / "goals.json"
    goals_file.write_text(json.dumps({"preset": "tiny", "batch": 1, "goals": [
        {"name": "G1", "what": "eager ÷ onnxruntime", "slower": {"backend": "torch", "precision": "fp32"}, "faster": {"backend": "onnxruntime"}, "at_least": 0.001},
        {"name": "G2", "what": "eager ÷ onnxruntime", "slower": {"backend": "torch"}, "faster": {"backend": "onnxruntime"}, "at_least": 1e9},
    ]}))
    md, _ = write_report([path], tmp_path / "r.md", tmp_path / "r.png", read_goals(goals_file))
    lines = md.read_text().split("## Goals (tiny preset, batch 1)")[1].strip().splitlines()
    rows = {r["backend"]: r for r in result["rows"] if r["status"] == "ok"}
    ratio = rows["torch"]["latency_ms"]["p50"] / rows["onnxruntime"]["latency_ms"]["p50"]
    assert "| G1 | eager ÷ onnxruntime (torch fp32" in lines[2] and f"{ratio:.2f}× ✅" in lines[2] and "≥ 0.001×" in lines[2]
    assert f"{ratio:.2f}× ❌" in lines[3]
    assert [g.name for g in read_goals(Path(__file__).parents[1] / "benchmarks" / "goals.json").goals][:4] == ["P1", "(P1, any parity)", "P4", "P4"]
    goals_file.write_text('{"goals": [{"name": "x"}]}')
    with pytest.raises(BenchError, match="goals.json: not a goals file"):
        read_goals(goals_file)


def test_a_goal_for_some_cpus_is_scored_only_on_a_device_whose_recorded_cpu_flags_meet_it(tmp_path: Path) -> None:
    """benchmarks/goals.json on two recorded runs: the VNNI goal does not apply on the AVX2-only EPYC and is scored on the Xeon (VNNI, AMX)."""
    from l2m_edge.bench.report import read_goals

    root = Path(__file__).parents[1] / "benchmarks"
    epyc, xeon = (load_result(root / "results" / name) for name in ("amd-epyc-model-20261203T101712.json", "xeon-2-vcpu-amx-shared-model-20261126T092404.json"))
    assert epyc["environment"]["cpu"]["isa"] == ["avx2", "fma"] and "avx512_vnni" in xeon["environment"]["cpu"]["isa"]
    lines = markdown_report([epyc, xeon], goals=read_goals(root / "goals.json")).split("## Goals")[1].splitlines()

    def line(device: str, goal: str) -> str:
        (found,) = [row for row in lines if row.startswith(f"| {device} | {goal} |")]
        return found

    xeon_label = xeon["environment"]["device_label"]
    on_epyc = line("AMD EPYC", "#24, where VNNI exists")
    assert "| not applicable on this CPU (needs one of avx_vnni, avx512_vnni, amx_int8) | – |" in on_epyc
    assert "✅" not in on_epyc and "❌" not in on_epyc
    assert "not applicable" not in line(xeon_label, "#24, where VNNI exists") and "× ❌ |" in line(xeon_label, "#24, where VNNI exists")  # bf16 ÷ INT8 1.30× < 1.6×
    assert "not applicable on this CPU (needs avx2; none of avx512f" in line(xeon_label, "#24, AVX2-only CPUs")
    assert "not applicable" not in line("AMD EPYC", "#24, AVX2-only CPUs")
    assert "not applicable" not in line("AMD EPYC", "P1")  # a goal without a condition is scored everywhere
    goals_file = tmp_path / "goals.json"
    goals_file.write_text(json.dumps({"preset": "mobile", "batch": 1, "goals": [
        {"name": "G", "what": "x", "slower": {}, "faster": {}, "at_least": 1, "applies_when": {"isa_any": ["vnni"]}},  # a flag no result records
    ]}))
    with pytest.raises(BenchError, match="applies_when .* the recorded flags avx2, fma"):
        read_goals(goals_file)


def test_latency_stats_percentiles_and_fps() -> None:
    stats = latency_stats([float(i) for i in range(1, 101)])
    assert stats["min"] == 1 and stats["max"] == 100 and stats["mean"] == 50.5
    assert stats["p50"] == pytest.approx(50.5) and stats["p90"] == pytest.approx(90.1) and stats["p99"] == pytest.approx(99.01)
    assert throughput_fps([10.0, 10.0], batch=4) == pytest.approx(400.0)
    with pytest.raises(ValueError):
        latency_stats([])


def test_schema_refuses_incomplete_results(tiny_run: tuple[dict, Path]) -> None:
    result, _ = tiny_run
    bad = copy.deepcopy(result)
    del bad["rows"][0]["latency_ms"]["p99"]
    with pytest.raises(BenchError, match="p99"):
        validate_result(bad)
    bad = copy.deepcopy(result)
    bad["rows"][1]["reason"] = None
    with pytest.raises(BenchError, match="must say why"):
        validate_result(bad)
    bad = copy.deepcopy(result)
    bad["rows"][0]["latency_ms"]["p50"] = bad["rows"][0]["latency_ms"]["max"] + 1
    with pytest.raises(BenchError, match="ordered"):
        validate_result(bad)


def test_settings_refuse_both_iters_and_duration_and_unknown_backends() -> None:
    with pytest.raises(BenchError, match="not both"):
        BenchSettings(iters=5, duration_s=1.0)
    with pytest.raises(BenchError, match="unknown backend"):
        BenchSettings(backends=("tflite",))


def test_environment_names_cpu_gpus_power_mode_and_commit() -> None:
    env = capture_environment()
    assert env["cpu"]["usable_cores"] >= 1 and isinstance(env["gpus"], list)
    assert env["power_mode"] is None  # no nvpmodel on this machine
    assert env["git_commit"] == "unknown" or len(env["git_commit"].split("-")[0]) == 40


def test_cli_bench_runs_and_bench_report_merges(tiny_checkpoint: Path, tiny_run: tuple[dict, Path], tmp_path: Path) -> None:
    run = subprocess.run(
        [CLI, "bench", "--model", str(tiny_checkpoint), "--backends", "torch", "--iters", "2", "--warmup", "0",
         "--in-process", "--out", str(tmp_path / "results"), "--workdir", str(tmp_path / "cache")],
        capture_output=True, text=True, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    assert "✅ tiny torch fp32" in run.stdout
    (written,) = (tmp_path / "results").glob("*.json")
    foreign = tmp_path / "results" / "synthfaces_speed.json"  # results/ also holds other tools' JSON
    foreign.write_text(json.dumps({"benchmark": "synthfaces", "rows": []}))
    report = subprocess.run(
        [CLI, "bench", "report", str(written), str(tiny_run[1]), str(foreign), "--markdown", str(tmp_path / "r.md"), "--plot", str(tmp_path / "r.png")],
        capture_output=True, text=True, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert report.returncode == 0, report.stderr
    assert "skipped" in report.stdout and "synthfaces_speed.json" in report.stdout
    assert (tmp_path / "r.md").is_file() and (tmp_path / "r.png").read_bytes()[:8] == PNG_MAGIC


def test_cli_report_of_a_missing_file_is_one_red_line(tmp_path: Path) -> None:
    result = subprocess.run([CLI, "bench", "report", str(tmp_path / "nope.json")], capture_output=True, text=True, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: {tmp_path / 'nope.json'}: no such result file"]


def test_pipeline_mode_times_every_stage_and_the_whole_frame(tiny_checkpoint: Path, tmp_path: Path) -> None:
    clip = generated_clip(tmp_path, seconds=0.4, size=(320, 240))
    settings = BenchSettings(backends=("torch",), precisions=("fp32",), warmup=1, workdir=tmp_path / "cache", isolate=False,
                             pipeline=PipelineOptions(clip, frames=6, realtime=False))
    result = run_benchmark(settings, tiny_checkpoint)
    (row,) = result["rows"]
    assert row["mode"] == "pipeline" and row["status"] == "ok", row.get("reason")
    assert row["frames"] == 6 and row["frame_size"] == [320, 240] and row["faces_edited"] >= 1 and row["frames_dropped"] == 0
    assert {"capture", "track", "infer", "paste", "sink"} <= set(row["stages"])
    assert row["latency_ms"]["p50"] >= row["stages"]["infer"]["p50"] and row["fps"] > 0
    text = markdown_report([result])
    assert "## Live pipeline" in text and "| tiny | torch | fp32 |" in text


def test_pipeline_mode_reports_with_style_codes_every_k_frames_on_a_split_artifact(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from l2m_edge.contract.manifest import read_manifest

    clip = generated_clip(tmp_path, seconds=0.4, size=(320, 240))
    settings = BenchSettings(backends=("openvino",), precisions=("fp32",), warmup=1, workdir=tmp_path / "cache", isolate=False,
                             pipeline=PipelineOptions(clip, frames=6, realtime=False, style_every=3))
    result = run_benchmark(settings, tiny_checkpoint)
    (row,) = result["rows"]
    assert row["status"] == "ok", row.get("reason")
    assert row["style_every"] == 3 and result["settings"]["style_every"] == 3
    codes = row["style_codes"]
    assert codes["computed"] + codes["reused"] == row["faces_edited"] and codes["reused"] > codes["computed"] >= 1
    assert "style" in row["stages"] and row["stages"]["style"]["p50"] <= row["stages"]["infer"]["p90"]
    (artifact,) = (tmp_path / "cache" / "artifacts").glob("*-split")
    assert read_manifest(artifact).split
    assert ", style every 3)" in markdown_report([result])


def test_pipeline_mode_plays_the_video_like_a_camera_and_reports_glass_to_glass_latency(tiny_checkpoint: Path, tmp_path: Path) -> None:
    clip = generated_clip(tmp_path, seconds=1.6, size=(320, 240))  # 40 frames at 25 fps
    settings = BenchSettings(backends=("torch",), precisions=("fp32",), warmup=1, workdir=tmp_path / "cache", isolate=False, threads=1,
                             pipeline=PipelineOptions(clip))
    started = time.perf_counter()
    result = run_benchmark(settings, tiny_checkpoint)
    (row,) = result["rows"]
    assert row["status"] == "ok" and row["paced"], row.get("reason")
    assert time.perf_counter() - started >= 1.5  # the clip played at its own pace
    assert row["frames"] + row["frames_dropped"] == 40 and row["cpu_ms_per_frame"] > 0
    assert row["latency_ms"]["p50"] <= row["latency_ms"]["p90"] <= row["latency_ms"]["p99"]
    assert "glass-to-glass p50" in markdown_report([result]) and ", paced)" in markdown_report([result])


def test_crosscheck_feeds_benchmark_app_our_inputs_and_its_verdict_is_a_column_beside_the_openvino_row(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from l2m_edge.bench.crosscheck import CROSSCHECK_SCHEMA, crosscheck_ir, crosscheck_summary
    from l2m_edge.bench.harness import prepare_inputs

    settings = BenchSettings(backends=("openvino",), precisions=("fp32",), warmup=1, iters=3, threads=2, workdir=tmp_path, isolate=False)
    path = write_result(run_benchmark(settings, tiny_checkpoint), tmp_path / "results")
    (artifact,) = (tmp_path / "artifacts").glob("*-openvino-fp32-b1")
    inputs = prepare_inputs(tiny_checkpoint, 1, tmp_path, seed=0)
    entry = crosscheck_ir(artifact, inputs, "fp32", threads=2, seconds=1, work=tmp_path, rounds=2)
    (first, second) = entry["rounds"]
    latency, hint_none = first["benchmark_app_latency_hint"], first["benchmark_app_hint_none"]
    assert "source_domain:" in latency["command"] and "-iop image:f32" in latency["command"] and "-infer_precision f32" in latency["command"]
    assert latency["api"] == "sync" and hint_none["api"] == "async" and "-nthreads 2 -nstreams 1" in hint_none["command"]
    assert latency["compiled"]["INFERENCE_PRECISION_HINT"] == first["ours"]["compiled"]["INFERENCE_PRECISION_HINT"]
    assert 0 < latency["min_ms"] <= latency["median_ms"] <= latency["max_ms"]
    assert hint_none["cpu_ms_per_call"] is None or hint_none["cpu_ms_per_call"] > 0  # None: other jobs' load made the two-run difference meaningless
    summary = entry["summary"]
    ratios = [r["ours"]["median_ms"] / r["benchmark_app_hint_none"]["median_ms"] for r in (first, second)]
    assert summary["ours_over_app"]["min"] == pytest.approx(min(ratios), abs=1e-3) and summary["ours_over_app"]["rounds"] == 2
    assert summary["agrees"] == (abs(summary["ours_over_app"]["median"] - 1) <= 0.1)
    assert crosscheck_summary({"preset": "tiny", "precision": "fp32", **first})["ours_over_app"]["rounds"] == 1  # a /1 file's entry

    check = tmp_path / "crosscheck.json"
    check.write_text(json.dumps({"schema": CROSSCHECK_SCHEMA, "environment": capture_environment(), "entries": [entry]}))
    md, _ = write_report([path, check], tmp_path / "r.md", tmp_path / "r.png")
    text = md.read_text()
    (row,) = [line for line in text.splitlines() if "| tiny | openvino | fp32 |" in line]
    app = summary["app_ms"]
    assert f"{app['median']:.1f} [{app['min']:.1f}–{app['max']:.1f}] ms; ours ÷ app {summary['ours_over_app']['median']:.2f}×" in row
    assert "## Cross-check with OpenVINO's benchmark_app" in text and str(check) in text


def test_native_runner_reports_become_rows_in_the_merged_table(tiny_run: tuple[dict, Path], tmp_path: Path) -> None:
    from l2m_edge.bench.native_import import wrap_native

    recorded = json.loads((Path(__file__).parents[1] / "benchmarks" / "native_vs_python.json").read_text())
    native = [{k: v for k, v in r.items() if k != "round"} for r in recorded["rows"] if r.get("runner") == "l2m-edge-runner"]
    lines = tmp_path / "runner.jsonl"  # the runner prints one JSON object per line
    lines.write_text("".join(json.dumps(r) + "\n" for r in native[:2]))
    result = wrap_native([lines], device_label="Jetson Orin Nano 8GB")
    assert [r["backend"] for r in result["rows"]] == ["native-openvino", "native-openvino"]
    assert result["rows"][0]["latency_ms"] == native[0]["latency_ms"]
    path = write_result(result, tmp_path, tag="native")
    md, png = write_report([tiny_run[1], path], tmp_path / "m.md", tmp_path / "m.png")
    assert "| Jetson Orin Nano 8GB | mobile | native-openvino | fp32 | 1 | 2 | ✅" in md.read_text() and png.is_file()
    with pytest.raises(BenchError, match="not an l2m-edge-runner"):
        wrap_native([tiny_run[1]])
