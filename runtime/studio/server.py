"""The studio's server: aiohttp serves the page and one WebSocket per client.

Each client gets a `ClientSession` (its own tracker, fades, readings and controls); the model is
loaded once and shared. The page sends JPEG frames (or, with a server source, requests), at most
two in flight; the newest waiting frame wins. A malformed message, an idle client or one over
`max_clients` is closed with a reason the page shows; the server keeps serving the others.
Ctrl-C (or SIGTERM) closes every client and stops.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from typing import Callable

from aiohttp import WSCloseCode, WSMsgType, web

from ..backends import describe
from ..defaults import STUDIO_HOST, STUDIO_IDLE_SECONDS, STUDIO_MAX_CLIENTS, STUDIO_PORT
from ..stages import EditModel, Job
from .protocol import MAX_MESSAGE_BYTES, FrameMessage, ProtocolError, StudioError, parse_frame, parse_text
from .session import JPEG_QUALITY, ClientSession, SourceFeed

MAX_IN_FLIGHT = 2  # frames a page may have sent and not had back: one being edited, one waiting
STRENGTH_RANGE = (0.0, 2.0)  # the slider: 0 reconstructs, 1 is the trained edit, beyond exaggerates
STATS_SECONDS = 1.0
COOKIE = "l2m_studio_token"
STATIC = {"index.html": "text/html", "studio.js": "text/javascript", "studio.css": "text/css"}
CLOSE_REASON_BYTES = 120  # a WebSocket close reason is at most 123 bytes


@dataclass(frozen=True)
class StudioConfig:
    host: str = STUDIO_HOST
    port: int = STUDIO_PORT
    token: str | None = None  # required on every request when set
    max_clients: int = STUDIO_MAX_CLIENTS
    idle_seconds: float = STUDIO_IDLE_SECONDS
    tls: ssl.SSLContext | None = None
    quality: int = JPEG_QUALITY


def started_pool(workers: int, name: str) -> ThreadPoolExecutor:
    """A thread pool whose threads all run from now on. ThreadPoolExecutor starts one lazily whenever no idle
    one is free, so a server's thread count would creep up over its first dozens of visits; started at
    once, it is constant, and a soak can tell a leaked thread from the pool growing."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    everyone_running = threading.Barrier(workers)
    for started in [pool.submit(everyone_running.wait, 30.0) for _ in range(workers)]:
        started.result()
    return pool


def _static(name: str) -> bytes:
    return (resources.files("l2m_edge.runtime.studio") / "static" / name).read_bytes()


class Studio:
    def __init__(self, model: EditModel, config: StudioConfig, feed: SourceFeed | None = None, log: Callable[[str], None] = print) -> None:
        self.model, self.config, self.feed, self.log = model, config, feed, log
        self.clients: set[web.WebSocketResponse] = set()
        self.pool = started_pool(2 * config.max_clients + 1, "studio")
        # The model runs on one thread of its own: the backends' native thread pools (OpenMP's team, TBB's arena)
        # belong to the thread that calls them, so inference from any worker would grow a team per worker.
        self.model_thread = started_pool(1, "studio-model")

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._token_check], client_max_size=MAX_MESSAGE_BYTES)
        app.router.add_get("/", self._page)
        app.router.add_get("/static/{name}", self._asset)
        app.router.add_get("/ws", self._websocket)
        app.on_shutdown.append(self._close_all)
        return app

    # -- HTTP -------------------------------------------------------------------------------------
    @web.middleware
    async def _token_check(self, request: web.Request, handler):  # noqa: ANN001, ANN202
        token = self.config.token
        if token is not None:
            given = request.query.get("token") or request.cookies.get(COOKIE) or ""
            if not secrets.compare_digest(given.encode(), token.encode()):
                return web.Response(status=403, text="403 Forbidden: this studio needs its token; open the URL `l2m-edge studio` printed (it ends in ?token=…)\n")
        response = await handler(request)
        if token is not None and request.query.get("token") and not isinstance(response, web.WebSocketResponse):
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=self.config.tls is not None)
        return response

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(body=_static("index.html"), content_type="text/html", headers={"Cache-Control": "no-store"})

    async def _asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound()
        return web.Response(body=_static(name), content_type=STATIC[name], headers={"Cache-Control": "no-store"})

    # -- WebSocket --------------------------------------------------------------------------------
    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        # No permessage-deflate: JPEG frames barely deflate, and aiohttp sends a compressed frame from a shielded
        # task whose error, when the page has gone meanwhile, nobody retrieves (a traceback at every Ctrl-C).
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=30.0, compress=False)
        await ws.prepare(request)
        if len(self.clients) >= self.config.max_clients:
            await self._refuse(ws, f"the studio is full: it serves {self.config.max_clients} clients at a time (--max-clients); close another studio page and reload", WSCloseCode.TRY_AGAIN_LATER)
            return ws
        self.clients.add(ws)
        loop = asyncio.get_running_loop()
        peer = request.remote or "?"
        session: ClientSession | None = None
        worker: asyncio.Task | None = None
        try:
            session = await loop.run_in_executor(self.pool, ClientSession, self.model, self.model_thread, self.feed, self.config.quality)
            await ws.send_json(self._hello(session))
            worker = asyncio.create_task(self._work(ws, session))
            self.log(f"client {peer} connected ({len(self.clients)} of {self.config.max_clients})")
            await self._receive(ws, session)
        finally:
            if worker is not None:
                worker.cancel()
                await asyncio.gather(worker, return_exceptions=True)
            self.clients.discard(ws)
            if session is not None:
                await loop.run_in_executor(self.pool, session.close)  # after the worker: its frame is done
            self.log(f"client {peer} left ({len(self.clients)} connected)")
        return ws

    async def _receive(self, ws: web.WebSocketResponse, session: ClientSession) -> None:
        info = self.model.backend.info
        while not ws.closed:
            try:
                message = await ws.receive(timeout=self.config.idle_seconds)
            except asyncio.TimeoutError:
                await self._refuse(ws, f"closed after {self.config.idle_seconds:g} s without a frame or control; reload the page to start again", WSCloseCode.GOING_AWAY)
                return
            try:
                if message.type == WSMsgType.BINARY:
                    replaced = session.offer(parse_frame(message.data))
                    if replaced is not None:
                        await ws.send_json({"type": "dropped", "id": replaced})
                elif message.type == WSMsgType.TEXT:
                    session.apply(parse_text(message.data, len(info.domains), STRENGTH_RANGE))
                else:  # closed by the page, or by aiohttp for a message over the size limit (1009) or a broken frame (1002)
                    return
            except ProtocolError as exc:
                await self._refuse(ws, f"closed: {exc}", WSCloseCode.UNSUPPORTED_DATA)
                return

    async def _work(self, ws: web.WebSocketResponse, session: ClientSession) -> None:
        """Frames in order, two steps deep: the next frame is tracked while the one before is edited and sent."""
        loop = asyncio.get_running_loop()
        editing: asyncio.Task | None = None
        try:
            while not ws.closed:
                message = await session.next()
                job = await loop.run_in_executor(self.pool, session.prepare, message)
                if editing is not None and not await editing:
                    return
                if job is None:
                    editing = None
                    if not await self._no_new_frame(ws, message):
                        return
                    continue
                editing = asyncio.create_task(self._finish(ws, session, message, job))
            if editing is not None:
                await editing
        except ProtocolError as exc:
            await self._refuse(ws, f"closed: {exc}", WSCloseCode.UNSUPPORTED_DATA)
        except Exception as exc:  # this client's frame broke the edit: it goes, the others stay
            self.log(f"client closed after an error: {type(exc).__name__}: {exc}")
            await self._refuse(ws, f"the server failed on a frame: {type(exc).__name__}", WSCloseCode.INTERNAL_ERROR)
        finally:
            if editing is not None:
                editing.cancel()
                await asyncio.gather(editing, return_exceptions=True)

    async def _finish(self, ws: web.WebSocketResponse, session: ClientSession, message: FrameMessage, job: Job) -> bool:
        """Edit, send, and now and then the stats; False once the page is gone."""
        replies = await asyncio.get_running_loop().run_in_executor(self.pool, session.finish, message, job)
        if ws.closed:
            return False
        for reply in replies:
            await ws.send_bytes(reply)
        if time.monotonic() - session.stats_sent >= STATS_SECONDS:
            session.stats_sent = time.monotonic()
            await ws.send_json(session.stats())
        return True

    async def _no_new_frame(self, ws: web.WebSocketResponse, message: FrameMessage) -> bool:
        """The server's source gave nothing new: the page's request is dropped, or the page told it ended."""
        if self.feed is not None and self.feed.ended:
            await self._refuse(ws, self.feed.ended, WSCloseCode.GOING_AWAY)
            return False
        await ws.send_json({"type": "dropped", "id": message.frame_id})
        return True

    async def _refuse(self, ws: web.WebSocketResponse, reason: str, code: int) -> None:
        """Tell the page why (it shows the whole sentence), then close with a short reason."""
        if not ws.closed:
            try:
                await ws.send_json({"type": "error", "reason": reason})
            except ConnectionError:
                pass
            await ws.close(code=code, message=reason.encode()[:CLOSE_REASON_BYTES])

    async def _close_all(self, app: web.Application) -> None:
        for ws in list(self.clients):
            await self._refuse(ws, "the studio was stopped", WSCloseCode.GOING_AWAY)

    def _hello(self, session: ClientSession) -> dict:
        info = self.model.backend.info
        controls = session.controls
        return {
            "type": "hello",
            "source": "browser" if self.feed is None else "server",
            "source_description": None if self.feed is None else self.feed.source.description,
            "attribute": info.attribute,
            "domains": list(info.domains),
            "target": controls.target,
            "strength": controls.strength,
            "strength_range": list(STRENGTH_RANGE),
            "max_in_flight": MAX_IN_FLIGHT,
            "max_message_bytes": MAX_MESSAGE_BYTES,
            "backend": describe(self.model.backend),
            "source_rule": self.model.source_rule,
        }

    # -- running ----------------------------------------------------------------------------------
    async def serve(self, ready: Callable[[str], None]) -> None:
        """Serve until SIGINT/SIGTERM; `ready` gets the base URL once the socket listens (port 0: the port chosen)."""
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False, shutdown_timeout=5.0)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port, ssl_context=self.config.tls)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            try:
                await site.start()
            except OSError as exc:
                raise StudioError(f"cannot listen on {self.config.host}:{self.config.port}: {exc.strerror or exc}; pick another --host or --port (0: any free port)") from None
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            scheme = "https" if self.config.tls is not None else "http"
            host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
            ready(f"{scheme}://{host}:{port}/")
            await stop.wait()
        finally:
            await runner.cleanup()
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.model_thread.shutdown(wait=True, cancel_futures=True)
            if self.feed is not None:
                self.feed.close()


def run_studio(model: EditModel, config: StudioConfig, feed: SourceFeed | None, ready: Callable[[str], None], log: Callable[[str], None]) -> None:
    """Serve the studio until Ctrl-C (a second Ctrl-C while it stops changes nothing: no traceback from the interpreter's exit)."""
    asyncio.run(Studio(model, config, feed, log).serve(ready))
    signal.signal(signal.SIGINT, signal.SIG_IGN)


__all__ = ["MAX_IN_FLIGHT", "STRENGTH_RANGE", "Studio", "StudioConfig", "run_studio"]
