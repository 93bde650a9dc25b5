"""The live pipeline's stages driven by hand, as the studio drives them: frame by frame, controls changed
between frames, several streams on one loaded model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from l2m_edge.runtime.backends import load_backend
from l2m_edge.runtime.clip import actor_frame
from l2m_edge.runtime.sources import Frame
from l2m_edge.runtime.stages import EditModel, EditOptions



def two_actors() -> np.ndarray:
    """1280×480: the SynthFaces actor beside its mirror image."""
    actor = actor_frame(0.0)
    return np.ascontiguousarray(np.concatenate([actor, actor[:, ::-1]], axis=1))


@pytest.fixture(scope="module")
def model(tiny_checkpoint: Path) -> EditModel:
    return EditModel(load_backend(tiny_checkpoint, backend="torch", threads=1), EditOptions(target="smile", source="no_smile"))


def _both_faces(stream, frame: np.ndarray, start: int = 0):  # noqa: ANN001, ANN202
    """Frames of the two actors until both faces are tracked (video-mode detection scans its tiles over frames)."""
    for index in range(start, start + 12):
        done, job = stream.edit(Frame(index, frame, 0.04 * index))
        if len(job.records) == 2:
            return index, done, job
    raise AssertionError("the second face was never tracked")


def test_controls_changed_between_frames_act_on_the_next_frame(model: EditModel) -> None:
    controls = model.controls()
    stream = model.stream(controls)
    try:
        frame = two_actors()
        index, done, job = _both_faces(stream, frame)
        assert [r.status for r in job.records] == ["edited", "edited"] and not np.array_equal(done.image, frame)
        controls.largest_only = True  # the two faces are mirror images: one of them is chosen
        done, job = stream.edit(Frame(index + 1, frame, 0.04 * (index + 1)))
        assert sorted(r.status for r in job.records) == ["edited", "not_chosen"]
        controls.enabled = False
        for index in range(index + 2, index + 10):  # the edits fade out, then the frame is the input itself
            done, job = stream.edit(Frame(index, frame, 0.04 * index))
        assert sorted(r.status for r in job.records) == ["edit_off", "not_chosen"] and done.image is frame
    finally:
        stream.close()


def test_two_streams_on_one_model_keep_their_own_tracks_fades_and_guard_readings(model: EditModel) -> None:
    first, second = model.stream(model.controls()), model.stream(model.controls(), share_guesser=False)
    try:
        for index in range(3):
            first.edit(Frame(index, actor_frame(index / 25), index / 25))
        _, done, job = _both_faces(second, two_actors())
        assert sorted(r.track_id for r in job.records) == [0, 1]  # the second stream numbers its own tracks
        assert set(first.infer.guarded) == {0} and set(second.infer.guarded) == {0, 1}
        assert first.compositor is not second.compositor and first.tracker is not second.tracker
    finally:
        first.close()
        second.close()
