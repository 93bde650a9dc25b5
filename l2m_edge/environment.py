"""What this machine has: package versions and which inference backends can run."""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass

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


@dataclass(frozen=True)
class BackendStatus:
    name: str
    usable: bool
    detail: str


def _torch_status() -> BackendStatus:
    import torch

    if torch.cuda.is_available():
        return BackendStatus("torch", True, f"CUDA: {torch.cuda.get_device_name()}")
    return BackendStatus("torch", True, f"CPU, {torch.get_num_threads()} threads (no CUDA device)")


def _onnxruntime_status() -> BackendStatus:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        return BackendStatus("onnxruntime", False, f"not importable: {exc}")
    return BackendStatus("onnxruntime", True, "providers: " + ", ".join(ort.get_available_providers()))


def _openvino_status() -> BackendStatus:
    try:
        import openvino as ov
    except ImportError as exc:
        return BackendStatus("openvino", False, f"not importable: {exc}")
    core = ov.Core()
    return BackendStatus("openvino", True, "devices: " + ", ".join(core.available_devices))


def _tensorrt_status() -> BackendStatus:
    try:
        import tensorrt as trt  # noqa: F401
    except ImportError:
        return BackendStatus(
            "tensorrt", False, "tensorrt is not installed (NVIDIA ships it with JetPack / the CUDA toolkit; pip wheels need NVIDIA's index)"
        )
    try:
        import torch

        if not torch.cuda.is_available():
            return BackendStatus("tensorrt", False, f"tensorrt {trt.__version__} installed but no CUDA device")
    except ImportError:
        pass
    return BackendStatus("tensorrt", True, f"tensorrt {trt.__version__}")


def backend_status() -> list[BackendStatus]:
    return [_torch_status(), _onnxruntime_status(), _openvino_status(), _tensorrt_status()]
