"""`l2m-edge import`: official L2M-GAN checkpoints become our editor, losslessly and equal to the official forward.

The checkpoints are built here in the official key layout (tests/official_reference.py) with random
weights and written with torch.save, as the official CheckpointIO does; the released weights
themselves cannot be downloaded on this machine.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from l2m_edge.checkpoint import checkpoint_extra, load_editor
from l2m_edge.errors import CheckpointError
from l2m_edge.import_official import OFFICIAL_FRAMING, import_checkpoint
from l2m_edge.masks import masks_from_mediapipe

from official_reference import official_edit, official_state, save_official
from runtime_helpers import astronaut_bgr

CLI = str(Path(sys.executable).with_name("l2m-edge"))
DOMAINS = ("no_smile", "smile")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, timeout=300, env={"COLUMNS": "300", "PATH": "/usr/bin:/bin"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip


@pytest.fixture(scope="module")
def real_face() -> tuple[torch.Tensor, torch.Tensor]:
    """The astronaut aligned in the official (CelebA-HQ) framing at 256², and her masks from MediaPipe landmarks."""
    from l2m_edge.runtime.align import align_face, crop_to_tensor, landmarks_in_crop
    from l2m_edge.runtime.tracking import FaceTracker

    tracker = FaceTracker(smoothing=False)
    try:
        face = tracker.update(astronaut_bgr(), 0.0)[0]
    finally:
        tracker.close()
    aligned = align_face(astronaut_bgr(), face.landmarks, 256, OFFICIAL_FRAMING)
    masks = masks_from_mediapipe(landmarks_in_crop(face.landmarks, aligned), 256)
    image = torch.from_numpy(crop_to_tensor([aligned.crop, aligned.crop[:, ::-1]]))
    return image, torch.from_numpy(np.concatenate([masks, masks[..., ::-1]]))


@pytest.fixture(scope="module")
def slim_official(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, Path]:
    """An official-layout checkpoint at 256² with w_hpf = 1 (slim widths keep the float64 reference fast)."""
    directory = tmp_path_factory.mktemp("official")
    state = official_state(img_size=256, dim_in=16, max_conv_dim=128, seed=3)
    ckpt = save_official(state, directory / "100000_nets_ema.ckpt")
    out = directory / "imported.safetensors"
    import_checkpoint(ckpt, out, DOMAINS, "smile")
    return state, ckpt, out


def _max_rel_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    return float((ours.double() - reference).abs().max() / reference.abs().max())


def test_paper_size_official_checkpoint_imports_losslessly(tmp_path: Path) -> None:
    """Every official tensor lands in our checkpoint bit for bit, at the released model's size."""
    state = official_state(img_size=256, seed=1)  # dim_in 64, max 512, style 64, 2 domains, w_hpf 1
    ckpt = save_official(state, tmp_path / "100000_nets_ema.ckpt")
    result = import_checkpoint(ckpt, tmp_path / "paper.safetensors", DOMAINS, "smile")
    assert result.config.name == "paper" and result.config.w_hpf == 1.0 and result.config.img_size == 256
    ours = load_file(str(result.out))
    gen, enc = state["generator"], state["style_encoder"]
    decode = sorted({int(k.split(".")[1]) for k in gen if k.startswith("decode.")})
    expected = {
        "generator.style_proj.weight": torch.cat([gen[f"decode.{i}.norm{j}.fc.weight"] for i in decode for j in (1, 2)]),
        "generator.style_proj.bias": torch.cat([gen[f"decode.{i}.norm{j}.fc.bias"] for i in decode for j in (1, 2)]),
        "style_encoder.heads.weight": torch.stack([enc["unshared.0.weight"], enc["unshared.1.weight"]]),
        "transformer.layers.2.bias": torch.stack([enc["transform2.0.4.bias"], enc["transform2.1.4.bias"]]),
        "decomposer.layers.1.weight": enc["transform1.2.weight"],
    }
    bypassed = {k for k in gen if k.startswith("decode.") and ".conv1x1." in k}  # shortcuts unused when w_hpf > 0
    for key, value in gen.items():
        if ".fc." not in key and not key.startswith("attention.") and key not in bypassed:
            expected[f"generator.{key}"] = value
    expected |= {f"style_encoder.trunk.{k[len('shared.'):]}": v for k, v in enc.items() if k.startswith("shared.")}
    for key, value in expected.items():
        assert torch.equal(ours[key], value), key
    skipped = set(result.skipped)
    assert {k for k in skipped if "attention" in k} == {f"{n}.attention.layers.{i}.{p}" for n in ("generator", "style_encoder") for i in (0, 2) for p in ("weight", "bias")}
    assert {k for k in skipped if "conv1x1" in k} == {f"generator.{k}" for k in bypassed}
    assert result.ignored_networks == ("fan", "vgg")
    assert result.mapped + len(skipped) == len(gen) + len(enc)


EDIT = (torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor([1.0, 0.5]))  # source, target, degree per face


@pytest.fixture(scope="module")
def official_output(slim_official, real_face) -> torch.Tensor:
    """The official forward (float64, written from the official code) on the face and its mirror, degree 1 and 0.5."""
    state, _, _ = slim_official
    image, masks = real_face
    source, target, degree = EDIT
    return torch.cat([official_edit(state, image[i : i + 1], source[i : i + 1], target[i : i + 1], float(degree[i]), masks[i : i + 1]) for i in range(2)])


def test_imported_model_equals_the_official_forward_on_a_real_face(slim_official, real_face, official_output) -> None:
    state, _, imported = slim_official
    image, masks = real_face
    editor = load_editor(imported)
    assert editor.framing == OFFICIAL_FRAMING and editor.domains == DOMAINS and editor.attribute == "smile"
    with torch.no_grad():
        ours = editor(image, *EDIT, masks)
    assert _max_rel_error(ours, official_output) <= 1e-4
    unmasked = official_edit(state, image[:1], EDIT[0][:1], EDIT[1][:1], 1.0, torch.zeros_like(masks[:1]))
    assert (official_output[:1] - unmasked).abs().max() > 1e-3  # the masks really steer the output


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_exported_import_equals_the_official_forward_with_masks_as_input(slim_official, real_face, official_output, onnx_artifact, backend) -> None:
    """The ONNX graph takes `masks`; onnxruntime and OpenVINO (f32) match the official forward on the real face."""
    from l2m_edge.contract.manifest import read_manifest
    from l2m_edge.runtime.backends import load_backend

    manifest = read_manifest(onnx_artifact)
    assert manifest.signature.has_masks and manifest.framing == OFFICIAL_FRAMING
    engine = load_backend(onnx_artifact, backend=backend, precision="fp32" if backend == "openvino" else None)
    try:
        assert engine.info.uses_masks and engine.info.framing == OFFICIAL_FRAMING
        image, masks = real_face
        source, target, degree = (t.numpy() for t in EDIT)
        out = np.concatenate([engine.infer(image[i : i + 1].numpy(), source[i : i + 1], target[i : i + 1], degree[i : i + 1], masks[i : i + 1].numpy()) for i in range(2)])
        with pytest.raises(Exception, match="masks"):
            engine.infer(image[:1].numpy(), source[:1], target[:1], degree[:1])
    finally:
        engine.close()
    assert _max_rel_error(torch.from_numpy(out), official_output) <= 1e-4


@pytest.fixture(scope="module")
def onnx_artifact(slim_official, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from l2m_edge.export.api import export_model

    _, _, imported = slim_official
    # Random official weights give outputs of ±40: the fp32 bar is relative to the output's range, and enforced.
    return export_model(imported, "onnx", tmp_path_factory.mktemp("onnx") / "artifact")


@pytest.mark.slow
def test_paper_size_import_equals_the_official_forward(tmp_path: Path, real_face) -> None:
    state = official_state(img_size=256, seed=2)
    ckpt = save_official(state, tmp_path / "paper.ckpt")
    editor = load_editor(import_checkpoint(ckpt, tmp_path / "paper.safetensors", DOMAINS, "smile").out)
    image, masks = real_face
    with torch.no_grad():
        ours = editor(image[:1], torch.tensor([0]), torch.tensor([1]), torch.ones(1), masks[:1])
    reference = official_edit(state, image[:1], torch.tensor([0]), torch.tensor([1]), 1.0, masks[:1])
    assert _max_rel_error(ours, reference) <= 1e-4


def test_import_records_its_source_and_the_official_framing(slim_official) -> None:
    _, ckpt, imported = slim_official
    source = checkpoint_extra(imported)["imported_from"]
    assert source["format"] == "l2m-gan" and source["file"] == ckpt.name and len(source["sha256"]) == 64
    assert any("attention" in key for key in source["skipped"])


def test_import_command_reports_what_it_mapped_and_skipped(slim_official, tmp_path: Path) -> None:
    _, ckpt, _ = slim_official
    out = tmp_path / "cli.safetensors"
    result = run_cli("import", str(ckpt), "--format", "l2m-gan", "--domains", "no_smile,smile", "--attr", "smile", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "w_hpf 1" in result.stdout and "256²" in result.stdout
    assert result.stdout.count("attention") == 8 and "ignored networks not needed to edit: fan, vgg" in result.stdout
    assert load_editor(out).config.uses_masks


def test_import_never_replaces_a_users_file_and_force_replaces_only_a_checkpoint(slim_official, tmp_path: Path) -> None:
    _, ckpt, imported = slim_official
    import_args = ("import", str(ckpt), "--domains", "no_smile,smile", "--out")
    thesis = tmp_path / "thesis.safetensors"
    thesis.write_text("my thesis")
    for extra in ((), ("--force",)):
        result = run_cli(*import_args, str(thesis), *extra)
        assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
        assert thesis.read_text() == "my thesis"
    ours = tmp_path / "ours.safetensors"
    ours.write_bytes(imported.read_bytes())
    refused = run_cli(*import_args, str(ours))
    assert refused.returncode == 1 and "pass --force" in refused.stderr
    replaced = run_cli(*import_args, str(ours), "--force")
    assert replaced.returncode == 0, replaced.stderr
    assert load_editor(ours).config.uses_masks


# -- refusals: one line, exit 1 ----------------------------------------------------------------------
class _Exploit:
    def __reduce__(self):  # what a malicious checkpoint does: run code on unpickling
        return (print, ("pwned",))


def _refusal(path: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> str:
    """`l2m-edge import` run in-process through the console script's entry point: exit 1, one line, no traceback."""
    from l2m_edge.cli import main

    out = path.with_suffix(".safetensors")
    argv = ["l2m-edge", "import", str(path), "--domains", "no_smile,smile", "--out", str(out), *extra]
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch, pytest.raises(SystemExit) as exited:
        patch.setattr(sys, "argv", argv)
        patch.setenv("COLUMNS", "400")
        main()
    captured = capsys.readouterr()
    assert exited.value.code == 1, captured.out + captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in captured.err, captured.err
    assert not out.exists()
    return lines[0]


def _small_state() -> dict:
    return official_state(img_size=64, dim_in=8, max_conv_dim=32, seed=4)


def test_pickle_that_needs_arbitrary_code_is_refused_by_the_console_script(tmp_path: Path) -> None:
    state = _small_state()
    state["generator"]["evil"] = _Exploit()
    path = tmp_path / "evil.ckpt"
    torch.save(state, path)
    result = run_cli("import", str(path), "--domains", "no_smile,smile", "--out", str(tmp_path / "evil.safetensors"))
    assert result.returncode == 1 and "pwned" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs arbitrary code to unpickle (global print)" in lines[0] and "weights_only" in lines[0]


def test_missing_and_unknown_keys_are_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = _small_state()
    del state["generator"]["decode.0.norm1.fc.weight"]
    assert "missing generator.decode.0.norm1.fc.weight" in _refusal(save_official(state, tmp_path / "missing.ckpt"), capsys=capsys)
    state = _small_state()
    state["style_encoder"]["extra_head.weight"] = torch.zeros(3)
    state["style_encoder"]["extra_head.bias"] = torch.zeros(3)
    line = _refusal(save_official(state, tmp_path / "unknown.ckpt"), capsys=capsys)
    assert "unknown tensors style_encoder.extra_head.bias, style_encoder.extra_head.weight" in line


def test_stargan_v2_checkpoint_is_named_as_such(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = _small_state()
    for key in [k for k in state["style_encoder"] if k.startswith(("transform", "attention"))]:
        del state["style_encoder"][key]
    state["mapping_network"] = {"shared.0.weight": torch.zeros(512, 16)}
    assert "a StarGAN v2 checkpoint" in _refusal(save_official(state, tmp_path / "stargan.ckpt"), capsys=capsys)
    del state["mapping_network"]
    assert "StarGAN v2 style encoder, not L2M-GAN" in _refusal(save_official(state, tmp_path / "no_heads.ckpt"), capsys=capsys)


def test_truncated_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = save_official(_small_state(), tmp_path / "whole.ckpt")
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert "truncated or corrupt" in _refusal(cut, capsys=capsys)


def test_wrong_shapes_nan_weights_and_a_domain_count_mismatch_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = _small_state()
    state["generator"]["decode.1.conv2.weight"] = torch.zeros(5, 5, 3, 3)
    assert "generator.decode.1.conv2.weight has shape (5, 5, 3, 3)" in _refusal(save_official(state, tmp_path / "shape.ckpt"), capsys=capsys)
    state = _small_state()
    state["style_encoder"]["transform1.0.bias"][3] = float("nan")
    assert "decomposer.layers.0.bias is not finite" in _refusal(save_official(state, tmp_path / "nan.ckpt"), capsys=capsys)
    line = _refusal(save_official(_small_state(), tmp_path / "domains.ckpt"), "--domains", "a,b,c", capsys=capsys)
    assert "2 domains but --domains names 3" in line


def test_library_refusal_is_a_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        import_checkpoint(tmp_path / "absent.ckpt", tmp_path / "out.safetensors", DOMAINS)


# -- the live path: masks from landmarks, edits only inside the face ---------------------------------
def _changed_box(before: np.ndarray, after: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(np.abs(before.astype(int) - after.astype(int)).max(2) > 0)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


@pytest.mark.parametrize("command", ["edit", "run"])
def test_edit_and_run_with_an_imported_high_pass_model_change_only_the_face(slim_official, onnx_artifact, tmp_path: Path, command: str) -> None:
    """`edit` (PyTorch checkpoint) and `run` (the exported ONNX on onnxruntime) draw the masks from the
    tracker's landmarks and paste the edit back inside the face only."""
    import cv2

    from runtime_helpers import ASTRONAUT_FACE_BOX

    _, _, imported = slim_official
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), astronaut_bgr())
    out = tmp_path / "out"
    if command == "edit":
        args = ["edit", str(photo), "--model", str(imported), "--backend", "torch", "--out", str(out)]
    else:
        args = ["run", "--source", str(photo), "--model", str(onnx_artifact), "--backend", "onnxruntime", "--sink", f"{out}/"]
    result = run_cli(*args, "--attr", "no_smile", "--from", "smile")
    assert result.returncode == 0, result.stderr[-2000:]
    edited = cv2.imread(str(next(out.glob("*.png"))))
    x0, y0, x1, y1 = _changed_box(astronaut_bgr(), edited)
    bx0, by0, bx1, by1 = ASTRONAUT_FACE_BOX
    assert bx0 <= x0 and by0 <= y0 and x1 <= bx1 and y1 <= by1 and (x1 - x0) * (y1 - y0) > 2000
    if command == "run":
        assert "masks" in result.stdout  # the masks stage ran and was timed
