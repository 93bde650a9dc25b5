"""Benchmark rows are typed values: one definition per mode with its JSON form, the schema read from it,
one plan loop for model and pipeline rows, and the measuring function picked by the row's mode."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from l2m_edge.bench.harness import BenchSettings, PipelineOptions, plan
from l2m_edge.bench.report import bench_files
from l2m_edge.bench.rows import MODES, RUN_ROWS, FailedRow, ModelRow, PipelineRow, Row, TrainRow, field_types, row_from_json
from l2m_edge.bench.schema import load_result, validate_row
from l2m_edge.bench.stats import latency_stats
from l2m_edge.bench.worker import MEASURE
from l2m_edge.errors import BenchError

RESULTS = Path(__file__).parents[1] / "benchmarks" / "results"
LATENCY = latency_stats([10.0, 11.0, 12.5, 30.0])
KEY = dict(backend="openvino", target="openvino", precision="int8", preset="mobile", batch=1, device="CPU")


def _rows() -> list[Row]:
    memory = {"peak_rss_mb": 300.0}
    return [
        ModelRow(**KEY, actual_precision="int8", threads=2, artifact_bytes=1 << 20, export_s=None, load_s=0.2, first_inference_ms=40.0,
                 warmup=2, iters=4, latency_ms=LATENCY, fps=70.0, memory=memory, parity=None, samples_ms=[10.0, 11.0, 12.5, 30.0], cpu_ms_per_call=20.0),
        PipelineRow(**KEY, source="clip.avi", frames=4, frame_size=[640, 480], latency_ms=LATENCY, fps=25.0, stages={"infer": LATENCY},
                    memory=memory, samples_ms=[10.0, 11.0, 12.5, 30.0], frames_dropped=1, paced=True),
        TrainRow(backend="torch", precision="fp32", preset="demo", batch=8, device="cpu", ranks=2, threads=1, workers=0, steps=4, warmup=1,
                 first_step_s=1.5, latency_ms=LATENCY, samples_ms=[10.0, 11.0, 12.5, 30.0], steps_per_s=60.0, images_per_s=480.0,
                 s_per_100k_steps=1666.0, cpu_s_per_step=0.03, memory=memory),
        FailedRow(mode="pipeline", **KEY, reason="tensorrt   is not\ninstalled"),
    ]


@pytest.mark.parametrize("row", _rows(), ids=lambda r: type(r).__name__)
def test_every_row_type_round_trips_through_its_json_form_and_the_schema_accepts_it(row: Row) -> None:
    data = json.loads(json.dumps(row.to_json()))
    validate_row(data)
    assert row_from_json(data) == row


def test_a_failed_row_keeps_its_mode_and_a_one_line_reason() -> None:
    failed = _rows()[-1]
    assert failed.status == "failed" and failed.mode == "pipeline" and failed.reason == "tensorrt is not installed"


def test_the_schema_checks_the_fields_the_row_types_declare() -> None:
    row = _rows()[0].to_json()
    for name in field_types(ModelRow)[0]:  # every required field of the type is required by the schema
        with pytest.raises(BenchError, match=f"missing field '{name}'"):
            validate_row({k: v for k, v in row.items() if k != name})
    older = {k: v for k, v in row.items() if k not in field_types(ModelRow)[1]}  # a file from before the later fields
    validate_row(older)
    with pytest.raises(BenchError, match="field 'cpu_ms_per_call' is str"):
        validate_row({**row, "cpu_ms_per_call": "20"})  # a later field is still typed where present
    with pytest.raises(BenchError, match="has no field"):
        row_from_json({**row, "surprise": 1})


def test_every_recorded_result_file_still_reads() -> None:
    ours, _, _ = bench_files(sorted(RESULTS.glob("*.json")))
    assert len(ours) >= 20
    modes = {row["mode"] for path in ours for row in load_result(path)["rows"]}
    assert modes == set(MODES)


def test_one_plan_loop_makes_model_and_pipeline_tasks_and_each_mode_has_its_measuring_function(tmp_path: Path) -> None:
    checkpoints = {"tiny": tmp_path / "tiny.safetensors"}
    model = plan(BenchSettings(backends=("torch", "openvino"), precisions=("fp32",), batches=(1, 4), workdir=tmp_path), checkpoints)
    assert [(t.mode, t.backend, t.batch, t.target) for t in model] == [
        ("model", "torch", 1, None), ("model", "torch", 4, None), ("model", "openvino", 1, "openvino"), ("model", "openvino", 4, "openvino")]
    clip = tmp_path / "clip.avi"
    clip.write_bytes(b"")
    options = PipelineOptions(clip, frames=5, realtime=False, style_every=3)
    live = plan(BenchSettings(backends=("torch",), precisions=("fp32",), batches=(1, 4), workdir=tmp_path, pipeline=options), checkpoints)
    assert [(t.mode, t.batch, t.source, t.frames, t.realtime, t.style_every, t.iters) for t in live] == [("pipeline", 1, str(clip), 5, False, 3, None)]
    assert set(MEASURE) == {mode for mode, cls in RUN_ROWS.items() if cls is not TrainRow}  # train rows run under torchrun


def test_pipeline_settings_are_recorded_as_before(tmp_path: Path) -> None:
    clip = tmp_path / "clip.avi"
    clip.write_bytes(b"")
    recorded = BenchSettings(workdir=tmp_path, pipeline=PipelineOptions(clip, style_every=2)).to_json()
    assert {k: recorded[k] for k in ("source", "frames", "realtime", "style_every")} == {"source": str(clip), "frames": None, "realtime": True, "style_every": 2}
    with pytest.raises(BenchError, match="no such video file"):
        PipelineOptions(tmp_path / "missing.avi")


def test_row_types_share_one_key() -> None:
    key = {f.name for f in dataclasses.fields(Row)}
    assert all(key <= {f.name for f in dataclasses.fields(cls)} for cls in (*RUN_ROWS.values(), FailedRow))


def test_rounds_interleave_the_whole_plan_and_the_report_shows_the_median_round_with_its_spread(tmp_path: Path) -> None:
    from l2m_edge.bench.report import collapse_rounds, model_table

    settings = BenchSettings(backends=("torch", "onnxruntime"), precisions=("fp32",), rounds=3, workdir=tmp_path)
    tasks = plan(settings, {"tiny": tmp_path / "tiny.safetensors"})
    assert [(t.round, t.backend) for t in tasks] == [(r, b) for r in range(3) for b in ("torch", "onnxruntime")]
    rows = []
    for round_, p50 in enumerate((12.0, 10.0, 30.0)):
        row = dataclasses.replace(_rows()[0], round=round_, latency_ms={**LATENCY, "p50": p50, "p90": p50 + 1, "p95": p50 + 2, "p99": 40.0, "max": 40.0})
        rows.append({**row.to_json(), "device_label": "here", "date": "today"})
    (one,) = collapse_rounds(rows)
    assert one["round"] == 0 and one["rounds"] == 3 and one["spread"] == {"p50": (10.0, 30.0), "p90": (11.0, 31.0)}
    assert "| **12.0 [10.0–30.0, 3 rounds]** |" in model_table([one])
