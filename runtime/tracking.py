"""Face tracking with MediaPipe's bundled models (offline): detection, landmarks, stable ids.

Detection (`detection.FaceDetector`: BlazeFace on the frame and on tiles) runs when there is no
track, every `redetect_every` frames, and right after a track loses its face; in between each
track's landmarks come from its own FaceMesh run on a square region around the face's last
position. Tracks keep their id while detections keep overlapping them (IoU matching); a
One-Euro filter smooths the landmarks.

Each track owns a FaceMesh in video mode (`static_image_mode=False`): it follows the face from
its last landmarks and skips the detector MediaPipe runs inside every static-mode call (measured
here: 19 → 8 ms a face). The meshes are made and warmed up front (one per face allowed), since
a new one costs ~130 ms on its first frame. Iris refinement (478 points instead of 468) costs
~4 ms more per face and only sharpens the eye centres, so it runs only when the edit is about
the eyes (`needs_iris`). Stills (`still=True`) use static mode: each image is its own scene.

The meshes are `l2m_edge.face_mesh`'s, the same the training data's landmark cache runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from l2m_edge.face_mesh import mesh_landmarks, new_face_mesh

from .detection import Detection, FaceDetector
from .filters import OneEuroFilter

ROI_SIZE = 192  # side of the square region FaceMesh sees (its landmark model's input size: no resize inside)
ROI_SCALE = 1.8  # region side / face box side: room for motion between frames
CONFIDENT_SCORE = 0.8  # an untracked detection above this counts as a face left out by --max-faces (real faces score ≥ 0.85 here)
EYE_WORDS = ("eye", "glasses", "brow")  # attributes whose edit depends on exact eye positions


def needs_iris(attribute: str) -> bool:
    """Whether an edit of `attribute` wants the iris-refined eye centres (eyeglasses, eyebrows, …)."""
    return any(word in attribute.lower() for word in EYE_WORDS)


@dataclass
class Face:
    """One tracked face in one frame: landmarks in frame pixels [478 or 468, 2]."""

    track_id: int
    landmarks: np.ndarray
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 of the landmarks
    score: float  # the last detection score of this track
    fresh: bool = False  # first frame of this track, or first after it lost its face: maybe another person


@dataclass
class _Track:
    track_id: int
    box: np.ndarray  # x0, y0, x1, y1
    score: float
    mesh: object  # this track's FaceMesh
    landmarks: np.ndarray | None = None
    misses: int = 0
    fresh: bool = True
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
        refine_iris: bool = False,
        still: bool = False,
        detector: str = "tiles",
    ) -> None:
        if max_faces < 1:
            raise ValueError(f"max_faces must be ≥ 1, got {max_faces}")
        self.max_faces = max_faces
        self.redetect_every = max(1, redetect_every)
        self.max_misses = max_misses
        self.smoothing = smoothing
        self.still = still
        self.detector = FaceDetector(min_detection_confidence, detector)
        self._free_meshes = []
        for _ in range(max_faces):
            mesh = new_face_mesh(still, refine_iris)
            mesh.process(np.zeros((ROI_SIZE, ROI_SIZE, 3), np.uint8))  # the first call builds the graph (~90 ms)
            self._free_meshes.append(mesh)
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._since_detect = 0
        self.detections_run = 0
        self.faces_beyond_limit = 0  # faces the last detection saw that --max-faces left untracked

    # -- public -------------------------------------------------------------------------------
    def update(self, frame_bgr: np.ndarray, t: float) -> list[Face]:
        if self.still:
            self.reset()
        candidates: list[Detection] = []
        if not self._tracks or self._since_detect >= self.redetect_every or any(tr.misses for tr in self._tracks):
            rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
            candidates = self._match(self.detector.scan(rgb) if self.still else self.detector.step(rgb))
        else:
            self._since_detect += 1
        faces = [face for face in (self._follow(track, frame_bgr, t) for track in self._tracks) if face is not None]
        # New faces: a detection becomes a track only once its own mesh finds a face in it, so a
        # false detection (tiles make a few, scored ~0.55) never takes the place of a real face.
        while candidates and self._free_meshes:
            det = candidates.pop(0)
            track = _Track(self._next_id, det.box, det.score, self._free_meshes.pop())
            self._tracks.append(track)
            face = self._follow(track, frame_bgr, t)
            if face is None:
                self._retire([track])
                continue
            self._next_id += 1
            faces.append(face)
        self.faces_beyond_limit = sum(d.score >= CONFIDENT_SCORE for d in candidates)
        self._retire([tr for tr in self._tracks if tr.misses > self.max_misses])
        self._drop_duplicates()
        alive = {tr.track_id for tr in self._tracks}
        return [f for f in faces if f.track_id in alive]

    def reset(self) -> None:
        self._retire(list(self._tracks))
        self._since_detect = 0

    def close(self) -> None:
        self.reset()
        self.detector.close()
        for mesh in self._free_meshes:
            mesh.close()
        self._free_meshes.clear()

    # -- steps --------------------------------------------------------------------------------
    def _match(self, detections: list[Detection]) -> list[Detection]:
        """Give each track its detection (restarting lost ones there); the detections left over, best first."""
        self._since_detect = 0
        self.detections_run += 1
        unmatched = []
        for det in detections:
            best = max(self._tracks, key=lambda tr: iou(tr.box, det.box), default=None)
            if best is not None and iou(best.box, det.box) > 0.3:
                best.score = det.score
                if best.misses:  # lost by the mesh: restart the region from the detection
                    best.box = det.box
            else:
                unmatched.append(det)
        return sorted(unmatched, key=lambda d: -d.score)

    def _follow(self, track: _Track, frame_bgr: np.ndarray, t: float) -> Face | None:
        """The track's face in this frame (smoothed landmarks), or None when its mesh lost it."""
        landmarks = self._landmarks(track, frame_bgr)
        if landmarks is None:
            track.misses += 1
            track.fresh = True  # when it is found again it may be someone else
            return None
        box = np.array([*landmarks.min(0), *landmarks.max(0)], dtype=np.float32)
        track.misses = 0
        track.box = box
        if self.smoothing:
            landmarks = track.filter(landmarks, t, scale=float(box[2] - box[0]))
        track.landmarks = landmarks
        smoothed_box = (*landmarks.min(0).tolist(), *landmarks.max(0).tolist())
        face = Face(track.track_id, landmarks, smoothed_box, track.score, track.fresh)
        track.fresh = False
        return face

    def _landmarks(self, track: _Track, bgr: np.ndarray) -> np.ndarray | None:
        """FaceMesh on a square region around the track's box; landmarks in frame pixels, or None if no face."""
        box = track.box
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        side = ROI_SCALE * max(box[2] - box[0], box[3] - box[1], 16.0)
        scale = ROI_SIZE / side
        # frame → region: x' = scale·(x − cx) + ROI_SIZE/2; parts outside the frame read black
        m = np.array([[scale, 0, ROI_SIZE / 2 - scale * cx], [0, scale, ROI_SIZE / 2 - scale * cy]], dtype=np.float32)
        roi = cv2.warpAffine(bgr, m, (ROI_SIZE, ROI_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        pts = mesh_landmarks(track.mesh, cv2.cvtColor(roi, cv2.COLOR_BGR2RGB))
        if pts is None:
            return None
        return (pts - (ROI_SIZE / 2)) / scale + np.array([cx, cy], dtype=np.float32)

    def _retire(self, tracks: list[_Track]) -> None:
        for track in tracks:
            self._tracks.remove(track)
            self._free_meshes.append(track.mesh)

    def _drop_duplicates(self) -> None:
        """Two tracks that converged on one face: keep the older id."""
        keep: list[_Track] = []
        for track in sorted(self._tracks, key=lambda tr: tr.track_id):
            if all(iou(track.box, k.box) < 0.5 for k in keep):
                keep.append(track)
        self._retire([tr for tr in self._tracks if tr not in keep])
