"""Editor checkpoints in safetensors: weights plus everything needed to rebuild the model.

The metadata carries the config, domain names and attribute, so `load_editor(path)` needs the
file alone (diffusers' "config travels with the weights"). Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save

from l2m_edge import __version__
from l2m_edge.canonical import DEFAULT_FRAMING
from l2m_edge.config import ModelConfig
from l2m_edge.errors import CheckpointError, ConfigError
from l2m_edge.io import atomic_path
from l2m_edge.limits import not_a_regular_file
from l2m_edge.model.editor import Editor

FORMAT = "l2m-edge.editor/1"
_SLACK_BYTES = 1 << 20  # a checkpoint's metadata and header, generously


def write_weights(path: str | os.PathLike, module: torch.nn.Module, metadata: dict[str, str]) -> Path:
    """Write a module's tensors and string metadata to safetensors, atomically."""
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    bad = _non_finite(tensors)
    if bad:
        raise CheckpointError(f"{path}: not written — tensor {bad} holds NaN or inf (a diverged model)")
    return write_safetensors(path, tensors, {**metadata, "l2m_edge_version": __version__})


def write_safetensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> Path:
    """safetensors bytes written by Python through `atomic_path`, so a full disk is an OSError
    (one `OutputError` line) rather than safetensors' own I/O error, and the old file stays."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(save(tensors, metadata=metadata))
    return Path(path)


def read_format_metadata(path: str | os.PathLike, expected_format: str, what: str, hint: str) -> dict[str, str]:
    """The metadata of a safetensors file of `expected_format`, or a one-line CheckpointError naming the file.

    `what` names the kind of file in messages ("editor checkpoint"); `hint` says how to get one.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such {what} file ({hint})")
    refused = not_a_regular_file(path)
    if refused is not None:
        artifact = (path / "manifest.json").is_file()
        raise CheckpointError(
            f"{path}: an exported artifact folder; this takes the .safetensors {what} it was exported from" if artifact
            else f"{path}: {refused}; pass a {what} file ({hint})"
        )
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a safetensors {what} ({exc})") from None
    if metadata.get("format") != expected_format:
        raise CheckpointError(
            f"{path}: not an l2m-edge {what} (format {metadata.get('format')!r}, expected {expected_format!r})"
        )
    return metadata


def save_checkpoint(editor: Editor, path: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
    """Write the editor's weights and config atomically; `extra` goes into the metadata as JSON."""
    metadata = {
        "format": FORMAT,
        "config": editor.config.to_json(),
        "domains": json.dumps(list(editor.domains)),
        "attribute": editor.attribute,
        "framing": editor.framing,
        "extra": json.dumps(extra or {}, sort_keys=True),
    }
    return write_weights(path, editor, metadata)


@dataclass(frozen=True)
class WeightsFile:
    """A kind of l2m-edge safetensors file: its format tag, what it is called, how a user gets one."""

    format: str
    what: str
    hint: str

    def metadata(self, path: str | os.PathLike) -> dict[str, str]:
        """The file's metadata, or a one-line CheckpointError naming the file."""
        return read_format_metadata(path, self.format, self.what, self.hint)

    def extra(self, path: str | os.PathLike) -> dict[str, Any]:
        """What its writer recorded beside the config (training data, accuracy, seed…)."""
        return json.loads(self.metadata(path).get("extra", "{}"))

    def load(self, path: str | os.PathLike, build: Callable[[dict[str, str]], tuple[torch.nn.Module, str]], device: str | torch.device) -> torch.nn.Module:
        """The model `build` makes from the metadata (and names, for messages), with the file's
        weights, in eval mode on `device`; an unreadable config is one CheckpointError line."""
        path = Path(path)
        metadata = self.metadata(path)
        try:
            with torch.device("meta"):  # shapes only: what the metadata asks for, before any memory is spent on it
                probe, built_as = build(metadata)
            needed = sum(t.numel() * t.element_size() for t in probe.state_dict().values())
            if needed > 2 * path.stat().st_size + _SLACK_BYTES:  # far more than the file could hold; near misses get the tensor-by-tensor message
                raise CheckpointError(
                    f"{path}: its metadata describes {built_as} with {needed / 1e6:.1f} MB of weights, but the file holds "
                    f"{path.stat().st_size} bytes; it is not a {self.what} of that model"
                )
            model, built_as = build(metadata)
        except (KeyError, ValueError, TypeError, ConfigError) as exc:  # json's errors are ValueErrors
            raise CheckpointError(f"{path}: unreadable {self.what} config in metadata ({exc})") from None
        return load_weights(path, model, built_as).to(device).eval()


EDITOR_FILE = WeightsFile(FORMAT, "editor checkpoint", "train one with `l2m-edge train` or use the shipped demo")
read_metadata = EDITOR_FILE.metadata
checkpoint_extra = EDITOR_FILE.extra


def _build_editor(metadata: dict[str, str]) -> tuple[Editor, str]:
    config = ModelConfig.from_dict(json.loads(metadata["config"]))
    domains = json.loads(metadata["domains"])
    if not isinstance(domains, list) or not all(isinstance(d, str) and d for d in domains) or len(set(domains)) != len(domains):
        raise ConfigError(f"domains {domains!r} must be distinct names")
    editor = Editor(config, domains, metadata.get("attribute", ""), metadata.get("framing", DEFAULT_FRAMING))
    return editor, f"preset {config.name!r}"


def load_editor(path: str | os.PathLike, device: str | torch.device = "cpu") -> Editor:
    """Rebuild the editor from the file alone, in eval mode; mismatches are one-line errors."""
    return EDITOR_FILE.load(path, _build_editor, device)  # type: ignore[return-value]


def load_weights(path: Path, module: torch.nn.Module, built_as: str) -> torch.nn.Module:
    """`module` with the file's tensors, refused in one line when their names or shapes are not the
    module's (`built_as` says what it was built from) or any holds NaN or inf."""
    state = load_file(str(path))
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: tensors do not match {built_as}: "
            f"missing {missing[:3]}{'…' if len(missing) > 3 else ''}, unexpected {unexpected[:3]}{'…' if len(unexpected) > 3 else ''}"
        )
    for name, tensor in expected.items():
        if state[name].shape != tensor.shape:
            raise CheckpointError(f"{path}: tensor {name} has shape {tuple(state[name].shape)}, {built_as} expects {tuple(tensor.shape)}")
    bad = _non_finite(state)
    if bad:
        raise CheckpointError(f"{path}: tensor {bad} holds NaN or inf; the file comes from a diverged run — use an earlier one")
    module.load_state_dict(state)
    return module


def _non_finite(tensors: dict[str, torch.Tensor]) -> str | None:
    """The name of the first floating-point tensor holding NaN or ±inf, or None."""
    return next((name for name, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())), None)
