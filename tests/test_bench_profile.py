"""`l2m-edge bench profile`: OpenVINO's per-layer counters of a real IR summed by op kind, beside the arithmetic limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2m_edge.bench.profile import exec_precision, layer_macs, macs_per_cycle, markdown_entry, profile_entry, summary_table

CPU = {"usable_cores": 2, "isa": ["avx2", "fma"], "mhz": 2000.0}


@pytest.fixture(scope="module")
def tiny_ir(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from l2m_edge.bench.artifacts import artifact_for
    from l2m_edge.bench.harness import prepare_inputs

    work = tmp_path_factory.mktemp("profile")
    artifact = artifact_for(tiny_checkpoint, "openvino", "fp32", 1, "cpu", work).directory
    return artifact, prepare_inputs(tiny_checkpoint, 1, work, seed=0)


def test_profile_sums_every_executed_node_by_kind_and_counts_every_mac_once(tiny_ir: tuple[Path, Path]) -> None:
    from l2m_edge.backends.openvino_core import openvino_core

    artifact, inputs = tiny_ir
    entry = profile_entry(artifact, inputs, "tiny", "fp32", threads=2, iters=3, cpu=CPU)
    kinds = {(k["kind"], k["precision"]): k for k in entry["by_kind"]}
    conv = kinds[("Convolution", "f32")]
    assert conv["nodes"] >= 4 and conv["gmacs"] > 0 and conv["limit_ms"] > 0 and conv["of_limit"] > 0
    assert ("MVN", "f32") in kinds  # the instance norms / AdaIN normalisations run as MVN
    assert sum(k["share"] for k in entry["by_kind"]) == pytest.approx(1.0, abs=1e-3)
    assert sum(k["ms"] for k in entry["by_kind"]) == pytest.approx(entry["node_ms_total"], rel=1e-2)
    total = sum(layer_macs(openvino_core().read_model(entry["ir"])).values())
    assert entry["gmacs"] == pytest.approx(total / 1e9, abs=1e-3)  # fused nodes carry their layers' MACs, none twice
    assert entry["limit_ms"]["f32"] == pytest.approx(total / (16 * 2 * 2000.0 * 1e3), rel=1e-2)
    assert entry["cpu_ms_per_call"] > 0 and entry["wall_ms_median"] > 0
    table = markdown_entry(entry)
    assert "### tiny · fp32 IR · 2 threads" in table and "| Convolution | f32 | conv" in table
    (line,) = summary_table([entry]).splitlines()[2:]
    assert line.startswith("| tiny | fp32 |") and "| f32 |" in line


def test_exec_types_name_the_precision_that_ran_and_the_isa_sets_the_limit() -> None:
    assert [exec_precision(t) for t in ("jit_avx2_1x1_I8", "brgemm_avx2_f32", "jit_uni_u8", "ref_i64", "undef")] == ["i8", "f32", "i8", "i64", "–"]
    assert macs_per_cycle(["avx2", "fma"]) == {"f32": 16, "i8": 32}
    assert macs_per_cycle(["avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16"]) == {"f32": 32, "i8": 128, "bf16": 64}
