"""Landmarks → the canonical crop the model was trained on, and back.

Five points (eye centres, nose tip, mouth corners) from the MediaPipe mesh are mapped by a
least-squares similarity transform (Umeyama) onto `l2m_edge.canonical`'s framing at the
model's resolution, the framing SynthFaces draws and FFHQ/CelebA-HQ-style crops follow.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from l2m_edge.canonical import DEFAULT_FRAMING, framing_landmarks

# MediaPipe face-mesh indices ("left"/"right" as seen in the image).
IRIS_LEFT, IRIS_RIGHT = 468, 473  # present with refine_landmarks (478 points)
EYE_LEFT_CORNERS, EYE_RIGHT_CORNERS = (33, 133), (362, 263)
NOSE_TIP = 1
MOUTH_LEFT, MOUTH_RIGHT = 61, 291
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
             152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)  # fmt: skip


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """[5, 2] eye centres (iris when refined, else eye-corner midpoints), nose tip, mouth corners."""
    if len(landmarks) >= 478:
        eyes = landmarks[[IRIS_LEFT, IRIS_RIGHT]]
    else:
        eyes = np.stack([landmarks[list(EYE_LEFT_CORNERS)].mean(0), landmarks[list(EYE_RIGHT_CORNERS)].mean(0)])
    return np.concatenate([eyes, landmarks[[NOSE_TIP, MOUTH_LEFT, MOUTH_RIGHT]]]).astype(np.float32)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2×3 matrix of the rotation + uniform scale + translation that best maps src onto dst (Umeyama 1991)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sigma, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ sign @ vt
    scale = float(np.trace(np.diag(sigma) @ sign) / s.var(0).sum())
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mu_d - scale * rotation @ mu_s
    return matrix.astype(np.float32)


@dataclass(frozen=True)
class AlignedFace:
    crop: np.ndarray  # uint8 BGR [S, S, 3]
    matrix: np.ndarray  # frame → crop, 2×3
    size: int


def align_face(frame: np.ndarray, landmarks: np.ndarray, size: int, framing: str = DEFAULT_FRAMING) -> AlignedFace:
    """The `size`×`size` crop of the face in the model's framing (`l2m_edge.canonical`); outside the
    frame the border is replicated."""
    matrix = similarity_transform(five_points(landmarks), framing_landmarks(framing, size))
    # Shrinking a big face to 64² by bilinear sampling aliases: warp at k× the size, then area-average.
    k = int(min(4, max(1, np.floor(1.0 / max(_scale(matrix), 1e-6)))))
    big = matrix * np.float32(k)
    big[:, 2] += (k - 1) / 2  # so that each k×k block averages to the crop pixel centre
    crop = cv2.warpAffine(frame, big, (size * k, size * k), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if k > 1:
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return AlignedFace(crop, matrix, size)


def landmarks_in_crop(landmarks: np.ndarray, aligned: AlignedFace) -> np.ndarray:
    """Frame-pixel landmarks [K, 2] → pixels of the aligned crop."""
    return landmarks[:, :2] @ aligned.matrix[:, :2].T + aligned.matrix[:, 2]


def _scale(matrix: np.ndarray) -> float:
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))


def crop_to_tensor(crops: list[np.ndarray]) -> np.ndarray:
    """uint8 BGR crops → f32 RGB [N,3,S,S] in [−1, 1], the models' input."""
    batch = np.stack(crops)[..., ::-1].astype(np.float32)
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2)) / 127.5 - 1.0


def tensor_to_crops(batch: np.ndarray) -> list[np.ndarray]:
    """f32 RGB [N,3,S,S] in [−1, 1] → uint8 BGR crops."""
    images = np.clip((batch.transpose(0, 2, 3, 1) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    return [np.ascontiguousarray(img[..., ::-1]) for img in images]
