"""The Triton kernels against float64 references, on the real kernel source.

Not collected on its own (the name does not start with `test_`): tests/test_kernels.py runs it
in a fresh process, compiled on a CUDA machine, elsewhere under Triton's interpreter
(TRITON_INTERPRET=1: the same @triton.jit source executed on CPU tensors with numpy). A fresh
process because Triton picks interpreter or compiler when `@triton.jit` runs, for its own
library functions (tl.sum, …) too, i.e. when `import triton` runs — which torch._dynamo does
early in a test session — and triton's native module cannot be imported twice in a process.
"""

from __future__ import annotations

import os
from types import ModuleType

import pytest
import torch

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
if DEVICE == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("run through tests/test_kernels.py (needs TRITON_INTERPRET=1 from process start)", allow_module_level=True)

from l2m_edge.config import get_preset  # noqa: E402
from l2m_edge.kernels import LatentWeights, fused_adain, fused_adain_reference, fused_latent_reference  # noqa: E402
from l2m_edge.kernels import triton_adain, triton_latent  # noqa: E402
from l2m_edge.errors import KernelError  # noqa: E402
from l2m_edge.model import build_editor  # noqa: E402
from l2m_edge.model import kernel_shapes  # noqa: E402

TOLERANCE = {torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 1e-2}




def test_the_kernels_run_where_this_process_meant_them_to():
    """Guards the premise of every other case: interpreted on CPU, compiled on CUDA."""
    from triton.runtime.interpreter import InterpretedFunction

    assert isinstance(triton_adain._adain_kernel, InterpretedFunction) == (DEVICE == "cpu")


def rel_err(out: torch.Tensor, ref: torch.Tensor) -> float:
    """max |out − ref| / max |ref|: relative to the output's scale, so values near 0 do not blow it up."""
    return float((out.double() - ref).abs().max() / ref.abs().max())


def nan_like(x: torch.Tensor, shape: tuple[int, ...] | None = None) -> torch.Tensor:
    return torch.full(shape if shape is not None else x.shape, float("nan"), dtype=x.dtype, device=x.device)


# -- fused_adain --------------------------------------------------------------------------------
def adain_inputs(shape: tuple[int, ...], dtype: torch.dtype, offset: float = 0.0) -> tuple[torch.Tensor, ...]:
    n, c = shape[:2]
    x = (torch.randn(shape, device=DEVICE) * (0.5 + 2 * torch.rand(n, c, 1, 1, device=DEVICE)) + offset).to(dtype)
    return x, torch.randn(n, c, device=DEVICE).to(dtype), torch.randn(n, c, device=DEVICE).to(dtype)


def check_adain(shape: tuple[int, ...], dtype: torch.dtype, offset: float = 0.0) -> None:
    x, gamma, beta = adain_inputs(shape, dtype, offset)
    out = triton_adain.fused_adain_triton(x, gamma, beta, out=nan_like(x))
    assert out.dtype == dtype and out.shape == x.shape
    assert torch.isfinite(out).all(), "the kernel left part of the output unwritten"
    ref = fused_adain_reference(x.double(), gamma.double(), beta.double())
    assert rel_err(out, ref) <= TOLERANCE[dtype]


@pytest.mark.parametrize(
    "shape",
    [(2, 3, 7, 5), (3, 2, 1, 2), (1, 5, 33, 17), (2, 4, 16, 16), (1, 2, 129, 131), (1, 1, 128, 256)],
    ids=["odd", "1x2", "33x17", "16x16", "streamed-odd", "streamed-exact"],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=["fp32", "fp16", "bf16"])
def test_adain_matches_float64_reference_on_odd_and_streamed_maps(shape, dtype):
    check_adain(shape, dtype)


@pytest.mark.parametrize("shape", [(2, 3, 24, 40), (1, 2, 129, 131)], ids=["registers", "streamed"])
def test_adain_statistics_stay_accurate_far_from_zero_mean(shape):
    """A mean of 300 with unit spread: E[x²] − E[x]² in fp32 would lose most of the variance."""
    check_adain(shape, torch.float32, offset=300.0)


def test_adain_reads_gamma_and_beta_as_strided_slices_of_the_packed_params():
    x, _, _ = adain_inputs((3, 6, 9, 11), torch.float32)
    params = torch.randn(3, 40, device=DEVICE)
    gamma, beta = params[:, 5:11], params[:, 20:26]  # what torch.split hands the decoder
    out = fused_adain(x, gamma, beta, impl="triton")
    assert rel_err(out, fused_adain_reference(x.double(), gamma.double(), beta.double())) <= 1e-4


def _preset_adain_cases(presets: list[str]) -> list:
    return [
        pytest.param(p, chw, id=f"{p}-{'x'.join(map(str, chw))}") for p in presets for chw in dict.fromkeys(kernel_shapes.adain_shapes(p))
    ]


@pytest.mark.parametrize("preset,chw", _preset_adain_cases(["tiny", "demo", "mobile"]))
def test_adain_matches_reference_at_every_decoder_shape_of_small_presets(preset, chw):
    check_adain((2, *chw), torch.float32)


@pytest.mark.slow
@pytest.mark.parametrize("preset,chw", _preset_adain_cases(["edge", "paper"]))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=["fp32", "fp16"])
def test_adain_matches_reference_at_every_decoder_shape_of_large_presets(preset, chw, dtype):
    check_adain((2, *chw), dtype)


# -- fused_latent -------------------------------------------------------------------------------
def latent_weights(shape, dtype: torch.dtype = torch.float32) -> LatentWeights:
    return kernel_shapes.random_latent_weights(shape, dtype, DEVICE)


def as_double(weights: LatentWeights) -> LatentWeights:
    cast = lambda v: tuple(t.double() for t in v) if isinstance(v, tuple) else v.double()  # noqa: E731
    return LatentWeights(**{name: cast(getattr(weights, name)) for name in LatentWeights.__dataclass_fields__})


def check_latent(weights: LatentWeights, batch: int, dtype: torch.dtype) -> None:
    domains, _, features = weights.head_w.shape
    h = torch.randn(batch, features, device=DEVICE).to(dtype)
    source = torch.randint(0, domains, (batch,), device=DEVICE)
    target = torch.randint(0, domains, (batch,), device=DEVICE)
    used = min(batch, domains)
    source[:used], target[:used] = torch.arange(used), torch.arange(domains).flip(0)[:used]  # mixed domains
    strength = torch.tensor([1.0, 0.0, 0.5, -0.5, 1.5, 2.0] * batch, device=DEVICE)[:batch]
    out = triton_latent.fused_latent_triton(h, source, target, strength, weights,
                                            out=nan_like(h, (batch, weights.proj_w.shape[0])))  # fmt: skip
    assert out.dtype == dtype
    assert torch.isfinite(out).all(), "the kernel left part of the output unwritten"
    ref = fused_latent_reference(h.double(), source, target, strength.double(), as_double(weights))
    assert rel_err(out, ref) <= TOLERANCE[dtype]


@pytest.mark.parametrize("preset", ["tiny", "demo", "mobile"])
def test_latent_matches_reference_for_a_mixed_batch_at_preset_sizes(preset):
    check_latent(latent_weights(kernel_shapes.latent_shape(preset)), batch=5, dtype=torch.float32)


@pytest.mark.parametrize(
    "shape,batch",
    [
        (dict(features=37, style_dim=16, hidden=32, layers=2, num_domains=3, params=97), 4),
        (dict(features=100, style_dim=24, hidden=24, layers=1, num_domains=2, params=130), 1),
        (dict(features=64, style_dim=64, hidden=16, layers=4, num_domains=4, params=64), 19),
    ],
    ids=["3-domains-odd-F-and-P", "one-layer-batch-1", "4-layers-two-row-blocks"],
)
def test_latent_matches_reference_for_odd_sizes(shape, batch):
    check_latent(latent_weights(kernel_shapes.LatentShape(**shape)), batch, torch.float32)


def test_latent_matches_reference_in_fp16():
    check_latent(latent_weights(kernel_shapes.latent_shape("mobile"), torch.float16), batch=3, dtype=torch.float16)


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 8])
def test_latent_matches_reference_at_paper_size(batch):
    check_latent(latent_weights(kernel_shapes.latent_shape("paper")), batch, torch.float32)


SMALL = dict(features=48, style_dim=16, hidden=16, layers=3, num_domains=2, params=50)


def test_latent_strength_zero_gives_the_unedited_style_params():
    weights = latent_weights(kernel_shapes.LatentShape(**SMALL))
    h = torch.randn(4, 48, device=DEVICE)
    source = torch.tensor([0, 1, 1, 0], device=DEVICE)
    out = triton_latent.fused_latent_triton(h, source, 1 - source, torch.zeros(4, device=DEVICE), weights)
    s = torch.bmm(weights.head_w[source].double(), h.double()[:, :, None])[:, :, 0] + weights.head_b[source].double()
    assert rel_err(out, s @ weights.proj_w.double().T + weights.proj_b.double()) <= 1e-4


def test_latent_marks_samples_with_out_of_range_domains_as_nan():
    weights = latent_weights(kernel_shapes.LatentShape(**SMALL))
    h = torch.randn(3, 48, device=DEVICE)
    out = triton_latent.fused_latent_triton(h, torch.tensor([0, 2, 1]), torch.tensor([1, 0, -1]), torch.ones(3), weights)
    assert torch.isfinite(out[0]).all() and torch.isnan(out[1]).all() and torch.isnan(out[2]).all()


def test_latent_rejects_features_of_the_wrong_width_with_a_kernel_error():
    weights = latent_weights(kernel_shapes.LatentShape(**SMALL))
    with pytest.raises(KernelError, match=r"\[N, 48\]"):
        triton_latent.fused_latent_triton(torch.randn(2, 47, device=DEVICE), torch.zeros(2, dtype=torch.long),
                                          torch.ones(2, dtype=torch.long), torch.ones(2), weights)  # fmt: skip


# -- the model with kernels on and off ---------------------------------------------------------
@pytest.mark.parametrize("w_hpf", [0.0, 1.0])
def test_editor_gives_the_same_image_with_kernels_on_and_off(monkeypatch, w_hpf):
    torch.manual_seed(0)
    editor = build_editor(get_preset("tiny", w_hpf=w_hpf)).to(DEVICE).eval()
    image = torch.rand(2, 3, 64, 64, device=DEVICE) * 2 - 1
    masks = torch.rand(2, 2, 64, 64, device=DEVICE) if w_hpf else None
    source = torch.tensor([0, 1], device=DEVICE)
    target = torch.tensor([1, 1], device=DEVICE)
    strength = torch.tensor([1.0, 0.5], device=DEVICE)
    calls = {"adain": 0, "latent": 0}

    def count(module: ModuleType, name: str, key: str) -> None:
        real = getattr(module, name)

        def counted(*args, **kwargs):
            calls[key] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)

    count(triton_adain, "fused_adain_triton", "adain")
    count(triton_latent, "fused_latent_triton", "latent")
    with torch.no_grad():
        monkeypatch.setenv("L2M_EDGE_KERNELS", "reference")
        off = editor(image, source, target, strength, masks)
        assert calls == {"adain": 0, "latent": 0}
        monkeypatch.setenv("L2M_EDGE_KERNELS", "triton")
        on = editor(image, source, target, strength, masks)
    assert calls == {"adain": 2 * len(editor.generator.decode), "latent": 1}
    assert torch.isfinite(on).all()
    assert (on - off).abs().max() <= 1e-4
