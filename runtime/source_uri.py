"""What a `--source` string names: a camera, a stream, a GStreamer pipeline, a file, a folder or the test pattern.

Only parsing: nothing is opened here, so a typo is refused before any device or network is touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from l2m_edge.errors import SourceError

NETWORK_SCHEMES = ("rtsp", "rtsps", "http", "https")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

SOURCE_FORMS = "camera index, /dev/videoN, csi://N (Jetson), rtsp:// or http(s):// stream, GStreamer pipeline (… ! appsink), video file, image, folder of images, or `pattern`"

SourceKind = Literal["pattern", "camera", "device", "csi", "gstreamer", "network", "folder", "image", "video"]

_DEVICE = re.compile(r"/dev/video\d+")
_CSI = re.compile(r"csi://(\d+)")


@dataclass(frozen=True)
class SourceURI:
    kind: SourceKind
    target: str  # the URL, device path, pipeline or path as given; the camera or sensor number for `camera` / `csi`

    @property
    def live(self) -> bool:
        """A live source delivers frames whether or not they are taken; the rest are read frame by frame."""
        return self.kind in ("camera", "device", "csi", "gstreamer", "network")


def parse_source(spec: str) -> SourceURI:
    """What `spec` names (one of SOURCE_FORMS), refused in one line when it names nothing."""
    text = spec.strip()
    if text == "pattern":
        return SourceURI("pattern", text)
    if text.isdigit():
        return SourceURI("camera", text)
    if _DEVICE.fullmatch(text):
        return SourceURI("device", text)
    csi = _CSI.fullmatch(text)
    if csi:
        return SourceURI("csi", csi.group(1))
    scheme, sep, _ = text.partition("://")
    if sep:
        if scheme.lower() in NETWORK_SCHEMES:
            return SourceURI("network", text)
        raise SourceError(f"{text}: unknown source scheme {scheme}://; give a {SOURCE_FORMS}")
    if " ! " in text:
        return SourceURI("gstreamer", text)
    path = Path(text)
    if path.is_dir():
        return SourceURI("folder", text)
    if not path.exists():
        raise SourceError(f"{path}: no such file, folder or camera index")
    return SourceURI("image" if path.suffix.lower() in IMAGE_SUFFIXES else "video", text)


def redact(url: str) -> str:
    """The URL without its password (`rtsp://user:secret@cam/…` → `rtsp://user:***@cam/…`), for messages and reports."""
    return re.sub(r"(://[^/:@]+):[^/@]*@", r"\1:***@", url)
