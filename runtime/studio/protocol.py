"""The studio's wire format: binary frames with a small header, JSON control messages, and their limits.

Page → server, binary: `<I d` (frame id, capture time in the page's ms clock) then a JPEG; with a
server source the JPEG is empty (a request for the source's newest frame). Server → page, binary:
`<I d f B` (the id and capture time echoed, the server's ms on the frame, the view: 0 edited, 1 the
server source's frame before the edit, sent while the page asks to compare) then the JPEG.
Text messages are JSON objects with a `type`. Anything else is malformed: the client is closed
with the reason, the server keeps serving.
"""

from __future__ import annotations

import io
import json
import math
import struct
from dataclasses import dataclass

from PIL import Image

from l2m_edge.errors import L2MError

FRAME_HEADER = struct.Struct("<Id")  # frame id, capture time (ms, the page's clock)
REPLY_HEADER = struct.Struct("<IdfB")  # frame id, capture time, server ms on the frame, view
EDITED, BEFORE = 0, 1  # the views a reply carries
MAX_MESSAGE_BYTES = 4 << 20  # one JPEG frame: 1080p at high quality is ~0.5 MB
MAX_TEXT_BYTES = 4096
MAX_FRAME_SIDE = 1920  # the larger side of a frame; larger frames are refused, not resized
MAX_FRAME_PIXELS = 1920 * 1080
FACES = ("all", "largest")


class StudioError(L2MError):
    """The studio cannot start (bad host, token, certificate) or a client broke the protocol."""


class ProtocolError(StudioError):
    """A malformed message from one client: it is closed with this reason."""


@dataclass(frozen=True)
class FrameMessage:
    frame_id: int
    captured_ms: float
    jpeg: bytes  # empty: a request for the server source's newest frame


def parse_frame(data: bytes) -> FrameMessage:
    if len(data) < FRAME_HEADER.size:
        raise ProtocolError(f"a binary message is a {FRAME_HEADER.size}-byte header (frame id, capture time) and a JPEG; got {len(data)} bytes")
    frame_id, captured = FRAME_HEADER.unpack_from(data)
    if not math.isfinite(captured):
        raise ProtocolError("the frame's capture time is not a finite number")
    return FrameMessage(frame_id, captured, bytes(data[FRAME_HEADER.size :]))


def check_jpeg(jpeg: bytes) -> tuple[int, int]:
    """(width, height) read from the header only, so a decompression bomb is refused before it is decoded."""
    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            kind, (width, height) = image.format, image.size
    except Exception as exc:  # PIL raises several types for bytes that are no image
        raise ProtocolError(f"the frame is not a readable image ({type(exc).__name__})") from None
    if kind != "JPEG":
        raise ProtocolError(f"the frame is a {kind}, the studio takes JPEG frames")
    if max(width, height) > MAX_FRAME_SIDE or width * height > MAX_FRAME_PIXELS:
        raise ProtocolError(f"the frame is {width}×{height}; the studio takes frames up to {MAX_FRAME_SIDE} pixels a side and {MAX_FRAME_PIXELS} pixels")
    return width, height


def pack_reply(frame_id: int, captured_ms: float, server_ms: float, jpeg: bytes, view: int = EDITED) -> bytes:
    return REPLY_HEADER.pack(frame_id, captured_ms, server_ms, view) + jpeg


@dataclass(frozen=True)
class ControlsMessage:
    """A page's controls; fields it did not send are None (left as they are)."""

    target: int | None = None
    strength: float | None = None
    edit: bool | None = None
    faces: str | None = None  # all | largest
    compare: bool | None = None  # a server source's frame before the edit is sent too


def parse_text(text: str, num_domains: int, strength_range: tuple[float, float]) -> ControlsMessage:
    """A `controls` message, checked; anything else raises ProtocolError."""
    if len(text.encode()) > MAX_TEXT_BYTES:
        raise ProtocolError(f"a text message is at most {MAX_TEXT_BYTES} bytes")
    try:
        message = json.loads(text)
    except ValueError:
        raise ProtocolError("a text message is not JSON") from None
    if not isinstance(message, dict) or message.get("type") != "controls":
        raise ProtocolError('a text message is a JSON object with "type": "controls"')
    unknown = set(message) - {"type", "target", "strength", "edit", "faces", "compare"}
    if unknown:
        raise ProtocolError(f"unknown controls {sorted(unknown)}; the studio knows target, strength, edit, faces, compare")
    target, strength, edit, faces, compare = (message.get(k) for k in ("target", "strength", "edit", "faces", "compare"))
    if target is not None and (isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < num_domains):
        raise ProtocolError(f"target {target!r}: give a domain index 0–{num_domains - 1}")
    low, high = strength_range
    if strength is not None and (isinstance(strength, bool) or not isinstance(strength, (int, float)) or not low <= strength <= high):
        raise ProtocolError(f"strength {strength!r}: give a number in [{low:g}, {high:g}]")
    for name, flag in (("edit", edit), ("compare", compare)):
        if flag is not None and not isinstance(flag, bool):
            raise ProtocolError(f"{name} {flag!r}: give true or false")
    if faces is not None and faces not in FACES:
        raise ProtocolError(f"faces {faces!r}: give one of {', '.join(FACES)}")
    return ControlsMessage(target, None if strength is None else float(strength), edit, faces, compare)
