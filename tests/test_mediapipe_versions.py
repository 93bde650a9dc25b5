"""The installed MediaPipe tracks faces like 0.10.18, the version aarch64 installs (pyproject's markers).

benchmarks/mediapipe_0.10.18.npz holds the tracker's landmarks on real photos and clips, recorded with
MediaPipe 0.10.18 by benchmarks/mediapipe_versions.py (its docstring: the cases and why the tolerance).
Here the installed MediaPipe (0.10.21 on x86-64) tracks the same frames and the runtime draws its masks
from both: a drift of either version, or of the tracker, beyond the tolerance fails.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def versions():
    spec = importlib.util.spec_from_file_location("mediapipe_versions", BENCHMARKS / "mediapipe_versions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_installed_mediapipe_matches_the_recorded_0_10_18_landmarks_and_masks(versions) -> None:
    recorded_version, recorded = versions.load(BENCHMARKS / "mediapipe_0.10.18.npz")
    assert recorded_version == "0.10.18"
    cases = versions.compare(recorded, versions.track())
    total = versions.summary(cases)
    assert total["frames_with_face_in_both"] >= 50  # every photo and clip frame has its face found
    assert versions.within_tolerance(total) == [], cases


def test_the_tolerance_catches_a_landmark_shift_of_a_tenth_of_a_pixel(versions) -> None:
    _, recorded = versions.load(BENCHMARKS / "mediapipe_0.10.18.npz")
    some = {k: v for k, v in recorded.items() if k.startswith("still/astronaut") and k.endswith("/478")}
    moved = versions.summary(versions.compare(some, versions.displaced(some, 2 * versions.LANDMARK_TOLERANCE_PX)))
    assert moved["landmark_max_px"] == pytest.approx(0.1, abs=1e-4)
    assert any(problem.startswith("landmark_max_px") for problem in versions.within_tolerance(moved))
    still_ok = versions.summary(versions.compare(some, versions.displaced(some, versions.LANDMARK_TOLERANCE_PX / 2)))
    assert versions.within_tolerance(still_ok) == [] and np.isfinite(still_ok["mask_iou_min"])
