"""SynthFaces' renderer: procedurally drawn faces whose attributes and identity are known exactly.

No real face data set can be downloaded here, yet training must be real and its result
measurable. SynthFaces draws a face from an identity (face shape, skin tone, eye spacing,
hair style, background, pose jitter, ...) and, as a separate factor, the state of one
attribute (smile, eyeglasses, hair colour). The same identity can therefore be rendered with
the attribute on and off: a ground-truth edit pair, plus the region mask where the attribute
may change pixels, so that metrics can measure attribute correctness and preservation.

Faces are drawn in the canonical framing of `l2m_edge.canonical` (eye centres, nose tip and
mouth corners at `CANONICAL_LANDMARKS × size`, up to the identity's small eye-spacing and
mouth-width factors, then the pose jitter), the framing the runtime warps real faces into.
Everything is drawn with anti-aliased OpenCV polygons on a supersampled canvas and reduced
by block averaging, so pixels outside the region mask are bit-identical between the two
states of the attribute.

Numpy and OpenCV only, no torch: the live runtime draws its actor clip with it on a device
install. The torch `Dataset` over these faces is `l2m_edge.data.synthfaces`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from l2m_edge.canonical import CANONICAL_LANDMARKS
from l2m_edge.errors import DataError

ATTRIBUTES: dict[str, tuple[str, str]] = {
    "smile": ("no_smile", "smile"),
    "eyeglasses": ("no_glasses", "glasses"),
    "hair_colour": ("dark_hair", "blond_hair"),
}

_SHIFT = 4  # OpenCV fixed-point bits: sub-pixel accurate polygons
_FIX = float(1 << _SHIFT)

_SKIN_TONES = np.array(
    [[255, 224, 196], [241, 194, 160], [224, 172, 130], [198, 140, 100], [160, 104, 70], [110, 70, 45]],
    dtype=np.float32,
)
_DARK_HAIR = np.array([[25, 20, 18], [55, 38, 28], [80, 52, 35], [40, 30, 30]], dtype=np.float32)
_BLOND_HAIR = np.array([[235, 205, 140], [220, 185, 115], [245, 220, 165], [210, 170, 100]], dtype=np.float32)
_IRIS = np.array([[70, 45, 25], [40, 90, 140], [60, 110, 70], [110, 80, 50], [30, 30, 30]], dtype=np.float32)


@dataclass(frozen=True)
class Identity:
    """Everything about a face except the edited attribute; a function of (seed, index) alone."""

    face_w: float  # half-width of the face, fraction of the side
    face_h: float  # half-height
    jaw: float  # 0 = oval, larger = narrower chin
    skin: tuple[int, int, int]
    eye_dx: float  # eye-spacing factor: change of the half inter-ocular distance
    eye_scale: float
    iris: tuple[int, int, int]
    brow: tuple[int, int, int]
    brow_tilt: float
    brow_w: float
    nose_w: float
    lip: tuple[int, int, int]
    mouth_scale: float  # mouth-width factor
    hair_style: int  # 0 short, 1 long, 2 bob, 3 side-swept
    hairline: float
    hair_dark: tuple[int, int, int]
    hair_blond: tuple[int, int, int]
    glasses_colour: tuple[int, int, int]
    glasses_round: bool
    glasses_tint: float
    clothes: tuple[int, int, int]
    bg_a: tuple[int, int, int]
    bg_b: tuple[int, int, int]
    bg_angle: float
    angle: float  # pose jitter: in-plane rotation (degrees), scale, shift (fraction of the side)
    scale: float
    shift: tuple[float, float]
    smile: bool  # the attributes this identity has when they are not the one being edited
    glasses: bool
    blond: bool


def _colour(rng: np.random.Generator, palette: np.ndarray, jitter: float) -> tuple[int, int, int]:
    a, b = rng.integers(0, len(palette), 2)
    t = rng.random()
    c = palette[a] * (1 - t) + palette[b] * t + rng.normal(0, jitter, 3)
    return tuple(int(v) for v in np.clip(c, 0, 255))  # type: ignore[return-value]


def sample_identity(seed: int, index: int) -> Identity:
    """The identity of face `index` under `seed`: independent of any attribute being edited."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(index) >> 32, int(index) & 0xFFFFFFFF])
    skin_idx = rng.random() * (len(_SKIN_TONES) - 1)
    lo = int(skin_idx)
    skin = _SKIN_TONES[lo] * (1 - (skin_idx - lo)) + _SKIN_TONES[min(lo + 1, len(_SKIN_TONES) - 1)] * (skin_idx - lo)
    skin = tuple(int(v) for v in np.clip(skin + rng.normal(0, 6, 3), 0, 255))
    lip = tuple(int(v) for v in np.clip(np.array(skin) * [0.78, 0.5, 0.5] + [30, 0, 5] + rng.normal(0, 8, 3), 0, 255))
    bg_hsv = np.array([[[rng.integers(0, 180), rng.integers(30, 160), rng.integers(90, 240)]]], dtype=np.uint8)
    bg_a = cv2.cvtColor(bg_hsv, cv2.COLOR_HSV2RGB)[0, 0]
    bg_b = np.clip(bg_a.astype(np.float32) * rng.uniform(0.55, 1.1) + rng.normal(0, 20, 3), 0, 255)
    return Identity(
        face_w=float(rng.uniform(0.235, 0.285)),
        face_h=float(rng.uniform(0.31, 0.345)),
        jaw=float(rng.uniform(0.05, 0.35)),
        skin=skin,  # type: ignore[arg-type]
        eye_dx=float(rng.uniform(-0.012, 0.012)),
        eye_scale=float(rng.uniform(0.85, 1.15)),
        iris=_colour(rng, _IRIS, 10),
        brow=_colour(rng, _DARK_HAIR, 12),
        brow_tilt=float(rng.uniform(-0.012, 0.015)),
        brow_w=float(rng.uniform(0.011, 0.02)),
        nose_w=float(rng.uniform(0.028, 0.042)),
        lip=lip,  # type: ignore[arg-type]
        mouth_scale=float(rng.uniform(0.92, 1.08)),
        hair_style=int(rng.integers(0, 4)),
        hairline=float(rng.uniform(0.29, 0.34)),
        hair_dark=_colour(rng, _DARK_HAIR, 8),
        hair_blond=_colour(rng, _BLOND_HAIR, 10),
        glasses_colour=_colour(rng, np.array([[20, 20, 20], [90, 50, 30], [150, 150, 160], [120, 20, 30]], np.float32), 10),
        glasses_round=bool(rng.random() < 0.5),
        glasses_tint=float(rng.uniform(0.0, 0.35)),
        clothes=tuple(int(v) for v in rng.integers(20, 235, 3)),  # type: ignore[arg-type]
        bg_a=tuple(int(v) for v in bg_a),  # type: ignore[arg-type]
        bg_b=tuple(int(v) for v in bg_b),  # type: ignore[arg-type]
        bg_angle=float(rng.uniform(0, 2 * math.pi)),
        angle=float(rng.uniform(-7, 7)),
        scale=float(rng.uniform(0.95, 1.05)),
        shift=(float(rng.uniform(-0.02, 0.02)), float(rng.uniform(-0.02, 0.02))),
        smile=bool(rng.random() < 0.5),
        glasses=bool(rng.random() < 0.3),
        blond=bool(rng.random() < 0.4),
    )


def _pose_matrix(identity: Identity, pixels: float) -> np.ndarray:
    """2×3 map from canonical units (fractions of the side) to canvas pixels, with pose jitter."""
    centre = np.array([0.5, 0.55])
    a = math.radians(identity.angle)
    rot = identity.scale * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    t = centre + np.array(identity.shift) - rot @ centre
    return np.hstack([rot, t[:, None]]) * pixels


def face_landmarks(identity: Identity, size: int) -> np.ndarray:
    """The five landmarks (canonical order) of this face in pixels of a `size`² image, after jitter."""
    pts = CANONICAL_LANDMARKS.astype(np.float64).copy()
    pts[0, 0] -= identity.eye_dx
    pts[1, 0] += identity.eye_dx
    pts[3:, 0] = 0.5 + (pts[3:, 0] - 0.5) * identity.mouth_scale
    m = _pose_matrix(identity, size)
    return (pts @ m[:, :2].T + m[:, 2]).astype(np.float32)


class _Canvas:
    """Draws polygons given in canonical units onto an RGB image, through the pose matrix."""

    def __init__(self, image: np.ndarray, matrix: np.ndarray):
        self.image = image
        self.matrix = matrix
        self.unit = float(np.hypot(*matrix[:, 0]))  # pixels per canonical unit

    def _px(self, pts: np.ndarray) -> np.ndarray:
        return np.round((pts @ self.matrix[:, :2].T + self.matrix[:, 2]) * _FIX).astype(np.int32)

    def fill(self, pts: np.ndarray, colour: tuple[int, ...]) -> None:
        cv2.fillPoly(self.image, [self._px(pts)], colour, cv2.LINE_AA, _SHIFT)

    def line(self, pts: np.ndarray, colour: tuple[int, ...], width: float, closed: bool = False) -> None:
        thickness = max(1, int(round(width * self.unit)))
        cv2.polylines(self.image, [self._px(pts)], closed, colour, thickness, cv2.LINE_AA, _SHIFT)

    def blend(self, pts: np.ndarray, colour: tuple[int, ...], alpha: float) -> None:
        overlay = self.image.copy()
        cv2.fillPoly(overlay, [self._px(pts)], colour, cv2.LINE_AA, _SHIFT)
        cv2.addWeighted(overlay, alpha, self.image, 1 - alpha, 0, dst=self.image)


class _MaskCanvas(_Canvas):
    """Same geometry, but every shape marks 255 in a one-channel mask: where a layer may paint."""

    def fill(self, pts: np.ndarray, colour: tuple[int, ...]) -> None:
        cv2.fillPoly(self.image, [self._px(pts)], 255, cv2.LINE_8, _SHIFT)

    def line(self, pts: np.ndarray, colour: tuple[int, ...], width: float, closed: bool = False) -> None:
        thickness = max(1, int(round(width * self.unit)) + 2)
        cv2.polylines(self.image, [self._px(pts)], closed, 255, thickness, cv2.LINE_8, _SHIFT)

    def blend(self, pts: np.ndarray, colour: tuple[int, ...], alpha: float) -> None:
        self.fill(pts, colour)


def _arc(cx: float, cy: float, ax: float, ay: float, t0: float = 0.0, t1: float = 2 * math.pi, n: int = 40) -> np.ndarray:
    t = np.linspace(t0, t1, n)
    return np.stack([cx + ax * np.cos(t), cy + ay * np.sin(t)], axis=1)


def _face_outline(idt: Identity) -> np.ndarray:
    t = np.linspace(0, 2 * math.pi, 72, endpoint=False)
    s = np.sin(t)
    narrow = 1 - idt.jaw * np.clip(s, 0, None) ** 2
    return np.stack([0.5 + idt.face_w * np.cos(t) * narrow, 0.56 + idt.face_h * s], axis=1)


def _darker(c: tuple[int, int, int], f: float) -> tuple[int, int, int]:
    return tuple(int(v * f) for v in c)  # type: ignore[return-value]


# ---- attribute layers: each draws its shapes for one state; the mask pass draws both states ----


def _hair_layers(canvas: _Canvas, idt: Identity, blond: bool, back: bool) -> None:
    colour = idt.hair_blond if blond else idt.hair_dark
    w, top = idt.face_w, 0.56 - idt.face_h
    if back:
        if idt.hair_style == 1:  # long: falls behind the shoulders
            pts = np.vstack([_arc(0.5, 0.56, w + 0.06, idt.face_h + 0.05, math.pi, 2 * math.pi), [[0.5 + w + 0.08, 1.02], [0.5 - w - 0.08, 1.02]]])
            canvas.fill(pts, colour)
        elif idt.hair_style == 2:  # bob: to the chin
            pts = np.vstack([_arc(0.5, 0.56, w + 0.055, idt.face_h + 0.045, math.pi, 2 * math.pi), [[0.5 + w + 0.06, 0.80], [0.5 - w - 0.06, 0.80]]])
            canvas.fill(pts, colour)
        return
    # the cap over the skull, closed by the hairline across the forehead
    outer = _arc(0.5, 0.56, w + 0.03, idt.face_h + 0.035, math.pi, 2 * math.pi, 36)
    side_y = 0.47 if idt.hair_style != 0 else 0.44
    xs = np.linspace(0.5 + w + 0.005, 0.5 - w - 0.005, 25)
    u = (xs - 0.5) / w
    if idt.hair_style == 3:  # side-swept fringe: low on the left, high on the right
        fringe = idt.hairline + 0.03 + 0.05 * u
        ys = fringe + (side_y - fringe) * u**6
    else:
        ys = idt.hairline + (side_y - idt.hairline) * np.abs(u) ** 3
    inner = np.stack([xs, ys], axis=1)
    cap = np.vstack([[[0.5 - w - 0.03, side_y]], outer, [[0.5 + w + 0.03, side_y]], inner])
    canvas.fill(cap, colour)
    if idt.hair_style == 0:  # short: a little volume on top
        canvas.fill(_arc(0.5, top + 0.01, w * 0.85, 0.05, math.pi, 2 * math.pi, 24), colour)


def _mouth(canvas: _Canvas, idt: Identity, smile: bool) -> None:
    (lx, ly), (rx, _) = CANONICAL_LANDMARKS[3], CANONICAL_LANDMARKS[4]
    half = (rx - lx) / 2 * idt.mouth_scale
    cx = 0.5
    x = np.linspace(-1, 1, 21)
    if not smile:  # closed lips, a calm line between them
        seam = np.stack([cx + half * x, ly + 0.004 * (1 - x**2) - 0.002], axis=1)
        upper = np.stack([cx + half * x, ly - 0.013 * (1 - x**2) + 0.006 * np.exp(-(x * 6) ** 2)], axis=1)
        lower = np.stack([cx + half * x, ly + 0.02 * (1 - x**2) ** 0.8], axis=1)
        canvas.fill(np.vstack([upper, lower[::-1]]), idt.lip)
        canvas.line(seam, _darker(idt.lip, 0.55), 0.006)
        return
    # smile: wider, corners up, open mouth with teeth, curved lips, creases at the corners
    half *= 1.12
    lift = 0.03
    top = np.stack([cx + half * x, ly - lift * x**2 + 0.004], axis=1)
    bottom = np.stack([cx + half * x, ly - lift * x**2 + 0.004 + 0.05 * (1 - x**2) ** 1.2], axis=1)
    canvas.fill(np.vstack([top, bottom[::-1]]), (95, 25, 35))
    teeth_bottom = np.stack([cx + half * x, ly - lift * x**2 + 0.004 + 0.022 * (1 - x**2) ** 0.7], axis=1)
    canvas.fill(np.vstack([top, teeth_bottom[::-1]]), (245, 243, 235))
    up = np.stack([np.zeros_like(x), 0.011 * (1 - x**2) ** 0.6], axis=1)
    canvas.fill(np.vstack([top, (top - up)[::-1]]), idt.lip)
    down = np.stack([np.zeros_like(x), 0.015 * (1 - x**2) ** 0.6], axis=1)
    lower_lip = np.vstack([bottom, (bottom + down)[::-1]])
    canvas.fill(lower_lip, idt.lip)
    crease = _darker(idt.skin, 0.8)
    for side in (-1, 1):
        ex = cx + side * half
        ey = ly - lift + 0.004
        canvas.line(np.array([[ex + side * 0.012, ey - 0.022], [ex + side * 0.02, ey], [ex + side * 0.012, ey + 0.02]]), crease, 0.005)


def _glasses(canvas: _Canvas, idt: Identity, on: bool) -> None:
    if not on:
        return
    eyes = CANONICAL_LANDMARKS[:2].astype(np.float64).copy()
    eyes[0, 0] -= idt.eye_dx
    eyes[1, 0] += idt.eye_dx
    rw, rh = 0.07, 0.05 if idt.glasses_round else 0.042
    rims = []
    for ex, ey in eyes:
        if idt.glasses_round:
            rim = _arc(ex, ey + 0.003, rw, rh, n=40)
        else:  # rounded rectangle as a superellipse
            t = np.linspace(0, 2 * math.pi, 48, endpoint=False)
            c, s = np.cos(t), np.sin(t)
            rim = np.stack([ex + rw * np.sign(c) * np.abs(c) ** 0.4, ey + 0.004 + rh * np.sign(s) * np.abs(s) ** 0.4], axis=1)
        rims.append(rim)
        if idt.glasses_tint > 0.02:
            canvas.blend(rim, (40, 50, 60), idt.glasses_tint)
    width = 0.011
    for rim in rims:
        canvas.line(rim, idt.glasses_colour, width, closed=True)
    (lx, ly), (rx, ry) = eyes
    canvas.line(np.array([[lx + rw, ly - 0.005], [0.5, ly - 0.014], [rx - rw, ry - 0.005]]), idt.glasses_colour, width)
    w = idt.face_w
    for side, (ex, ey) in zip((-1, 1), eyes):
        canvas.line(np.array([[ex + side * rw, ey - 0.01], [0.5 + side * (w + 0.005), ey - 0.012]]), idt.glasses_colour, width)


# ---- the rest of the face (never changes with the attribute) ----


def _background(identity: Identity, side: int) -> np.ndarray:
    """A linear gradient from bg_a to bg_b along bg_angle (bilinear from the corners: exact for a ramp)."""
    corners = np.array([[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]])
    t = 0.5 + 0.5 * (corners @ [math.cos(identity.bg_angle), math.sin(identity.bg_angle)]) / math.sqrt(2)
    a = np.array(identity.bg_a, np.float32)
    b = np.array(identity.bg_b, np.float32)
    small = (a + t[:, None].astype(np.float32) * (b - a)).reshape(2, 2, 3)
    return cv2.resize(small, (side, side), interpolation=cv2.INTER_LINEAR).astype(np.uint8)


def _body(canvas: _Canvas, idt: Identity) -> None:
    shade = _darker(idt.skin, 0.86)
    canvas.fill(np.array([[0.5 - 0.09, 0.75], [0.5 + 0.09, 0.75], [0.5 + 0.1, 1.0], [0.5 - 0.1, 1.0]]), shade)
    canvas.fill(_arc(0.5, 1.1, 0.36, 0.2, math.pi, 2 * math.pi, 30), idt.clothes)
    for side in (-1, 1):
        canvas.fill(_arc(0.5 + side * (idt.face_w - 0.005), 0.52, 0.03, 0.05), _darker(idt.skin, 0.9))


def _features(canvas: _Canvas, idt: Identity) -> None:
    eyes = CANONICAL_LANDMARKS[:2].astype(np.float64).copy()
    eyes[0, 0] -= idt.eye_dx
    eyes[1, 0] += idt.eye_dx
    ew, eh = 0.042 * idt.eye_scale, 0.02 * idt.eye_scale
    for side, (ex, ey) in zip((-1, 1), eyes):
        # eyebrow: a tapered band
        bx = np.linspace(-1, 1, 15)
        outward = side * bx  # +1 at the temple end, −1 at the nose end
        by = ey - 0.055 - 0.01 * (1 - bx**2) - idt.brow_tilt * outward
        half_w = idt.brow_w * (0.7 - 0.3 * outward) / 2
        upper = np.stack([ex + 0.05 * bx, by - half_w], axis=1)
        lower = np.stack([ex + 0.05 * bx, by + half_w], axis=1)
        canvas.fill(np.vstack([upper, lower[::-1]]), idt.brow)
        # eye: white, iris, pupil, upper lid
        white = np.vstack([_arc(ex, ey, ew, eh * 1.1, math.pi, 2 * math.pi, 16), _arc(ex, ey, ew, eh * 0.8, 0, math.pi, 16)])
        canvas.fill(white, (248, 248, 245))
        canvas.fill(_arc(ex, ey + 0.002, eh * 0.95, eh * 0.95, n=20), idt.iris)
        canvas.fill(_arc(ex, ey + 0.002, eh * 0.45, eh * 0.45, n=14), (15, 12, 12))
        canvas.fill(_arc(ex + eh * 0.3, ey - eh * 0.3, eh * 0.18, eh * 0.18, n=8), (250, 250, 250))
        canvas.line(_arc(ex, ey, ew * 1.05, eh * 1.15, math.pi * 1.05, math.pi * 1.95, 14), (40, 30, 30), 0.006)
    # nose: shaded bridge and nostrils
    (nx, ny) = CANONICAL_LANDMARKS[2]
    shade = _darker(idt.skin, 0.78)
    canvas.line(np.array([[nx - 0.01, eyes[0, 1] + 0.02], [nx - idt.nose_w * 0.35, ny - 0.02], [nx - idt.nose_w * 0.2, ny + 0.005]]), _darker(idt.skin, 0.9), 0.006)
    canvas.line(_arc(nx, ny - 0.005, idt.nose_w, 0.02, math.pi * 0.15, math.pi * 0.85, 12), shade, 0.007)
    for side in (-1, 1):
        canvas.fill(_arc(nx + side * idt.nose_w * 0.45, ny + 0.004, 0.009, 0.005, n=10), _darker(idt.skin, 0.55))


def _wflw_canonical(idt: Identity, smile: bool) -> np.ndarray:
    """The 98 WFLW landmarks of this face in canonical units, read off the shapes `_features`,
    `_face_outline` and `_mouth` draw (contour 0–32, eyebrows 33–50, nose 51–59, eyes 60–75,
    lips 76–95, pupils 96/97), so high-pass models get their masks from exact points."""
    pts = np.zeros((98, 2))
    t = np.linspace(math.pi + 0.25, -0.25, 33)  # the jaw, image-left ear → chin → image-right ear
    narrow = 1 - idt.jaw * np.clip(np.sin(t), 0, None) ** 2
    pts[:33] = np.stack([0.5 + idt.face_w * np.cos(t) * narrow, 0.56 + idt.face_h * np.sin(t)], axis=1)
    eyes = CANONICAL_LANDMARKS[:2].astype(np.float64).copy()
    eyes[0, 0] -= idt.eye_dx
    eyes[1, 0] += idt.eye_dx
    ew, eh = 0.042 * idt.eye_scale, 0.02 * idt.eye_scale
    for side, (ex, ey), brow0, eye0 in ((-1, eyes[0], 33, 60), (1, eyes[1], 42, 68)):
        def brow(bx: np.ndarray, edge: int) -> np.ndarray:
            by = ey - 0.055 - 0.01 * (1 - bx**2) - idt.brow_tilt * side * bx
            half_w = idt.brow_w * (0.7 - 0.3 * side * bx) / 2
            return np.stack([ex + 0.05 * bx, by + edge * half_w], axis=1)

        upper, lower = np.linspace(-1, 1, 5), np.array([0.75, 0.25, -0.25, -0.75])
        pts[brow0 : brow0 + 5] = brow(upper, -1)  # upper edge left → right, then the lower edge back
        pts[brow0 + 5 : brow0 + 9] = brow(lower, 1)
        lids = [math.pi, 1.25 * math.pi, 1.5 * math.pi, 1.75 * math.pi, 0.0, 0.25 * math.pi, 0.5 * math.pi, 0.75 * math.pi]
        for k, a in enumerate(lids):  # corner, upper lid, corner, lower lid: clockwise from image-left
            pts[eye0 + k] = (ex + ew * math.cos(a), ey + eh * (1.1 if math.sin(a) < 0 else 0.8) * math.sin(a))
        pts[96 if side < 0 else 97] = (ex, ey + 0.002)
    nx, ny = CANONICAL_LANDMARKS[2]
    pts[51:55] = np.stack([np.full(4, nx), np.linspace(eyes[:, 1].mean() + 0.01, ny, 4)], axis=1)
    a = np.linspace(0.85 * math.pi, 0.15 * math.pi, 5)
    pts[55:60] = np.stack([nx + idt.nose_w * np.cos(a), ny - 0.005 + 0.02 * np.sin(a)], axis=1)
    (lx, ly), (rx, _) = CANONICAL_LANDMARKS[3], CANONICAL_LANDMARKS[4]
    half = (rx - lx) / 2 * idt.mouth_scale * (1.12 if smile else 1.0)
    outer = np.array([-1, -2 / 3, -1 / 3, 0, 1 / 3, 2 / 3, 1, 2 / 3, 1 / 3, 0, -1 / 3, -2 / 3])
    inner = np.array([-1, -0.5, 0, 0.5, 1, 0.5, 0, -0.5])
    upper_half = np.arange(12) < 7
    if smile:
        top = lambda x: ly - 0.03 * x**2 + 0.004  # noqa: E731  (the curves `_mouth` draws)
        bottom = lambda x: top(x) + 0.05 * (1 - x**2) ** 1.2  # noqa: E731
        outer_y = np.where(upper_half, top(outer) - 0.011 * (1 - outer**2) ** 0.6, bottom(outer) + 0.015 * (1 - outer**2) ** 0.6)
        inner_y = np.where(np.arange(8) < 5, top(inner), bottom(inner))
    else:
        outer_y = np.where(upper_half, ly - 0.013 * (1 - outer**2), ly + 0.02 * (1 - outer**2) ** 0.8)
        inner_y = ly + 0.004 * (1 - inner**2) - 0.002 + np.where(np.arange(8) < 5, 0.0, 0.001)
    pts[76:88] = np.stack([0.5 + half * outer, outer_y], axis=1)
    pts[88:96] = np.stack([0.5 + half * inner, inner_y], axis=1)
    return pts


def wflw_landmarks(identity: Identity, attribute_name: str, attribute_on: bool, size: int) -> np.ndarray:
    """The 98 WFLW landmarks [98, 2] of the face `render_image` draws, in pixels of a `size`² image."""
    smile = attribute_on if attribute_name == "smile" else identity.smile
    m = _pose_matrix(identity, size)
    return (_wflw_canonical(identity, smile) @ m[:, :2].T + m[:, 2]).astype(np.float32)


def _supersample(size: int) -> int:
    """Draw at ≥ 256 px per side (at least 2×), then average blocks down: smooth edges at any size."""
    return max(2, -(-256 // size))


def _check(attribute_name: str, size: int) -> None:
    if attribute_name not in ATTRIBUTES:
        raise DataError(f"unknown SynthFaces attribute {attribute_name!r}; choose one of {', '.join(ATTRIBUTES)}")
    if size < 16:
        raise DataError(f"SynthFaces size {size} is too small; use at least 16 pixels")


def render_image(identity: Identity, attribute_name: str, attribute_on: bool, size: int) -> np.ndarray:
    """Draw `identity` with `attribute_name` on or off: RGB uint8 [size, size, 3]."""
    _check(attribute_name, size)
    ss = _supersample(size)
    side = size * ss
    matrix = _pose_matrix(identity, side)
    smile = attribute_on if attribute_name == "smile" else identity.smile
    glasses = attribute_on if attribute_name == "eyeglasses" else identity.glasses
    blond = attribute_on if attribute_name == "hair_colour" else identity.blond

    canvas = _Canvas(_background(identity, side), matrix)
    _hair_layers(canvas, identity, blond, back=True)
    _body(canvas, identity)
    canvas.fill(_face_outline(identity), identity.skin)
    _hair_layers(canvas, identity, blond, back=False)
    _features(canvas, identity)
    _mouth(canvas, identity, smile)
    _glasses(canvas, identity, glasses)
    return cv2.resize(canvas.image, (size, size), interpolation=cv2.INTER_AREA)


def region_mask(identity: Identity, attribute_name: str, size: int) -> np.ndarray:
    """Where `attribute_name` may change pixels of this face: float32 [size, size] in {0, 1}.

    The union of the attribute's shapes in both states, grown by the anti-aliasing spread,
    so pixels outside it are bit-identical between the two states.
    """
    _check(attribute_name, size)
    ss = _supersample(size)
    side = size * ss
    matrix = _pose_matrix(identity, side)
    mask_canvas = _MaskCanvas(np.zeros((side, side), np.uint8), matrix)
    for state in (False, True):
        if attribute_name == "smile":
            _mouth(mask_canvas, identity, state)
        elif attribute_name == "eyeglasses":
            _glasses(mask_canvas, identity, state)
        else:
            _hair_layers(mask_canvas, identity, state, back=True)
            _hair_layers(mask_canvas, identity, state, back=False)
    # anti-aliasing spreads a shape by about a pixel: grow the mask by 2 canvas pixels
    big = cv2.dilate(mask_canvas.image, np.ones((5, 5), np.uint8))
    # block mean > 0 ⇔ some canvas pixel of the block is marked (255 / 16² still rounds to 1)
    return (cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA) > 0).astype(np.float32)


def render_face(identity: Identity, attribute_name: str, attribute_on: bool, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw `identity` with `attribute_name` on or off: (RGB uint8 [size, size, 3], region mask).

    The region mask (float32 [size, size] in {0, 1}) is the same for both states; pixels
    outside it are bit-identical between them.
    """
    return render_image(identity, attribute_name, attribute_on, size), region_mask(identity, attribute_name, size)
