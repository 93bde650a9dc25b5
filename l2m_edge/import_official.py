"""Import the official L2M-GAN checkpoint (rucmlcv/L2M-GAN, `NNNNNN_nets_ema.ckpt`) as our editor.

The official file is `torch.save({name: state_dict})` of the EMA networks: `generator` and
`style_encoder` (the edit), plus `fan` (the face-alignment net that draws its masks) and `vgg`
(a ResNet used by a training loss), which inference here does not need. It is read with
`torch.load(weights_only=True)` only: plain tensors, never arbitrary pickled code.

Key map (official → ours):
  generator.{from_rgb,encode.*,decode.*.conv1/conv2,to_rgb.*}  → the same names under generator.
  generator.decode.i.norm{1,2}.fc (one Linear per AdaIN layer)  → rows of generator.style_proj, in order
  style_encoder.shared.*                                        → style_encoder.trunk.*
  style_encoder.unshared.d (one head per domain)                → style_encoder.heads, stacked on dim 0
  style_encoder.transform1.{0,2,4}                              → decomposer.layers.{0,1,2}
  style_encoder.transform2.d.{0,2,4}                            → transformer.layers.{0,1,2}, stacked
Never used by the official forward, so skipped: both networks' `attention` MLPs and, with
high-pass skips, the decoder blocks' 1×1 shortcut convs.
"""

from __future__ import annotations

import math
import pickle
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from l2m_edge.checkpoint import read_metadata, save_checkpoint
from l2m_edge.config import ModelConfig, preset_names, get_preset
from l2m_edge.errors import CheckpointError, ConfigError, OutputError
from l2m_edge.io import check_output_file, sha256_file
from l2m_edge.import_formats import FORMATS
from l2m_edge.limits import MAX_IMPORT_FILE_BYTES, MAX_IMPORT_TENSOR_BYTES, not_a_regular_file
from l2m_edge.model.editor import Editor

OFFICIAL_FRAMING = "celeba-hq"
IGNORED_NETWORKS = ("fan", "vgg")  # in the official file, not part of the edit
OFFICIAL_W_HPF = 1.0  # the official default and the released model's; the file does not record it
_NEVER_USED = re.compile(r"^(generator|style_encoder)\.attention\.")
_LINEAR_INDICES = (0, 2, 4)  # nn.Sequential(Linear, ReLU, Linear, ReLU, Linear)


@dataclass(frozen=True)
class ImportResult:
    out: Path
    config: ModelConfig
    domains: tuple[str, ...]
    mapped: int  # official tensors written into our checkpoint
    skipped: tuple[str, ...]  # official tensors the official forward never uses
    ignored_networks: tuple[str, ...]  # whole networks of the file that editing does not need (fan, vgg)


def _check_out(out: Path, force: bool) -> None:
    """Never replace a user's file: an existing `out` needs `force`, which replaces only an l2m-edge checkpoint."""
    check_output_file(out)
    if not out.exists():
        return
    if not force:
        raise OutputError(f"{out} exists; pass --force to replace it, or choose another --out")
    try:
        read_metadata(out)
    except CheckpointError:
        raise OutputError(f"{out} is not an l2m-edge checkpoint, and --force replaces only those; choose another --out") from None


def import_checkpoint(
    checkpoint: str | Path, out: str | Path, domains: Sequence[str], attribute: str = "", fmt: str = "l2m-gan",
    force: bool = False,
) -> ImportResult:
    """Read an official checkpoint, map every tensor onto our editor, write our safetensors."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown checkpoint format {fmt!r}; choose one of {', '.join(FORMATS)}")
    _check_out(Path(out), force)
    path = Path(checkpoint)
    loaded = _load(path)
    state = _flatten(path, loaded)
    try:
        config = infer_config(path, state)
    except (ValueError, IndexError) as exc:  # a 1-D or 0-d tensor where a matrix belongs
        raise CheckpointError(f"{path}: tensor shapes do not fit the L2M-GAN layout ({_first_line(exc)})") from None
    domains = tuple(domains)
    if len(domains) != config.num_domains:
        raise ConfigError(
            f"{path} has {config.num_domains} domains but --domains names {len(domains)} ({', '.join(domains)}); "
            "give one name per domain, in the official order (its data folder names, sorted)"
        )
    if len(set(domains)) != len(domains):
        raise ConfigError(f"--domains has duplicate names: {', '.join(domains)}")
    editor = Editor(config, domains, attribute, framing=OFFICIAL_FRAMING)
    try:
        ours, skipped = map_state(path, state, config)
    except RuntimeError as exc:  # per-layer tensors that do not stack (a mismatched AdaIN fc or head)
        raise CheckpointError(f"{path}: tensor shapes do not fit the L2M-GAN layout ({_first_line(exc)})") from None
    _check_against(path, editor, ours)
    editor.load_state_dict(ours)
    source = {"format": fmt, "file": path.name, "sha256": sha256_file(path), "skipped": list(skipped)}
    written = save_checkpoint(editor, out, extra={"imported_from": source})
    ignored = tuple(name for name in IGNORED_NETWORKS if name in loaded)
    return ImportResult(written, config, domains, len(state) - len(skipped), skipped, ignored)


# -- reading ------------------------------------------------------------------------------------
def _load(path: Path) -> Any:
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    refused = not_a_regular_file(path)
    if refused is None and path.stat().st_size > MAX_IMPORT_FILE_BYTES:
        refused = f"{path.stat().st_size / 2**30:.1f} GiB, larger than any L2M-GAN release (at most {MAX_IMPORT_FILE_BYTES >> 30} GiB)"
    if refused is not None:
        raise CheckpointError(f"{path}: {refused}; not imported")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on old pickle protocols: not the user's problem
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = _first_line(exc)
        if "weights only" in str(exc).lower() or "weights_only" in str(exc):
            raise CheckpointError(
                f"{path}: refused, it needs arbitrary code to unpickle ({_why_unsafe(str(exc))}); "
                "only plain tensor state dicts are read (torch.load weights_only=True)"
            ) from None
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint, truncated or corrupt ({first})") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        first = _first_line(exc)
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint, truncated or corrupt ({first})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _why_unsafe(message: str) -> str:
    match = re.search(r"GLOBAL ([\w.]+)", message)
    return f"global {match.group(1)}" if match else "a non-tensor object"


def _flatten(path: Path, loaded: Any) -> dict[str, torch.Tensor]:
    """{network: state_dict} → {"network.key": tensor}; refuses what is not an official L2M-GAN file."""
    if not isinstance(loaded, dict) or not all(isinstance(v, dict) for v in loaded.values()):
        raise CheckpointError(f"{path}: not an L2M-GAN checkpoint (expected a dict of state dicts such as generator, style_encoder)")
    if "mapping_network" in loaded:
        raise CheckpointError(
            f"{path}: a StarGAN v2 checkpoint (it has mapping_network and no transform heads), not L2M-GAN; "
            "l2m-edge imports the official L2M-GAN release"
        )
    missing = [name for name in ("generator", "style_encoder") if name not in loaded]
    if missing:
        raise CheckpointError(f"{path}: not an L2M-GAN checkpoint, no {' or '.join(missing)} (has {', '.join(map(str, loaded)) or 'nothing'})")
    unknown = sorted(set(map(str, loaded)) - {"generator", "style_encoder", *IGNORED_NETWORKS})
    if unknown:
        raise CheckpointError(f"{path}: unknown networks {_first(unknown)} in an L2M-GAN checkpoint")
    flat: dict[str, torch.Tensor] = {}
    for network in ("generator", "style_encoder"):
        for key, value in loaded[network].items():
            if not isinstance(value, torch.Tensor):
                raise CheckpointError(f"{path}: {network}.{key} is not a tensor")
            materialised = value.numel() * value.element_size()  # what any copy allocates, whatever few bytes it is stored in (stride 0)
            if materialised > MAX_IMPORT_TENSOR_BYTES:
                raise CheckpointError(
                    f"{path}: {network}.{key} of shape {tuple(value.shape)} takes {materialised / 2**20:.0f} MiB once materialised "
                    f"(stored in {value.untyped_storage().nbytes()} bytes), more than any L2M-GAN tensor (at most {MAX_IMPORT_TENSOR_BYTES >> 20} MiB)"
                )
            flat[f"{network}.{key}"] = value
    if not any(key.startswith("style_encoder.transform1.") for key in flat):
        raise CheckpointError(
            f"{path}: its style encoder has no transform heads (transform1/transform2): a StarGAN v2 style encoder, not L2M-GAN"
        )
    return flat


# -- shapes → config ------------------------------------------------------------------------------
def _indices(state: dict[str, torch.Tensor], pattern: str) -> list[int]:
    regex = re.compile(pattern)
    return sorted({int(m.group(1)) for key in state if (m := regex.match(key))})


def infer_config(path: Path, state: dict[str, torch.Tensor]) -> ModelConfig:
    """img_size, widths, style_dim, num_domains and w_hpf from the tensors' shapes and counts."""
    try:
        dim_in = state["style_encoder.shared.0.weight"].shape[0]
        style_dim, features = state["style_encoder.unshared.0.weight"].shape
        hidden = state["style_encoder.transform1.0.weight"].shape[0]
    except KeyError as exc:
        raise CheckpointError(f"{path}: missing {exc.args[0]}, which every L2M-GAN style encoder has") from None
    encoder_blocks = len(_indices(state, r"^style_encoder\.shared\.(\d+)\.conv1\.weight$"))
    img_size = 2 ** (encoder_blocks + 2)
    heads = _indices(state, r"^style_encoder\.unshared\.(\d+)\.weight$")
    generator_blocks = len(_indices(state, r"^generator\.encode\.(\d+)\.conv1\.weight$"))
    downsamples = generator_blocks - 2  # two bottleneck blocks
    plain = int(math.log2(img_size)) - 4
    if downsamples not in (plain, plain + 1):
        raise CheckpointError(
            f"{path}: {generator_blocks} generator encoder blocks do not fit a {img_size}² style encoder "
            f"({plain + 2} without high-pass skips or {plain + 3} with them)"
        )
    widths = [t.shape[0] for key, t in state.items() if re.match(r"^generator\.encode\.\d+\.conv2\.weight$", key)]
    try:
        config = ModelConfig(
            name="l2m-gan",
            img_size=img_size,
            dim_in=dim_in,
            max_conv_dim=max([dim_in, features, *widths]),
            style_dim=style_dim,
            num_domains=len(heads),
            latent_hidden=hidden,
            latent_layers=len(_LINEAR_INDICES),
            w_hpf=OFFICIAL_W_HPF if downsamples == plain + 1 else 0.0,
        )
    except ConfigError as exc:
        raise CheckpointError(f"{path}: its shapes give an unusable model ({exc})") from None
    return _named_like_a_preset(config)


def _named_like_a_preset(config: ModelConfig) -> ModelConfig:
    """The preset's name when the imported sizes are exactly a registered preset's (the release is `paper`)."""
    for name in preset_names():
        if get_preset(name).replace(name=config.name) == config:
            return config.replace(name=name)
    return config


# -- the key map ----------------------------------------------------------------------------------
def map_state(path: Path, state: dict[str, torch.Tensor], config: ModelConfig) -> tuple[dict[str, torch.Tensor], tuple[str, ...]]:
    """Our state dict from the official tensors, and the official keys skipped as never used."""
    ours: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    skipped = sorted(key for key in state if _NEVER_USED.match(key))
    if config.uses_masks:
        skipped += sorted(key for key in state if re.match(r"^generator\.decode\.\d+\.conv1x1\.", key))

    def take(key: str) -> torch.Tensor:
        if key not in state:
            raise CheckpointError(f"{path}: missing {key}")
        used.add(key)
        return state[key]

    generator_keys = [k for k in state if k.startswith("generator.") and k not in skipped and ".norm1.fc." not in k and ".norm2.fc." not in k]
    for key in generator_keys:
        ours[key] = take(key)
    decode = _indices(state, r"^generator\.decode\.(\d+)\.conv1\.weight$")
    for part in ("weight", "bias"):
        ours[f"generator.style_proj.{part}"] = torch.cat(
            [take(f"generator.decode.{i}.norm{j}.fc.{part}") for i in decode for j in (1, 2)]
        )
    for key in [k for k in state if k.startswith("style_encoder.shared.")]:
        ours["style_encoder.trunk." + key[len("style_encoder.shared.") :]] = take(key)
    heads = range(config.num_domains)
    for part in ("weight", "bias"):
        ours[f"style_encoder.heads.{part}"] = torch.stack([take(f"style_encoder.unshared.{d}.{part}") for d in heads])
        for layer, index in enumerate(_LINEAR_INDICES):
            ours[f"decomposer.layers.{layer}.{part}"] = take(f"style_encoder.transform1.{index}.{part}")
            ours[f"transformer.layers.{layer}.{part}"] = torch.stack(
                [take(f"style_encoder.transform2.{d}.{index}.{part}") for d in heads]
            )
    unknown = sorted(set(state) - used - set(skipped))
    if unknown:
        raise CheckpointError(f"{path}: unknown tensors {_first(unknown)}; not the official L2M-GAN layout")
    return ours, tuple(skipped)


def _check_against(path: Path, editor: Editor, ours: dict[str, torch.Tensor]) -> None:
    """Every tensor present, of the expected shape, finite; float32 like our checkpoints."""
    expected = editor.state_dict()
    missing = sorted(set(expected) - set(ours))
    unknown = sorted(set(ours) - set(expected))
    if missing or unknown:
        raise CheckpointError(f"{path}: does not map onto the inferred model: missing {_first(missing)}, unknown {_first(unknown)}")
    for key, tensor in expected.items():
        if ours[key].shape != tensor.shape:
            raise CheckpointError(f"{path}: {key} has shape {tuple(ours[key].shape)}, the inferred model needs {tuple(tensor.shape)}")
        if not ours[key].is_floating_point() or not torch.isfinite(ours[key]).all():
            raise CheckpointError(f"{path}: {key} is not finite floating point (NaN, inf or integers)")
        ours[key] = ours[key].to(tensor.dtype)


def _first(keys: Sequence[str], n: int = 4) -> str:
    return ", ".join(keys[:n]) + (f" … ({len(keys)} in all)" if len(keys) > n else "") if keys else "none"

