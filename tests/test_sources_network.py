"""Edge cameras: `--source` URIs, the grabbing thread that keeps the newest frame, reconnection, and the one-line
refusals — driven by real streams on 127.0.0.1 (an MJPEG server in the test, FFmpeg serving MPEG-TS over HTTP)."""

from __future__ import annotations

import re
import shutil
import threading
import time
from pathlib import Path
from typing import Callable

import cv2
import pytest

from l2m_edge.errors import SourceError
from l2m_edge.runtime.capture import csi_pipeline, gstreamer_missing, with_appsink
from l2m_edge.runtime.source_options import CameraRequest, StreamOptions, parse_size
from l2m_edge.runtime.source_uri import parse_source, redact
from l2m_edge.runtime.sources import LiveSource, open_source, source_report

from runtime_helpers import Ran, video_started
from stream_servers import NEEDS_FFMPEG, MjpegServer, RtspServer, frame_number, free_port, mpegts_clip, numbered_frames, self_signed_certificate, serve_over_http, stop_server

FAST = StreamOptions(connect_timeout_s=5, read_timeout_s=10, reconnect_for_s=2, first_wait_s=0.1, max_wait_s=0.5)


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.02)


@pytest.mark.parametrize(
    "spec, kind, target",
    [
        ("0", "camera", "0"),
        ("/dev/video2", "device", "/dev/video2"),
        ("csi://1", "csi", "1"),
        ("rtsp://user:pw@127.0.0.1:8554/cam", "network", "rtsp://user:pw@127.0.0.1:8554/cam"),
        ("HTTPS://127.0.0.1/live.ts", "network", "HTTPS://127.0.0.1/live.ts"),
        ("videotestsrc ! videoconvert ! appsink", "gstreamer", "videotestsrc ! videoconvert ! appsink"),
        ("pattern", "pattern", "pattern"),
    ],
)
def test_source_strings_name_their_kind(spec: str, kind: str, target: str) -> None:
    uri = parse_source(spec)
    assert (uri.kind, uri.target) == (kind, target)
    assert uri.live == (kind not in ("pattern", "folder", "image", "video"))


def test_source_strings_that_name_nothing_are_refused_and_passwords_never_shown(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"unknown source scheme ftp://"):
        parse_source("ftp://127.0.0.1/x")
    with pytest.raises(SourceError, match="no such file, folder or camera index"):
        parse_source(str(tmp_path / "missing.mp4"))
    assert redact("rtsp://admin:s3cret@10.0.0.7:554/Streaming/101") == "rtsp://admin:***@10.0.0.7:554/Streaming/101"
    assert redact("http://127.0.0.1:8080/video") == "http://127.0.0.1:8080/video"


def test_camera_sizes_parse_and_bad_ones_are_refused() -> None:
    assert parse_size("1280x720") == (1280, 720) and parse_size("640×480") == (640, 480)
    for bad in ("1280", "x720", "0x720", "99999x1", "12.5x10"):
        with pytest.raises(SourceError, match="--camera-size"):
            parse_size(bad)
    with pytest.raises(Exception, match="--camera-fps"):
        CameraRequest(fps=float("nan"))


def test_a_file_refuses_camera_options(tmp_path: Path) -> None:
    still = tmp_path / "face.png"
    cv2.imwrite(str(still), numbered_frames(0, 1)[0])
    with pytest.raises(SourceError, match="asked of a camera or stream"):
        open_source(still, camera=CameraRequest((640, 480)))
    pattern = open_source("pattern", camera=CameraRequest((320, 240), 10))  # the test pattern is a camera stand-in: it honours both
    assert (pattern.size, pattern.fps, pattern.read().image.shape) == ((320, 240), 10, (240, 320, 3))


def test_csi_cameras_ask_argus_for_the_size_and_rate_and_pipelines_end_in_a_newest_frame_appsink() -> None:
    pipeline = csi_pipeline(1, CameraRequest((1920, 1080), 29.97))
    assert pipeline.startswith("nvarguscamerasrc sensor-id=1 ! video/x-raw(memory:NVMM),width=1920,height=1080,framerate=2997/100,")
    assert pipeline.endswith("video/x-raw,format=BGR ! appsink drop=true max-buffers=1 sync=false")
    assert "width=1280,height=720,framerate=30/1" in csi_pipeline(0, CameraRequest())
    assert with_appsink("v4l2src device=/dev/video0 ! videoconvert ! appsink name=s") == "v4l2src device=/dev/video0 ! videoconvert ! appsink name=s"
    assert with_appsink("rtspsrc location=rtsp://cam ! decodebin").endswith("! videoconvert ! video/x-raw,format=BGR ! appsink drop=true max-buffers=1 sync=false")


@pytest.mark.skipif(gstreamer_missing() is None, reason="this OpenCV has GStreamer: the refusal cannot be seen here")
@pytest.mark.parametrize("spec", ["csi://0", "videotestsrc num-buffers=5 ! videoconvert ! appsink"])
def test_gstreamer_sources_without_gstreamer_are_one_line(cli: Callable[..., Ran], tiny_checkpoint: Path, spec: str) -> None:
    ran = cli("run", "--source", spec, "-m", tiny_checkpoint, "--sink", "null")
    assert ran.code == 1 and len(ran.error_lines) == 1, ran.err
    assert "built without GStreamer" in ran.err and "JetPack's OpenCV" in ran.err and "Traceback" not in ran.err


def test_a_missing_camera_device_is_one_line(cli: Callable[..., Ran], tiny_checkpoint: Path) -> None:
    ran = cli("run", "--source", "/dev/video99", "-m", tiny_checkpoint, "--sink", "null")
    assert ran.code == 1 and len(ran.error_lines) == 1 and "camera /dev/video99: no such device" in ran.err, ran.err


def test_the_grabbing_thread_keeps_only_the_newest_frame() -> None:
    """Frames arrive faster than they are taken: a read returns the newest, the others are counted as skipped, none queue up."""
    with MjpegServer(numbered_frames(0, 40)) as server:
        source = open_source(server.url, stream=FAST)
        try:
            assert isinstance(source, LiveSource) and source.live and source.size == (320, 320)
            wait_for(lambda: source.health.frames_grabbed == 40)
            frame = source.read()
            assert frame is not None and frame_number(frame.image) == 39
            assert source.frames_skipped == 39  # frames 0–38 were overwritten untaken
            assert frame.captured is not None and frame.index == 0
        finally:
            source.close()
    with MjpegServer(numbered_frames(0, 40)) as server:  # OpenCV alone, the frames sent meanwhile waiting in its buffers
        plain = cv2.VideoCapture(server.url, cv2.CAP_FFMPEG)
        try:
            wait_for(lambda: server.sent == 40)
            assert frame_number(plain.read()[1]) == 0  # the oldest frame, however late it is read
        finally:
            plain.release()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate (Debian package openssl)")
def test_an_https_mjpeg_camera_with_a_self_signed_certificate_is_read(tmp_path: Path) -> None:
    with MjpegServer(numbered_frames(7, 3), tls=self_signed_certificate(tmp_path)) as server:
        source = open_source(server.url, stream=FAST)
        try:
            wait_for(lambda: source.health.frames_grabbed == 3)
            assert frame_number(source.read().image) == 9 and source.description == server.url
        finally:
            source.close()


def test_a_stream_that_dies_and_comes_back_is_reconnected_and_its_outages_counted() -> None:
    server = MjpegServer(numbered_frames(0, 5))
    source = open_source(server.url, stream=FAST)
    try:
        wait_for(lambda: source.health.frames_grabbed == 5)
        assert frame_number(source.read().image) == 4
        server.stop()  # the camera goes away …
        wait_for(lambda: source.health.outages == 1)
        time.sleep(0.5)  # … for a while (reconnect attempts are refused meanwhile) …
        server = MjpegServer(numbered_frames(100, 5), port=server.port)  # … and comes back on the same port
        wait_for(lambda: source.health.frames_grabbed == 10)
        assert frame_number(source.read().image) == 104
        health = source.health
        assert (health.outages, health.reconnects) == (1, 1) and health.reconnect_attempts >= 2 and health.offline_s >= 0.5
        server.stop()  # gone for good: after --reconnect-for the source ends like a file
        assert source.read() is None
        assert source.stopped_early is not None and "did not come back within 2 s" in source.stopped_early
        report = source_report(source).as_dict()
        assert (report["outages"], report["reconnects"], report["frames_grabbed"], report["size"]) == (2, 1, 10, [320, 320])
    finally:
        server.stop()
        source.close()


def test_a_stream_delivering_another_size_than_asked_is_one_line(cli: Callable[..., Ran], tiny_checkpoint: Path) -> None:
    with MjpegServer(numbered_frames(0, 3)) as server:
        ran = cli("run", "--source", server.url, "--camera-size", "640x480", "-m", tiny_checkpoint, "--sink", "null")
    assert ran.code == 1 and len(ran.error_lines) == 1, ran.err
    assert "delivers 320×320, not the 640×480 asked for" in ran.err


def test_a_malformed_camera_size_is_a_usage_error(cli: Callable[..., Ran], tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # click's usage box at full width: the message on one line
    ran = cli("run", "--source", "pattern", "--camera-size", "1280by720", "-m", tiny_checkpoint, "--sink", "null")
    assert ran.code == 2 and "is not a size; give WIDTHxHEIGHT" in ran.err


def test_an_unreachable_url_is_one_line_after_a_bounded_wait(cli: Callable[..., Ran], tiny_checkpoint: Path) -> None:
    refused = f"rtsp://127.0.0.1:{free_port()}/stream"
    ran = cli("run", "--source", refused, "-m", tiny_checkpoint, "--sink", "null")
    assert ran.code == 1 and len(ran.error_lines) == 1 and "cannot connect within 10 s" in ran.err, ran.err
    with __import__("socket").socket() as silent:  # accepts connections (the kernel does) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        started = time.monotonic()
        ran = cli("run", "--source", f"http://user:secret@127.0.0.1:{silent.getsockname()[1]}/video", "--connect-timeout", "1", "-m", tiny_checkpoint, "--sink", "null")
        waited = time.monotonic() - started
    assert ran.code == 1 and len(ran.error_lines) == 1 and "cannot connect within 1 s" in ran.err, ran.err
    assert "secret" not in ran.err and "user:***@" in ran.err
    assert waited < 30  # bounded by --connect-timeout, not by the operating system's TCP timeout (minutes)


@NEEDS_FFMPEG
def test_an_rtsp_camera_is_read_in_order_and_its_end_is_an_outage(tmp_path: Path) -> None:
    """An RTSP server on 127.0.0.1 streaming MPEG-TS over RTP (it refuses UDP, so the reader falls back to TCP as behind NAT)."""
    clip = mpegts_clip(tmp_path / "cam.ts", numbered_frames(0, 60), fps=10)
    with RtspServer(clip, seconds=6.0) as server:
        source = open_source(server.url, stream=FAST)
        try:
            assert source.size == (320, 320) and source.fps == 10 and server.sessions == 1
            numbers = [frame_number(source.read().image) for _ in range(8)]
            assert numbers == sorted(set(numbers)) and all(0 <= n < 60 for n in numbers), numbers  # newest-first never reorders
            server.stop()
            while source.read() is not None:
                pass
            assert source.health.outages == 1 and source.health.reconnects == 0
            assert "did not come back within 2 s" in source.stopped_early
        finally:
            source.close()


@NEEDS_FFMPEG
def test_an_ffmpeg_http_stream_that_dies_and_comes_back_is_edited_into_a_valid_video(cli: Callable[..., Ran], tiny_checkpoint: Path, tmp_path: Path) -> None:
    """FFmpeg serves an MPEG-TS clip in a loop; once the run writes frames it is killed, and a second FFmpeg serves
    another 4-second clip on the same port a second later, then ends. The run continues across the first outage
    (FFmpeg may take seconds to start under load: --reconnect-for 8 covers it), gives up 8 s into the second, reports both, and its video holds frames of both clips in order."""
    first = mpegts_clip(tmp_path / "first.ts", numbered_frames(0, 20), fps=10)
    second = mpegts_clip(tmp_path / "second.ts", numbered_frames(100, 40), fps=10)
    port = free_port()
    out = tmp_path / "edited.mp4"
    servers = [serve_over_http(first, port, loop=True)]

    def die_and_come_back() -> None:
        wait_for(lambda: video_started(out), timeout=300)
        stop_server(servers[0])  # the stream dies mid-run …
        time.sleep(1.0)
        servers.append(serve_over_http(second, port))  # … and comes back on the same port

    restarter = threading.Thread(target=die_and_come_back, daemon=True)
    restarter.start()
    try:
        ran = cli("run", "--source", f"http://127.0.0.1:{port}/live.ts", "-m", tiny_checkpoint, "--from", "no_smile", "--sink", out, "--reconnect-for", "8", "--camera-size", "320x320",
                  "--backend", "torch", "--threads", "1")
    finally:
        restarter.join(timeout=60)
        for server in servers:
            stop_server(server)
    assert ran.code == 0, ran.err
    assert re.search(r"^source: http://127\.0\.0\.1:\d+/live\.ts: 320×320 @ 10 fps \(asked 320×320\), live$", ran.out, re.MULTILINE), ran.out  # what it gives, at once
    assert re.search(r"source: http://127\.0\.0\.1:\d+/live\.ts: 320×320 @ [\d.]+ fps \(asked 320×320\), [\d.]+ fps measured; 2 outage\(s\), 1 reconnected", ran.out), ran.out + ran.err
    assert "did not come back within 8 s" in ran.err and "the frames read so far were written" in ran.err
    written = int(re.search(r"wrote (\d+) frames", ran.out).group(1))
    reader = cv2.VideoCapture(str(out))
    numbers = []
    while True:
        ok, image = reader.read()
        if not ok:
            break
        numbers.append(frame_number(image))
    reader.release()
    first_server = [n for n in numbers if n < 20]
    assert len(numbers) == written and first_server and numbers[: len(first_server)] == first_server, numbers  # the first server's frames come first …
    assert numbers[len(first_server):] and all(100 <= n < 140 for n in numbers[len(first_server):]), numbers  # … then the second's
    assert "faces edited 0," not in ran.out
