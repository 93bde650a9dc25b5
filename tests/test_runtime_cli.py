"""`l2m-edge demo`, `run` and `edit`, run as a user runs them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from l2m_edge.runtime.demo import DEMO_ASSET

from runtime_helpers import astronaut_bgr, coffee_bgr, four_people_bgr

CLI = str(Path(sys.executable).with_name("l2m-edge"))


def _video(path: Path) -> tuple[int, float, tuple[int, int]]:
    cap = cv2.VideoCapture(str(path))
    count = 0
    while cap.read()[0]:
        count += 1
    info = (count, cap.get(cv2.CAP_PROP_FPS), (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))))
    cap.release()
    return info


def test_demo_edits_the_synthfaces_actor_and_guards_the_real_photo(cli, tiny_checkpoint: Path, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "demo"
    result = cli("demo", "--model", str(tiny_checkpoint), "--backend", "torch", "--threads", "1", "--seconds", "1", "--out", str(out))
    assert result.code == 0, result.err
    for kind in ("actor", "astronaut"):
        assert _video(out / f"{kind}_input.mp4") == _video(out / f"{kind}_edited.mp4") == (25, 25.0, (640, 480))
    png = cv2.imread(str(out / "side_by_side.png"))
    assert png is not None and png.shape == (4 * (36 + 480), 2 * 640, 3)  # two labelled rows per clip
    summary = json.loads((out / "latency.json").read_text())
    for kind, clip in summary["clips"].items():
        assert clip["frames"] == 25 and clip["faces_edited"] == 25 and clip["fps"] > 0, kind
        assert {"track", "infer", "paste"} <= set(clip["stages_ms"]) and "p99" in clip["latency_ms"]
        assert len(clip["guard_psnr_db"]) == 1  # one reading for the one track
        assert "towards 'smile'" in clip["decision"] or "towards 'no_smile'" in clip["decision"]
    # random tiny weights represent no face: the guard says so, for the real photo and the actor alike
    assert any("does not represent" in w for w in summary["clips"]["astronaut"]["warnings"])
    assert summary["clips"]["actor"]["classifier"]["faces"] == 25
    for name in ("actor_edited.mp4", "astronaut_edited.mp4", "side_by_side.png", "latency.json"):
        assert name in result.out


@pytest.mark.skipif(not (Path(__file__).parents[1] / "l2m_edge" / "assets" / DEMO_ASSET).is_file(), reason="the demo checkpoint asset is not in this checkout yet")
def test_demo_runs_on_the_shipped_checkpoint_with_no_arguments_but_the_folder(cli, tmp_path: Path) -> None:  # noqa: ANN001
    result = cli("demo", "--seconds", "1", "--out", str(tmp_path / "demo"))
    assert result.code == 0, result.err
    summary = json.loads((tmp_path / "demo" / "latency.json").read_text())
    actor, astronaut = summary["clips"]["actor"], summary["clips"]["astronaut"]
    # the shipped SynthFaces model makes a real, classifier-confirmed edit of the actor …
    assert actor["classifier"]["before_pct"] >= 90 and actor["classifier"]["after_pct"] >= 90 and actor["warnings"] == []
    # … and its guard says it does not represent the real astronaut, and what to do
    assert any("does not represent this face" in w and "l2m-edge import" in w for w in astronaut["warnings"])
    assert "does not represent this face" in result.err + result.out


def test_run_on_the_test_pattern_writes_every_frame(cli, tiny_checkpoint: Path, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "run.mp4"
    result = cli("run", "--source", "pattern", "--seconds", "0.8", "--model", str(tiny_checkpoint), "--backend", "torch", "--threads", "1", "--from", "no_smile", "--sink", str(out))
    assert result.code == 0, result.err
    assert _video(out) == (20, 25.0, (640, 480))
    assert "faces edited 20" in result.out


def test_run_on_an_fp32_ir_computes_in_fp32_without_being_asked(cli, tiny_checkpoint: Path, tmp_path: Path) -> None:  # noqa: ANN001
    """No --backend, no --precision: the IR's recorded f32 hint is applied; the line reports what the compiled model runs."""
    from l2m_edge.export import export_model

    artifact = export_model(tiny_checkpoint, "openvino", tmp_path / "ir", precision="fp32")
    result = cli("run", "--source", "pattern", "--seconds", "0.2", "--model", str(artifact), "--threads", "1", "--from", "no_smile", "--sink", "null")
    assert result.code == 0, result.err
    assert "backend: openvino on CPU, fp32 (" in result.out  # the precision read back from the compiled model


def test_edit_writes_each_image_and_leaves_faceless_ones_alone(cli, tiny_checkpoint: Path, tmp_path: Path) -> None:  # noqa: ANN001
    cv2.imwrite(str(tmp_path / "astronaut.jpg"), astronaut_bgr())
    cv2.imwrite(str(tmp_path / "coffee.png"), coffee_bgr())
    out = tmp_path / "edited"
    result = cli("edit", str(tmp_path / "astronaut.jpg"), str(tmp_path / "coffee.png"), "--out", str(out), "--model", str(tiny_checkpoint), "--backend", "torch", "--threads", "1", "--from", "no_smile")
    assert result.code == 0, result.err
    assert np.array_equal(cv2.imread(str(out / "coffee.png")), coffee_bgr())
    assert not np.array_equal(cv2.imread(str(out / "astronaut.png")), cv2.imread(str(tmp_path / "astronaut.jpg")))
    assert "1 faces edited" in result.out
    assert "does not represent this face" in result.err  # the guard warns in `edit` too


def test_edit_honours_max_faces_on_a_four_face_photo(cli, tiny_checkpoint: Path, tmp_path: Path) -> None:  # noqa: ANN001
    cv2.imwrite(str(tmp_path / "four.png"), four_people_bgr())
    base = ["edit", str(tmp_path / "four.png"), "--model", str(tiny_checkpoint), "--backend", "torch", "--threads", "1", "--from", "no_smile"]
    every = cli(*base, "--out", str(tmp_path / "all"))
    two = cli(*base, "--out", str(tmp_path / "two"), "--max-faces", "2")
    assert every.code == two.code == 0, every.err + two.err
    assert "4 faces edited" in every.out and "2 faces edited" in two.out
    assert "raise --max-faces" in two.err and "raise --max-faces" not in every.err


def test_run_realtime_paces_a_file_like_a_camera_and_drops_stale_frames(cli, tiny_checkpoint: Path, tmp_path: Path) -> None:  # noqa: ANN001
    from l2m_edge.runtime.clip import write_clip

    clip = write_clip(tmp_path / "clip.avi", seconds=2.0, fps=25.0)
    started = time.perf_counter()
    result = cli("run", "--source", str(clip), "--realtime", "--model", str(tiny_checkpoint), "--backend", "torch", "--threads", "1", "--from", "no_smile", "--sink", "null")
    elapsed = time.perf_counter() - started
    assert result.code == 0, result.err
    assert "paced like a camera" in result.out and "glass-to-glass latency" in result.out
    frames = int(re.search(r"(\d+) frames in", result.out).group(1))
    dropped = int(re.search(r"frames dropped (\d+)", result.out).group(1))
    assert frames + dropped == 50  # every frame of the file was either shown or dropped as stale
    assert elapsed >= 1.9  # played at the file's pace (2 s), not as fast as it decodes


def test_a_missing_camera_is_one_red_line_from_the_console_script(tiny_checkpoint: Path) -> None:
    result = subprocess.run([CLI, "run", "--source", "97", "--model", str(tiny_checkpoint), "--backend", "torch", "--threads", "1", "--sink", "null"], capture_output=True, text=True, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"}, timeout=120)
    assert result.returncode == 1
    assert "error: camera 97 cannot be opened" in result.stderr and "Traceback" not in result.stderr


def test_a_window_without_a_display_is_one_line_not_a_crash(cli, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    result = cli("run", "--source", "pattern", "--model", str(tiny_checkpoint), "--sink", "window")
    assert result.code == 1 and "no display to open a window on" in result.err


def test_virtualcam_without_pyvirtualcam_says_how_to_get_it(cli, tiny_checkpoint: Path) -> None:  # noqa: ANN001
    try:
        import pyvirtualcam  # noqa: F401
    except ImportError:
        result = cli("run", "--source", "pattern", "--model", str(tiny_checkpoint), "--sink", "virtualcam")
        assert result.code == 1 and "pip install pyvirtualcam" in result.err
    else:
        pytest.skip("pyvirtualcam is installed here")
