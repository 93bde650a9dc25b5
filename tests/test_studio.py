"""`l2m-edge studio` end to end: a real server process, a real headless Chromium with a fake camera playing
the SynthFaces actor, and a raw WebSocket client for what a page would never send.

Three servers: one on 127.0.0.1 (plain http, at most two clients, a short idle timeout), one with a
server source, and one on 127.0.0.1 with its token and its own self-signed TLS (loopback only:
`--require-token` stands in for a non-local host, whose rule it is).
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import os
import re
import shutil
import ssl
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import pytest

from l2m_edge.bench.child import WatchedChild
from l2m_edge.runtime.align import align_face, crop_to_tensor
from l2m_edge.runtime.backends import load_backend
from l2m_edge.runtime.clip import actor_frame, write_y4m
from l2m_edge.runtime.demo import shipped_demo_checkpoint
from l2m_edge.runtime.domains import DomainGuesser, domain_guesser
from l2m_edge.runtime.guard import MIN_PSNR_DB, structure_psnr
from l2m_edge.runtime.studio.protocol import EDITED, FRAME_HEADER, MAX_FRAME_SIDE, MAX_MESSAGE_BYTES, REPLY_HEADER
from l2m_edge.runtime.tracking import FaceTracker

from runtime_helpers import CAMERA_TIMES, camera_frames

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CLIP_FPS = 25
IDLE_SECONDS = 6
INSECURE_HOST = "studio.test"
SCREENSHOT = os.environ.get("L2M_STUDIO_SCREENSHOT")  # where to keep the page's screenshot (README's), if anywhere


@dataclass
class Server:
    child: WatchedChild  # its output read as it comes: a server that logs a lot never stalls on a full pipe
    url: str  # as printed (with the token when there is one)

    @property
    def base(self) -> str:
        return self.url.split("?")[0]


def _start(tmp: Path, *args: str) -> Iterator[Server]:
    cmd = [sys.executable, "-c", "from l2m_edge.cli import main; main()", "studio", "--port", "0", "--backend", "torch", "--threads", "1", *args]
    with WatchedChild(cmd, env=dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="400", XDG_CACHE_HOME=str(tmp / "cache"))) as child:
        yield Server(child, child.wait_for(r"studio ready: open (\S+)", timeout=120).group(1))


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _start(tmp_path_factory.mktemp("studio"), "--max-clients", "2", "--idle-seconds", str(IDLE_SECONDS))


@pytest.fixture(scope="module")
def tls_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _start(tmp_path_factory.mktemp("tls"), "--require-token", "--tls")


@pytest.fixture(scope="module")
def clip_y4m(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake camera's file: the demo's SynthFaces actor (runtime_helpers.camera_frames)."""
    return write_y4m(tmp_path_factory.mktemp("camera") / "actor.y4m", camera_frames(), CLIP_FPS)


@pytest.fixture(scope="module")
def browser(clip_y4m: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    if not os.path.exists(CHROMIUM):
        pytest.skip("the studio's browser tests need Debian's `chromium` package (apt-get install chromium); .ci/run installs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the studio's browser tests drive Chromium with `playwright` (pip install playwright; never `playwright install`)")
    args = [
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={clip_y4m}",
        f"--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1",  # a name for this machine that is not localhost: an insecure origin
    ]
    with sync_api.sync_playwright() as playwright:
        # launch() gives the browser a fresh profile (--user-data-dir in a temporary folder) and runs it headless
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def reader() -> tuple[FaceTracker, DomainGuesser]:
    """The shipped classifier, reading a face found in a whole frame (as the demo reads its clips)."""
    backend = load_backend(shipped_demo_checkpoint(), backend="torch")
    guesser = domain_guesser(backend)
    assert guesser is not None
    tracker = FaceTracker(max_faces=1, still=True)
    yield tracker, guesser
    tracker.close()


def _face(frame: np.ndarray, tracker: FaceTracker, size: int = 64) -> np.ndarray:
    faces = tracker.update(frame, 0.0)
    assert faces, "no face found in the returned frame"
    return align_face(frame, faces[0].landmarks, size).crop


def _p_smile(frame: np.ndarray, reader: tuple[FaceTracker, DomainGuesser]) -> float:
    tracker, guesser = reader
    return float(guesser.probabilities(crop_to_tensor([_face(frame, tracker)]))[0][1])


def _reads(frames: list[np.ndarray], reader: tuple[FaceTracker, DomainGuesser]) -> str:
    """What the shipped classifier reads in these frames' faces, on average (a single frame can sit on the boundary)."""
    return "smile" if np.mean([_p_smile(f, reader) for f in frames]) > 0.5 else "no_smile"


def _nearest_input(frame: np.ndarray) -> np.ndarray:
    """The clip frame the camera sent for `frame` (the fake camera loops the clip): the closest one outside the face."""
    return min(camera_frames()[: len(CAMERA_TIMES)], key=lambda clip: float(np.abs(clip.astype(np.int16) - frame).mean()))


def _open(browser, url: str, **context_options):  # noqa: ANN001, ANN202
    page = browser.new_context(viewport={"width": 1400, "height": 760}, **context_options).new_page()
    page.goto(url)
    page.wait_for_function("window.l2mStudio && (window.l2mStudio.hello || !document.querySelector('#message').hidden)", timeout=60_000)
    return page


def _received(page, at_least: int, timeout_s: float = 60) -> dict:  # noqa: ANN001
    page.wait_for_function(f"window.l2mStudio.stats().received >= {at_least}", timeout=timeout_s * 1000)
    return page.evaluate("window.l2mStudio.stats()")


def _snapshot(page) -> np.ndarray:  # noqa: ANN001
    data = page.evaluate("window.l2mStudio.snapshot()")
    assert data.startswith("data:image/png;base64,")
    return cv2.imdecode(np.frombuffer(base64.b64decode(data.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)


def _snapshots(page, count: int = 4) -> list[np.ndarray]:  # noqa: ANN001
    """`count` returned frames, each a newer one."""
    frames = []
    for _ in range(count):
        frames.append(_snapshot(page))
        _received(page, page.evaluate("window.l2mStudio.stats().received") + 2)
    return frames


def _settle(page, frames: int = 6) -> None:  # noqa: ANN001
    """Wait until frames sent after the last control change have come back."""
    now = page.evaluate("window.l2mStudio.stats().sent")
    _received(page, now + frames)


def test_the_page_edits_the_camera_and_its_controls_act(studio: Server, browser, reader, tmp_path: Path) -> None:  # noqa: ANN001
    page = _open(browser, studio.url)
    page.click("#start")
    stats = _received(page, 12)
    # (a) edited frames come back at the camera's resolution, and the classifier reads them as smiling where the input was not
    edited = _snapshots(page)
    assert edited[0].shape == (480, 640, 3)
    assert (_reads([_nearest_input(f) for f in edited], reader), _reads(edited, reader)) == ("no_smile", "smile")
    # (d) the page reports the round trip
    assert stats["rtt_p50_ms"] > 0 and stats["rtt_p90_ms"] >= stats["rtt_p50_ms"] and stats["fps"] > 0
    page.wait_for_function("document.querySelector('#stats').textContent.includes('round trip p50')")
    page.screenshot(path=str(tmp_path / "studio.png"))
    if SCREENSHOT:
        shutil.copy(tmp_path / "studio.png", SCREENSHOT)
    # (b) strength 0 (the reconstruction) gives the face back nearly unchanged, as the guard measures it
    page.fill("#strength", "0")  # fires `input`: the control acts on the next frame
    _settle(page)
    page.wait_for_function("window.l2mStudio.stats().controls.strength === 0")  # the server reports what it applied
    out = _snapshot(page)
    tracker = reader[0]
    face_out, face_in = _face(out, tracker), _face(_nearest_input(out), tracker)
    everywhere = np.full(face_out.shape[:2], 255, np.uint8)
    assert structure_psnr(face_out, face_in, everywhere) >= MIN_PSNR_DB
    # (c) edit off returns the input: only the two JPEG codings differ from the clip frame
    page.uncheck("#edit")
    _settle(page)
    out = _snapshot(page)
    assert float(np.abs(out.astype(np.int16) - _nearest_input(out)).mean()) < 2.0
    page.context.close()


def test_the_target_control_and_the_recorder_act(studio: Server, browser, reader, tmp_path: Path) -> None:  # noqa: ANN001
    page = _open(browser, studio.url)
    page.click("#start")
    _received(page, 6)
    assert _reads(_snapshots(page, 2), reader) == "smile"
    page.select_option("#attr", label="no_smile")  # the actor does not smile: the faces now go through unedited
    _settle(page)
    page.wait_for_function("window.l2mStudio.stats().controls.target === 0")
    assert _reads(_snapshots(page, 2), reader) == "no_smile"
    with page.expect_download(timeout=60_000) as recording:
        page.click("#record")
        _received(page, page.evaluate("window.l2mStudio.stats().received") + 25)  # a second or so of edited frames
        page.click("#record")
    webm = tmp_path / "studio.webm"
    recording.value.save_as(webm)
    assert recording.value.suggested_filename == "l2m-studio.webm" and webm.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a WebM file
    video = cv2.VideoCapture(str(webm))
    ok, frame = video.read()
    video.release()
    assert ok and frame.shape == (480, 640, 3)
    page.context.close()

def test_a_second_client_is_served_and_one_over_the_limit_is_told_why(studio: Server, browser) -> None:  # noqa: ANN001
    first, second = _open(browser, studio.url), _open(browser, studio.url)
    for page in (first, second):
        page.click("#start")
    before = _received(first, 3)["received"]
    _received(second, 5)  # (e) while the first is connected
    assert _received(first, before + 5)["received"] >= before + 5
    third = _open(browser, studio.url)
    third.wait_for_function("!document.querySelector('#message').hidden")
    assert "the studio is full: it serves 2 clients at a time" in third.inner_text("#message")
    for page in (first, second, third):
        page.context.close()


def test_over_plain_http_off_localhost_the_page_says_why_the_camera_is_blocked(studio: Server, browser) -> None:  # noqa: ANN001
    page = _open(browser, studio.url.replace("127.0.0.1", INSECURE_HOST))
    assert not page.evaluate("window.isSecureContext")
    page.wait_for_function("!document.querySelector('#message').hidden")  # said as soon as the page is up
    assert page.is_disabled("#start")
    message = page.inner_text("#message")
    assert f"this page is http://{INSECURE_HOST}:" in message and "--tls-cert/--tls-key" in message and "ssh -L" in message
    assert page.evaluate("window.l2mStudio.stats().sent") == 0
    page.context.close()


async def _raw(url: str, send: list) -> tuple[list, int | None, str]:
    """Connect a raw WebSocket, send `send` (bytes or str) and wait for the close: (text messages, close code, close reason)."""
    import aiohttp

    ws_url = url.replace("http", "ws", 1).split("?")[0] + "ws" + ("?" + url.split("?")[1] if "?" in url else "")
    texts, reason = [], ""
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ws_url, compress=15) as ws:  # asks for permessage-deflate, as browsers do
            assert ws.compress == 0, "the studio deflates its frames: JPEG does not deflate"
            for message in send:
                await (ws.send_bytes(message) if isinstance(message, bytes) else ws.send_str(message))
            while True:
                message = await ws.receive()
                if message.type == aiohttp.WSMsgType.TEXT:
                    texts.append(json.loads(message.data))
                elif message.type != aiohttp.WSMsgType.BINARY:
                    reason = message.extra or ""
                    break
            return texts, ws.close_code, reason


def _in_thread(coroutine):  # noqa: ANN001, ANN202
    """Run a raw client's coroutine on a loop of its own (Playwright's sync API holds this thread's)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=120)


def _frame(jpeg: bytes, frame_id: int = 1) -> bytes:
    return FRAME_HEADER.pack(frame_id, 0.0) + jpeg


@pytest.mark.parametrize(
    ("case", "send", "code", "reason"),
    [
        ("not JSON", ["{nope"], 1003, "not JSON"),
        ("unknown control", ['{"type": "controls", "colour": 1}'], 1003, "unknown controls"),
        ("strength out of range", ['{"type": "controls", "strength": 1e9}'], 1003, "strength"),
        ("short binary", [b"\x01\x02"], 1003, "12-byte header"),
        ("not an image", [_frame(b"hello")], 1003, "not a readable image"),
        ("a PNG", [_frame(cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes())], 1003, "takes JPEG"),
        ("too many pixels", [_frame(cv2.imencode(".jpg", np.zeros((16, MAX_FRAME_SIDE + 8, 3), np.uint8))[1].tobytes())], 1003, "up to 1920 pixels"),
        ("over the size limit", [b"\0" * (MAX_MESSAGE_BYTES + 1)], 1009, ""),  # aiohttp closes it (Message Too Big); the page says so
    ],
)
def test_a_malformed_message_closes_that_client_with_its_reason_and_the_server_serves_on(studio: Server, case: str, send: list, code: int, reason: str) -> None:
    texts, close_code, why = _in_thread(_raw(studio.base, send))
    assert texts[0]["type"] == "hello"
    assert close_code == code, (case, texts)
    assert reason in why, (case, why)
    # (f) the next client is served
    ok, jpeg = cv2.imencode(".jpg", actor_frame(0.0))
    served = _in_thread(_one_frame(studio.base, jpeg.tobytes()))
    assert served.shape == (480, 640, 3)


async def _one_frame(base: str, jpeg: bytes) -> np.ndarray:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(base.replace("http", "ws", 1) + "ws") as ws:
            await ws.send_bytes(_frame(jpeg, 7))
            async for message in ws:
                if message.type == aiohttp.WSMsgType.BINARY:
                    frame_id, _, server_ms, view = REPLY_HEADER.unpack_from(message.data)
                    assert (frame_id, view) == (7, EDITED) and server_ms > 0
                    return cv2.imdecode(np.frombuffer(message.data[REPLY_HEADER.size :], np.uint8), cv2.IMREAD_COLOR)
    raise AssertionError("no frame came back")


def test_frames_sent_faster_than_the_model_edits_keep_only_the_newest_waiting(studio: Server) -> None:
    import aiohttp

    ok, jpeg = cv2.imencode(".jpg", actor_frame(0.25))

    async def burst() -> tuple[list[int], int]:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(studio.base.replace("http", "ws", 1) + "ws") as ws:
                for frame_id in range(1, 11):  # ten frames at once: one is edited, the newest waits, the rest are replaced
                    await ws.send_bytes(_frame(jpeg.tobytes(), frame_id))
                back: list[int] = []
                next_id = 11
                async for message in ws:
                    if message.type == aiohttp.WSMsgType.BINARY:
                        frame_id = REPLY_HEADER.unpack_from(message.data)[0]
                        back += [frame_id] if frame_id <= 10 else []
                        if back and back[-1] == 10:  # then one frame at a time (never replaced) until the stats come
                            await ws.send_bytes(_frame(jpeg.tobytes(), next_id))
                            next_id += 1
                    elif message.type == aiohttp.WSMsgType.TEXT and json.loads(message.data)["type"] == "stats" and back and back[-1] == 10:
                        return back, json.loads(message.data)["dropped"]
        raise AssertionError(f"the newest frame or the stats did not come back: {back}")

    back, dropped = _in_thread(burst())
    assert back == sorted(back) and back[-1] == 10 and len(back) < 10
    assert dropped == 10 - len(back)  # each frame not edited was replaced by a newer one, and counted

def test_a_client_gone_mid_frame_frees_its_state_and_an_idle_one_is_closed(studio: Server) -> None:
    import aiohttp

    ok, jpeg = cv2.imencode(".jpg", actor_frame(0.5))

    async def leave_mid_frame() -> None:
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(studio.base.replace("http", "ws", 1) + "ws")
            await ws.receive()  # hello
            await ws.send_bytes(_frame(jpeg.tobytes()))
            await ws.close()  # while the frame is being edited

    start = len(studio.child.lines)
    left = r"left \(0 connected\)"
    _in_thread(leave_mid_frame())
    studio.child.wait_for(left, count=1 + sum(bool(re.search(left, line)) for line in studio.child.lines[:start]), timeout=30)
    assert not any("Traceback" in line for line in studio.child.lines[start:])
    t0 = time.monotonic()
    texts, code, reason = _in_thread(_raw(studio.base, []))  # sends nothing
    assert code == 1001 and f"closed after {IDLE_SECONDS} s without a frame" in reason
    assert IDLE_SECONDS - 1 <= time.monotonic() - t0 <= IDLE_SECONDS + 20


def test_a_server_source_keeps_the_page_contract_shows_the_guard_and_stops_on_ctrl_c(browser, tmp_path: Path) -> None:  # noqa: ANN001
    """The server's own source (the moving astronaut photo): the page shows it edited, with the guard's
    warning (the SynthFaces model does not represent a real face); then Ctrl-C closes the page and exits 0."""
    starting = _start(tmp_path, "--source", "pattern", "--camera-size", "800x600")  # asked of the server's source, as `run`'s
    server = next(starting)
    try:
        page = _open(browser, server.url)
        assert page.is_hidden("#start")  # nothing to start: the frames are the server's
        stats = _received(page, 4)
        assert stats["rtt_p50_ms"] > 0 and _snapshot(page).shape == (600, 800, 3)
        page.wait_for_function("!document.querySelector('#guard').hidden")
        assert "does not represent this face" in page.inner_text("#guard")
        assert page.evaluate("document.querySelector('#before').width") == 800  # before | after: the source's own frame, drawn
        code, out = server.child.interrupt(timeout=30), "\n".join(server.child.lines)
        assert code == 0, out[-2000:]
        assert "studio stopped" in out and "Traceback" not in out
        page.wait_for_function("!document.querySelector('#message').hidden")
        assert "the studio was stopped" in page.inner_text("#message")
        page.context.close()
    finally:
        starting.close()


def test_camera_options_with_the_browsers_camera_are_refused_before_the_model_loads(cli) -> None:  # noqa: ANN001
    ran = cli("studio", "--camera-size", "1280x720")
    assert ran.code == 1 and "with --source browser the page's camera is used" in ran.err and len(ran.err.strip().splitlines()) == 1


def test_without_the_token_a_non_local_studio_answers_403(tls_studio: Server) -> None:
    # (g) every route, and the WebSocket, wants the token
    unverified = ssl._create_unverified_context()
    assert tls_studio.base.startswith("https://127.0.0.1:") and "?token=" in tls_studio.url
    for path in ("", "static/studio.js", "ws", "?token=wrong"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(tls_studio.base + path, context=unverified, timeout=30)
        assert refused.value.code == 403
    with urllib.request.urlopen(tls_studio.url, context=unverified, timeout=30) as page:
        assert page.status == 200 and b'id="edited"' in page.read()


@pytest.mark.parametrize(
    ("options", "token", "tls", "warned"),
    [
        ({}, None, False, False),  # the default: 127.0.0.1, nothing asked
        ({"host": "0.0.0.0"}, "generated", True, False),  # any other host: a token, and TLS for the browser's camera
        ({"host": "192.168.1.20", "source": "0"}, "generated", False, False),  # a server source needs no camera from the page
        ({"host": "0.0.0.0", "token": "mine"}, "mine", True, False),
        ({"host": "0.0.0.0", "tls": False}, "generated", False, True),  # told at start why a remote page gets no camera
        ({"require_token": True}, "generated", False, False),
        ({"tls_cert": Path("c.pem"), "tls_key": Path("k.pem")}, None, True, False),
    ],
)
def test_a_host_other_than_loopback_asks_for_a_token_and_tls(options: dict, token: str | None, tls: bool, warned: bool) -> None:
    """The rule the token-and-TLS server above stands in for (a test binds 127.0.0.1 only)."""
    from l2m_edge.runtime.studio.launch import StudioOptions, access

    rule = access(StudioOptions(**options))
    assert (rule.tls, rule.warning is not None) == (tls, warned)
    assert rule.token == token if token != "generated" else len(rule.token or "") >= 32

def test_over_its_own_tls_the_camera_path_works_as_on_localhost(tls_studio: Server, browser, reader) -> None:  # noqa: ANN001
    # (h) a self-signed certificate made on first use, its fingerprint printed; the browser told to accept it
    fingerprint = tls_studio.child.wait_for(r"SHA-256 fingerprint ([0-9A-F:]{95})", timeout=1).group(1)
    cert = tls_studio.child.wait_for(r"TLS certificate (\S+),", timeout=1).group(1)
    from l2m_edge.runtime.studio.security import fingerprint as fingerprint_of

    assert fingerprint_of(Path(cert)) == fingerprint
    assert Path(cert).with_name("key.pem").stat().st_mode & 0o077 == 0  # the private key is its owner's alone
    page = _open(browser, tls_studio.url, ignore_https_errors=True)
    assert page.evaluate("window.isSecureContext")
    page.click("#start")
    _received(page, 6)
    assert _reads(_snapshots(page), reader) == "smile"
    page.context.close()


def test_the_studio_modules_do_not_import_torch() -> None:
    """The device install runs the studio on an exported artifact: its own modules must not pull torch in."""
    code = "import sys, l2m_edge.cli.studio, l2m_edge.runtime.studio.launch, l2m_edge.runtime.studio.server, l2m_edge.runtime.studio.session; print('torch' in sys.modules)"
    import subprocess

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr
