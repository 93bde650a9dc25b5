"""Alignment to the canonical crop and paste-back: only the face changes, the rest is bit-identical."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from l2m_edge.canonical import canonical_landmarks
from l2m_edge.runtime.align import align_face, five_points, similarity_transform
from l2m_edge.runtime.composite import MaskCache, crop_oval, draw_crop_mask, match_colour, paste_face
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


def _mask(landmarks: np.ndarray, matrix: np.ndarray, size: int):  # noqa: ANN202
    return draw_crop_mask(crop_oval(landmarks, matrix), size)


def test_paste_changes_only_pixels_inside_the_mask(astronaut_landmarks: np.ndarray) -> None:
    frame = astronaut_bgr()
    aligned = align_face(frame, astronaut_landmarks, 64)
    edited = 255 - aligned.crop  # an obvious edit
    out = frame.copy()
    pasted = paste_face(out, edited, aligned.matrix, _mask(astronaut_landmarks, aligned.matrix, 64))
    assert pasted is not None
    inside = np.zeros(frame.shape[:2], bool)
    inside[pasted.y0 : pasted.y1, pasted.x0 : pasted.x1] = pasted.alpha > 0
    assert np.array_equal(out[~inside], frame[~inside])
    assert np.abs(out[inside].astype(int) - frame[inside]).mean() > 5  # and the face did change
    # the feathered edge: alpha is 1 deep inside the oval and rises from 0 at its outline
    assert pasted.alpha.max() == 1.0 and pasted.alpha[0, :].max() == 0.0
    # the mask lies on the face: its region sits inside the landmarks' box (± the warp's pixel)
    x0, y0 = astronaut_landmarks.min(0) - 2
    x1, y1 = astronaut_landmarks.max(0) + 3
    assert x0 <= pasted.x0 and pasted.x1 <= x1 and y0 <= pasted.y0 and pasted.y1 <= y1


def test_the_uint8_blend_matches_the_float_blend_within_one_level(astronaut_landmarks: np.ndarray) -> None:
    frame = astronaut_bgr()
    aligned = align_face(frame, astronaut_landmarks, 64)
    mask = _mask(astronaut_landmarks, aligned.matrix, 64)
    edited = 255 - aligned.crop
    out = frame.copy()
    pasted = paste_face(out, edited, aligned.matrix, mask, weight=0.5)
    inverse = cv2.invertAffineTransform(aligned.matrix)
    inverse[:, 2] -= (pasted.x0, pasted.y0)
    size = (pasted.x1 - pasted.x0, pasted.y1 - pasted.y0)
    warped = cv2.warpAffine(np.dstack([edited, mask.alpha]), inverse, size, flags=cv2.INTER_LINEAR).astype(np.float64)
    a = warped[..., 3:] / 255.0 * 0.5
    base = frame[pasted.y0 : pasted.y1, pasted.x0 : pasted.x1].astype(np.float64)
    expected = base + a * (warped[..., :3] - base)
    assert np.abs(out[pasted.y0 : pasted.y1, pasted.x0 : pasted.x1] - expected).max() <= 1.5


def test_the_mask_is_reused_while_the_face_barely_moves_and_redrawn_when_it_moves(astronaut_landmarks: np.ndarray) -> None:
    frame = astronaut_bgr()
    aligned = align_face(frame, astronaut_landmarks, 64)
    cache = MaskCache()
    first = cache.get(0, astronaut_landmarks, aligned.matrix, 64)
    assert cache.get(0, astronaut_landmarks + 0.3, aligned.matrix, 64).alpha is first.alpha  # 0.3 frame px ≈ 0.1 crop px
    moved = astronaut_landmarks.copy()
    moved[:, 1] *= 1.1  # a longer face: the oval in the crop changes
    assert cache.get(0, moved, aligned.matrix, 64).alpha is not first.alpha
    assert (cache.hits, cache.draws) == (1, 2)


def test_colour_matching_moves_the_edit_statistics_to_the_input(astronaut_landmarks: np.ndarray) -> None:
    aligned = align_face(astronaut_bgr(), astronaut_landmarks, 64)
    mask = _mask(astronaut_landmarks, aligned.matrix, 64)
    tinted = np.clip(aligned.crop.astype(int) + [40, 0, -30], 0, 255).astype(np.uint8)
    matched = match_colour(tinted, aligned.crop, mask.alpha)
    inside = mask.alpha > 128
    assert np.abs(matched[inside].mean(0) - aligned.crop[inside].mean(0)).max() < 3
    assert np.abs(tinted[inside].mean(0) - aligned.crop[inside].mean(0)).max() > 25


def test_a_face_partly_outside_the_frame_is_clipped_not_an_error(astronaut_landmarks: np.ndarray) -> None:
    frame = astronaut_bgr()[:, 200:].copy()  # cut through the face
    landmarks = astronaut_landmarks - [200, 0]
    aligned = align_face(frame, landmarks, 64)  # border replicated where the crop leaves the frame
    out = frame.copy()
    pasted = paste_face(out, 255 - aligned.crop, aligned.matrix, _mask(landmarks, aligned.matrix, 64))
    assert pasted is not None and pasted.x0 == 0 and pasted.alpha.shape[1] == pasted.x1
    outside = np.ones(frame.shape[:2], bool)
    outside[pasted.y0 : pasted.y1, pasted.x0 : pasted.x1] = pasted.alpha == 0
    assert np.array_equal(out[outside], frame[outside])


def test_a_face_entirely_outside_the_frame_is_none(astronaut_landmarks: np.ndarray) -> None:
    frame = astronaut_bgr()
    aligned = align_face(frame, astronaut_landmarks, 64)
    mask = _mask(astronaut_landmarks, aligned.matrix, 64)
    shifted = aligned.matrix.copy()
    shifted[:, 2] -= 2000 * shifted[:, :2].sum(1)  # the same crop, 2000 px further right and down
    assert paste_face(frame.copy(), aligned.crop, shifted, mask) is None
