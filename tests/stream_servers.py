"""Real local streams for the network-source tests, bound to 127.0.0.1 only: an MJPEG server (http.server in a
thread) and FFmpeg serving a clip over HTTP as MPEG-TS. Frames carry their number in a band of black and white
blocks above the face, so a test reads back which frames came through (the band survives JPEG and MPEG coding)."""

from __future__ import annotations

import http.server
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import psutil
import pytest

from runtime_helpers import astronaut_bgr, kill_group, start_group

NEEDS_FFMPEG = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs FFmpeg's command line to serve a stream: apt-get install -y ffmpeg (Debian package ffmpeg)")

BITS, BLOCK = 8, 16  # frame numbers 0–255, one 16-px block per bit along the top edge


def numbered_frames(first: int, count: int, size: int = 320) -> list[np.ndarray]:
    """The astronaut (a real face, ~70 px wide) at `size`×`size`, frame k stamped with the number `first + k`."""
    base = cv2.resize(astronaut_bgr(), (size, size), interpolation=cv2.INTER_AREA)
    frames = []
    for number in range(first, first + count):
        frame = base.copy()
        frame[:BLOCK] = 0
        for bit in range(BITS):
            if number >> bit & 1:
                frame[:BLOCK, bit * BLOCK:(bit + 1) * BLOCK] = 255
        frames.append(frame)
    return frames


def frame_number(image: np.ndarray) -> int:
    return sum(1 << bit for bit in range(BITS) if image[BLOCK // 2, bit * BLOCK + BLOCK // 2].mean() > 128)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _LoopbackServer:
    """What the test servers share: their open connections, and `stop()` (also on leaving a `with`), which closes the
    listening socket and cuts every connection, as a camera that loses power or network does."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._connections: list[socket.socket] = []

    def _close_listener(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stop.set()
        self._close_listener()
        for connection in self._connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self):  # noqa: ANN204 - the subclass itself
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class MjpegServer(_LoopbackServer):
    """`http(s)://127.0.0.1:PORT/stream.mjpg`: multipart/x-mixed-replace JPEGs, as IP cameras and ESP32-CAMs serve them.

    Each client gets `frames` at `fps` (0: as fast as it takes them), then the connection is held open
    without sending until `stop()`, which closes the listening socket and every connection: the stream dies.
    """

    def __init__(self, frames: list[np.ndarray], fps: float = 0, port: int = 0, tls: tuple[Path, Path] | None = None) -> None:
        self.jpegs = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes() for f in frames]
        super().__init__()
        self.fps = fps
        self.sent = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server._connections.append(self.connection)
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    self.wfile.write(b"--frame\r\n")
                    for jpeg in server.jpegs:  # each part ends with the next boundary, so a reader need not wait for the next frame
                        self.wfile.write(b"Content-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n--frame\r\n" % (len(jpeg), jpeg))
                        self.wfile.flush()
                        server.sent += 1
                        if server.fps:
                            time.sleep(1 / server.fps)
                    server._stop.wait()
                except OSError:
                    pass  # stop() closed the connection under the write

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        if tls is not None:  # (certificate, key): https://
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self.port = self._httpd.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/stream.mjpg"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="mjpeg server", daemon=True)
        self._thread.start()

    def _close_listener(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 (openssl), as a camera's own self-signed one."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


def mpegts_clip(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """The frames as an MPEG-2 video in MPEG-TS (what IP cameras and encoders stream over HTTP), written by FFmpeg.

    Every frame is a key frame: a looped clip then never shows a frame predicted from the other end of the loop.
    """
    avi = path.with_suffix(".avi")
    writer = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), fps, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(avi), "-c:v", "mpeg2video", "-q:v", "3", "-g", "1", "-f", "mpegts", str(path)],
                   check=True, timeout=60)
    return path


def serve_over_http(clip: Path, port: int, loop: bool = False) -> subprocess.Popen[bytes]:
    """FFmpeg serving `clip` at its own pace (`loop`: over and over) to the first client of `http://127.0.0.1:PORT/live.ts`
    (it exits when the clip ends), given once it listens: FFmpeg takes seconds to start on a loaded machine."""
    repeat = ["-stream_loop", "-1"] if loop else []
    proc = start_group(["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", *repeat, "-i", str(clip), "-c", "copy",
                        "-f", "mpegts", "-listen", "1", f"http://127.0.0.1:{port}/live.ts"])
    deadline = time.monotonic() + 60
    while not any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in psutil.Process(proc.pid).net_connections()):
        if proc.poll() is not None or time.monotonic() > deadline:  # a test connecting would use up its one client
            kill_group(proc)
            raise RuntimeError(f"ffmpeg did not listen on port {port}: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.05)
    return proc


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    kill_group(proc)


class RtspServer(_LoopbackServer):
    """`rtsp://127.0.0.1:PORT/live`: an RTSP server (RFC 2326) streaming an MPEG-TS clip in a loop as RTP (MP2T, RFC 2250)
    interleaved on the RTSP connection, at the clip's pace — the protocol IP cameras speak, reduced to one track.

    FFmpeg's own RTSP listener (`-rtsp_flags listen`) only receives a stream someone publishes to it and cannot serve
    a player such as OpenCV's reader, so the server is written here. RTP over UDP is refused (461 Unsupported
    Transport), as cameras behind NAT do; FFmpeg's client then retries over TCP by itself.
    """

    CHUNK = 7 * 188  # TS packets per RTP packet, the usual 1316 bytes

    def __init__(self, clip: Path, seconds: float) -> None:
        data = clip.read_bytes()
        self.chunks = [data[i:i + self.CHUNK] for i in range(0, len(data), self.CHUNK)]
        self.interval = seconds / len(self.chunks)
        super().__init__()
        self.sessions = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"rtsp://127.0.0.1:{self.port}/live"
        threading.Thread(target=self._accept, name="rtsp server", daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), name="rtsp session", daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        reader = connection.makefile("rb")
        lock = threading.Lock()
        try:
            while not self._stop.is_set():
                first = reader.read(1)
                if not first:
                    return
                if first == b"$":  # interleaved RTCP from the client: skip it
                    header = reader.read(3)
                    reader.read(int.from_bytes(header[1:], "big"))
                    continue
                lines = [(first + reader.readline()).decode().strip()]
                while lines[-1]:
                    lines.append(reader.readline().decode().strip())
                method, url = lines[0].split()[:2]
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:-1])}
                cseq = headers.get("cseq", "0")
                if method == "DESCRIBE":
                    sdp = ("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=l2m-edge test\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                           "m=video 0 RTP/AVP 33\r\na=rtpmap:33 MP2T/90000\r\na=control:track0\r\n")
                    reply = f"Content-Base: {url}/\r\nContent-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}"
                    self._reply(connection, lock, 200, cseq, reply)
                elif method == "SETUP" and "TCP" not in headers.get("transport", ""):
                    self._reply(connection, lock, 461, cseq, "\r\n")
                elif method == "SETUP":
                    self._reply(connection, lock, 200, cseq, "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nSession: 1\r\n\r\n")
                elif method == "PLAY":
                    self._reply(connection, lock, 200, cseq, "Session: 1\r\n\r\n")
                    self.sessions += 1
                    threading.Thread(target=self._play, args=(connection, lock), name="rtp", daemon=True).start()
                elif method == "TEARDOWN":
                    self._reply(connection, lock, 200, cseq, "Session: 1\r\n\r\n")
                    return
                else:  # OPTIONS, GET_PARAMETER (keep-alive)
                    self._reply(connection, lock, 200, cseq, "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER\r\n\r\n")
        except OSError:
            pass
        finally:
            connection.close()

    @staticmethod
    def _reply(connection: socket.socket, lock: threading.Lock, status: int, cseq: str, rest: str) -> None:
        reason = {200: "OK", 461: "Unsupported Transport"}[status]
        with lock:
            connection.sendall(f"RTSP/1.0 {status} {reason}\r\nCSeq: {cseq}\r\n{rest}".encode())

    def _play(self, connection: socket.socket, lock: threading.Lock) -> None:
        started, sequence = time.monotonic(), 0
        try:
            while not self._stop.is_set():
                for chunk in self.chunks:
                    due = started + sequence * self.interval
                    time.sleep(max(0.0, due - time.monotonic()))
                    rtp = bytes([0x80, 33]) + (sequence & 0xFFFF).to_bytes(2, "big") + int(90000 * sequence * self.interval).to_bytes(4, "big") + b"l2me" + chunk
                    with lock:
                        connection.sendall(b"$\x00" + len(rtp).to_bytes(2, "big") + rtp)
                    sequence += 1
        except OSError:
            pass

    def _close_listener(self) -> None:
        self._listener.close()
