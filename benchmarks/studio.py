"""What the browser studio costs over `l2m-edge run`, measured in one run (not a test).

The same clip (the studio tests' fake camera: the SynthFaces actor, tests/runtime_helpers.camera_frames)
and the same model (the shipped demo, `--backend auto`) go through:
  run     — `Pipeline.run` on the clip as a video paced like a camera (`--realtime`), NullSink: glass-to-glass ms
  studio  — `l2m-edge studio` in a subprocess, headless Chromium with the clip as its fake camera:
            the page's round trip (frame captured → edited frame back), FPS, with 1, 2 and 4 pages at once,
            and the JPEG encode/decode ms on each side.
  codec   — the server's JPEG decode and encode of the clip's frames, CPU ms (the thread's clock) beside wall ms:
            a page has no CPU clock, so its side is wall ms only.
`run` is measured before and after the studio rounds, so a change of the shared machine's load shows.
Usage: python benchmarks/studio.py [--seconds 12] [--json benchmarks/studio.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from runtime_helpers import camera_frames  # noqa: E402

from l2m_edge.bench.environment import capture_environment, load_average  # noqa: E402
from l2m_edge.bench.soak_studio import STUDIO_START_S, start_studio  # noqa: E402
from l2m_edge.io import write_json_atomic  # noqa: E402
from l2m_edge.runtime.backends import load_backend  # noqa: E402
from l2m_edge.runtime.clip import write_y4m  # noqa: E402
from l2m_edge.runtime.demo import shipped_demo_checkpoint  # noqa: E402
from l2m_edge.runtime.domains import domain_guesser  # noqa: E402
from l2m_edge.runtime.pipeline import EditOptions, Pipeline  # noqa: E402
from l2m_edge.runtime.sinks import NullSink  # noqa: E402
from l2m_edge.runtime.sources import VideoCaptureSource  # noqa: E402

FPS = 25
CHROMIUM = "/usr/bin/chromium"


def measure_run(clip: Path, backend: str) -> dict:
    engine = load_backend(shipped_demo_checkpoint(), backend=backend)
    result = Pipeline(engine, EditOptions(target="smile"), domain_guesser=domain_guesser(engine)).run(VideoCaptureSource(clip, realtime=True), NullSink())
    summary = result.summary
    return {"fps": summary["fps"], "latency_ms": summary["latency_ms"], "stages_ms": {k: v["p50"] for k, v in summary["stages_ms"].items()}, "faces_edited": result.faces_edited}


def measure_server_codec(frames: list[np.ndarray], quality: int = 85) -> dict:
    """The server's JPEG work per frame as the session does it (cv2.imdecode, cv2.imencode at q 85), CPU and wall ms (p50)."""
    encoded = [cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])[1] for frame in frames]
    timed: dict[str, list[tuple[float, float]]] = {"decode": [], "encode": []}
    for frame, jpeg in zip(frames, encoded):
        for step, work in (("decode", lambda: cv2.imdecode(jpeg, cv2.IMREAD_COLOR)), ("encode", lambda: cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality]))):
            cpu0, wall0 = time.thread_time(), time.perf_counter()
            work()
            timed[step].append((1000 * (time.thread_time() - cpu0), 1000 * (time.perf_counter() - wall0)))
    return {f"{step}_{clock}_ms": round(float(np.median([pair[i] for pair in pairs])), 3) for step, pairs in timed.items() for i, clock in enumerate(("cpu", "wall"))}


def measure_studio(browser, url: str, clients: int, seconds: float) -> dict:  # noqa: ANN001
    pages = []
    for _ in range(clients):
        page = browser.new_context().new_page()
        page.goto(url)
        page.wait_for_function("window.l2mStudio && window.l2mStudio.hello", timeout=120_000)
        page.click("#start")
        pages.append(page)
    for page in pages:
        page.wait_for_function("window.l2mStudio.stats().received >= 10", timeout=120_000)  # warm: trackers made, first frames through
    start = [page.evaluate("window.l2mStudio.stats()") for page in pages]
    time.sleep(seconds)
    end = [page.evaluate("window.l2mStudio.stats()") for page in pages]
    per_client = []
    for a, b in zip(start, end):
        per_client.append({
            "fps": round((b["received"] - a["received"]) / seconds, 2),
            "rtt_p50_ms": b["rtt_p50_ms"], "rtt_p90_ms": b["rtt_p90_ms"],
            "page_encode_ms": b["page_encode_ms"], "page_decode_ms": b["page_decode_ms"],
            "server_stages_ms": b["stages_ms"], "camera_frames_dropped": b["dropped"] - a["dropped"],
        })
    for page in pages:
        page.context.close()
    return {"clients": clients, "per_client": per_client, "fps_each_min": min(c["fps"] for c in per_client), "rtt_p50_ms_median": float(np.median([c["rtt_p50_ms"] for c in per_client]))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "studio.json")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp())
    frames = camera_frames() * 4  # ~10 s for run, looped by the fake camera
    write_y4m(work / "camera.y4m", camera_frames(), FPS)
    writer = cv2.VideoWriter(str(work / "camera.avi"), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (640, 480))
    for frame in frames:
        writer.write(frame)
    writer.release()
    record: dict = {"environment": capture_environment(), "load_average_before": load_average(), "clip": "tests/runtime_helpers.camera_frames (640×480, 25 fps)", "backend": args.backend}
    record["run_before"] = measure_run(work / "camera.avi", args.backend)
    studio = start_studio(args.backend)
    url = studio.wait_for(r"studio ready: open (\S+)", timeout=STUDIO_START_S).group(1)
    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
             "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={work / 'camera.y4m'}"]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
            record["studio"] = [measure_studio(browser, url, n, args.seconds) for n in (1, 2, 4)]
            browser.close()
    finally:
        studio.interrupt()
    record["run_after"] = measure_run(work / "camera.avi", args.backend)
    record["server_codec"] = measure_server_codec(frames)
    record["load_average_after"] = load_average()
    one = record["studio"][0]["per_client"][0]
    run_p50 = np.mean([record["run_before"]["latency_ms"]["p50"], record["run_after"]["latency_ms"]["p50"]])
    record["studio_added_p50_ms"] = round(one["rtt_p50_ms"] - float(run_p50), 2)
    write_json_atomic(args.json, record)
    print(json.dumps({k: record[k] for k in ("run_before", "run_after", "studio_added_p50_ms", "server_codec")}, indent=1))
    for row in record["studio"]:
        print(row["clients"], "clients:", [(c["fps"], c["rtt_p50_ms"], c["rtt_p90_ms"]) for c in row["per_client"]])


if __name__ == "__main__":
    main()
