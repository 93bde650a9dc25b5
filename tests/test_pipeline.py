"""The whole runtime on real files: clip in, edited video out, with a real exported backend."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from l2m_edge.errors import ConfigError, SourceError
from l2m_edge.runtime.backends import load_backend
from l2m_edge.runtime.clip import read_video, write_clip
from l2m_edge.runtime.pipeline import Controls, EditOptions, Pipeline
from l2m_edge.runtime.sinks import ImageFolderSink, VideoSink
from l2m_edge.runtime.sources import ImageSource, VideoCaptureSource, open_source

from runtime_helpers import coffee_bgr, two_faces_bgr, writing_video

FPS = 25.0


@pytest.fixture(scope="module")
def onnx_backend(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from l2m_edge.export import export_model

    artifact = export_model(tiny_checkpoint, "onnx", tmp_path_factory.mktemp("art") / "tiny-onnx", dynamic=True)
    return load_backend(artifact, backend="onnxruntime")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=1.2, fps=FPS)


def test_a_clip_keeps_frame_count_fps_and_size(onnx_backend, clip: Path, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "edited.mp4"
    result = Pipeline(onnx_backend, EditOptions(target="smile", source="no_smile", record=True)).run(VideoCaptureSource(clip), VideoSink(out, FPS))
    frames_in, fps_in, size_in = read_video(clip)
    frames_out, fps_out, size_out = read_video(out)
    assert len(frames_out) == len(frames_in) == 30 == result.frames_out
    assert (fps_out, size_out) == (fps_in, size_in) == (FPS, (640, 480))
    assert result.faces_edited == 30 and result.stopped_early is None
    assert {r.track_id for frame in result.records for r in frame} == {0}  # one stable track id
    assert set(result.summary["stages_ms"]) >= {"capture", "track", "align", "infer", "paste", "sink"}


def test_only_pixels_inside_the_face_mask_change(onnx_backend, clip: Path, tmp_path: Path) -> None:  # noqa: ANN001
    result = Pipeline(onnx_backend, EditOptions(target="smile", source="no_smile", record=True)).run(
        VideoCaptureSource(clip), ImageFolderSink(tmp_path / "png")
    )
    frames_in, _, _ = read_video(clip)
    for index, (original, records) in enumerate(zip(frames_in, result.records)):
        edited = cv2.imread(str(tmp_path / "png" / f"frame_{index:06d}.png"))
        (record,) = records
        region = record.region
        inside = np.zeros(original.shape[:2], bool)
        inside[region.y0 : region.y1, region.x0 : region.x1] = region.alpha > 0
        assert np.array_equal(edited[~inside], original[~inside]), f"frame {index}: a pixel outside the mask changed"
        assert not np.array_equal(edited[inside], original[inside])
        box = record.box  # the mask lies on the tracked face
        assert box[0] - 2 <= region.x0 and region.x1 <= box[2] + 3 and box[1] - 2 <= region.y0 and region.y1 <= box[3] + 3


def test_an_image_without_a_face_passes_through_bit_identical(onnx_backend, tmp_path: Path) -> None:  # noqa: ANN001
    cv2.imwrite(str(tmp_path / "coffee.png"), coffee_bgr())
    result = Pipeline(onnx_backend, EditOptions(target="smile")).run(ImageSource([tmp_path / "coffee.png"]), ImageFolderSink(tmp_path / "out"))
    assert result.frames_out == 1 and result.faces_edited == 0
    assert np.array_equal(cv2.imread(str(tmp_path / "out" / "frame_000000.png")), coffee_bgr())


def test_two_faces_in_one_frame_are_both_edited(onnx_backend, tmp_path: Path) -> None:  # noqa: ANN001
    frame = two_faces_bgr()
    cv2.imwrite(str(tmp_path / "two.png"), frame)
    result = Pipeline(onnx_backend, EditOptions(target="smile", source="no_smile", max_faces=2, record=True)).run(
        ImageSource([tmp_path / "two.png"]), ImageFolderSink(tmp_path / "out")
    )
    assert result.faces_edited == 2
    edited = cv2.imread(str(tmp_path / "out" / "frame_000000.png"))
    changed = np.any(edited != frame, axis=2)
    assert changed[:, :320].sum() > 1000 and changed[:, 320:].sum() > 1000


def test_a_truncated_video_ends_cleanly_with_a_valid_partial_output(onnx_backend, tmp_path: Path) -> None:  # noqa: ANN001
    whole = write_clip(tmp_path / "whole.avi", seconds=1.2, fps=FPS)  # MJPG in AVI: frames decode until the cut
    data = whole.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    out = tmp_path / "partial.mp4"
    result = Pipeline(onnx_backend, EditOptions(target="smile", source="no_smile")).run(VideoCaptureSource(cut), VideoSink(out, FPS))
    assert 0 < result.frames_out < 30
    assert result.stopped_early is not None and f"stopped at frame {result.frames_out} of 30" in result.stopped_early
    frames, fps, size = read_video(out)
    assert len(frames) == result.frames_out and fps == FPS and size == (640, 480)


def test_faces_too_small_are_skipped_and_counted(onnx_backend, clip: Path, tmp_path: Path) -> None:  # noqa: ANN001
    result = Pipeline(onnx_backend, EditOptions(target="smile", source="no_smile", min_face_px=1000)).run(
        VideoCaptureSource(clip), VideoSink(tmp_path / "o.mp4", FPS), max_frames=5
    )
    assert (result.frames_out, result.faces_edited, result.faces_too_small) == (5, 0, 5)


def test_source_faults_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="camera 97 cannot be opened"):
        open_source("97")
    (tmp_path / "junk.mp4").write_bytes(b"not a video" * 100)
    with pytest.raises(SourceError, match="cannot be decoded"):
        open_source(tmp_path / "junk.mp4")
    with pytest.raises(SourceError, match="no such file"):
        open_source(tmp_path / "missing.mp4")


def test_an_unknown_target_domain_is_refused(onnx_backend) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match="no_smile, smile"):
        Pipeline(onnx_backend, EditOptions(target="glasses"))


def test_ctrl_c_finalises_the_output(tiny_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "live.mp4"
    cmd = [sys.executable, "-c", "from l2m_edge.cli import main; main()", "run", "--source", "pattern", "--model", str(tiny_checkpoint), "--backend", "torch", "--threads", "1", "--sink", str(out), "--from", "no_smile"]
    with writing_video(cmd, out) as proc:
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert "interrupted" in output
    frames, fps, size = read_video(out)
    assert len(frames) > 0 and fps == FPS and size == (640, 480)
    assert not list(tmp_path.glob(".live.*")), "the temporary and the lock are gone"


def test_window_keys_change_target_strength_edit_and_quit() -> None:
    controls = Controls(target=0, strength=1.0, num_domains=2)
    for key in (ord("n"), ord("+"), ord("+"), ord("-"), ord("e"), 0x1234, None):
        controls.handle_key(key)
    assert (controls.target, controls.strength, controls.enabled, controls.quit.is_set()) == (1, 1.1, False, False)
    controls.handle_key(27)
    assert controls.quit.is_set()
