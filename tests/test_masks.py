"""Face masks from landmarks (l2m_edge.masks): StarGAN v2's FAN-mask semantics without a second network."""

from __future__ import annotations

import numpy as np
import pytest

from l2m_edge.data.face_renderer import face_landmarks
from l2m_edge.data.synthfaces import SynthFaces
from l2m_edge.masks import face_masks, masks_from_mediapipe, wflw_from_mediapipe

from runtime_helpers import astronaut_bgr


def _value_near(mask: np.ndarray, point: np.ndarray, radius: int = 3) -> float:
    x, y = np.rint(point).astype(int)
    return float(mask[y - radius : y + radius + 1, x - radius : x + radius + 1].max())


@pytest.fixture(scope="module")
def synth_face() -> tuple[np.ndarray, np.ndarray]:
    faces = SynthFaces(1, 256)
    wflw = faces.landmarks(0)
    return wflw, face_masks(wflw, 256)[0]


def test_masks_are_soft_in_unit_range_and_the_second_lies_inside_the_first(synth_face) -> None:
    _, masks = synth_face
    assert masks.shape == (2, 256, 256) and masks.dtype == np.float32
    assert masks.min() == 0.0 and masks.max() == 1.0
    assert np.all(masks[1] <= masks[0] + 1e-6)
    assert ((masks[0] > 0) & (masks[0] < 1)).sum() > 500  # soft edges, not a binary stencil


def test_mask_zero_covers_chin_lips_and_brows_mask_one_only_eyes_and_nose(synth_face) -> None:
    wflw, masks = synth_face
    brow = wflw[35] + [0, 7]  # StarGAN v2 moves the eyebrow heatmaps 7 px (at 256²) towards the eyes
    for point in (wflw[16], wflw[85], wflw[90], brow):  # chin, lower lip, inner lip, eyebrow
        assert _value_near(masks[0], point) > 0.5 and _value_near(masks[1], point, 1) == 0.0, point
    nostril = wflw[57] - [0, 8]  # moved 8 px up, as in StarGAN v2
    for point in (wflw[96], wflw[97], wflw[54], nostril):  # pupils, nose tip, nostrils
        assert _value_near(masks[1], point) > 0.5, point
    for point in (0, 32):  # the upper face line is dropped, as in StarGAN v2
        assert _value_near(masks[0], wflw[point], 0) == 0.0, point


def test_masks_scale_with_the_crop_size(synth_face) -> None:
    wflw, big = synth_face
    small = face_masks(wflw / 2, 128)[0]
    import cv2

    shrunk = np.stack([cv2.resize(m, (128, 128), interpolation=cv2.INTER_AREA) for m in big])
    assert np.abs(small - shrunk).mean() < 0.03


def test_synthfaces_landmarks_sit_on_the_drawn_features() -> None:
    faces = SynthFaces(4, 128)
    for i in range(4):
        wflw, five = faces.landmarks(i), face_landmarks(faces.identity(i), 128)
        assert np.abs(wflw[[96, 97]] - five[:2]).max() < 1.0  # pupils on the eye centres
        assert np.abs(wflw[54] - five[2]).max() < 1.0  # nose tip
        assert wflw[16, 1] > wflw[85, 1] > wflw[54, 1] > wflw[96, 1] > wflw[35, 1]  # chin, lip, nose, eye, brow from the bottom


def test_mediapipe_points_map_onto_the_wflw_layout_on_a_real_face() -> None:
    from l2m_edge.runtime.align import align_face, landmarks_in_crop
    from l2m_edge.runtime.tracking import FaceTracker

    tracker = FaceTracker(smoothing=False)
    try:
        face = tracker.update(astronaut_bgr(), 0.0)[0]
    finally:
        tracker.close()
    aligned = align_face(astronaut_bgr(), face.landmarks, 256, "celeba-hq")
    points = landmarks_in_crop(face.landmarks, aligned)
    wflw = wflw_from_mediapipe(points)
    assert wflw[60, 0] < wflw[64, 0] < wflw[68, 0] < wflw[72, 0]  # eye corners left to right
    assert wflw[16, 1] == wflw[:33, 1].max()  # the chin is the lowest contour point
    assert wflw[51, 1] < wflw[54, 1] < wflw[79, 1] < wflw[85, 1]  # nose root, tip, upper lip, lower lip
    masks = masks_from_mediapipe(points, 256)[0]
    assert _value_near(masks[1], wflw[96]) > 0.5 and _value_near(masks[0], wflw[16]) > 0.5
    without_iris = wflw_from_mediapipe(points[:468])  # a mesh without refine_landmarks: pupils from the eye outline
    assert np.abs(without_iris[96:] - wflw[96:]).max() < 3.0


def test_bad_landmarks_are_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match="expected WFLW landmarks"):
        face_masks(np.zeros((5, 2)), 64)
    with pytest.raises(ValueError, match="NaN or inf"):
        face_masks(np.full((98, 2), np.nan), 64)
    with pytest.raises(ValueError, match="MediaPipe face-mesh landmarks"):
        wflw_from_mediapipe(np.zeros((5, 2)))
    assert masks_from_mediapipe([], 64).shape == (0, 2, 64, 64)
