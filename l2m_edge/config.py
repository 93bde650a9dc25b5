"""Model presets: frozen configs in one registry (timm's `register_model` habit).

Every preset goes through the same code path; a preset only changes sizes.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, Callable

from .errors import ConfigError
from .limits import check_dimensions


MASK_CHANNELS = 2  # w_hpf masks [N, 2, H, W]: channel 0 face features + jaw (32²), 1 eyes + nose (64², 128²); torch-free, so the CLI can import the contract

@dataclass(frozen=True)
class ModelConfig:
    """Sizes of one L2M-GAN on a StarGAN v2 backbone.

    `dim_in` is the first conv width of the generator, style encoder and discriminator;
    widths double per down-sampling up to `max_conv_dim` (StarGAN v2 uses 2**14 // img_size,
    i.e. 64 at 256²).
    """

    name: str
    img_size: int
    dim_in: int
    max_conv_dim: int
    style_dim: int = 64
    num_domains: int = 2
    latent_hidden: int = 64  # width of the decomposer and transformer MLPs
    latent_layers: int = 3  # Linear layers per MLP (paper: 64→64→64→64)
    n_bottleneck: int = 2
    # StarGAN v2 / official L2M-GAN high-pass skips: > 0 adds one down/up block, residual-only
    # AdaIN blocks and masked high-pass skips (kernel ÷ w_hpf) at 32², 64², 128²; the editor then
    # takes face masks. 0: none (the shipped demo).
    w_hpf: float = 0.0

    def __post_init__(self) -> None:
        wrong = check_dimensions(dataclasses.asdict(self))  # a checkpoint's metadata may say anything
        if wrong is not None:
            raise ConfigError(wrong)
        if self.img_size < 32 or self.img_size & (self.img_size - 1):
            raise ConfigError(f"img_size must be a power of two ≥ 32, got {self.img_size}")
        if self.num_domains < 2:
            raise ConfigError(f"num_domains must be ≥ 2, got {self.num_domains}")
        if self.latent_layers < 1:
            raise ConfigError(f"latent_layers must be ≥ 1, got {self.latent_layers}")
        if not (self.w_hpf >= 0 and math.isfinite(self.w_hpf)):
            raise ConfigError(f"w_hpf must be a finite number ≥ 0, got {self.w_hpf}")

    @property
    def uses_masks(self) -> bool:
        """Whether the generator has high-pass skips, so the editor needs face masks."""
        return self.w_hpf > 0

    @property
    def generator_downsamples(self) -> int:
        """StarGAN v2: log2(img_size) − 4 down/up-sampling blocks, one more with high-pass skips."""
        return int(math.log2(self.img_size)) - 4 + (1 if self.uses_masks else 0)

    @property
    def encoder_downsamples(self) -> int:
        """Style encoder and discriminator shrink the image to 4×4: log2(img_size) − 2 blocks."""
        return int(math.log2(self.img_size)) - 2

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config fields {unknown}; known: {sorted(known)}")
        return cls(**data)

    def replace(self, **changes: Any) -> "ModelConfig":
        return dataclasses.replace(self, **changes)


_PRESETS: dict[str, Callable[[], ModelConfig]] = {}
_DESCRIPTIONS: dict[str, str] = {}


def register_preset(description: str) -> Callable[[Callable[[], ModelConfig]], Callable[[], ModelConfig]]:
    def wrap(fn: Callable[[], ModelConfig]) -> Callable[[], ModelConfig]:
        _PRESETS[fn.__name__] = fn
        _DESCRIPTIONS[fn.__name__] = description
        return fn

    return wrap


@register_preset("the official L2M-GAN graph at 256² (high-pass skips with face masks, w_hpf=1)")
def paper() -> ModelConfig:
    return ModelConfig(name="paper", img_size=256, dim_in=64, max_conv_dim=512, w_hpf=1.0)


@register_preset("256², half the channels of `paper`: GPU and Jetson real time")
def edge() -> ModelConfig:
    return ModelConfig(name="edge", img_size=256, dim_in=32, max_conv_dim=256)


@register_preset("128² for real time on a CPU")
def mobile() -> ModelConfig:
    return ModelConfig(name="mobile", img_size=128, dim_in=32, max_conv_dim=256)


@register_preset("128², a quarter of `mobile`'s channels (~1.1 GMACs): live at 25+ FPS on a 2-core CPU with tracking")
def realtime() -> ModelConfig:
    return ModelConfig(name="realtime", img_size=128, dim_in=16, max_conv_dim=128)


@register_preset("64², small enough to train to a useful edit on 2 CPU cores (the shipped demo)")
def demo() -> ModelConfig:
    return ModelConfig(name="demo", img_size=64, dim_in=16, max_conv_dim=128)


@register_preset("64², the smallest working model, for tests")
def tiny() -> ModelConfig:
    return ModelConfig(name="tiny", img_size=64, dim_in=8, max_conv_dim=32, style_dim=16, latent_hidden=16)


def preset_names() -> list[str]:
    return list(_PRESETS)


def preset_description(name: str) -> str:
    return _DESCRIPTIONS[name]


def get_preset(name: str, **overrides: Any) -> ModelConfig:
    """The registered preset `name`, optionally with some fields replaced."""
    try:
        config = _PRESETS[name]()
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(_PRESETS)}") from None
    return config.replace(**overrides) if overrides else config


def preset_from_spec(spec: str) -> ModelConfig:
    """A preset with fields overridden inline, `NAME[:field=value…]` (e.g. `mobile:w_hpf=1`): how the
    benchmark and `info` name variants without registering them."""
    name, *pairs = spec.split(":")
    fields = {f.name: f.type for f in dataclasses.fields(ModelConfig)}
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in fields or key == "name":
            raise ConfigError(f"bad preset override {pair!r} in {spec!r}; use NAME:field=value with a field of {', '.join(f for f in fields if f != 'name')}")
        try:
            overrides[key] = {"int": int, "float": float}.get(str(fields[key]), str)(value)
        except ValueError:
            raise ConfigError(f"preset override {pair!r}: {value!r} is not a {fields[key]}") from None
    return get_preset(name, **overrides)
