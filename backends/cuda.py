"""CUDA without torch: the device count from the driver, and device buffers for a TensorRT engine.

A device install has no PyTorch (and on a Jetson, PyPI's torch is not NVIDIA's CUDA build), so
whether a CUDA device exists is asked of the driver every CUDA runtime uses (`libcuda.so.1`,
`cuDeviceGetCount`), and the TensorRT backend's buffers and stream come from the CUDA runtime
library (`libcudart`, shipped with JetPack and the CUDA toolkit) through ctypes: no extra package.
Not run here (no CUDA on this project's machines): where the libraries are missing the count is 0
and buffers are one-line errors.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import numpy as np

from l2m_edge.errors import BackendUnavailable

_CUDART_NAMES = ("libcudart.so", "libcudart.so.12", "libcudart.so.11.0")
_HOST_TO_DEVICE, _DEVICE_TO_HOST = 1, 2  # cudaMemcpyKind


@functools.cache
def cuda_device_count() -> int:
    """CUDA devices the driver reports; 0 without a driver or a device."""
    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0
    count = ctypes.c_int(0)
    if driver.cuInit(0) != 0 or driver.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0
    return count.value


@functools.cache
def _cudart() -> ctypes.CDLL:
    for name in (*_CUDART_NAMES, ctypes.util.find_library("cudart")):
        if name:
            try:
                return ctypes.CDLL(name)
            except OSError:
                continue
    raise BackendUnavailable("the CUDA runtime library (libcudart) is not on the loader path; on a Jetson it comes with JetPack (/usr/local/cuda/lib64)")


def _check(status: int, what: str) -> None:
    if status != 0:
        message = _cudart().cudaGetErrorString
        message.restype = ctypes.c_char_p
        raise BackendUnavailable(f"CUDA {what} failed: {message(status).decode()}")


class DeviceBuffer:
    """One allocation on the current CUDA device (`address` for TensorRT's `set_tensor_address`)."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes
        pointer = ctypes.c_void_p()
        _check(_cudart().cudaMalloc(ctypes.byref(pointer), ctypes.c_size_t(max(nbytes, 1))), f"cudaMalloc of {nbytes} bytes")
        self.address = pointer.value or 0

    def upload(self, array: np.ndarray, stream: "Stream") -> None:
        array = np.ascontiguousarray(array)
        _check(_cudart().cudaMemcpyAsync(ctypes.c_void_p(self.address), array.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(array.nbytes), _HOST_TO_DEVICE, stream.handle), "upload")
        stream.synchronize()  # `array` may be a temporary: the copy finishes before it goes

    def download(self, out: np.ndarray, stream: "Stream") -> np.ndarray:
        _check(_cudart().cudaMemcpyAsync(out.ctypes.data_as(ctypes.c_void_p), ctypes.c_void_p(self.address), ctypes.c_size_t(out.nbytes), _DEVICE_TO_HOST, stream.handle), "download")
        stream.synchronize()
        return out

    def free(self) -> None:
        if self.address:
            _cudart().cudaFree(ctypes.c_void_p(self.address))
            self.address = 0


class Stream:
    """A CUDA stream (`handle` for TensorRT's `execute_async_v3`)."""

    def __init__(self, device: int = 0) -> None:
        _check(_cudart().cudaSetDevice(device), f"cudaSetDevice({device})")
        handle = ctypes.c_void_p()
        _check(_cudart().cudaStreamCreate(ctypes.byref(handle)), "cudaStreamCreate")
        self.handle = handle

    @property
    def address(self) -> int:
        return self.handle.value or 0

    def synchronize(self) -> None:
        _check(_cudart().cudaStreamSynchronize(self.handle), "cudaStreamSynchronize")
