"""What this machine has: package versions (which backends can run: `l2m_edge.backends.backend_status`)."""

from __future__ import annotations

import importlib.metadata
import importlib.util

# Import names of the `[train]` extra: the device install (pyproject's default) leaves them out.
TRAIN_MODULES = frozenset({"torch", "onnx", "onnxscript", "onnxslim", "nncf"})
TRAIN_EXTRA_HINT = (
    "which the device install leaves out (training, import, export, eval and .safetensors models run in PyTorch): "
    "pip install 'l2m-edge[train]' on a workstation, or give run/edit/verify an exported artifact"
)


def torch_installed() -> bool:
    """Whether torch can be imported here (a device install has none), found without importing it."""
    return importlib.util.find_spec("torch") is not None


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
