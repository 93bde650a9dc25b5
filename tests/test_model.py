"""The L2M-GAN model: shapes, sizes, the α-mix and the orthogonality loss."""

from __future__ import annotations

import pytest
import torch

from l2m_edge.config import get_preset, preset_names
from l2m_edge.errors import ConfigError
from l2m_edge.model import Discriminator, build_editor, orthogonality_loss
from l2m_edge.model.summary import model_costs

RUNNABLE = ("tiny", "demo", "mobile")


def _inputs(size: int, n: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    source = torch.arange(n) % 2
    return image, source, 1 - source


@pytest.mark.parametrize("preset", RUNNABLE)
def test_every_component_produces_the_documented_shapes(preset: str) -> None:
    torch.manual_seed(0)
    config = get_preset(preset)
    editor = build_editor(config).eval()
    image, source, target = _inputs(config.img_size)
    with torch.no_grad():
        s = editor.style(image, source)
        s_edit, s_un, s_re, s_re_edit = editor.edit_code(s, target, 1.0)
        out = editor(image, source, target, torch.full((2,), 0.7))
        logits = Discriminator(config)(image, source)
    assert s.shape == s_un.shape == s_re.shape == s_re_edit.shape == s_edit.shape == (2, config.style_dim)
    assert out.shape == image.shape and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert logits.shape == (2,)


@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_builds_and_is_counted(preset: str) -> None:
    costs = {c.name: c for c in model_costs(get_preset(preset))}
    assert costs["editor (all of the above)"].params > 0
    assert costs["editor (all of the above)"].macs > costs["generator"].macs


def test_paper_preset_is_the_official_high_pass_graph_size() -> None:
    """The official L2M-GAN generator (w_hpf=1) at 256²: 43.3 M used parameters (its unused shortcut convs
    and attention MLP, 0.18 M, are not built), 45.4 GMACs; style encoder 20.9 M / 16.6 GMACs."""
    costs = {c.name: c for c in model_costs(get_preset("paper"))}
    assert round(costs["generator"].params / 1e6, 1) == 43.3
    assert round(costs["generator"].macs / 1e9, 1) == 45.4
    assert round(costs["style encoder"].params / 1e6, 1) == 20.9
    assert round(costs["style encoder"].macs / 1e9, 1) == 16.6


def test_paper_without_high_pass_is_the_stargan_v2_size() -> None:
    """StarGAN v2 at 256² without high-pass skips: 33.9 M / 48.6 GMACs generator."""
    costs = {c.name: c for c in model_costs(get_preset("paper", w_hpf=0.0))}
    assert round(costs["generator"].params / 1e6, 1) == 33.9
    assert round(costs["generator"].macs / 1e9, 1) == 48.6


def test_mobile_preset_is_ten_million_parameters_and_4_5_gmacs() -> None:
    editor = {c.name: c for c in model_costs(get_preset("mobile"))}["editor (all of the above)"]
    assert round(editor.params / 1e6, 1) == 10.3
    assert round(editor.macs / 1e9, 1) == 4.5


def test_alpha_zero_reconstructs_exactly() -> None:
    torch.manual_seed(0)
    editor = build_editor("tiny").eval()
    image, source, target = _inputs(64, n=3)
    with torch.no_grad():
        edited = editor(image, source, target, torch.zeros(3))
        reconstruction = editor.reconstruct(image, source)
    assert torch.equal(edited, reconstruction)


def test_alpha_interpolates_the_style_code_linearly() -> None:
    torch.manual_seed(0)
    editor = build_editor("tiny").eval()
    image, source, target = _inputs(64)
    with torch.no_grad():
        s = editor.style(image, source)
        codes = {a: editor.edit_code(s, target, a)[0] for a in (0.0, 0.5, 1.0)}
        outputs = {a: editor(image, source, target, torch.full((2,), a)) for a in (0.0, 1.0)}
    torch.testing.assert_close(codes[0.5], (codes[0.0] + codes[1.0]) / 2)
    assert not torch.allclose(outputs[0.0], outputs[1.0])


@pytest.mark.parametrize("alpha", [0.5, 1.7])
def test_training_path_and_exported_graph_path_agree_at_nonzero_alpha(alpha: float) -> None:
    """Training edits through `edit_code` + the generator; export traces `forward` (fused latent path): one α-mix."""
    torch.manual_seed(0)
    editor = build_editor("tiny").eval()
    image, source, target = _inputs(64)
    with torch.no_grad():
        code = editor.edit_code(editor.style(image, source), target, alpha)[0]
        training = editor.generator(image, code)
        exported = editor(image, source, target, torch.full((2,), alpha))
        unedited = editor(image, source, target, torch.zeros(2))
    torch.testing.assert_close(exported, training, atol=1e-5, rtol=1e-5)
    assert (exported - unedited).abs().max() > 1e-3  # α really moved the edit


def test_edit_moves_only_the_attribute_relevant_part() -> None:
    """s' − s = α(s̃_re − s_re): the irrelevant part s_un is carried over unchanged."""
    torch.manual_seed(0)
    editor = build_editor("tiny")
    s = torch.randn(4, editor.config.style_dim)
    target = torch.tensor([0, 1, 1, 0])
    s_edit, s_un, s_re, s_re_edit = editor.edit_code(s, target, 0.3)
    torch.testing.assert_close(s_un + s_re, s)
    torch.testing.assert_close(s_edit - s, 0.3 * (s_re_edit - s_re))


def test_per_sample_domains_pick_their_own_heads() -> None:
    torch.manual_seed(0)
    editor = build_editor("tiny").eval()
    image, _, _ = _inputs(64, n=1)
    pair = image.repeat(2, 1, 1, 1)
    with torch.no_grad():
        s = editor.style(pair, torch.tensor([0, 1]))
    assert not torch.allclose(s[0], s[1])


def test_orthogonality_loss_is_zero_for_orthogonal_codes() -> None:
    s_un = torch.tensor([[1.0, 0.0, 2.0, 0.0]])
    s_re = torch.tensor([[0.0, 3.0, 0.0, -1.0]])
    s_re_edit = torch.tensor([[0.0, -2.0, 0.0, 5.0]])
    for kind in ("elementwise", "cosine"):
        assert orthogonality_loss(s_un, s_re, s_re_edit, kind).item() == 0.0


def test_orthogonality_loss_is_positive_for_overlapping_codes() -> None:
    s_un = torch.tensor([[1.0, 1.0, 0.0]])
    s_re = torch.tensor([[1.0, 0.0, 0.0]])
    s_re_edit = torch.tensor([[0.0, 0.0, 1.0]])
    assert orthogonality_loss(s_un, s_re, s_re_edit).item() == pytest.approx(1 / 3)
    assert orthogonality_loss(s_un, s_re, s_re_edit, "cosine").item() == pytest.approx(2**-0.5)


def test_orthogonality_loss_covers_the_edited_code_too() -> None:
    s_un = torch.tensor([[1.0, 0.0]])
    orthogonal = torch.tensor([[0.0, 1.0]])
    assert orthogonality_loss(s_un, orthogonal, s_un).item() > 0


def test_unknown_preset_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="choose one of paper, edge, mobile"):
        get_preset("huge")


def test_model_has_no_unregistered_device_tensors() -> None:
    """Everything a module holds is a parameter or buffer, so `.to(device)` moves all of it."""
    editor = build_editor("tiny")
    for module in editor.modules():
        for name, value in vars(module).items():
            if isinstance(value, torch.Tensor) and not name.startswith("_"):
                pytest.fail(f"{type(module).__name__}.{name} is a plain tensor attribute")


def _high_pass_tiny():
    torch.manual_seed(0)
    return build_editor(get_preset("tiny", w_hpf=1.0)).eval()


def test_high_pass_generator_has_one_more_block_and_residual_only_decoder() -> None:
    plain, hpf = build_editor("tiny"), _high_pass_tiny()
    assert len(hpf.generator.decode) == len(plain.generator.decode) + 1
    assert all(block.residual_only and block.conv1x1 is None for block in hpf.generator.decode)
    assert not any(".kernel" in key for key in hpf.state_dict())  # the fixed filter is not a weight


def test_high_pass_editor_refuses_to_run_without_masks() -> None:
    editor = _high_pass_tiny()
    image, source, target = _inputs(64)
    with pytest.raises(ValueError, match="needs face masks"):
        editor(image, source, target, torch.ones(2))
    with pytest.raises(ValueError, match="masks must have shape"):
        editor(image, source, target, torch.ones(2), torch.ones(2, 1, 64, 64))


def test_masks_gate_the_high_pass_skips_per_channel() -> None:
    """Channel 0 gates the 32² skip and channel 1 the 64² one: each changes the output on its own."""
    editor = _high_pass_tiny()
    image, source, target = _inputs(64)
    alpha = torch.ones(2)
    zeros = torch.zeros(2, 2, 64, 64)
    only_0, only_1 = zeros.clone(), zeros.clone()
    only_0[:, 0], only_1[:, 1] = 1.0, 1.0
    with torch.no_grad():
        outputs = [editor(image, source, target, alpha, m) for m in (zeros, only_0, only_1)]
        reconstruction = editor.reconstruct(image, source, only_1)
        at_zero = editor(image, source, target, torch.zeros(2), only_1)
    assert not torch.allclose(outputs[0], outputs[1]) and not torch.allclose(outputs[0], outputs[2])
    assert torch.equal(at_zero, reconstruction)


def test_checkpoints_without_w_hpf_load_as_plain_generators() -> None:
    """Configs written before w_hpf existed (the shipped demo) mean w_hpf = 0."""
    from l2m_edge.config import ModelConfig

    config = ModelConfig.from_dict({"name": "demo", "img_size": 64, "dim_in": 16, "max_conv_dim": 128})
    assert config.w_hpf == 0 and not config.uses_masks and config.generator_downsamples == 2


def test_preset_specs_override_fields_and_refuse_unknown_ones() -> None:
    from l2m_edge.config import preset_from_spec

    assert preset_from_spec("mobile:w_hpf=1") == get_preset("mobile", w_hpf=1.0)
    assert preset_from_spec("paper:w_hpf=0:style_dim=32").style_dim == 32
    with pytest.raises(ConfigError, match="bad preset override 'depth=3'"):
        preset_from_spec("mobile:depth=3")
    with pytest.raises(ConfigError, match="is not a int"):
        preset_from_spec("mobile:dim_in=wide")
