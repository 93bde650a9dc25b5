"""Face tracking with the real MediaPipe models, and the One-Euro filter."""

from __future__ import annotations

import numpy as np
import pytest

from l2m_edge.runtime.clip import clip_frame
from l2m_edge.runtime.filters import OneEuroFilter
from l2m_edge.runtime.tracking import FaceTracker, needs_iris

from runtime_helpers import ASTRONAUT_FACE_BOX, astronaut_bgr, coffee_bgr, two_faces_bgr


@pytest.fixture
def tracker():
    t = FaceTracker(max_faces=2)
    yield t
    t.close()


def test_finds_the_astronauts_face_where_it_is() -> None:
    tracker = FaceTracker(refine_iris=True)
    try:
        faces = tracker.update(astronaut_bgr(), 0.0)
    finally:
        tracker.close()
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0.8
    assert face.landmarks.shape == (478, 2)
    x0, y0, x1, y1 = ASTRONAUT_FACE_BOX
    inside = (face.landmarks[:, 0] >= x0) & (face.landmarks[:, 0] <= x1) & (face.landmarks[:, 1] >= y0) & (face.landmarks[:, 1] <= y1)
    assert inside.mean() > 0.98
    eye_l, eye_r = face.landmarks[468], face.landmarks[473]
    assert abs(eye_l[0] - 204) < 6 and abs(eye_r[0] - 247) < 6 and abs(eye_l[1] - 101) < 6


def test_iris_refinement_runs_only_for_edits_about_the_eyes(tracker: FaceTracker) -> None:
    (face,) = tracker.update(astronaut_bgr(), 0.0)
    assert face.landmarks.shape == (468, 2)  # the default: no iris model
    assert needs_iris("eyeglasses") and needs_iris("Bushy_Eyebrows") and not needs_iris("smile") and not needs_iris("Smiling")


def test_a_track_found_again_after_a_loss_is_marked_fresh() -> None:
    tracker = FaceTracker(max_faces=1, max_misses=5)
    try:
        first = tracker.update(clip_frame(0.0), 0.0)
        second = tracker.update(clip_frame(0.04), 0.04)
        gone = tracker.update(np.full((480, 640, 3), 90, np.uint8), 0.08)
        back = tracker.update(clip_frame(0.12), 0.12)
    finally:
        tracker.close()
    assert [f.fresh for f in first] == [True] and [f.fresh for f in second] == [False] and gone == []
    assert [(f.track_id, f.fresh) for f in back] == [(0, True)]  # same track, but maybe someone else now


def test_a_photo_without_a_face_has_no_faces(tracker: FaceTracker) -> None:
    assert tracker.update(coffee_bgr(), 0.0) == []
    assert tracker.update(np.full((480, 640, 3), 90, np.uint8), 0.04) == []


def test_two_faces_get_two_ids(tracker: FaceTracker) -> None:
    faces = tracker.update(two_faces_bgr(), 0.0)
    assert sorted(f.track_id for f in faces) == [0, 1]
    centres = sorted(float(f.landmarks[:, 0].mean()) for f in faces)
    assert centres[0] < 320 < centres[1]


def test_track_id_is_stable_and_detection_is_not_run_every_frame() -> None:
    tracker = FaceTracker(max_faces=1, redetect_every=10)
    try:
        ids = [[f.track_id for f in tracker.update(clip_frame(i / 25), i / 25)] for i in range(30)]
    finally:
        tracker.close()
    assert ids == [[0]] * 30
    assert tracker.detections_run <= 4


def test_one_euro_smooths_jitter_at_rest_and_follows_motion() -> None:
    rng = np.random.default_rng(0)
    f = OneEuroFilter()
    truth = np.zeros((5, 2))
    raw = [truth + rng.normal(0, 1.0, truth.shape) for _ in range(100)]
    smooth = [f(x, i / 25, scale=100.0) for i, x in enumerate(raw)]
    assert np.std(smooth[20:]) < 0.5 * np.std(raw[20:])
    f.reset()
    moving = [f(np.full((5, 2), 300.0 * i / 25), i / 25, scale=100.0) for i in range(50)]  # 3 face widths per second
    assert abs(moving[-1][0, 0] - 300.0 * 49 / 25) < 25.0  # lags by less than a quarter of a face
