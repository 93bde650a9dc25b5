"""What this machine has: package versions (which backends can run: `l2m_edge.backends.backend_status`)."""

from __future__ import annotations

import importlib.metadata

PACKAGES = ("l2m-edge", "torch", "triton", "onnx", "onnxruntime", "openvino", "nncf", "tensorrt", "mediapipe", "opencv-contrib-python", "numpy")


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution, None where it is missing."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions
