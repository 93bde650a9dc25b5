"""Backends: one protocol, artifacts verified against their manifest, clear errors on misuse."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import torch

from l2m_edge.backends.openvino_core import openvino_core
from l2m_edge.checkpoint import load_editor
from l2m_edge.contract.manifest import read_manifest
from l2m_edge.backends import BACKENDS
from l2m_edge.errors import BackendUnavailable, ConfigError, ExportError, InputError
from l2m_edge.runtime.backends import Backend, StagedBackend, choose_backend, load_backend


@pytest.fixture(scope="module")
def onnx_artifact(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from l2m_edge.export import export_model

    return export_model(tiny_checkpoint, "onnx", tmp_path_factory.mktemp("art") / "tiny-onnx", dynamic=True)


def _inputs(n: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (
        rng.uniform(-1, 1, (n, 3, 64, 64)).astype(np.float32),
        np.array([0, 1][:n], np.int64),
        np.array([1, 0][:n], np.int64),
        np.array([1.0, 0.5][:n], np.float32),
    )


def test_torch_backend_matches_the_editor(tiny_checkpoint: Path) -> None:
    backend = load_backend(tiny_checkpoint, backend="torch")
    assert isinstance(backend, Backend)
    assert (backend.name, backend.precision, backend.info.img_size, backend.info.domains) == ("torch", "fp32", 64, ("no_smile", "smile"))
    image, source, target, strength = _inputs()
    with torch.no_grad():
        expected = load_editor(tiny_checkpoint)(*(torch.from_numpy(a) for a in (image, source, target, strength))).numpy()
    np.testing.assert_allclose(backend.infer(image, source, target, strength), expected, atol=1e-5)


@pytest.mark.parametrize("name", [name for name, entry in BACKENDS.items() if "onnx" in entry.formats])
def test_exported_backends_agree_with_torch(name: str, onnx_artifact: Path, tiny_checkpoint: Path) -> None:
    backend = load_backend(onnx_artifact, backend=name, precision="fp32" if name == "openvino" else None)
    reference = load_backend(tiny_checkpoint, backend="torch")
    image, source, target, strength = _inputs()
    out = backend.infer(image, source, target, strength)
    assert out.shape == (2, 3, 64, 64) and out.dtype == np.float32
    np.testing.assert_allclose(out, reference.infer(image, source, target, strength), atol=1e-3)
    assert backend.precision == "fp32"  # the precision that ran, read back from the runtime


@pytest.fixture(scope="module")
def openvino_ir(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from l2m_edge.export import export_model

    root = tmp_path_factory.mktemp("ir")
    return {p: export_model(tiny_checkpoint, "openvino", root / p, precision=p) for p in ("fp32", "fp16")}


def _compiled_precision(backend: Backend) -> str:
    """What the compiled OpenVINO model itself reports it computes in (not what the backend claims)."""
    import openvino.properties.hint as hints

    from l2m_edge.backends.openvino_backend import OpenVINOBackend, precision_from_openvino

    assert isinstance(backend, OpenVINOBackend)
    (value,) = backend.compiled_properties([hints.inference_precision()]).values()
    return precision_from_openvino(value)


def _cpu_has_bf16() -> bool:
    return "BF16" in openvino_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def test_an_fp32_ir_computes_in_fp32_without_being_asked(openvino_ir: dict[str, Path]) -> None:
    """The manifest's compute precision (fp32) is applied by default: on a CPU whose default is bf16 (AMX) this is what keeps fp32 fp32."""
    backend = load_backend(openvino_ir["fp32"], backend="openvino")
    assert backend.requested_precision == "fp32"  # type: ignore[attr-defined]
    assert _compiled_precision(backend) == "fp32" and backend.precision == backend.compute_precision == "fp32"


def test_the_bench_tools_compile_an_ir_with_the_hint_its_manifest_records(openvino_ir: dict[str, Path]) -> None:
    """`bench profile` and `bench crosscheck` read the compute precision as the backend does: the registry's rule on the manifest."""
    from l2m_edge.backends import get_backend
    from l2m_edge.backends.openvino_backend import compile_config, openvino_hint

    rule = get_backend("openvino").precision_for
    assert openvino_hint(rule(read_manifest(openvino_ir["fp32"]), None)) == "f32"
    assert openvino_hint(rule(read_manifest(openvino_ir["fp16"]), None)) is None  # the device's default
    assert compile_config(None, 2) == {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": "2"}
    assert compile_config("fp32")["INFERENCE_PRECISION_HINT"] == "f32"
    with pytest.raises(BackendUnavailable, match="int8 comes from an int8 export"):
        openvino_hint("int8")


def test_an_fp16_ir_runs_the_device_default_as_its_parity_check_did(openvino_ir: dict[str, Path]) -> None:
    import openvino.properties.hint as hints

    from l2m_edge.backends.openvino_backend import precision_from_openvino

    backend = load_backend(openvino_ir["fp16"], backend="openvino")
    device_default = precision_from_openvino(openvino_core().get_property("CPU", hints.inference_precision()))
    assert backend.requested_precision == "device default"  # type: ignore[attr-defined]
    assert _compiled_precision(backend) == backend.precision == device_default
    assert read_manifest(openvino_ir["fp16"]).parity["compute"] == device_default


def test_a_bf16_request_reports_what_the_cpu_supports(openvino_ir: dict[str, Path]) -> None:
    backend = load_backend(openvino_ir["fp32"], backend="openvino", precision="bf16")
    assert _compiled_precision(backend) == backend.precision == ("bf16" if _cpu_has_bf16() else "fp32")


def test_auto_picks_openvino_for_an_onnx_artifact_on_a_cpu_and_says_why(onnx_artifact: Path) -> None:
    name, why = choose_backend(onnx_artifact, device="cpu")
    assert name == "openvino" and "CPU" in why
    backend = load_backend(onnx_artifact, backend="auto", device="CPU")
    assert backend.name == "openvino" and backend.reason == why


def test_a_tampered_artifact_is_refused(onnx_artifact: Path, tmp_path: Path) -> None:
    copy = tmp_path / "tampered"
    shutil.copytree(onnx_artifact, copy)
    model = copy / "model.onnx"
    data = bytearray(model.read_bytes())
    data[-1] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(ExportError, match="does not match the manifest"):
        load_backend(copy, backend="onnxruntime")


def test_domain_indices_are_checked_before_inference(tiny_checkpoint: Path) -> None:
    backend = load_backend(tiny_checkpoint, backend="torch")
    image, source, _, strength = _inputs(1)
    with pytest.raises(ConfigError, match="out of range"):
        backend.infer(image, source, np.array([2]), strength)
    with pytest.raises(InputError, match=r"\[N, 3, 64, 64\]") as wrong:
        backend.infer(np.zeros((1, 3, 128, 128), np.float32), source, source, strength)
    assert "\n" not in str(wrong.value)
    with pytest.raises(ConfigError, match="out of range"):  # the style stage checks its domains too
        backend.style_code(image, source, np.array([2]))
    with pytest.raises(InputError, match=r"style has shape \(1, 3\), this model takes \[1, 16\]"):
        backend.generate(image, np.zeros((1, 3), np.float32), np.zeros((1, 16), np.float32), strength)
    with pytest.raises(ConfigError, match="no_smile, smile"):
        backend.info.domain_index("glasses")


@pytest.fixture(scope="module")
def shared_export_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One on-the-fly export cache for the registry walks, so each backend's checkpoint is exported once."""
    with pytest.MonkeyPatch.context() as patch:
        cache = tmp_path_factory.mktemp("cache")
        patch.setenv("L2M_EDGE_CACHE", str(cache))
        yield cache


@pytest.mark.parametrize("name", list(BACKENDS))
def test_every_registered_backend_runs_a_checkpoint_as_pytorch_does(name: str, tiny_checkpoint: Path, shared_export_cache: Path) -> None:
    """Each registry entry, straight from the table: a checkpoint (exported on the fly where the backend runs
    artifacts) edits as PyTorch does, and the backend answers the whole protocol."""
    entry = BACKENDS[name]
    status = entry.status()
    if not status.usable:
        pytest.skip(f"{name} cannot run here: {status.detail}")
    backend = load_backend(tiny_checkpoint, backend=name, device=entry.default_device)
    assert isinstance(backend, Backend) and isinstance(backend, StagedBackend) is entry.loads_checkpoints
    assert backend.name == name and backend.reason == "requested" and (backend.threads is None or backend.threads > 0)
    image, source, target, strength = _inputs()
    reference = load_backend(tiny_checkpoint, backend="torch").infer(image, source, target, strength)
    np.testing.assert_allclose(backend.infer(image, source, target, strength), reference, atol=1e-3)
    backend.close()


@pytest.mark.parametrize("name", [name for name, entry in BACKENDS.items() if entry.on_the_fly is not None])
def test_the_on_the_fly_export_computes_as_an_explicit_export_of_its_target(name: str, tiny_checkpoint: Path, tmp_path: Path, shared_export_cache: Path) -> None:
    """`run --backend X` on a checkpoint and `export --target <X's target>` then `run` give the same compute precision."""
    from l2m_edge.export import export_model
    from l2m_edge.runtime.backends.export_cache import cache_entry

    entry = BACKENDS[name]
    if not entry.status().usable:
        pytest.skip(f"{name} cannot run here: {entry.status().detail}")
    on_the_fly = load_backend(tiny_checkpoint, backend=name, device=entry.default_device)
    directory, target, _ = cache_entry(tiny_checkpoint, name)
    explicit = export_model(tiny_checkpoint, target, tmp_path / "explicit")
    assert read_manifest(directory).compute_precision == read_manifest(explicit).compute_precision
    assert on_the_fly.compute_precision == load_backend(explicit, backend=name, device=entry.default_device).compute_precision


def test_misuse_is_a_one_line_error(tiny_checkpoint: Path, onnx_artifact: Path, tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="unknown backend"):
        load_backend(tiny_checkpoint, backend="tflite")
    with pytest.raises(BackendUnavailable, match="runs .safetensors checkpoints"):
        load_backend(onnx_artifact, backend="torch")
    with pytest.raises(BackendUnavailable, match="no such checkpoint or artifact"):
        load_backend(tmp_path / "missing.safetensors")
    with pytest.raises(BackendUnavailable, match="onnxruntime providers"):
        load_backend(onnx_artifact, backend="onnxruntime", providers=["NoSuchExecutionProvider"])


def test_tensorrt_missing_is_one_clear_line(onnx_artifact: Path) -> None:
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        with pytest.raises(BackendUnavailable, match="tensorrt is not installed") as info:
            load_backend(onnx_artifact, backend="tensorrt")
        assert "\n" not in str(info.value)
    else:
        pytest.skip("TensorRT is installed here")


def test_auto_falls_back_to_torch_when_the_on_the_fly_export_fails(tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    cache.write_text("a file where the export cache directory should be")  # the export cannot write there
    monkeypatch.setenv("L2M_EDGE_CACHE", str(cache))
    backend = load_backend(tiny_checkpoint, backend="auto", device="cpu")
    assert backend.name == "torch" and "fell back to PyTorch" in backend.reason
    with pytest.raises(BackendUnavailable, match=r"exporting tiny.safetensors for openvino \(fp32\) failed"):
        load_backend(tiny_checkpoint, backend="openvino")


def test_hpf_checkpoint_runs_on_onnxruntime_through_the_on_the_fly_export(hpf_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`run --backend onnxruntime` on an imported official (high-pass) checkpoint: its dynamic-batch export is cached and takes masks."""
    from l2m_edge.export import parity as P
    from l2m_edge.export.calibration import parity_batch

    monkeypatch.setenv("L2M_EDGE_CACHE", str(tmp_path / "cache"))
    backend = load_backend(hpf_checkpoint, backend="onnxruntime")
    assert backend.name == "onnxruntime" and backend.info.uses_masks
    batch = parity_batch(64, 2, count=2, seed=83, masks=True)
    out = backend.infer(batch.image, batch.source_domain, batch.target_domain, batch.strength, batch.masks)
    assert not P.threshold_for("fp32").failures(P.compare(out, P.run_torch(load_editor(hpf_checkpoint), batch)))


def test_the_precision_chooser_times_its_candidates_against_each_other_and_remembers(tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from l2m_edge.runtime.backends import precision

    monkeypatch.setenv("L2M_EDGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(precision, "CANDIDATES", ("fp16", "fp32"))  # real exports and timings; INT8's calibration is the slow test below
    choice = precision.choose_openvino_precision(tiny_checkpoint)
    assert set(choice.median_ms) == {"fp16", "fp32"} and choice.median_ms[choice.precision] == min(choice.median_ms.values())
    assert "measured fastest here" in choice.reason and "parity passed" in choice.reason
    assert precision.choose_openvino_precision(tiny_checkpoint).reason.endswith("(cached)")
    backend = load_backend(tiny_checkpoint, backend="auto", device="CPU")
    assert backend.name == "openvino" and "measured fastest here" in backend.reason and "(cached)" in backend.reason


@pytest.mark.slow
def test_auto_on_openvino_picks_the_fastest_parity_passing_precision_measured_here_and_remembers(tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from l2m_edge.runtime.backends.precision import CANDIDATES, choose_openvino_precision

    monkeypatch.setenv("L2M_EDGE_CACHE", str(tmp_path / "cache"))
    choice = choose_openvino_precision(tiny_checkpoint)
    assert set(choice.median_ms) | set(choice.refused) == set(CANDIDATES)  # every candidate timed or refused with a reason
    assert choice.precision in choice.median_ms and choice.median_ms[choice.precision] == min(choice.median_ms.values())
    assert "measured fastest here" in choice.reason
    again = choose_openvino_precision(tiny_checkpoint)
    assert (again.precision, again.median_ms) == (choice.precision, choice.median_ms) and again.reason.endswith("(cached)")
    backend = load_backend(tiny_checkpoint, backend="auto", device="CPU")
    assert backend.name == "openvino" and backend.precision in ("int8", "fp32", "bf16", "fp16")
    assert ("int8" if choice.precision == "int8" else backend.precision) == backend.precision and "measured fastest here" in backend.reason


def test_cuda_is_asked_of_the_driver_and_a_missing_runtime_is_one_line() -> None:
    """No torch: the device count comes from libcuda (0 without it), buffers from libcudart (a one-line error without it)."""
    import ctypes
    import subprocess

    from l2m_edge.backends.cuda import DeviceBuffer, cuda_device_count

    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        assert cuda_device_count() == 0
    else:  # a GPU machine: the driver's count is what nvidia-smi lists
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=60).stdout.strip().splitlines()
        assert cuda_device_count() == len(listed)
    try:
        buffer = DeviceBuffer(16)
    except BackendUnavailable as exc:  # no CUDA runtime, or no device for it
        assert cuda_device_count() == 0 and len(str(exc).splitlines()) == 1 and ("libcudart" in str(exc) or "CUDA" in str(exc))
    else:
        assert cuda_device_count() > 0
        buffer.free()
