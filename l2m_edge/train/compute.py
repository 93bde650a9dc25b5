"""Where and how a training step computes: device, precision, memory format, compiled graphs.

`--device auto` picks CUDA when present. On CUDA the defaults are bf16 autocast (where the GPU
has bf16) and channels_last; on the CPU fp32 and the default layout (measured in
benchmarks/train.md: this AVX2 CPU has no bf16 units, bf16 autocast only adds casts).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, ContextManager

import torch
from torch import nn

from l2m_edge.errors import ConfigError
from l2m_edge.model import Discriminator, Editor

DEVICES = ("auto", "cpu", "cuda", "cuda:N")
PRECISIONS = ("fp32", "bf16", "fp64")  # fp64: for verification, not for training (see `Compute`)


def _no_cuda_reason() -> str:
    if torch.version.cuda is None:
        return f"this torch ({torch.__version__}) is a CPU build"
    return "no CUDA device is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES)"


def resolve_device(spec: str, local_rank: int = 0, world_size: int = 1) -> torch.device:
    """The device of `--device SPEC` for this rank; under torchrun, `cuda` and `auto` mean cuda:LOCAL_RANK."""
    given = spec.strip().lower()
    if given == "cpu" or (given == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if given in ("auto", "cuda"):
        index = local_rank
    elif given.startswith("cuda:") and given[5:].isdigit():
        if world_size > 1:
            raise ConfigError(f"--device {given}: under torchrun each rank takes cuda:LOCAL_RANK; pass --device cuda "
                              "and choose the GPUs with CUDA_VISIBLE_DEVICES")
        index = int(given[5:])
    else:
        raise ConfigError(f"--device {spec}: unknown device; use one of {', '.join(DEVICES)}")
    if not torch.cuda.is_available():
        raise ConfigError(f"--device {given}: {_no_cuda_reason()}; use --device cpu (or auto)")
    if index >= torch.cuda.device_count():
        raise ConfigError(f"--device {given}: cuda:{index} does not exist, this machine has {torch.cuda.device_count()} CUDA "
                          "device(s); start at most that many ranks per node")
    return torch.device("cuda", index)


@dataclass(frozen=True)
class Compute:
    """A resolved device, precision, memory format and compile choice.

    fp64 exists to verify, not to train: a GAN step in fp32 is chaotic at the rounding level
    (two one-rank runs that differ only in their thread count part by 1e-2 within six steps of
    the tiny preset at lr 1e-3), so "2 ranks give the model of 1 rank" is only checkable where
    rounding is 1e-16. Lightning's precision="64-true" serves the same purpose.
    """

    device: torch.device
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False

    @classmethod
    def resolve(cls, device: torch.device, precision: str | None, channels_last: bool | None, compile: bool) -> Compute:
        """Fill the per-device defaults of what is None; refuse what this device cannot do."""
        cuda = device.type == "cuda"
        if precision is None:
            precision = "bf16" if cuda and torch.cuda.is_bf16_supported() else "fp32"
        if precision not in PRECISIONS:
            raise ConfigError(f"--precision {precision}: unknown; use one of {', '.join(PRECISIONS)}")
        if precision == "bf16" and cuda and not torch.cuda.is_bf16_supported():
            raise ConfigError(f"--precision bf16: {torch.cuda.get_device_name(device)} has no bf16; use --precision fp32")
        return cls(device, precision, cuda if channels_last is None else channels_last, compile)

    @property
    def dtype(self) -> torch.dtype:
        """Parameters and batches: fp32, or fp64; bf16 autocasts inside the network calls only."""
        return torch.float64 if self.precision == "fp64" else torch.float32

    def autocast(self) -> ContextManager:
        """bf16 autocast around network calls; losses and R1 are reduced outside it, in fp32."""
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def place(self, module: nn.Module) -> nn.Module:
        module.to(self.device, self.dtype)
        return module.to(memory_format=torch.channels_last) if self.channels_last else module

    def describe(self) -> str:
        name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "CPU"
        extras = [x for x, on in (("channels_last", self.channels_last), ("compiled", self.compile)) if on]
        return f"{self.device} ({name}), {self.precision}" + "".join(f", {x}" for x in extras)


@dataclass(frozen=True)
class Networks:
    """What the losses call. Eager modules, or compiled views that share their parameters.

    `disc_r1` stays eager: R1 differentiates D's gradient (a double backward), which compiled
    graphs do not support; the lazy-R1 steps use it, every other D call the compiled graph.
    """

    editor: Editor  # edit_code and the decomposer: a few tiny matmuls, always eager
    style: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    generator: Callable[..., torch.Tensor]  # (x, s[, masks])
    disc: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    disc_r1: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    autocast: Callable[[], ContextManager] = contextlib.nullcontext

    @classmethod
    def build(cls, editor: Editor, disc: Discriminator, compute: Compute) -> Networks:
        wrap: Callable[[nn.Module], Callable] = torch.compile if compute.compile else (lambda m: m)  # type: ignore[assignment]
        return cls(editor, wrap(editor.style_encoder), wrap(editor.generator), wrap(disc), disc, compute.autocast)
