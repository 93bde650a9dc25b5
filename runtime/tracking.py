"""Face tracking with MediaPipe's bundled models (offline): detection, 478 landmarks, stable ids.

Detection (BlazeFace) runs on the whole frame when there is no track, every `redetect_every`
frames, and right after a track loses its face; in between each track's landmarks come from
FaceMesh run on a square region around the face's last position. Tracks keep their id while
detections keep overlapping them (IoU matching); a One-Euro filter smooths the landmarks.

MediaPipe 0.10.21 is the last release whose `mp.solutions` ships the face models inside the
wheel; newer releases have only the Tasks API, which needs model files downloaded at run time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import cv2
import numpy as np

from .filters import OneEuroFilter

ROI_SIZE = 256  # side of the square region FaceMesh sees (it resizes to 192 internally)
ROI_SCALE = 1.8  # region side / face box side: room for motion between frames


@dataclass
class Face:
    """One tracked face in one frame: landmarks in frame pixels [478 or 468, 2]."""

    track_id: int
    landmarks: np.ndarray
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 of the landmarks
    score: float  # the last detection score of this track


@dataclass
class _Track:
    track_id: int
    box: np.ndarray  # x0, y0, x1, y1
    score: float
    landmarks: np.ndarray | None = None
    misses: int = 0
    filter: OneEuroFilter = field(default_factory=OneEuroFilter)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


class FaceTracker:
    """`update(frame_bgr, t)` → the faces of this frame, each with a track id stable over time."""

    def __init__(
        self,
        max_faces: int = 1,
        redetect_every: int = 10,
        min_detection_confidence: float = 0.5,
        max_misses: int = 5,
        smoothing: bool = True,
        full_range: bool = False,
    ) -> None:
        os.environ.setdefault("GLOG_minloglevel", "2")
        import mediapipe as mp

        if max_faces < 1:
            raise ValueError(f"max_faces must be ≥ 1, got {max_faces}")
        self.max_faces = max_faces
        self.redetect_every = max(1, redetect_every)
        self.min_detection_confidence = min_detection_confidence
        self.max_misses = max_misses
        self.smoothing = smoothing
        self._detector = mp.solutions.face_detection.FaceDetection(
            model_selection=1 if full_range else 0, min_detection_confidence=min_detection_confidence
        )
        self._mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True)
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._since_detect = 0
        self.detections_run = 0

    # -- public -------------------------------------------------------------------------------
    def update(self, frame_bgr: np.ndarray, t: float) -> list[Face]:
        needs_detect = not self._tracks or self._since_detect >= self.redetect_every or any(tr.misses for tr in self._tracks)
        if needs_detect:
            self._detect(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB))
        else:
            self._since_detect += 1
        faces = []
        for track in self._tracks:
            landmarks = self._landmarks(frame_bgr, track.box)
            if landmarks is None:
                track.misses += 1
                continue
            box = np.array([*landmarks.min(0), *landmarks.max(0)], dtype=np.float32)
            track.misses = 0
            track.box = box
            if self.smoothing:
                landmarks = track.filter(landmarks, t, scale=float(box[2] - box[0]))
            track.landmarks = landmarks
            smoothed_box = (*landmarks.min(0).tolist(), *landmarks.max(0).tolist())
            faces.append(Face(track.track_id, landmarks, smoothed_box, track.score))
        self._tracks = [tr for tr in self._tracks if tr.misses <= self.max_misses]
        self._drop_duplicates()
        return [f for f in faces if any(tr.track_id == f.track_id for tr in self._tracks)]

    def reset(self) -> None:
        self._tracks.clear()
        self._since_detect = 0

    def close(self) -> None:
        self._detector.close()
        self._mesh.close()

    # -- steps --------------------------------------------------------------------------------
    def _detect(self, rgb: np.ndarray) -> None:
        self._since_detect = 0
        self.detections_run += 1
        h, w = rgb.shape[:2]
        result = self._detector.process(rgb)
        boxes = []
        for det in result.detections or []:
            rb = det.location_data.relative_bounding_box
            box = np.array([rb.xmin * w, rb.ymin * h, (rb.xmin + rb.width) * w, (rb.ymin + rb.height) * h], dtype=np.float32)
            boxes.append((float(det.score[0]), box))
        boxes.sort(key=lambda sb: -sb[0])
        unmatched = []
        for score, box in boxes:
            best = max(self._tracks, key=lambda tr: iou(tr.box, box), default=None)
            if best is not None and iou(best.box, box) > 0.3:
                best.score = score
                if best.misses:  # lost by the mesh: restart the region from the detection
                    best.box = box
            else:
                unmatched.append((score, box))
        for score, box in unmatched:
            if len(self._tracks) >= self.max_faces:
                break
            self._tracks.append(_Track(self._next_id, box, score))
            self._next_id += 1

    def _landmarks(self, bgr: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """FaceMesh on a square region around `box`; landmarks in frame pixels, or None if no face."""
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        side = ROI_SCALE * max(box[2] - box[0], box[3] - box[1], 16.0)
        scale = ROI_SIZE / side
        # frame → region: x' = scale·(x − cx) + ROI_SIZE/2; parts outside the frame read black
        m = np.array([[scale, 0, ROI_SIZE / 2 - scale * cx], [0, scale, ROI_SIZE / 2 - scale * cy]], dtype=np.float32)
        roi = cv2.warpAffine(bgr, m, (ROI_SIZE, ROI_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        result = self._mesh.process(cv2.cvtColor(roi, cv2.COLOR_BGR2RGB))  # only the region is converted
        if not result.multi_face_landmarks:
            return None
        pts = np.array([(p.x, p.y) for p in result.multi_face_landmarks[0].landmark], dtype=np.float32) * ROI_SIZE
        return (pts - (ROI_SIZE / 2)) / scale + np.array([cx, cy], dtype=np.float32)

    def _drop_duplicates(self) -> None:
        """Two tracks that converged on one face: keep the older id."""
        keep: list[_Track] = []
        for track in sorted(self._tracks, key=lambda tr: tr.track_id):
            if all(iou(track.box, k.box) < 0.5 for k in keep):
                keep.append(track)
        self._tracks = keep
