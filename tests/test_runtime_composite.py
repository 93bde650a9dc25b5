"""Alignment to the canonical crop and paste-back: only the face changes, the rest is bit-identical."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from l2m_edge.canonical import canonical_landmarks
from l2m_edge.runtime.align import align_face, five_points, similarity_transform
from l2m_edge.runtime.composite import oval_mask, paste_face
from l2m_edge.runtime.tracking import FaceTracker

from runtime_helpers import astronaut_bgr


@pytest.fixture(scope="module")
def astronaut_landmarks() -> np.ndarray:
    tracker = FaceTracker()
    try:
        (face,) = tracker.update(astronaut_bgr(), 0.0)
    finally:
        tracker.close()
    return face.landmarks


def test_similarity_transform_recovers_a_known_one() -> None:
    src = np.random.default_rng(0).uniform(0, 100, (5, 2))
    truth = cv2.getRotationMatrix2D((10, 20), 17.0, 1.7)
    dst = src @ truth[:, :2].T + truth[:, 2]
    np.testing.assert_allclose(similarity_transform(src, dst), truth, atol=1e-3)


def test_alignment_puts_the_five_points_on_the_canonical_framing(astronaut_landmarks: np.ndarray) -> None:
    aligned = align_face(astronaut_bgr(), astronaut_landmarks, 128)
    assert aligned.crop.shape == (128, 128, 3)
    points = five_points(astronaut_landmarks) @ aligned.matrix[:, :2].T + aligned.matrix[:, 2]
    assert np.abs(points - canonical_landmarks(128)).max() < 6.0  # a face is not exactly the mean face


def test_paste_changes_only_pixels_inside_the_mask(astronaut_landmarks: np.ndarray) -> None:
    frame = astronaut_bgr()
    aligned = align_face(frame, astronaut_landmarks, 64)
    edited = 255 - aligned.crop  # an obvious edit
    out = frame.copy()
    pasted = paste_face(out, edited, aligned.matrix, astronaut_landmarks)
    assert pasted is not None
    inside = np.zeros(frame.shape[:2], bool)
    inside[pasted.y0 : pasted.y1, pasted.x0 : pasted.x1] = pasted.alpha > 0
    assert np.array_equal(out[~inside], frame[~inside])
    assert np.abs(out[inside].astype(int) - frame[inside]).mean() > 5  # and the face did change
    # the feathered edge: alpha is 1 deep inside the oval and rises from 0 at its outline
    assert pasted.alpha.max() == 1.0 and pasted.alpha[0, :].max() == 0.0


def test_a_face_partly_outside_the_frame_is_clipped_not_an_error(astronaut_landmarks: np.ndarray) -> None:
    frame = astronaut_bgr()[:, 200:].copy()  # cut through the face
    landmarks = astronaut_landmarks - [200, 0]
    aligned = align_face(frame, landmarks, 64)  # border replicated where the crop leaves the frame
    out = frame.copy()
    pasted = paste_face(out, 255 - aligned.crop, aligned.matrix, landmarks)
    assert pasted is not None and pasted.x0 == 0 and pasted.alpha.shape[1] == pasted.x1
    outside = np.ones(frame.shape[:2], bool)
    outside[pasted.y0 : pasted.y1, pasted.x0 : pasted.x1] = pasted.alpha == 0
    assert np.array_equal(out[outside], frame[outside])


def test_a_mask_entirely_outside_the_frame_is_none(astronaut_landmarks: np.ndarray) -> None:
    assert oval_mask(astronaut_landmarks + 2000, (512, 512, 3)) is None
