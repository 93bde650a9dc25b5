"""Temporal behaviour: edits fade instead of popping, a still face stays still, the edit does not flicker."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from l2m_edge.runtime.backends import load_backend
from l2m_edge.runtime.clip import clip_frame
from l2m_edge.runtime.demo import shipped_demo_checkpoint
from l2m_edge.runtime.fades import Fader
from l2m_edge.runtime.pipeline import EditOptions, Pipeline
from l2m_edge.runtime.sinks import ImageFolderSink
from l2m_edge.runtime.sources import VideoCaptureSource
from l2m_edge.runtime.temporal import FLICKER_GOAL, landmark_jitter, measure_still

FPS = 25.0


def test_fader_ramps_over_the_fade_time_and_faces_of_the_first_frame_start_full() -> None:
    fader = Fader(0.15)
    assert fader.update({0}, 0.0) == {0: 1.0}  # on at the start: nothing pops on
    assert fader.update({0, 1}, 0.05)[1] == pytest.approx(1 / 3)  # found later: fades in
    gone = [fader.update({1}, 0.05 + 0.05 * k).get(0) for k in (1, 2, 3)]  # 0 lost: fades out
    assert gone[0] == pytest.approx(2 / 3) and gone[1] == pytest.approx(1 / 3) and gone[2] is None
    assert Fader(0.0).update({5}, 0.0) == {5: 1.0} and Fader(0.0).update({5}, 1.0) == {5: 1.0}  # stills never fade


@pytest.fixture(scope="module")
def backend(tiny_checkpoint: Path):  # noqa: ANN201
    return load_backend(tiny_checkpoint, backend="torch", threads=1)


def test_a_lost_face_fades_out_and_a_found_one_fades_in(backend, tmp_path: Path) -> None:  # noqa: ANN001
    frames = [clip_frame(i / FPS) for i in range(10)] + [np.full((480, 640, 3), 90, np.uint8)] * 8 + [clip_frame(i / FPS) for i in range(18, 30)]
    path = tmp_path / "gap.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (640, 480))
    for frame in frames:
        writer.write(frame)
    writer.release()
    decoded = []
    cap = cv2.VideoCapture(str(path))
    while (ok_frame := cap.read())[0]:
        decoded.append(ok_frame[1])
    cap.release()
    options = EditOptions(target="smile", source="no_smile", record=True, guard=False, fade_seconds=0.15)
    result = Pipeline(backend, options).run(VideoCaptureSource(path), ImageFolderSink(tmp_path / "out"))
    change = [float(np.abs(cv2.imread(str(tmp_path / "out" / f"frame_{i:06d}.png")).astype(int) - decoded[i]).sum()) for i in range(30)]
    # frames 10–17 have no face: the last edit fades out over 0.15 s (3 frames at 25 fps), then nothing
    assert change[10] > change[11] > change[12] > 0 and change[13:18] == [0.0] * 5
    # the face comes back (a new track, mid-stream): it fades in instead of popping on
    weights = [records[0].weight for records in result.records[18:24] if records]
    assert weights[0] < weights[1] < weights[2] <= 1.0 and weights[-1] == 1.0


def test_landmark_jitter_is_the_rms_distance_from_the_mean_position() -> None:
    base = np.zeros((4, 2))
    assert landmark_jitter([base + [1, 0], base - [1, 0]]) == pytest.approx(1.0)
    assert landmark_jitter([base, base, base]) == 0.0


def test_on_a_still_face_landmarks_hold_and_the_edit_flickers_no_more_than_the_input() -> None:
    demo = load_backend(shipped_demo_checkpoint(), backend="torch", threads=1)
    quality = measure_still(demo, EditOptions(target="smile", source="no_smile", guard=False), seconds=1.6)
    assert quality.frames == 40
    assert quality.landmark_jitter_px < 0.5  # sub-pixel on a 150-px face under σ=2 sensor noise
    assert quality.flicker_input > 0.5  # the noise is there …
    assert quality.flicker_ratio <= FLICKER_GOAL  # … and the edit does not add to it
