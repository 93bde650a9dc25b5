"""Studio soak: `l2m-edge studio` as a child process, many pages connecting, editing a few frames and leaving.

Each cycle is one page: it connects, reads the hello, sends real JPEG frames (the SynthFaces actor
at 640×480) one at a time and reads each edited frame back; every other page then leaves cleanly
(a WebSocket close), the others drop the connection mid-frame (the TCP socket shut down while a
frame is being edited, no close handshake). After the server logs the page's departure, its
resident memory, file descriptors and threads are sampled (bench/soak.py's `Sample`, judged by its
`judge`): a session's tracker, its stream state or a worker thread left behind shows as a trend.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from typing import Callable

import psutil

from l2m_edge.errors import BenchError

from .child import WatchedChild
from .soak import Sample, SoakRun, sample_process

STUDIO_START_S = 180.0  # the model loads and compiles before the URL is printed
CYCLE_TIMEOUT_S = 120.0  # one page's frames on a loaded 2-core machine


def start_studio(backend: str) -> WatchedChild:
    """`l2m-edge studio` on 127.0.0.1, any free port, in its own process group."""
    cmd = [sys.executable, "-m", "l2m_edge", "studio", "--host", "127.0.0.1", "--port", "0", "--backend", backend, "--idle-seconds", "60"]
    return WatchedChild(cmd, env=dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="400"))


def actor_jpegs(count: int) -> list[bytes]:
    """`count` frames of the SynthFaces actor clip at 640×480, JPEG-encoded as a page sends them."""
    import cv2

    from l2m_edge.runtime.clip import actor_frame

    return [cv2.imencode(".jpg", actor_frame(0.4 * i), [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes() for i in range(count)]


async def _page(ws_url: str, jpegs: list[bytes], drop: bool) -> int:
    """One page's visit; the edited frames it got back. `drop`: the last frame is sent and the socket shut mid-edit."""
    import aiohttp

    from l2m_edge.runtime.studio.protocol import EDITED, FRAME_HEADER, REPLY_HEADER

    edited = 0
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(ws_url)
        hello = await ws.receive_json()
        if hello.get("type") != "hello":
            raise BenchError(f"the studio's first message is not its hello: {hello}")
        for i, jpeg in enumerate(jpegs):
            await ws.send_bytes(FRAME_HEADER.pack(i, 1000.0 * time.perf_counter()) + jpeg)
            if drop and i == len(jpegs) - 1:
                sock = ws.get_extra_info("socket")
                sock.shutdown(socket.SHUT_RDWR)  # gone mid-frame: no close handshake
                return edited
            while True:
                message = await ws.receive()
                if message.type == aiohttp.WSMsgType.BINARY:
                    frame_id, _, _, view = REPLY_HEADER.unpack_from(message.data)
                    if (frame_id, view) != (i, EDITED) or len(message.data) <= REPLY_HEADER.size:
                        raise BenchError(f"frame {i} came back as frame {frame_id}, view {view}")
                    edited += 1
                    break
                if message.type != aiohttp.WSMsgType.TEXT:
                    raise BenchError(f"the studio closed the page on frame {i}: {message.type.name} {message.extra or ''}")
        await ws.close()
    return edited


def studio_soak(cycles: int, frames_per_cycle: int = 3, backend: str = "auto", on_sample: Callable[[Sample], None] | None = None) -> SoakRun:
    """`cycles` pages visiting a fresh studio, alternating clean closes and drops; the server sampled after each."""
    jpegs = actor_jpegs(frames_per_cycle)
    studio = start_studio(backend)
    try:
        url = studio.wait_for(r"studio ready: open (\S+)", timeout=STUDIO_START_S).group(1)
        described = studio.wait_for(r"^backend: ([^(]+)", timeout=1.0).group(1).strip()  # printed before the URL
        ws_url = url.replace("http", "ws", 1).split("?")[0] + "ws"
        process = psutil.Process(studio.pid)
        run = SoakRun(backend=described, seconds=0.0, faces_edited=None)
        t0 = time.perf_counter()
        for cycle in range(cycles):
            started = time.perf_counter()
            edited = asyncio.run(asyncio.wait_for(_page(ws_url, jpegs, drop=cycle % 2 == 1), CYCLE_TIMEOUT_S))
            studio.wait_for(r"left \(0 connected\)", count=cycle + 1, timeout=CYCLE_TIMEOUT_S)  # the session closed and its state freed
            now = time.perf_counter()
            run.frames_in += len(jpegs)
            run.frames_out += edited
            item = sample_process(process, now - t0, run.frames_out, edited / (now - started))
            run.samples.append(item)
            if on_sample is not None:
                on_sample(item)
        run.seconds = time.perf_counter() - t0
        run.warnings = [line for line in studio.lines if "Traceback" in line or "error" in line.lower()]
    finally:
        code = studio.interrupt(timeout=20.0)
    if code != 0:
        raise BenchError(f"the studio exited {code} on Ctrl-C:\n" + "\n".join(studio.lines[-20:]))
    return run
