"""Style reuse across frames: the editor split into a style graph and a generator graph, exported,
parity-checked and run by onnxruntime and OpenVINO, and the pipeline's `--style-every K` on a real clip."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from l2m_edge.backends import StagedBackend, open_backend
from l2m_edge.backends.native import run_runner
from l2m_edge.checkpoint import load_editor
from l2m_edge.config import get_preset
from l2m_edge.contract.manifest import SPLIT_SCHEMA, read_manifest
from l2m_edge.contract.signature import STAGES, stage_signatures
from l2m_edge.errors import ConfigError, ExportError, NativeError
from l2m_edge.export import export_model
from l2m_edge.export.calibration import parity_batch
from l2m_edge.export.parity import compare, run_torch
from l2m_edge.model.editor import build_editor
from l2m_edge.runtime.clip import actor_frame, read_video, write_clip
from l2m_edge.runtime.demo import shipped_demo_checkpoint
from l2m_edge.runtime.pipeline import EditOptions, Pipeline
from l2m_edge.runtime.sinks import ImageFolderSink
from l2m_edge.runtime.sources import open_source
from l2m_edge.runtime.style_reuse import StyleCodes


@pytest.mark.parametrize("w_hpf", [0.0, 1.0])
def test_style_stage_then_generator_is_the_editor_bit_for_bit(w_hpf: float) -> None:
    torch.manual_seed(0)
    config = get_preset("tiny", w_hpf=w_hpf)
    editor = build_editor(config).eval()
    size = config.img_size
    image = torch.rand(4, 3, size, size) * 2 - 1
    source, target = torch.tensor([0, 1, 0, 1]), torch.tensor([1, 0, 1, 0])
    strength = torch.tensor([1.0, 0.5, 0.0, 1.7])
    masks = torch.rand(4, 2, size, size) if w_hpf else None
    with torch.no_grad():
        style, delta = editor.style_stage(image, source, target)
        split = editor.generate(image, style, delta, strength, masks)
        whole = editor(image, source, target, strength, masks)
        at_zero = editor.generate(image, style, delta, torch.zeros(4), masks)
        reconstruction = editor.reconstruct(image, source, masks)
    assert torch.equal(split, whole)
    assert torch.equal(at_zero, reconstruction)  # α = 0: s' = s, whatever the target's δ


@pytest.fixture(scope="module")
def split_artifacts(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("split")
    return {
        "onnxruntime": export_model(tiny_checkpoint, "onnx", root / "onnx", dynamic=True, split_style=True),
        "openvino": export_model(tiny_checkpoint, "openvino", root / "openvino", precision="fp32", dynamic=True, split_style=True),
    }


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_a_split_artifact_lists_hashes_and_parity_checks_both_graphs(split_artifacts, tiny_checkpoint: Path, runtime: str) -> None:  # noqa: ANN001
    directory = split_artifacts[runtime]
    manifest = read_manifest(directory)
    editor = load_editor(tiny_checkpoint)
    assert manifest.schema == SPLIT_SCHEMA
    assert [graph.name for graph in manifest.stages] == list(STAGES)
    assert {name: graph.signature for name, graph in zip(STAGES, manifest.stages)} == stage_signatures(editor.config, batch=None)
    suffix = ".onnx" if runtime == "onnxruntime" else ".xml"
    for stage in STAGES:
        assert manifest.file(suffix, stage).path == f"{stage}{suffix}"
    assert all(len(f.sha256) == 64 for f in manifest.files)
    with pytest.raises(ExportError, match="one '\\*\\.onnx' graph per stage|name the stage"):
        manifest.file(".onnx")
    parity = manifest.parity
    assert parity["passed"] and parity["backend"] == runtime
    assert set(parity["stages"]) == set(STAGES)
    for report in parity["stages"].values():
        assert report["passed"] and report["threshold"]["precision"] == "fp32"
        assert report["psnr_of_range_db"] == "inf" or report["psnr_of_range_db"] >= 80.0


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_the_registry_runs_both_stages_and_composes_them_into_the_editor(split_artifacts, tiny_checkpoint: Path, runtime: str) -> None:  # noqa: ANN001
    backend = open_backend(split_artifacts[runtime], runtime)
    editor = load_editor(tiny_checkpoint)
    batch = parity_batch(editor.config.img_size, 2, count=4, seed=77)
    try:
        assert isinstance(backend, StagedBackend) and backend.name == runtime
        style, delta = backend.style_code(batch.image, batch.source_domain, batch.target_domain)
        assert style.shape == delta.shape == (4, editor.config.style_dim)
        composed = backend.generate(batch.image, style, delta, batch.strength)
        np.testing.assert_array_equal(backend.infer(batch.image, batch.source_domain, batch.target_domain, batch.strength), composed)
        assert compare(composed, run_torch(editor, batch))["psnr_of_range_db"] >= 80.0
        # a new strength reuses the same codes: the same as a full run at that strength
        half = np.full(4, 0.5, np.float32)
        np.testing.assert_array_equal(backend.generate(batch.image, style, delta, half), backend.infer(batch.image, batch.source_domain, batch.target_domain, half))
        with pytest.raises(Exception, match=r"style has shape \(4, 3\)"):
            backend.generate(batch.image, style[:, :3], delta, batch.strength)
    finally:
        backend.close()


def test_a_checkpoint_on_pytorch_runs_the_stages_too(tiny_checkpoint: Path) -> None:
    backend = open_backend(tiny_checkpoint, "torch", device="cpu")
    batch = parity_batch(backend.info.img_size, 2, count=3, seed=78)
    assert isinstance(backend, StagedBackend)
    codes = backend.style_code(batch.image, batch.source_domain, batch.target_domain)
    composed = backend.generate(batch.image, *codes, batch.strength)
    np.testing.assert_array_equal(composed, backend.infer(batch.image, batch.source_domain, batch.target_domain, batch.strength))


def test_a_high_pass_model_splits_with_masks_on_the_generator_stage(tmp_path: Path) -> None:
    from l2m_edge.checkpoint import save_checkpoint

    torch.manual_seed(0)
    checkpoint = save_checkpoint(build_editor(get_preset("tiny", w_hpf=1.0), ("no_smile", "smile"), attribute="smile"), tmp_path / "hpf.safetensors")
    manifest = read_manifest(export_model(checkpoint, "openvino", tmp_path / "ov", precision="fp32", split_style=True))
    assert [graph.signature.has_masks for graph in manifest.stages] == [False, True]
    assert manifest.parity["passed"] and all(report["passed"] for report in manifest.parity["stages"].values())


def test_a_tampered_stage_graph_is_refused(split_artifacts, tmp_path: Path) -> None:  # noqa: ANN001
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(split_artifacts["onnxruntime"], copy)
    with open(copy / "generator.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ExportError, match="generator.onnx: .*does not match the manifest"):
        open_backend(copy)


def test_the_native_runner_wrapper_refuses_a_split_artifact_in_one_line(split_artifacts, tmp_path: Path) -> None:  # noqa: ANN001
    with pytest.raises(NativeError, match="split-style") as caught:
        run_runner(tmp_path / "l2m-edge-runner", split_artifacts["openvino"], tmp_path / "image.bin")
    assert "\n" not in str(caught.value)


def test_style_every_needs_a_backend_that_runs_the_stages(tiny_checkpoint: Path, tmp_path: Path) -> None:
    one_graph = open_backend(export_model(tiny_checkpoint, "onnx", tmp_path / "one", dynamic=True))
    with pytest.raises(ConfigError, match="--style-every 3 needs the editor as two graphs.*--split-style"):
        Pipeline(one_graph, EditOptions(target="smile", source="no_smile", style_every=3))
    for bad in (0, -2, 2.5, float("nan"), True):
        with pytest.raises(ConfigError, match="--style-every"):
            EditOptions(target="smile", style_every=bad)  # type: ignore[arg-type]


def test_a_code_is_due_on_a_new_track_a_new_target_and_every_k_frames() -> None:
    codes = StyleCodes(3)
    code = (np.zeros(4, np.float32), np.ones(4, np.float32))
    assert codes.due(7, 0, 1, fresh=False)  # never computed
    codes.store(7, 0, 1, *code)
    served = []
    for _ in range(3):
        served.append(codes.due(7, 0, 1, fresh=False))
        codes.use(7)
    assert served == [False, False, False] and codes.due(7, 0, 1, fresh=False)  # served K frames
    codes.store(7, 0, 1, *code)
    assert codes.due(7, 0, 1, fresh=True)  # found again: maybe someone else
    assert codes.due(7, 0, 0, fresh=False) and codes.due(7, 1, 1, fresh=False)  # another target or source
    codes.keep_only({8})
    assert codes.due(7, 0, 1, fresh=False)


# -- the pipeline on a real clip, with the shipped model ----------------------------------------
@pytest.fixture(scope="module")
def demo_split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_model(shipped_demo_checkpoint(), "onnx", tmp_path_factory.mktemp("demo") / "split", dynamic=True, split_style=True)


def _run(artifact: Path, clip: Path, out: Path, every: int) -> tuple[list[np.ndarray], Pipeline, list[list[int]]]:
    """Output frames, the pipeline, and the track ids edited in each frame."""
    backend = open_backend(artifact, "onnxruntime")
    pipeline = Pipeline(backend, EditOptions(target="smile", source="no_smile", style_every=every, record=True))
    try:
        result = pipeline.run(open_source(str(clip)), ImageFolderSink(out))
    finally:
        backend.close()
    edited = [[r.track_id for r in records if r.status == "edited"] for records in result.records]
    return [cv2.imread(str(p)) for p in sorted(out.glob("frame_*.png"))], pipeline, edited


def test_style_every_3_on_the_actor_clip_matches_every_frame_at_k_boundaries(demo_split: Path, tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "actor.avi", seconds=0.84, kind="actor")  # 21 frames
    inputs, _, _ = read_video(clip)
    every = _run(demo_split, clip, tmp_path / "k1", 1)[0]
    reused, pipeline, edited = _run(demo_split, clip, tmp_path / "k3", 3)
    assert len(every) == len(reused) == len(inputs) == 21
    assert edited == [[0]] * 21  # one track, edited in every frame
    codes = pipeline.style_codes
    assert codes is not None and codes.computed == 7 and codes.reused == 14  # one track: frames 0, 3, …, 18
    changes = []
    for index, (k1, k3, frame) in enumerate(zip(every, reused, inputs)):
        edit = np.abs(k1.astype(np.int16) - frame.astype(np.int16)).sum(axis=2) > 0
        assert edit.sum() > 500, f"frame {index}: the face was not edited"
        difference = np.abs(k1.astype(np.int16) - k3.astype(np.int16))
        if index % 3 == 0:
            assert not difference.any(), f"frame {index}: a K boundary differs from the K = 1 output"
        else:
            changes.append(difference[edit].mean() / np.abs(k1.astype(np.int16) - frame.astype(np.int16))[edit].mean())
            assert difference.max() <= 12, f"frame {index}: reused style code moved a pixel by {difference.max()}"
    assert max(changes) > 0  # codes were really reused
    assert np.mean(changes) < 0.05  # in-between frames differ by a few % of the edit itself


def test_a_new_track_gets_its_style_code_at_once(demo_split: Path, tmp_path: Path) -> None:
    """The actor, then an empty wall long enough to lose the track, then the actor again: with K far
    beyond the clip, codes are computed exactly twice, and the new track's first frame equals K = 1."""
    frames = [actor_frame(i / 25) for i in range(5)] + [np.full((480, 640, 3), 120, np.uint8)] * 9 + [actor_frame(i / 25) for i in range(5)]
    clip = tmp_path / "gap.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (640, 480))
    for frame in frames:
        writer.write(frame)
    writer.release()
    every = _run(demo_split, clip, tmp_path / "k1", 1)[0]
    reused, pipeline, edited = _run(demo_split, clip, tmp_path / "k1000", 1000)
    tracks = sorted({track for ids in edited for track in ids})
    assert len(tracks) == 2, f"expected the actor tracked twice, got tracks {edited}"
    back = next(i for i, ids in enumerate(edited) if tracks[1] in ids)  # the new track's first frame
    codes = pipeline.style_codes
    assert codes is not None and codes.computed == 2
    np.testing.assert_array_equal(reused[back], every[back])
    assert not np.array_equal(reused[back + 2], reused[back])  # the clip moves on: a real comparison
    assert "style" in pipeline.timings.summary(len(reused), 1.0)["stages_ms"]  # the style stage is timed on its own
