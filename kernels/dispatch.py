"""Choose between a Triton kernel and its PyTorch reference."""

from __future__ import annotations

import functools
import importlib.util
import os

import torch

from l2m_edge.errors import KernelError

ENV_VAR = "L2M_EDGE_KERNELS"
_CHOICES = ("auto", "triton", "reference")


def requested_impl(impl: str = "auto") -> str:
    """The implementation asked for: an explicit argument wins over the environment."""
    if impl not in _CHOICES:
        raise KernelError(f"unknown kernel impl {impl!r}; choose one of {', '.join(_CHOICES)}")
    if impl != "auto":
        return impl
    env = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if env not in _CHOICES:
        raise KernelError(f"{ENV_VAR}={env!r} is not valid; use one of {', '.join(_CHOICES)}")
    return env


@functools.cache
def triton_available() -> bool:
    """Whether triton is installed; cached, since a spec lookup costs ~25 µs and runs per layer call."""
    return importlib.util.find_spec("triton") is not None


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def _exporting() -> bool:
    return torch.onnx.is_in_onnx_export() or torch.jit.is_tracing() or torch.compiler.is_compiling()


def active_impl(impl: str, *tensors: torch.Tensor) -> str:
    """'triton' or 'reference' for a call on these tensors.

    Exported graphs always get the reference: ONNX/OpenVINO/TensorRT fuse it themselves.
    Autograd also gets the reference, even when Triton is forced: the kernels are forward-only,
    and training under L2M_EDGE_KERNELS=triton must still get gradients.
    """
    want = requested_impl(impl)
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
    if want == "reference" or _exporting() or needs_grad:
        return "reference"
    on_cuda = all(t.is_cuda for t in tensors)
    usable = triton_available() and on_cuda
    if want == "triton":
        if not triton_available():
            raise KernelError("L2M_EDGE_KERNELS=triton but triton is not installed: pip install 'l2m-edge[triton]'")
        if not (on_cuda or _interpreting()):
            raise KernelError("Triton kernels need CUDA tensors (or TRITON_INTERPRET=1 on the CPU)")
        return "triton"
    return "triton" if usable else "reference"


def describe_kernels() -> str:
    """One line for `l2m-edge info`: which implementation runs and why."""
    want = requested_impl("auto")
    if want == "reference":
        return f"reference (PyTorch): {ENV_VAR}=reference"
    if not triton_available():
        return "reference (PyTorch): triton is not installed"
    if not torch.cuda.is_available():
        if want == "triton" and _interpreting():
            return "triton (interpreter, TRITON_INTERPRET=1): forced by L2M_EDGE_KERNELS=triton"
        return "reference (PyTorch): no CUDA device; Triton kernels run on CUDA tensors only"
    return f"triton on {torch.cuda.get_device_name()} (reference inside exported graphs and autograd)"
