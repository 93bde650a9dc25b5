"""The native runner (l2m-edge-runner, C++): built with CMake here, run on a real OpenVINO artifact.

It must produce what the Python OpenVINO backend produces on the same input and precision, refuse
a tampered artifact or a hand-edited manifest with the same message as the Python check, refuse
unknown domains, and report latency in the benchmark's field names.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from l2m_edge.bench.stats import LATENCY_KEYS
from l2m_edge.errors import ExportError, NativeError
from l2m_edge.export import export_model
from l2m_edge.export.api import verify_artifact
from l2m_edge.contract.manifest import MANIFEST_NAME, read_manifest, verify_files
from l2m_edge.contract.signature import IMAGE
from l2m_edge.backends.native import build_runner, default_build_dir, missing_tools, run_runner, runner_command
from l2m_edge.backends.openvino_backend import OpenVINOBackend

from runtime_helpers import flip_middle_byte

pytestmark = pytest.mark.skipif(bool(missing_tools()), reason=f"no native build here: missing {', '.join(missing_tools())}")


@pytest.fixture(scope="session")
def runner() -> Path:
    """The runner, built once per session into build/native-test (incremental across sessions)."""
    return build_runner(default_build_dir().with_name("native-test")).runner


@pytest.fixture(scope="session")
def artifact(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_model(tiny_checkpoint, "openvino", tmp_path_factory.mktemp("native") / "ov", precision="fp32")


@pytest.fixture(scope="session")
def image_bin(artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """One image of the shape the artifact's signature declares, as the runner's raw float32 input."""
    shape = read_manifest(artifact).signature.input(IMAGE).shape
    image = (np.random.default_rng(7).random(shape) * 2 - 1).astype("<f4")
    path = tmp_path_factory.mktemp("inputs") / "image.bin"
    image.tofile(path)
    return path, image


def _python_edit(artifact: Path, image: np.ndarray, source: int, target: int, strength: float) -> np.ndarray:
    backend = OpenVINOBackend(artifact, device="CPU", precision="fp32", threads=2)
    try:
        return backend.infer(image, np.array([source]), np.array([target]), np.array([strength], dtype=np.float32))
    finally:
        backend.close()


@pytest.mark.parametrize(("source", "target", "strength"), [(0, 1, 1.0), (1, 0, 0.5)])
def test_runner_output_equals_python_openvino_backend_at_fp32(runner, artifact, image_bin, tmp_path, source, target, strength):
    path, image = image_bin
    out = tmp_path / "edited.bin"
    report = run_runner(runner, artifact, path, output=out, source=source, target=target, strength=strength, precision="fp32", threads=2, warmup=0, iters=1)
    native = np.fromfile(out, dtype="<f4").reshape(image.shape)
    expected = _python_edit(artifact, image, source, target, strength)
    assert report["actual_precision"] == "fp32"
    assert np.abs(native - expected).max() <= 1e-5
    assert np.abs(native - image).max() > 1e-3  # the edit did something


def test_runner_reads_and_writes_ppm_images_like_python(runner, artifact, tmp_path):
    rgb = np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    src = tmp_path / "face.ppm"
    src.write_bytes(b"P6\n# a comment\n64 64\n255\n" + rgb.tobytes())
    out = tmp_path / "edited.ppm"
    run_runner(runner, artifact, src, output=out, target="smile", precision="fp32", warmup=0, iters=1)
    header, pixels = out.read_bytes().split(b"255\n", 1)
    assert header.split() == [b"P6", b"64", b"64"]
    native = np.frombuffer(pixels, dtype=np.uint8).reshape(64, 64, 3).astype(int)
    image = (rgb.astype(np.float32) / 127.5 - 1).transpose(2, 0, 1)[None]
    edited = _python_edit(artifact, image, 0, 1, 1.0)[0].transpose(1, 2, 0)
    expected = np.clip(np.round((edited.astype(np.float64) + 1) * 127.5), 0, 255).astype(int)
    assert np.abs(native - expected).max() <= 1  # one grey level at a rounding boundary


def test_runner_refuses_a_tampered_artifact_with_the_python_message(runner, artifact, image_bin, tmp_path):
    tampered = tmp_path / "tampered"
    shutil.copytree(artifact, tampered)
    flip_middle_byte(tampered / "model.bin")
    with pytest.raises(ExportError) as python_refusal:
        verify_files(tampered)
    with pytest.raises(NativeError, match="the artifact was modified, re-export it") as native_refusal:
        run_runner(runner, tampered, image_bin[0], warmup=0, iters=1)
    assert str(native_refusal.value) == f"l2m-edge-runner: {python_refusal.value}"


def test_an_untouched_manifest_passes_verify_and_the_runner(runner, artifact, image_bin):
    assert verify_artifact(artifact)["parity"]["max_abs"] >= 0  # hashes, then parity re-run against the checkpoint
    assert run_runner(runner, artifact, image_bin[0], warmup=0, iters=1)["iters"] == 1


@pytest.mark.parametrize(
    ("field", "value", "refusal"),
    [
        ("precision", "int8", "the manifest was modified after export (its manifest_sha256 does not match its bytes); re-export"),
        ("compute_precision", "bf16", "the manifest was modified after export (its manifest_sha256 does not match its bytes); re-export"),
        ("img_size", 96, "the manifest was modified after export (its manifest_sha256 does not match its bytes); re-export"),
        ("domains", ["no_smile", "grin"], "the manifest was modified after export (its manifest_sha256 does not match its bytes); re-export"),
        ("manifest_sha256", None, "the manifest was modified after export (its manifest_sha256 does not match its bytes); re-export"),
        ("schema", "l2m-edge.manifest/1", "(another l2m-edge version wrote it); re-export with this version"),
    ],
)
def test_a_hand_edited_manifest_is_refused_by_verify_and_by_the_runner_in_one_line(runner, artifact, image_bin, tmp_path, field, value, refusal):
    edited = tmp_path / "edited"
    shutil.copytree(artifact, edited)
    data = json.loads((edited / MANIFEST_NAME).read_text())
    if field == "img_size":
        data["config"]["img_size"] = value
    elif value is None:
        del data[field]
    else:
        data[field] = value
    (edited / MANIFEST_NAME).write_text(json.dumps(data, indent=2) + "\n")  # the export's layout: only the field's bytes differ
    with pytest.raises(ExportError) as python_refusal:
        verify_artifact(edited)
    assert str(python_refusal.value).endswith(refusal)
    result = subprocess.run(runner_command(runner, edited, image_bin[0], warmup=0, iters=1), capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"error: {python_refusal.value}\n"  # one line, the Python check's message


def test_runner_refuses_a_missing_artifact_file(runner, artifact, image_bin, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(artifact, broken)
    (broken / "model.xml").unlink()
    with pytest.raises(NativeError, match="listed in the manifest but missing"):
        run_runner(runner, broken, image_bin[0], warmup=0, iters=1)


@pytest.mark.parametrize("domain", ["2", "-1", "grin", ""])
def test_runner_refuses_unknown_domains_naming_the_known_ones(runner, artifact, image_bin, domain):
    result = subprocess.run(runner_command(runner, artifact, image_bin[0], target=domain, warmup=0, iters=1), capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: unknown domain '{domain}'; this model knows 0=no_smile, 1=smile"


def test_runner_refuses_an_input_of_the_wrong_size(runner, artifact, tmp_path):
    wrong = tmp_path / "wrong.bin"
    np.zeros((3, 32, 32), dtype="<f4").tofile(wrong)
    with pytest.raises(NativeError, match=r"not a whole number of float32 \[3,64,64\] images"):
        run_runner(runner, artifact, wrong, warmup=0, iters=1)


def test_runner_computes_an_fp32_ir_in_fp32_without_being_asked(runner, artifact, image_bin):
    """Without --precision the runner applies the manifest's recorded compute precision (fp32), as `open_backend` does."""
    report = run_runner(runner, artifact, image_bin[0], warmup=0, iters=1)
    assert (report["precision"], report["requested_precision"], report["actual_precision"]) == ("manifest", "fp32", "fp32")


def test_runner_and_python_read_the_compute_precision_field_and_derive_nothing(runner, artifact, image_bin, tmp_path):
    """An fp32 artifact whose manifest records no compute precision (as an FP16 IR's does) runs at the device's
    default in both: neither re-derives a hint from the artifact's precision."""
    import dataclasses

    from l2m_edge.backends import open_backend
    from l2m_edge.contract.manifest import write_manifest

    copy = tmp_path / "device-default"
    shutil.copytree(artifact, copy)
    write_manifest(copy, dataclasses.replace(read_manifest(copy), compute_precision=None))
    report = run_runner(runner, copy, image_bin[0], warmup=0, iters=1)
    backend = open_backend(copy, "openvino")
    assert read_manifest(copy).precision == "fp32" and report["requested_precision"] == "default" and backend.requested_precision == "device default"
    assert report["actual_precision"] == backend.compute_precision


def test_runner_reports_latency_in_the_benchmark_fields(runner, artifact, image_bin):
    report = run_runner(runner, artifact, image_bin[0], precision="fp32", threads=1, warmup=1, iters=7)
    assert (report["backend"], report["device"], report["precision"], report["batch"]) == ("openvino", "CPU", "fp32", 1)
    latency = report["latency_ms"]
    assert tuple(latency) == LATENCY_KEYS
    assert 0 < latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert report["iters"] == 7
    assert report["fps"] == pytest.approx(1000.0 / latency["mean"], rel=1e-4)
    json.dumps(report)  # plain JSON values only


def test_build_without_cmake_is_refused_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no cmake, no compiler
    assert "cmake" in missing_tools()
    with pytest.raises(NativeError, match="cannot build l2m-edge-runner: missing cmake"):
        build_runner(tmp_path / "build")


# -- high-pass artifacts (w_hpf > 0): the `masks` input --------------------------------------------
@pytest.fixture(scope="session")
def hpf_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from l2m_edge.checkpoint import save_checkpoint
    from l2m_edge.config import get_preset
    from l2m_edge.model import build_editor

    import torch

    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("native_hpf")
    checkpoint = save_checkpoint(build_editor(get_preset("tiny", w_hpf=1.0), ["no_smile", "smile"], "smile").eval(), directory / "hpf.safetensors")
    return export_model(checkpoint, "openvino", directory / "ov", precision="fp32")


def test_runner_feeds_masks_to_a_high_pass_artifact_like_python(runner, hpf_artifact, tmp_path):
    from l2m_edge.contract.signature import MASKS

    signature = read_manifest(hpf_artifact).signature
    rng = np.random.default_rng(3)
    image = (rng.random(signature.input(IMAGE).shape) * 2 - 1).astype("<f4")
    masks = rng.random(signature.input(MASKS).shape).astype("<f4")
    image.tofile(tmp_path / "image.bin")
    masks.tofile(tmp_path / "masks.bin")
    out = tmp_path / "edited.bin"
    run_runner(runner, hpf_artifact, tmp_path / "image.bin", output=out, masks=tmp_path / "masks.bin", precision="fp32", threads=2, warmup=0, iters=1)
    backend = OpenVINOBackend(hpf_artifact, device="CPU", precision="fp32", threads=2)
    try:
        expected = backend.infer(image, np.array([0]), np.array([1]), np.array([1.0], dtype=np.float32), masks)
    finally:
        backend.close()
    assert np.abs(np.fromfile(out, dtype="<f4").reshape(image.shape) - expected).max() <= 1e-5


def test_runner_refuses_a_high_pass_artifact_without_masks_in_one_line(runner, hpf_artifact, artifact, image_bin, tmp_path):
    shape = read_manifest(hpf_artifact).signature.input(IMAGE).shape
    (np.zeros(shape, dtype="<f4")).tofile(tmp_path / "image.bin")
    result = subprocess.run(runner_command(runner, hpf_artifact, tmp_path / "image.bin", iters=1, warmup=0), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    assert "needs --masks FILE" in result.stderr and "w_hpf > 0" in result.stderr
    with pytest.raises(NativeError, match="takes no masks"):
        run_runner(runner, artifact, image_bin[0], masks=tmp_path / "image.bin", iters=1, warmup=0)


def test_runner_refuses_a_split_style_artifact_in_one_line(runner, tiny_checkpoint, image_bin, tmp_path):
    """The runner runs one-graph artifacts: a split-style artifact's manifest schema is refused by the
    binary itself, and `run_runner` (what `l2m-edge native run` calls) says why in words."""
    split = export_model(tiny_checkpoint, "openvino", tmp_path / "split", precision="fp32", split_style=True)
    result = subprocess.run(runner_command(runner, split, image_bin[0], iters=1, warmup=0), capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and result.stderr.strip().count("\n") == 0
    assert "split-style" in result.stderr and not (tmp_path / "edited.bin").exists()
    with pytest.raises(NativeError, match="split-style.*without --split-style"):
        run_runner(runner, split, image_bin[0], iters=1, warmup=0)


def _refusal(runner: Path, artifact: Path, given: Path, output: Path) -> str:
    """The runner's one-line refusal of `given` (exit 1, nothing written)."""
    result = subprocess.run(runner_command(runner, artifact, given, output=output, warmup=0, iters=1), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and not output.exists()
    return result.stderr.strip()


def test_runner_refuses_a_video_in_one_line_instead_of_squashing_frames(runner, artifact, tmp_path):
    """The runner edits aligned face crops; a whole frame resized into the model is not an edit, so a video is refused."""
    from l2m_edge.runtime.clip import write_clip

    video = write_clip(tmp_path / "clip.mp4", seconds=0.2, fps=10, size=(160, 120), kind="actor")
    assert _refusal(runner, artifact, video, tmp_path / "out.mp4") == (
        f"error: {video}: a video; the runner edits aligned face crops (the model's input size), it does not find, align or paste back "
        "faces in frames: edit videos with `l2m-edge run --source VIDEO --model ARTIFACT --sink OUT.mp4`"
    )


def test_runner_refuses_a_photo_in_one_line_instead_of_squashing_it(runner, artifact, tmp_path):
    """A crop of another size but the model's shape is scaled; a frame-shaped image would be squashed, so it is refused."""
    import cv2

    from l2m_edge.runtime.clip import actor_frame

    size = read_manifest(artifact).signature.input(IMAGE).shape[-1]
    photo = tmp_path / "photo.ppm"
    cv2.imwrite(str(photo), cv2.resize(actor_frame(0.0), (160, 120)))
    assert _refusal(runner, artifact, photo, tmp_path / "out.ppm") == (
        f"error: {photo}: a 160x120 image; the runner edits aligned face crops shaped like the model's input ({size}x{size}; other sizes of that "
        "shape are scaled), it does not find, align or paste back faces: edit photos with `l2m-edge edit PHOTO --model ARTIFACT --out FOLDER`"
    )