"""A device runs an exported artifact without torch: `run` (with the artifact's classifier reading the
source domain), `edit`, `verify` and `demo` (its SynthFaces actor included) in a fresh interpreter
where torch cannot be found, and the commands that need torch say so in one line.

The child interpreter gets a `sitecustomize` that hides torch (and the rest of the `[train]` extra:
onnx, onnxscript, onnxslim, nncf, triton) from the import system exactly as an uninstalled package
is hidden: `find_spec` answers None and `import torch` raises ModuleNotFoundError. Every import
attempt is logged (asking `importlib.util.find_spec` whether it is installed is not one), so a caller
that caught the error and carried on is caught too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from l2m_edge.assets import shipped_classifier
from l2m_edge.backends import open_artifact
from l2m_edge.backends.classifier import ClassifierGraph, ClassifierRecord, classifier_record
from l2m_edge.errors import ExportError
from l2m_edge.runtime.clip import actor_frame, write_clip
from l2m_edge.runtime.demo import shipped_demo_checkpoint

from runtime_helpers import finish_group, flip_middle_byte, start_group

HIDDEN = ("torch", "triton", "nncf", "onnx", "onnxscript", "onnxslim")
HIDE = f'''
import os, sys
from importlib.machinery import PathFinder

HIDDEN = {HIDDEN!r}
LOG = os.environ["L2M_TEST_IMPORT_LOG"]


class _Uninstalled:
    """PathFinder, except that the [train] extra's packages are not installed."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            if not _probe():
                with open(LOG, "a") as log:
                    log.write(name + "\\n")
            return None
        return PathFinder.find_spec(name, path, target)

    @staticmethod
    def invalidate_caches():
        PathFinder.invalidate_caches()


def _probe():
    """Asked by importlib.util.find_spec (is it installed?), not by an import."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "find_spec" and frame.f_code.co_filename.replace("/", ".").endswith(("importlib.util.py", "importlib.util>")):
            return True
        frame = frame.f_back
    return False


sys.meta_path[:] = [_Uninstalled if finder is PathFinder else finder for finder in sys.meta_path]
'''
FRAMES = 8


@pytest.fixture(scope="module")
def ov_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped demo editor exported to OpenVINO fp32, with the shipped classifier beside it."""
    from l2m_edge.export import export_model

    return export_model(shipped_demo_checkpoint(), "openvino", tmp_path_factory.mktemp("art") / "demo-ov", precision="fp32")


@pytest.fixture(scope="module")
def onnx_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same editor exported to ONNX fp32 (onnxruntime runs it and its classifier graph)."""
    from l2m_edge.export import export_model

    return export_model(shipped_demo_checkpoint(), "onnx", tmp_path_factory.mktemp("art") / "demo-onnx", precision="fp32")


@pytest.fixture(scope="module")
def actor_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SynthFaces actor (not smiling) moving in a 320×240 clip, FRAMES frames."""
    return write_clip(tmp_path_factory.mktemp("clip") / "actor.mp4", seconds=FRAMES / 10, fps=10, size=(320, 240), kind="actor")


def without_torch(tmp_path: Path, *args: str) -> tuple[int, str, str, list[str]]:
    """`l2m-edge ARGS…` in a fresh interpreter without the [train] extra: (exit code, stdout, stderr, hidden imports tried)."""
    site = tmp_path / "hide-train-extra"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(HIDE)
    log = tmp_path / "imports-tried.txt"
    log.write_text("")
    env = dict(os.environ, PYTHONPATH=str(site), L2M_TEST_IMPORT_LOG=str(log), L2M_EDGE_CACHE=str(tmp_path / "cache"), COLUMNS="400")
    proc = start_group([sys.executable, "-m", "l2m_edge", *args], env=env)
    out, err = finish_group(proc, timeout=600)
    return proc.returncode, out, err, log.read_text().split()


def test_the_blocker_hides_torch_as_an_uninstalled_package(tmp_path: Path) -> None:
    code, out, err, tried = without_torch(tmp_path, "--version")
    assert code == 0 and "l2m-edge" in out and tried == []
    site = tmp_path / "hide-train-extra"
    probe = "import importlib.util\nassert importlib.util.find_spec('torch') is None\ntry:\n    import torch\nexcept ModuleNotFoundError as e:\n    print(e.name)"
    done = subprocess.run([sys.executable, "-c", probe], env=dict(os.environ, PYTHONPATH=str(site), L2M_TEST_IMPORT_LOG=str(tmp_path / "log")),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "torch", done.stderr


@pytest.mark.parametrize(("artifact", "backend"), [("ov_artifact", "openvino"), ("onnx_artifact", "onnxruntime")])
def test_run_without_torch_reads_the_source_domain_with_the_artifacts_classifier(
    artifact: str, backend: str, actor_clip: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The actor does not smile: edited towards smile on every frame, and read as already not smiling for
    --attr no_smile. Without a classifier `auto` would assume the other domain and edit both ways."""
    model = request.getfixturevalue(artifact)
    edited = tmp_path / "edited.mp4"
    code, out, err, tried = without_torch(tmp_path, "run", "--source", actor_clip, "--model", model, "--backend", backend, "--attr", "smile", "--sink", edited)
    assert code == 0, err[-2000:]
    assert tried == [], f"imported {tried} without torch installed"
    assert f"backend: {backend}" in out and "source domain auto: attribute classifier" in out
    assert f"faces edited {FRAMES}," in out and "already in target 0" in out
    capture, frames = cv2.VideoCapture(str(edited)), []
    while (ok := capture.read())[0]:
        frames.append(ok[1])
    source = cv2.VideoCapture(str(actor_clip))
    originals = [source.read()[1] for _ in frames]
    assert len(frames) == FRAMES
    assert max(float(np.abs(a.astype(int) - b.astype(int)).mean()) for a, b in zip(frames, originals)) > 1.0  # the face changed

    code, out, err, tried = without_torch(tmp_path, "run", "--source", actor_clip, "--model", model, "--backend", backend, "--attr", "no_smile", "--sink", tmp_path / "kept.mp4")
    assert code == 0 and tried == [], err[-2000:]
    assert f"already in target {FRAMES}" in out and "faces edited 0," in out


def test_edit_and_verify_without_torch(ov_artifact: Path, tmp_path: Path) -> None:
    photo = tmp_path / "actor.png"
    cv2.imwrite(str(photo), actor_frame(0.3))
    code, out, err, tried = without_torch(tmp_path, "edit", photo, "--model", ov_artifact, "--attr", "smile", "--out", tmp_path / "edited")
    assert code == 0 and tried == [], err[-2000:]
    (written,) = (tmp_path / "edited").iterdir()
    assert float(np.abs(cv2.imread(str(written)).astype(int) - cv2.imread(str(photo)).astype(int)).mean()) > 0.1

    code, out, err, tried = without_torch(tmp_path, "verify", ov_artifact)
    assert code == 0 and tried == [], err[-2000:]
    assert "hashes ok: 4 files of a openvino fp32 artifact" in out
    assert "parity not re-checked: it runs PyTorch" in out and "pip install 'l2m-edge[train]'" in out


@pytest.mark.parametrize("command", [("run", "--source", "{clip}", "--sink", "{out}", "--model", "{checkpoint}"), ("export", "{checkpoint}", "--out", "{out}")])
def test_commands_that_need_torch_say_so_in_one_line(command: tuple[str, ...], actor_clip: Path, tmp_path: Path) -> None:
    values = {"clip": actor_clip, "out": tmp_path / "out.mp4", "checkpoint": shipped_demo_checkpoint()}
    code, out, err, _ = without_torch(tmp_path, *(part.format(**values) for part in command))
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1, err
    assert lines[0].startswith("error: ") and "needs torch" in lines[0] and "pip install 'l2m-edge[train]'" in lines[0]


def test_the_artifact_carries_its_classifier_hashed_and_parity_checked(ov_artifact: Path) -> None:
    artifact = open_artifact(ov_artifact)
    record = classifier_record(artifact)
    assert record is not None and record.graph == "classifier.xml" and record.domains == ("no_smile", "smile")
    assert {"classifier.xml", "classifier.bin"} <= {f.path for f in artifact.manifest.files}
    assert record.parity["passed"] and record.parity["max_abs"] <= record.parity["bar_max_abs"]
    from l2m_edge.export import verify_artifact

    assert verify_artifact(ov_artifact)["classifier"]["passed"]


def test_a_changed_classifier_graph_is_refused(ov_artifact: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(ov_artifact, copy)
    flip_middle_byte(copy / "classifier.bin")
    with pytest.raises(ExportError, match="classifier.bin: sha256"):
        open_artifact(copy)


def test_an_onnx_artifacts_classifier_runs_on_onnxruntime_as_in_pytorch(tmp_path: Path) -> None:
    """`attach_classifier` for an ONNX target writes classifier.onnx; onnxruntime gives PyTorch's probabilities."""
    import torch

    from l2m_edge.checkpoint import load_editor
    from l2m_edge.export.builders import BuiltArtifact
    from l2m_edge.export.calibration import synth_crops
    from l2m_edge.export.classifier import attach_classifier
    from l2m_edge.metrics.classifier import load_classifier

    built = attach_classifier(BuiltArtifact(files=("model.onnx",), parity_backend="onnxruntime", bar="fp32"), tmp_path, load_editor(shipped_demo_checkpoint()), "onnx", 17, None)
    assert built.files == ("model.onnx", "classifier.onnx") and built.options["classifier"]["parity"]["passed"]
    record = ClassifierRecord.from_dict(built.options["classifier"])
    graph = ClassifierGraph(tmp_path, record, "onnxruntime", "CPUExecutionProvider")
    images, _ = synth_crops(6, record.img_size, 99)
    reference = load_classifier(shipped_classifier()).predict_domain(torch.from_numpy(images)).numpy()
    assert graph.runtime == "onnxruntime"
    np.testing.assert_allclose(graph.probabilities(images), reference, atol=1e-5)


def test_info_without_torch_lists_the_backends_that_run(tmp_path: Path) -> None:
    code, out, err, tried = without_torch(tmp_path, "info")
    assert code == 0 and tried == [], err[-2000:]
    assert "torch is not installed" in out and "kernels: none on a device install" in out


def test_bench_pipeline_of_an_artifact_without_torch(ov_artifact: Path, actor_clip: Path, tmp_path: Path) -> None:
    """`bench --pipeline -m ARTIFACT` runs the artifact as it is, on the backends of --backends that load its format."""
    import json

    code, out, err, tried = without_torch(
        tmp_path, "bench", "--pipeline", "-m", ov_artifact, "--backends", "openvino,onnxruntime", "--source", actor_clip, "--frames", "4",
        "--workdir", tmp_path / "work", "--out", tmp_path / "results",
    )
    assert code == 0 and tried == [], err[-2000:]
    (result,) = (tmp_path / "results").glob("*.json")
    (row,) = json.loads(result.read_text())["rows"]  # onnxruntime does not load an OpenVINO IR
    assert (row["backend"], row["precision"], row["preset"], row["status"]) == ("openvino", "fp32", "demo", "ok")


def test_demo_on_an_artifact_without_torch_draws_the_synthfaces_actor(ov_artifact: Path, tmp_path: Path) -> None:
    """`demo -m ARTIFACT` draws its actor clip with SynthFaces' renderer, which needs no torch; the shipped
    editor really edits it and the artifact's classifier confirms the edit. (Plain `demo` runs the shipped
    checkpoint, so it needs torch by design.)"""
    import json

    out = tmp_path / "demo"
    code, stdout, err, tried = without_torch(tmp_path, "demo", "--model", ov_artifact, "--seconds", "0.5", "--threads", "1", "--out", out)
    assert code == 0, err[-2000:]
    assert tried == [], f"imported {tried} without torch installed"
    assert "backend: openvino" in stdout and "actor_edited.mp4" in stdout
    summary = json.loads((out / "latency.json").read_text())
    actor = summary["clips"]["actor"]
    assert actor["frames"] == actor["faces_edited"] >= 12 and actor["target"] == "smile"
    assert actor["classifier"]["before_pct"] == 100.0 and actor["classifier"]["after_pct"] > 50.0
    # the clip the demo drew without torch is the one the runtime draws with it
    capture = cv2.VideoCapture(str(out / "actor_input.mp4"))
    first = capture.read()[1]
    drawn = actor_frame(0.0)
    assert first.shape == drawn.shape and float(np.abs(first.astype(int) - drawn.astype(int)).mean()) < 3.0  # only the codec's loss
