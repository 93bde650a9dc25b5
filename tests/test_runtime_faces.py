"""Every face: small and several faces are found, each edited with its own track; the rest is reported."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from l2m_edge.runtime.backends import load_backend
from l2m_edge.runtime.detection import Detection, FaceDetector, merge, tile_origins
from l2m_edge.runtime.pipeline import EditOptions, Pipeline
from l2m_edge.runtime.sinks import ImageFolderSink
from l2m_edge.runtime.sources import ImageSource
from l2m_edge.runtime.tracking import CONFIDENT_SCORE

from runtime_helpers import astronaut_bgr, coffee_bgr, four_people_bgr, two_people_bgr


@pytest.fixture(scope="module")
def backend(tiny_checkpoint: Path):  # noqa: ANN201
    return load_backend(tiny_checkpoint, backend="torch", threads=1)


def _edit(backend, image: np.ndarray, tmp_path: Path, **options) -> tuple[np.ndarray, object]:  # noqa: ANN001
    tmp_path.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(tmp_path / "in.png"), image)
    opts = EditOptions(target="smile", source="no_smile", stills=True, record=True, **options)
    result = Pipeline(backend, opts).run(ImageSource([tmp_path / "in.png"]), ImageFolderSink(tmp_path / "out"))
    return cv2.imread(str(tmp_path / "out" / "frame_000000.png")), result


def _changed_in(edited: np.ndarray, original: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> int:
    return int(np.any(edited[y0:y1, x0:x1] != original[y0:y1, x0:x1], axis=2).sum())


def test_two_people_side_by_side_both_get_edited(backend, tmp_path: Path) -> None:  # noqa: ANN001
    photo = two_people_bgr()  # 1024×512: short-range BlazeFace on the whole frame finds neither face
    edited, result = _edit(backend, photo, tmp_path)
    assert result.faces_edited == 2
    assert all("does not represent" in w for w in result.warnings)  # random tiny weights: only the guard speaks, no face left out
    (records,) = result.records
    assert len({r.track_id for r in records}) == 2  # each face its own track
    assert _changed_in(edited, photo, 0, 0, 512, 512) > 1500 and _changed_in(edited, photo, 512, 0, 1024, 512) > 1500


def test_four_people_in_a_2x2_collage_all_get_edited(backend, tmp_path: Path) -> None:  # noqa: ANN001
    photo = four_people_bgr()  # astronaut ×2 over cameraman ×2; the full-range model finds only 2 of these
    edited, result = _edit(backend, photo, tmp_path)
    assert result.faces_edited == 4
    for x0, y0 in ((0, 0), (512, 0), (0, 512), (512, 512)):
        assert _changed_in(edited, photo, x0, y0, x0 + 512, y0 + 512) > 800, f"the face in the quadrant at {(x0, y0)} was not edited"


def test_max_faces_limits_the_edits_and_says_how_many_were_left(backend, tmp_path: Path) -> None:  # noqa: ANN001
    _, result = _edit(backend, four_people_bgr(), tmp_path, max_faces=2)
    assert result.faces_edited == 2 and result.faces_beyond_limit == 2
    assert any("raise --max-faces" in w for w in result.warnings)


def test_one_face_and_no_face_are_unchanged_by_multi_face_detection(backend, tmp_path: Path) -> None:  # noqa: ANN001
    _, one = _edit(backend, astronaut_bgr(), tmp_path / "one")
    edited, none = _edit(backend, coffee_bgr(), tmp_path / "none")
    assert (one.faces_edited, one.faces_beyond_limit) == (1, 0)
    assert none.faces_edited == 0 and np.array_equal(edited, coffee_bgr())


def test_a_face_too_small_to_edit_is_reported_not_silently_skipped(backend, tmp_path: Path) -> None:  # noqa: ANN001
    _, result = _edit(backend, two_people_bgr(), tmp_path, min_face_px=300)
    assert (result.faces_edited, result.faces_too_small) == (0, 2)
    assert any("too small to edit" in w for w in result.warnings)


def test_tiles_cover_the_frame_with_overlap_and_merge_keeps_one_box_per_face() -> None:
    tiles = tile_origins(1024, 512)
    assert tiles and all(0 <= x <= 1024 - 320 and 0 <= y <= 512 - 320 for x, y in tiles)
    assert max(x for x, _ in tiles) == 1024 - 320 and max(y for _, y in tiles) == 512 - 320
    assert tile_origins(320, 240) == []  # a small frame is its own tile
    whole, half = Detection(0.9, np.array([100, 100, 200, 200], np.float32)), Detection(0.95, np.array([100, 100, 150, 200], np.float32))
    other = Detection(0.8, np.array([400, 100, 500, 200], np.float32))
    assert [d.score for d in merge([half, whole, other])] == [0.9, 0.8]  # the seam-cut half face goes


def test_the_tile_scan_finds_faces_the_whole_frame_model_misses() -> None:
    detector = FaceDetector()
    try:
        rgb = cv2.cvtColor(four_people_bgr(), cv2.COLOR_BGR2RGB)
        assert detector._run(rgb, 0, 0) == []  # the whole frame alone: 128² input, faces too small
        boxes = [d for d in detector.scan(rgb) if d.score >= CONFIDENT_SCORE]  # tiles also give a few ~0.55 false ones; the mesh rejects those
    finally:
        detector.close()
    centres = sorted((int((d.box[1] + d.box[3]) / 2 // 512), int((d.box[0] + d.box[2]) / 2 // 512)) for d in boxes)
    assert centres == [(0, 0), (0, 1), (1, 0), (1, 1)]  # one face per quadrant
