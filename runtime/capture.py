"""How OpenCV opens a live source: a camera (index or /dev/videoN), a network stream, a GStreamer pipeline, a Jetson CSI camera.

Each `opener_for` result opens one `cv2.VideoCapture` per call, so the live source reconnects by
calling it again. Network streams go through OpenCV's FFmpeg backend with bounded open and read
timeouts (an unreachable camera fails in `connect_timeout_s`, a stalled one in `read_timeout_s`).
What the user asked of a camera (`CameraRequest`) is requested where it can be (V4L2 properties,
GStreamer caps); a network stream's size is the server's, so there it is only checked (`LiveSource`).
"""

from __future__ import annotations

import os
import re
from fractions import Fraction
from pathlib import Path
from typing import Callable

import cv2

from l2m_edge.errors import SourceError

from .source_options import CameraRequest, StreamOptions
from .source_uri import SourceURI, redact

CSI_DEFAULT_SIZE = (1280, 720)  # every Jetson CSI module (IMX219, IMX477) offers 1280×720 at 30 fps or more
CSI_DEFAULT_FPS = 30.0
NEWEST_ONLY_APPSINK = "appsink drop=true max-buffers=1 sync=false"  # GStreamer keeps the newest frame itself

Opener = Callable[[], cv2.VideoCapture]


def gstreamer_missing() -> str | None:
    """Why this OpenCV cannot run a GStreamer pipeline and how to get one that can, or None when it can."""
    info = cv2.getBuildInformation()
    if re.search(r"^\s*GStreamer:\s*YES", info, re.MULTILINE):
        return None
    return (
        f"this OpenCV ({cv2.__version__}) is built without GStreamer (cv2.getBuildInformation(): GStreamer NO; the pip wheels never have it): "
        "on a Jetson use JetPack's OpenCV (a venv made with --system-site-packages, see the Jetson bundle's setup.sh); "
        "elsewhere build OpenCV with -D WITH_GSTREAMER=ON, or open the camera as /dev/videoN or rtsp://"
    )


def csi_pipeline(sensor: int, request: CameraRequest) -> str:
    """Jetson's Argus camera pipeline for CSI sensor `sensor`, at the size and rate asked (default 1280×720 @ 30), delivering BGR."""
    width, height = request.size or CSI_DEFAULT_SIZE
    rate = Fraction(request.fps or CSI_DEFAULT_FPS).limit_denominator(1001)
    return (
        f"nvarguscamerasrc sensor-id={sensor} ! "
        f"video/x-raw(memory:NVMM),width={width},height={height},framerate={rate.numerator}/{rate.denominator},format=NV12 ! "
        "nvvidconv ! video/x-raw,format=BGRx ! videoconvert ! video/x-raw,format=BGR ! " + NEWEST_ONLY_APPSINK
    )


def with_appsink(pipeline: str) -> str:
    """A user's pipeline as OpenCV needs it: ending in an appsink (BGR, newest frame only) unless it names one itself."""
    if re.search(r"\bappsink\b", pipeline):
        return pipeline
    return f"{pipeline} ! videoconvert ! video/x-raw,format=BGR ! {NEWEST_ONLY_APPSINK}"


def opener_for(uri: SourceURI, request: CameraRequest, options: StreamOptions) -> tuple[Opener, str]:
    """A function opening the source (raising SourceError in one line when it cannot), and the source's description."""
    _quiet_readers()
    if uri.kind in ("csi", "gstreamer"):
        missing = gstreamer_missing()
        if missing:
            raise SourceError(f"{uri.target if uri.kind == 'gstreamer' else 'csi://' + uri.target}: {missing}")
        if uri.kind == "csi":
            pipeline, description = csi_pipeline(int(uri.target), request), f"CSI camera {uri.target}"
        else:
            pipeline, description = with_appsink(uri.target), f"GStreamer pipeline {uri.target}"
        return _opener(lambda: cv2.VideoCapture(pipeline, cv2.CAP_GSTREAMER), description, _gstreamer_hint(uri)), description
    if uri.kind == "network":
        return _network_opener(uri.target, options), redact(uri.target)
    if uri.kind == "device":
        description = f"camera {uri.target}"
        return _opener(lambda: _camera(uri.target, request), description, "no such device, or in use; list the cameras with `v4l2-ctl --list-devices`"), description
    description = f"camera {uri.target}"
    return _opener(lambda: _camera(int(uri.target), request), description, "no such device, or in use; try another index or a video file"), description


def _camera(device: int | str, request: CameraRequest) -> cv2.VideoCapture:
    """A V4L2 camera, asked for the requested size and rate before its first frame (a camera negotiates once)."""
    if isinstance(device, str) and not Path(device).exists():
        raise SourceError(f"camera {device}: no such device; list the cameras with `ls /dev/video*` or `v4l2-ctl --list-devices`")
    cap = cv2.VideoCapture(device, cv2.CAP_V4L2) if isinstance(device, str) else cv2.VideoCapture(device)
    if cap.isOpened() and request.size:
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, request.size[0])
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, request.size[1])
    if cap.isOpened() and request.fps:
        cap.set(cv2.CAP_PROP_FPS, request.fps)
    return cap


def _quiet_readers() -> None:
    """Silence OpenCV's and FFmpeg's own warnings (unless the user set their levels): they would break the one-line
    errors and repeat at every reconnect attempt, and the run reports failures and outages itself."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET; read when OpenCV first opens an FFmpeg capture
    if "OPENCV_LOG_LEVEL" not in os.environ:
        cv2.setLogLevel(min(cv2.getLogLevel(), 2))  # errors only


def _network_opener(url: str, options: StreamOptions) -> Opener:
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(1000 * options.connect_timeout_s), cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(1000 * options.read_timeout_s)]
    hint = (
        f"cannot connect within {options.connect_timeout_s:g} s (refused, unreachable, no stream at that path, or a format FFmpeg does not read); "
        "check the address, port, path and credentials (open it in ffplay or VLC), or raise --connect-timeout"
    )
    return _opener(lambda: cv2.VideoCapture(url, cv2.CAP_FFMPEG, params), redact(url), hint)


def _opener(open_capture: Opener, description: str, hint: str) -> Opener:
    def open_() -> cv2.VideoCapture:
        cap = open_capture()
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"{description} cannot be opened: {hint}")
        return cap

    return open_


def _gstreamer_hint(uri: SourceURI) -> str:
    if uri.kind == "csi":
        return "is the camera connected on that port, is nvargus-daemon running (sudo systemctl restart nvargus-daemon), and does the sensor offer this size and rate?"
    return "GStreamer refused the pipeline; try it with `gst-launch-1.0 … ! fakesink` and end it in an appsink delivering BGR"
