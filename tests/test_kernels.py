"""Kernels: the Triton cases (tests/kernel_cases.py, in a fresh process), weight packing,
dispatch, and the benchmark script's shape enumeration.

The Triton cases need TRITON_INTERPRET=1 set before `import triton` when there is no GPU (see
kernel_cases.py), so they run in a child pytest with its own environment; their own report is
printed when they fail. Everything here runs in this process without Triton.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from l2m_edge.config import get_preset, preset_names
from l2m_edge.errors import KernelError
from l2m_edge.kernels import LatentWeights, active_impl, describe_kernels, fused_adain, fused_adain_reference
from l2m_edge.kernels import fused_latent, fused_latent_reference
from l2m_edge.kernels.packing import clear_latent_cache, pack_latent_weights, packed_latent
from l2m_edge.model import build_editor
from l2m_edge.model import kernel_shapes

ROOT = Path(__file__).resolve().parents[1]




def run_kernel_cases(marks: str) -> None:
    pytest.importorskip("triton")
    env = {k: v for k, v in os.environ.items() if k != "L2M_EDGE_KERNELS"}
    if not torch.cuda.is_available():
        env["TRITON_INTERPRET"] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "tests" / "kernel_cases.py"), "-q", "-p", "no:cacheprovider", "-m", marks],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert result.returncode == 0, f"kernel cases failed:\n{result.stdout[-8000:]}\n{result.stderr[-2000:]}"


def test_triton_kernels_match_float64_references_on_odd_and_real_shapes_and_in_the_editor():
    run_kernel_cases("not slow")


@pytest.mark.slow
def test_triton_kernels_match_references_at_the_paper_and_edge_shapes():
    run_kernel_cases("slow")


@pytest.mark.slow
def test_every_kernel_variant_compiles_for_an_h100_without_spilling_registers():
    """No GPU needed: Triton builds sm_90 cubins on the CPU; the interpreter cannot catch these."""
    pytest.importorskip("triton")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "kernels.py"), "--compile-only", "90"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {row["kernel"] for row in rows} == {"fused_adain", "fused_latent"}
    for row in rows:
        assert row.get("stack") == 0 and row.get("local") == 0, row


# -- weight packing -----------------------------------------------------------------------------
def small_weights(**changes: int) -> LatentWeights:
    shape = dict(features=32, style_dim=16, hidden=16, layers=3, num_domains=2, params=40) | changes
    return kernel_shapes.random_latent_weights(kernel_shapes.LatentShape(**shape))


def test_packing_happens_once_and_again_after_an_in_place_update():
    clear_latent_cache()
    editor = build_editor("tiny")
    first = packed_latent(editor.latent_weights())
    assert packed_latent(editor.latent_weights()) is first  # a fresh LatentWeights of the same parameters
    with torch.no_grad():
        editor.generator.style_proj.weight.add_(1.0)  # what an optimizer step or load_state_dict does
    second = packed_latent(editor.latent_weights())
    assert second is not first
    assert torch.equal(second.proj_w[:16], editor.generator.style_proj.weight.detach().T)


def test_packing_never_serves_a_freed_model_to_a_new_one():
    clear_latent_cache()
    torch.manual_seed(0)
    old = build_editor("tiny")
    packed_latent(old.latent_weights())
    del old
    torch.manual_seed(1)
    new = build_editor("tiny")  # may reuse the freed addresses with the same version counters
    packed = packed_latent(new.latent_weights())
    assert torch.equal(packed.proj_w[:16], new.generator.style_proj.weight.detach().T)


def test_packing_accepts_a_model_built_under_inference_mode():
    with torch.inference_mode():
        editor = build_editor("tiny")  # inference tensors keep no version counter
        packed = packed_latent(editor.latent_weights())
    assert packed_latent(editor.latent_weights()) is packed


def test_packing_pads_every_layer_to_one_power_of_two_width_with_zeros():
    weights = small_weights(features=37, style_dim=24, hidden=40, num_domains=3, params=70)
    packed = pack_latent_weights(weights)
    assert packed.width == 64 and packed.head_w.shape == (3, 64, 64) and packed.trans_w.shape == (3, 3, 64, 64)
    assert packed.head_w[:, 37:].abs().sum() == 0 and packed.dec_w[:, 40:, :].abs().sum() == 0
    assert packed.proj_w[24:].abs().sum() == 0
    assert torch.equal(packed.trans_w[1, 2, :40, :40], weights.trans_w[1][2].T)


def test_packing_rejects_layers_that_do_not_chain_with_a_kernel_error():
    weights = small_weights()
    broken = LatentWeights(**{**weights.__dict__, "dec_w": (weights.dec_w[0], weights.dec_w[1][:, :8], weights.dec_w[2])})
    with pytest.raises(KernelError, match="decomposer layer 1"):
        pack_latent_weights(broken)


# -- dispatch -----------------------------------------------------------------------------------
def test_forced_triton_on_cpu_without_the_interpreter_is_a_kernel_error(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    monkeypatch.setenv("L2M_EDGE_KERNELS", "triton")
    with pytest.raises(KernelError, match="CUDA"):
        active_impl("auto", torch.zeros(1))


def test_autograd_gets_the_reference_even_when_triton_is_forced(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    weight = torch.zeros(2, requires_grad=True)
    assert active_impl("triton", weight) == "reference"
    with torch.no_grad():
        assert active_impl("triton", weight) == "triton"


def test_auto_runs_the_reference_on_cpu_tensors(monkeypatch):
    monkeypatch.delenv("L2M_EDGE_KERNELS", raising=False)
    x, gamma, beta = torch.randn(1, 2, 3, 3), torch.randn(1, 2), torch.randn(1, 2)
    assert active_impl("auto", x, gamma, beta) == "reference"
    assert torch.equal(fused_adain(x, gamma, beta), fused_adain_reference(x, gamma, beta))
    editor = build_editor("tiny").eval()
    args = (torch.randn(2, 32), torch.tensor([0, 1]), torch.tensor([1, 1]), torch.ones(2), editor.latent_weights())
    with torch.no_grad():
        assert torch.equal(fused_latent(*args), fused_latent_reference(*args))


@pytest.mark.skipif(torch.cuda.is_available(), reason="describes a machine without CUDA")
def test_info_line_says_the_reference_runs_and_why(monkeypatch):
    monkeypatch.delenv("L2M_EDGE_KERNELS", raising=False)
    assert describe_kernels().startswith("reference") and "CUDA" in describe_kernels()
    monkeypatch.setenv("L2M_EDGE_KERNELS", "reference")
    assert "L2M_EDGE_KERNELS=reference" in describe_kernels()


# -- benchmark script -----------------------------------------------------------------------------
@pytest.mark.parametrize("preset", preset_names())
def test_benchmark_shapes_cover_every_packed_style_param_and_end_at_the_image_size(preset):
    shapes = kernel_shapes.adain_shapes(preset)
    assert 2 * sum(c for c, _, _ in shapes) == kernel_shapes.latent_shape(preset).params
    assert shapes[-1][1:] == (get_preset(preset).img_size,) * 2


@pytest.mark.parametrize("preset", ["tiny"])
def test_benchmark_shapes_match_a_real_forward(preset, monkeypatch):
    import l2m_edge.model.layers as layers

    seen: list[tuple[int, int, int]] = []
    real = layers.fused_adain

    def recording(x, *args, **kwargs):
        seen.append(tuple(x.shape[1:]))
        return real(x, *args, **kwargs)

    monkeypatch.setattr(layers, "fused_adain", recording)
    editor = build_editor(preset).eval()
    size = editor.config.img_size
    with torch.no_grad():
        editor(torch.rand(1, 3, size, size) * 2 - 1, torch.tensor([0]), torch.tensor([1]), torch.ones(1))
    assert seen == kernel_shapes.adain_shapes(preset)
    assert kernel_shapes.latent_shape(preset).features == editor.style_encoder.feature_dim


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_benchmark_without_a_gpu_exits_with_one_line():
    script = ROOT / "benchmarks" / "kernels.py"
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "CUDA" in result.stderr
