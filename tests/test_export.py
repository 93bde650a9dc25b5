"""Export: real onnxruntime / OpenVINO runs of exported tiny editors, their manifests and refusals."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from l2m_edge.checkpoint import load_editor
from l2m_edge.errors import ExportError
from l2m_edge.backends import backend_for_format
from l2m_edge.export import TARGETS, export_model, get_target, verify_artifact
from l2m_edge.export.builders import BUILDERS
from l2m_edge.export import parity as P
from l2m_edge.export.calibration import parity_batch
from l2m_edge.config import get_preset
from l2m_edge.contract.manifest import Manifest, read_manifest
from l2m_edge.contract.signature import editor_signature

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path) -> dict[str, Path]:
    """One artifact per (target, precision) the default run checks, exported once for the module."""
    from l2m_edge.metrics.classifier import AttributeClassifier, ClassifierConfig, save_classifier

    root = tmp_path_factory.mktemp("exports")
    torch.manual_seed(3)
    judge = save_classifier(AttributeClassifier(ClassifierConfig(64, ("no_smile", "smile"), "smile", (8, 16))), root / "judge.safetensors")
    made = {}
    for key, target, options in (
        ("onnx", "onnx", {}),
        ("onnx-dynamic", "onnx", {"dynamic": True}),
        ("openvino-fp32", "openvino", {"precision": "fp32", "classifier": judge}),
        ("openvino-fp16", "openvino", {"precision": "fp16"}),
        ("openvino-int8", "openvino", {"precision": "int8", "calib": "synth", "batch": 4}),
        ("jetson-fp16", "jetson", {"precision": "fp16", "device": "agx-orin", "dla_core": 1, "jetpack": 5}),
    ):
        made[key] = export_model(tiny_checkpoint, target, root / key, **options)
    return made


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# -- the registry ---------------------------------------------------------------------------------
def test_registry_lists_every_target_with_its_builder_backend_and_precisions() -> None:
    assert set(TARGETS) == set(BUILDERS) == {"onnx", "openvino", "tensorrt", "jetson"}
    assert get_target("openvino").precisions == ("fp32", "fp16", "int8")
    assert [backend_for_format(get_target(t).format).name for t in TARGETS] == ["onnxruntime", "openvino", "tensorrt", "tensorrt"]
    assert get_target("jetson").builds_on_device and not get_target("jetson").dynamic
    for target in TARGETS.values():
        assert target.default_precision in target.precisions
        assert target.check_precision(None) == target.default_precision


@pytest.mark.parametrize("name", list(TARGETS))
def test_every_target_row_carries_its_builder_options_precisions_and_runner(name: str) -> None:
    """Walk the table: each row has a builder, takes the common options and known ones only, records a
    compute precision for every artifact precision it writes, and its artifacts have a backend that runs them."""
    from l2m_edge.backends import BACKENDS
    from l2m_edge.export.options import ALL_OPTIONS, COMMON_OPTIONS

    target = TARGETS[name]
    assert name in BUILDERS and target.accepts[: len(COMMON_OPTIONS)] == COMMON_OPTIONS and set(target.accepts) <= set(ALL_OPTIONS)
    assert target.default_precision in target.precisions and target.default_device in target.devices
    assert set(target.compute_precisions.values()) <= {None, "fp32", "fp16", "bf16", "int8"}
    assert target.format in backend_for_format(target.format).formats
    for entry in BACKENDS.values():
        if entry.on_the_fly == name:  # a backend that exports checkpoints through this row runs what it writes
            assert target.format in entry.formats


def test_registry_says_why_a_target_cannot_be_built_here() -> None:
    ok, why = get_target("tensorrt").buildable()
    assert ok == HAS_TENSORRT
    if not HAS_TENSORRT:
        assert why == "tensorrt is not installed"
    assert get_target("onnx").buildable() == (True, "ok")


# -- ONNX ------------------------------------------------------------------------------------------
def test_onnx_export_is_checked_opset17_static_and_matches_pytorch_in_onnxruntime(exports: dict[str, Path], tiny_checkpoint: Path) -> None:
    import onnxruntime as ort

    directory = exports["onnx"]
    model = onnx.load(str(directory / "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
    signature = editor_signature(get_preset("tiny"), batch=1)
    assert tuple(i.name for i in model.graph.input) == signature.input_names
    assert tuple(o.name for o in model.graph.output) == signature.output_names
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [1, 3, 64, 64]

    editor = load_editor(tiny_checkpoint)
    batch = parity_batch(64, 2, count=2, seed=77)
    session = ort.InferenceSession(str(directory / "model.onnx"), providers=["CPUExecutionProvider"])
    for i in range(2):
        one = batch.slice(i, i + 1)
        out = session.run(None, one.feed())[0]
        ref = P.run_torch(editor, one)
        assert np.abs(out - ref).max() <= 1e-4
    parity = read_manifest(directory).parity
    assert parity["passed"] and parity["max_abs"] <= 1e-4 and parity["compute"] == "fp32"


@pytest.mark.parametrize("alpha", [0.5, 1.7])
def test_exported_graph_matches_the_training_path_at_nonzero_alpha(exports: dict[str, Path], tiny_checkpoint: Path, alpha: float) -> None:
    """onnxruntime on the exported graph against training's edit (`edit_code` + generator) at α = 0.5 and 1.7."""
    from l2m_edge.backends import open_backend

    editor = load_editor(tiny_checkpoint)
    batch = parity_batch(64, 2, count=2, seed=79)
    image, source, target = (torch.from_numpy(a) for a in (batch.image, batch.source_domain, batch.target_domain))
    with torch.no_grad():
        training = editor.generator(image, editor.edit_code(editor.style(image, source), target, alpha)[0]).numpy()
    backend = open_backend(exports["onnx-dynamic"], device="CPUExecutionProvider")
    out = backend.infer(batch.image, batch.source_domain, batch.target_domain, np.full(2, alpha, np.float32))
    assert np.abs(out - training).max() <= 1e-4


def test_dynamic_onnx_runs_any_batch_size(exports: dict[str, Path], tiny_checkpoint: Path) -> None:
    import onnxruntime as ort

    manifest = read_manifest(exports["onnx-dynamic"])
    assert manifest.inputs[0].shape == ["batch", 3, 64, 64]
    assert manifest.signature == editor_signature(get_preset("tiny"), batch=None)
    session = ort.InferenceSession(str(exports["onnx-dynamic"] / "model.onnx"), providers=["CPUExecutionProvider"])
    batch = parity_batch(64, 2, count=3, seed=78)
    out = session.run(None, batch.feed())[0]
    assert out.shape == (3, 3, 64, 64)
    assert np.abs(out - P.run_torch(load_editor(tiny_checkpoint), batch)).max() <= 1e-4


def test_hpf_model_exports_with_a_dynamic_batch_to_onnx_and_openvino_fp32(hpf_checkpoint: Path, tmp_path: Path) -> None:
    """A high-pass model's fixed filters have static kernel shapes, so a dynamic batch exports (the
    runtime's on-the-fly export is always dynamic); batches of 2 and 3 with masks match PyTorch."""
    from l2m_edge.backends import open_backend

    editor = load_editor(hpf_checkpoint)
    for target in ("onnx", "openvino"):
        directory = export_model(hpf_checkpoint, target, tmp_path / target, precision="fp32", dynamic=True)
        manifest = read_manifest(directory)
        assert manifest.signature == editor_signature(get_preset("tiny", w_hpf=1.0), batch=None) and "masks" in manifest.signature.input_names
        assert manifest.parity["passed"] and manifest.parity["compute"] == "fp32"
        backend = open_backend(directory, backend_for_format(manifest.format).name, precision="fp32" if target == "openvino" else None)
        for count in (2, 3):
            batch = parity_batch(64, 2, count=count, seed=80 + count, masks=True)
            out = backend.infer(batch.image, batch.source_domain, batch.target_domain, batch.strength, batch.masks)
            assert out.shape == (count, 3, 64, 64)
            assert not P.threshold_for("fp32").failures(P.compare(out, P.run_torch(editor, batch)))  # the fp32 bar: high-pass gains lift the output scale


# -- OpenVINO --------------------------------------------------------------------------------------
def test_openvino_fp32_runs_with_f32_hint_on_the_openvino_backend_and_meets_1e4(exports: dict[str, Path]) -> None:
    manifest = read_manifest(exports["openvino-fp32"])
    assert [f.path for f in manifest.files] == ["model.xml", "model.bin", "classifier.xml", "classifier.bin"]  # the shipped classifier knows the domains
    assert (manifest.precision, manifest.compute_precision) == ("fp32", "fp32")  # FP32 pins f32: a CPU with AMX would compute bf16
    assert (manifest.parity["backend"], manifest.parity["hint"]) == ("openvino", "fp32")
    assert manifest.parity["compute"] == "fp32" and manifest.parity["max_abs"] <= 1e-4


def test_classifier_accuracy_on_edits_is_recorded_for_pytorch_and_the_artifact(exports: dict[str, Path]) -> None:
    accuracy = read_manifest(exports["openvino-fp32"]).parity["attribute_accuracy"]
    assert accuracy["count"] == 100 and accuracy["max_drop"] == 2.0
    assert 0 <= accuracy["artifact"] <= 100 and accuracy["drop"] == pytest.approx(accuracy["fp32"] - accuracy["artifact"])
    assert abs(accuracy["drop"]) <= 2.0  # fp32 artifact: the same predictions up to rounding


def test_openvino_fp16_has_compressed_weights_and_records_what_ran(exports: dict[str, Path]) -> None:
    fp32_bin = (exports["openvino-fp32"] / "model.bin").stat().st_size
    fp16_bin = (exports["openvino-fp16"] / "model.bin").stat().st_size
    assert fp16_bin < 0.6 * fp32_bin  # weights stored as f16
    parity = read_manifest(exports["openvino-fp16"]).parity
    assert parity["compute"] in ("bf16", "fp16", "fp32")
    assert parity["passed"] and parity["psnr_db"] >= P.THRESHOLDS["fp16"].min_psnr


def test_openvino_int8_is_quantised_on_synthfaces_and_clears_its_psnr_bar(exports: dict[str, Path]) -> None:
    import openvino as ov

    manifest = read_manifest(exports["openvino-int8"])
    assert manifest.calibration == {"source": "synthfaces", "count": 100, "seed": 1001}
    assert manifest.inputs[0].shape == [4, 3, 64, 64]
    model = ov.Core().read_model(str(exports["openvino-int8"] / "model.xml"))
    assert any(op.get_type_name() == "FakeQuantize" for op in model.get_ops())
    assert manifest.parity["passed"] and manifest.parity["psnr_db"] >= P.THRESHOLDS["int8"].min_psnr


def test_out_of_range_domain_is_refused_before_openvino_runs(exports: dict[str, Path]) -> None:
    from l2m_edge.backends import open_backend
    from l2m_edge.errors import ConfigError
    from l2m_edge.export.api import run_artifact

    batch = parity_batch(64, 2, count=1, seed=5)
    bad = type(batch)(batch.image, np.array([2]), batch.target_domain, batch.strength)
    with pytest.raises(ConfigError, match=r"source domain index 2 out of range: this model has 2 domains \(no_smile, smile\)"):
        run_artifact(open_backend(exports["openvino-fp32"]), bad)


# -- Jetson ----------------------------------------------------------------------------------------
def test_jetson_bundle_has_static_onnx_a_valid_build_script_and_native_sources(exports: dict[str, Path]) -> None:
    directory = exports["jetson-fp16"]
    manifest = read_manifest(directory)
    model = onnx.load(str(directory / "model.onnx"))
    dims = [[d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input]
    assert dims == [[1, 3, 64, 64], [1], [1], [1]]
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) <= 17
    script = (directory / "build_engine.sh").read_text()
    assert subprocess.run(["bash", "-n", str(directory / "build_engine.sh")]).returncode == 0
    for flag in ("--onnx=model.onnx", "--saveEngine=model.engine", "--fp16", "--useDLACore=1", "--allowGPUFallback", "--memPoolSize=workspace:4096"):
        assert flag in script
    assert "--int8" not in script
    assert (directory / "README.md").is_file() and "build_engine.sh" in (directory / "README.md").read_text()
    if (Path(__file__).parents[1] / "native").is_dir():
        assert (directory / "CMakeLists.txt").is_file() and any(f.path.startswith("native/") for f in manifest.files)
    assert manifest.options["jetpack"] == 5 and manifest.options["engine"] == "model.engine"
    assert manifest.parity["passed"]


def test_jetson_refuses_dla_on_orin_nano_and_opset_above_17(tiny_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="orin-nano has no DLA"):
        export_model(tiny_checkpoint, "jetson", tmp_path / "a", device="orin-nano", dla_core=0)
    with pytest.raises(ExportError, match="opset ≤ 17"):
        export_model(tiny_checkpoint, "jetson", tmp_path / "b", opset=18)
    assert _listing(tmp_path) == []


# -- TensorRT --------------------------------------------------------------------------------------
@pytest.mark.skipif(HAS_TENSORRT, reason="tensorrt is installed: the missing-module message cannot be seen")
def test_tensorrt_target_without_tensorrt_says_so_in_one_line(tiny_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError) as info:
        export_model(tiny_checkpoint, "tensorrt", tmp_path / "trt")
    assert str(info.value).startswith("tensorrt is not installed: ") and "\n" not in str(info.value)
    assert _listing(tmp_path) == []


@pytest.mark.skipif(not HAS_TENSORRT, reason="tensorrt is not installed: TensorRT ships with JetPack / NVIDIA's CUDA repositories")
@pytest.mark.gpu
def test_tensorrt_engine_is_built_with_timing_cache(tiny_checkpoint: Path, tmp_path: Path) -> None:
    directory = export_model(tiny_checkpoint, "tensorrt", tmp_path / "trt", precision="fp16")
    names = [f.path for f in read_manifest(directory).files]
    assert "model.engine" in names and "timing.cache" in names and (directory / "model.engine").stat().st_size > 0


# -- manifest and verify -----------------------------------------------------------------------------
def test_manifest_describes_inputs_domains_checkpoint_and_tools(exports: dict[str, Path], tiny_checkpoint: Path) -> None:
    from l2m_edge.io import sha256_file

    data = json.loads((exports["onnx"] / "manifest.json").read_text())
    manifest = Manifest.from_dict(data)
    assert manifest.format == "onnx" and manifest.target == "onnx" and manifest.precision == "fp32"
    assert manifest.signature == editor_signature(load_editor(tiny_checkpoint).config, batch=1)
    assert manifest.signature.input_names == ("image", "source_domain", "target_domain", "strength")  # no masks: w_hpf = 0
    assert manifest.inputs[0].value_range == [-1.0, 1.0] and manifest.inputs[0].layout == "NCHW"
    assert manifest.inputs[1].dtype == "int64" and manifest.inputs[1].value_range == [0, 1]
    assert manifest.domains == ["no_smile", "smile"] and manifest.attribute == "smile" and manifest.preset == "tiny"
    assert manifest.checkpoint_sha256 == sha256_file(tiny_checkpoint)
    assert {"torch", "onnx", "onnxruntime"} <= set(manifest.tools)
    assert manifest.options["opset"] == 17 and manifest.options["batch"] == 1 and manifest.options["dynamic"] is False


def test_verify_rechecks_hashes_and_parity_on_fresh_inputs(exports: dict[str, Path]) -> None:
    result = verify_artifact(exports["openvino-fp32"])
    assert result["files"] == 4  # model.xml, model.bin and the classifier graph beside them
    assert result["classifier"]["passed"]
    assert result["parity"]["passed"] and result["parity"]["inputs"].endswith("seed 3003")
    assert (result["parity"]["backend"], result["parity"]["hint"], result["parity"]["compute"]) == ("openvino", "fp32", "fp32")  # as exported


def test_verify_refuses_a_tampered_artifact(exports: dict[str, Path], tmp_path: Path) -> None:
    copy = shutil.copytree(exports["onnx"], tmp_path / "copy")
    model = onnx.load(str(copy / "model.onnx"))
    model.doc_string = "tampered"
    onnx.save(model, str(copy / "model.onnx"))
    with pytest.raises(ExportError, match="does not match the manifest"):
        verify_artifact(copy)


# -- refusals: a message, and nothing left behind ----------------------------------------------------
@pytest.mark.parametrize(
    ("target", "options", "message"),
    [
        ("tflite", {}, "unknown export target 'tflite'; choose one of onnx, openvino, tensorrt, jetson"),
        ("openvino", {"precision": "int4"}, "target 'openvino' has no precision 'int4'; choose one of fp32, fp16, int8"),
        ("openvino", {"precision": "int8"}, "INT8 needs calibration data: add --calib synth"),
        ("onnx", {"batch": 2, "dynamic": True}, "--batch and --dynamic exclude each other"),
        ("onnx", {"workspace": 2.0}, "--workspace does not apply to target 'onnx'; it takes --precision, --imgsz, --batch, --dynamic, --opset, --device"),
        ("openvino", {"jetpack": 5}, "--jetpack does not apply to target 'openvino'"),
        ("tensorrt", {"worksapce": 2.0}, "unknown export option 'worksapce'; did you mean 'workspace'?"),
    ],
)
def test_refused_export_names_the_fix_and_leaves_nothing(tiny_checkpoint: Path, tmp_path: Path, target: str, options: dict, message: str) -> None:
    with pytest.raises(ExportError) as info:
        export_model(tiny_checkpoint, target, tmp_path / "out", **options)
    assert message in str(info.value)
    assert _listing(tmp_path) == []


def test_existing_output_is_kept_without_force(exports: dict[str, Path], tiny_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="exists; pass --force"):
        export_model(tiny_checkpoint, "onnx", out)
    assert _listing(out) == ["keep.txt"] and _listing(tmp_path) == ["out"]


def test_export_missing_its_parity_bar_fails_and_leaves_nothing(tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(P.THRESHOLDS, "fp32", P.Threshold(min_psnr_of_range=1000.0))  # a bar no float export can clear
    with pytest.raises(ExportError, match=r"parity against PyTorch failed \(PSNR .* dB < 1000 dB of the output's range"):
        export_model(tiny_checkpoint, "onnx", tmp_path / "out")
    assert _listing(tmp_path) == []


def test_cli_prints_one_red_line_for_a_refused_export(tiny_checkpoint: Path, tmp_path: Path) -> None:
    cli = Path(sys.executable).with_name("l2m-edge")
    result = subprocess.run([str(cli), "export", str(tiny_checkpoint), "--target", "openvino", "--precision", "int8", "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["error: INT8 needs calibration data: add --calib synth (SynthFaces crops) or --calib DIR (a folder of ≥ 100 face crops)"]
    assert _listing(tmp_path) == []


# -- the scale-aware fp32 bar: larger random-weight editors pass, a corrupted export fails -----------------
def _random_checkpoint(preset: str, directory: Path) -> Path:
    from l2m_edge.checkpoint import save_checkpoint
    from l2m_edge.model import build_editor

    torch.manual_seed(0)
    return save_checkpoint(build_editor(preset, ("no_smile", "smile"), attribute="smile"), directory / f"{preset}.safetensors")


def _exports_to_onnx_and_openvino_fp32(preset: str, directory: Path) -> None:
    checkpoint = _random_checkpoint(preset, directory)
    for target in ("onnx", "openvino"):
        parity = read_manifest(export_model(checkpoint, target, directory / target, precision="fp32")).parity
        assert parity["passed"] and parity["compute"] == "fp32"
        assert parity["psnr_of_range_db"] >= P.FP32_MIN_PSNR_OF_RANGE and parity["max_abs"] > 1e-4  # the old absolute bar would refuse it


def test_random_weight_mobile_editor_exports_to_onnx_and_openvino_fp32(tmp_path: Path) -> None:
    _exports_to_onnx_and_openvino_fp32("mobile", tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["edge", "paper"])
def test_random_weight_256px_editors_export_to_onnx_and_openvino_fp32(preset: str, tmp_path: Path) -> None:
    _exports_to_onnx_and_openvino_fp32(preset, tmp_path)


def _corrupt_one_weight(path: Path) -> None:
    """Flip the sign of one mid-sized weight of the generator's last 3×3 convolution (one bit of one float)."""
    from onnx import numpy_helper

    model = onnx.load(str(path))
    convs = [i for i in model.graph.initializer if len(i.dims) == 4 and i.dims[2] == 3 and i.name.startswith("generator.")]
    init = convs[-1]
    weights = numpy_helper.to_array(init).copy()
    flat = weights.reshape(-1)
    k = int(np.argsort(np.abs(flat))[len(flat) // 2])
    flat[k] = -flat[k]
    init.CopyFrom(numpy_helper.from_array(weights, init.name))
    onnx.save(model, str(path))


@pytest.mark.parametrize("target", ["onnx", "openvino"])
def test_an_export_with_one_corrupted_weight_fails_parity_and_leaves_nothing(
    target: str, tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from l2m_edge.export import api

    def broken_export_onnx(*args: object, **kwargs: object) -> Path:
        path = export_onnx(*args, **kwargs)
        _corrupt_one_weight(path)
        return path

    export_onnx = api.export_onnx
    monkeypatch.setattr(api, "export_onnx", broken_export_onnx)
    with pytest.raises(ExportError, match=r"parity against PyTorch failed \(PSNR .* dB < 80 dB of the output's range"):
        export_model(tiny_checkpoint, target, tmp_path / "out", precision="fp32")
    assert _listing(tmp_path) == []


# -- slow: the remaining precisions ----------------------------------------------------------------------


@pytest.mark.slow
def test_jetson_int8_bundle_carries_a_symmetric_qdq_onnx(tiny_checkpoint: Path, tmp_path: Path) -> None:
    directory = export_model(tiny_checkpoint, "jetson", tmp_path / "j8", precision="int8", calib="synth")
    model = onnx.load(str(directory / "model.onnx"))
    assert any(n.op_type == "QuantizeLinear" for n in model.graph.node)
    zero_points = [i for i in model.graph.initializer if i.name.endswith("zero_point")]
    assert zero_points and all(not onnx.numpy_helper.to_array(z).any() for z in zero_points)
    assert "--int8" in (directory / "build_engine.sh").read_text()
    assert read_manifest(directory).parity["passed"]


@pytest.mark.slow
def test_int8_calibration_from_a_folder_of_images(tiny_checkpoint: Path, tmp_path: Path) -> None:
    import cv2

    from l2m_edge.export.calibration import synth_crops

    images, _ = synth_crops(100, 96, seed=9)
    folder = tmp_path / "crops"
    folder.mkdir()
    for i, image in enumerate(images):
        cv2.imwrite(str(folder / f"{i:03d}.png"), ((image.transpose(1, 2, 0)[:, :, ::-1] + 1) * 127.5).astype(np.uint8))
    manifest = read_manifest(export_model(tiny_checkpoint, "openvino", tmp_path / "ov8", precision="int8", calib=str(folder)))
    assert manifest.calibration["count"] == 100 and manifest.parity["passed"]


def test_an_op_the_exporter_cannot_convert_is_one_export_error_line(tmp_path: Path) -> None:
    """So the runtime's on-the-fly export falls back to PyTorch instead of stopping with a traceback."""
    from l2m_edge.export.to_onnx import _exporter_errors

    class Eigen(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.linalg.eigh(x @ x.T)[0]

    with pytest.raises(ExportError, match="cannot convert the probe: .*linalg_eigh.* not supported"), _exporter_errors("probe"):
        torch.onnx.export(Eigen(), (torch.randn(3, 3),), str(tmp_path / "x.onnx"), dynamo=False, opset_version=17)
