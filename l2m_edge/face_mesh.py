"""MediaPipe FaceMesh, shared by the live tracker (runtime) and the training-data landmark cache.

MediaPipe 0.10.21 is the last release whose `mp.solutions` ships the face models inside the
wheel (newer ones download model files at run time). With iris refinement the mesh has 478
points, without 468. Points come back in pixels of the image given, MediaPipe's convention
(x = 0 at the left edge of the image, x = width at its right edge).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

MESH_POINTS = 478  # with iris refinement


def new_face_mesh(still: bool, refine_iris: bool) -> Any:
    """One single-face FaceMesh: `still` = static image mode (its own face detection on every call)."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    import mediapipe as mp

    return mp.solutions.face_mesh.FaceMesh(static_image_mode=still, max_num_faces=1, refine_landmarks=refine_iris)


def mesh_landmarks(mesh: Any, rgb: np.ndarray) -> np.ndarray | None:
    """The face's landmarks [468 or 478, 2] float32 in pixels of `rgb` (uint8 [H, W, 3]), None when no face is found."""
    result = mesh.process(np.ascontiguousarray(rgb))
    if not result.multi_face_landmarks:
        return None
    points = result.multi_face_landmarks[0].landmark
    xy = np.fromiter((v for p in points for v in (p.x, p.y)), dtype=np.float32, count=2 * len(points)).reshape(-1, 2)
    return xy * np.array([rgb.shape[1], rgb.shape[0]], dtype=np.float32)
