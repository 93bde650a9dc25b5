"""`l2m-edge bench train`: a real timed training row under torchrun, merged by `bench report`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from l2m_edge.bench.report import markdown_report
from l2m_edge.bench.schema import load_result
from l2m_edge.bench.train_bench import TrainBenchSettings, run_train_benchmark
from l2m_edge.errors import BenchError


def test_a_training_row_times_real_steps_and_the_report_merges_it(tmp_path: Path) -> None:
    from l2m_edge.bench.harness import write_result

    settings = TrainBenchSettings(presets=("tiny",), ranks=(1,), batch=2, steps=2, warmup=1, device="cpu", threads=1, workers=0,
                                  workdir=tmp_path / "work", device_label="test cpu")
    result = run_train_benchmark(settings)
    path = write_result(result, tmp_path / "results", tag="train")
    (tiny,) = load_result(path)["rows"]  # schema-checked on the way back in

    assert tiny["status"] == "ok" and tiny["mode"] == "train" and tiny["ranks"] == 1 and tiny["precision"] == "fp32"
    assert len(tiny["samples_ms"]) == 2 and all(ms > 0 for ms in tiny["samples_ms"])
    assert tiny["steps_per_s"] == pytest.approx(1e3 / (sum(tiny["samples_ms"]) / 2), rel=1e-2)
    assert tiny["images_per_s"] == pytest.approx(2 * tiny["steps_per_s"])
    assert tiny["s_per_100k_steps"] == pytest.approx(1e5 / tiny["steps_per_s"])
    assert tiny["cpu_s_per_step"] > 0 and tiny["memory"]["peak_rss_mb"] > 100

    report = markdown_report([json.loads(path.read_text())], [str(path)])
    assert "## Training throughput" in report
    assert "| test cpu | tiny | torch | fp32 | 2 | 1 | 1 | 0 | ✅ |" in report


def test_ranks_that_cannot_split_the_global_batch_are_refused_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from l2m_edge.cli import main

    with pytest.raises(BenchError, match="2 rank"):
        TrainBenchSettings(ranks=(1, 2), batch=3)
    monkeypatch.setattr(sys, "argv", ["l2m-edge", "bench", "train", "--ranks", "3", "--batch", "8", "--out", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert "--batch 8" in err and len(err.splitlines()) == 1
