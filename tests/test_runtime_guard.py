"""Once per track: the reconstruction guard (does the model represent this face?) and the classifier."""

from __future__ import annotations

import numpy as np
import pytest

from l2m_edge.runtime.backends import load_backend
from l2m_edge.runtime.demo import shipped_demo_checkpoint
from l2m_edge.runtime.domains import READINGS, domain_guesser
from l2m_edge.runtime.guard import MIN_PSNR_DB, GuardReading, guard_warning, structure_psnr
from l2m_edge.runtime.pipeline import EditOptions, Pipeline
from l2m_edge.runtime.sinks import NullSink
from l2m_edge.runtime.sources import PatternSource


@pytest.fixture(scope="module")
def demo():  # noqa: ANN201
    return load_backend(shipped_demo_checkpoint(), backend="torch", threads=1)


def _run(backend, kind: str, seconds: float = 0.6, guesser=None):  # noqa: ANN001, ANN202
    options = EditOptions(target="smile", source="auto" if guesser else "no_smile")
    return Pipeline(backend, options, domain_guesser=guesser).run(PatternSource(seconds=seconds, kind=kind), NullSink())


def test_the_guard_passes_a_synthfaces_face_and_flags_a_real_one_for_the_synthfaces_model(demo) -> None:  # noqa: ANN001
    actor, astronaut = _run(demo, "actor"), _run(demo, "astronaut")
    (a,), (b,) = actor.guard, astronaut.guard  # one reading per track, not per frame
    assert a.psnr_db >= MIN_PSNR_DB + 2 and actor.warnings == []
    assert b.psnr_db <= MIN_PSNR_DB - 2
    (warning,) = astronaut.warnings
    assert "does not represent this face" in warning and "l2m-edge import" in warning and "l2m-edge train" in warning


def test_structure_psnr_ignores_fine_texture_but_not_a_different_face() -> None:
    rng = np.random.default_rng(0)
    face = (rng.uniform(0, 255, (8, 8, 3))).astype(np.uint8).repeat(8, 0).repeat(8, 1)  # coarse 64² structure
    alpha = np.full((64, 64), 255, np.uint8)
    textured = np.clip(face.astype(int) + rng.normal(0, 12, face.shape), 0, 255).astype(np.uint8)
    other = face[::-1, ::-1].copy()
    assert structure_psnr(face, face, alpha) == float("inf")
    assert structure_psnr(textured, face, alpha) > 35 > structure_psnr(other, face, alpha)
    assert guard_warning([GuardReading(0, 40.0)]) is None


def test_the_classifier_reads_each_track_a_few_times_not_every_frame(demo) -> None:  # noqa: ANN001
    guesser = domain_guesser(demo)
    result = _run(demo, "actor", seconds=1.2, guesser=guesser)
    assert result.frames_out == 30 and result.faces_edited == 30  # the actor does not smile: every frame edited
    assert guesser.calls == READINGS  # one track, read READINGS times, then frozen
