"""The runtime's export cache: a second process needing the same export waits for the first and reuses it.

The first process is this test holding the export's own lock (a real `flock`, the one `export_model`
takes); the second is a real child process loading the checkpoint on OpenVINO.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from l2m_edge.contract.manifest import MANIFEST_NAME, verify_files
from l2m_edge.errors import BackendUnavailable
from l2m_edge.export import export_model
from l2m_edge.io import OutputLock, output_lock
from l2m_edge.runtime.backends.export_cache import EXPORT_WAIT_S, cache_entry, cached_export

LOAD = "import sys\nfrom l2m_edge.runtime.backends import load_backend\nprint(load_backend(sys.argv[1], backend='openvino', device='CPU').name, flush=True)\n"


@pytest.mark.parametrize("first", ["finishes", "fails"])
def test_a_second_process_waits_for_the_first_export_and_reuses_it(tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first: str) -> None:
    monkeypatch.setenv("L2M_EDGE_CACHE", str(tmp_path / "cache"))  # the child inherits it
    directory, target, precision = cache_entry(tiny_checkpoint, "openvino")
    finished = export_model(tiny_checkpoint, target, tmp_path / "finished", precision=precision, dynamic=True) if first == "finishes" else None
    errors = tmp_path / "child.err"
    lock = OutputLock(directory, inside=False).acquire()
    child = None
    try:
        with errors.open("w") as stderr:
            child = subprocess.Popen(
                [sys.executable, "-c", LOAD, str(tiny_checkpoint)], stdout=subprocess.PIPE, stderr=stderr, text=True,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )
        deadline = time.monotonic() + 180
        while "waiting up to" not in errors.read_text() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "waiting up to" in errors.read_text(), f"the child did not wait: {errors.read_text()[-500:]}"
        if finished is not None:
            inode = (finished / MANIFEST_NAME).stat().st_ino
            os.rename(finished, directory)  # what the first process's atomic export does last
        lock.release()
        output, _ = child.communicate(timeout=300)
    finally:
        lock.release()
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()
    log = errors.read_text()
    assert child.returncode == 0 and output.strip() == "openvino", log  # no fall back to PyTorch
    assert [line for line in log.splitlines() if "waiting up to" in line] == [
        f"waiting up to {EXPORT_WAIT_S:g} s for another l2m-edge process (pid {os.getpid()}) exporting tiny.safetensors for openvino ({precision})"
    ]
    verify_files(directory)
    if finished is not None:
        assert (directory / MANIFEST_NAME).stat().st_ino == inode, "the first process's artifact is reused, not exported again"


def test_a_second_export_gives_up_after_its_wait_with_the_reason(tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("L2M_EDGE_CACHE", str(tmp_path / "cache"))
    directory, _, precision = cache_entry(tiny_checkpoint, "openvino")
    with output_lock(directory):  # another open file description: flock refuses this process's own second lock too
        with pytest.raises(BackendUnavailable) as refusal:
            cached_export(tiny_checkpoint, "openvino", wait=0.5)
    what = f"tiny.safetensors for openvino ({precision})"
    assert str(refusal.value) == f"another l2m-edge process (pid {os.getpid()}) was still exporting {what} after 0.5 s"
    assert capfd.readouterr().err == f"waiting up to 0.5 s for another l2m-edge process (pid {os.getpid()}) exporting {what}\n"
    assert not directory.exists()


def test_the_precision_chooser_remembers_no_verdict_while_a_candidate_is_still_being_exported(tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from l2m_edge.runtime.backends import export_cache, precision

    monkeypatch.setenv("L2M_EDGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(precision, "CANDIDATES", ("fp16", "fp32"))
    monkeypatch.setattr(export_cache, "EXPORT_WAIT_S", 0.5)
    with output_lock(cache_entry(tiny_checkpoint, "openvino", "fp16")[0]):  # fp16 is being exported elsewhere
        choice = precision.choose_openvino_precision(tiny_checkpoint)
    assert choice.precision == "fp32" and "fp16 refused: another l2m-edge process" in choice.reason
    again = precision.choose_openvino_precision(tiny_checkpoint)  # fp16 gets its chance now
    assert set(again.median_ms) == {"fp16", "fp32"} and not again.reason.endswith("(cached)")
