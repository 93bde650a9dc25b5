"""Resumable training state: safetensors for every tensor, a JSON sidecar for the rest (no pickle).

One save is a pair `state_<step>.safetensors` + `state_<step>.json`, each written atomically;
the JSON is written last and names the sha256 of its tensors, so a pair whose JSON exists is
complete, and a kill at any moment leaves at worst an orphan tensor file that is ignored.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file

from l2m_edge.checkpoint import write_safetensors
from l2m_edge.errors import CheckpointError
from l2m_edge.io import sha256_file, write_json_atomic

FORMAT = "l2m-edge.train-state/1"
_NAME = re.compile(r"^state_(\d{8})\.json$")


@dataclass
class TrainingState:
    """Everything a run needs to continue bit-for-bit: modules, optimisers, step and RNGs."""

    step: int
    modules: dict[str, dict[str, torch.Tensor]]  # "editor", "ema", "disc" → state_dict
    optimizers: dict[str, dict[str, Any]]  # "opt_g", "opt_d" → optimizer.state_dict()
    rng: dict[str, Any]
    meta: dict[str, Any]  # run config, domains, attribute: checked on resume


# -- RNG ---------------------------------------------------------------------------------------
def capture_rng() -> dict[str, Any]:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {"name": np_state[0], "keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "python": random.getstate(),
    }


def restore_rng(rng: dict[str, Any]) -> None:
    torch.set_rng_state(rng["torch"])
    n = rng["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    version, internal, gauss = rng["python"]
    random.setstate((version, tuple(internal), gauss))


# -- flatten / unflatten -----------------------------------------------------------------------
def _flatten(state: TrainingState) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    for name, sd in state.modules.items():
        for key, value in sd.items():
            tensors[f"{name}/{key}"] = value.detach().cpu().contiguous()
    optim_json: dict[str, Any] = {}
    for name, sd in state.optimizers.items():
        layout: dict[str, dict[str, str]] = {}
        for index, slots in sd["state"].items():
            layout[str(index)] = {}
            for slot, value in slots.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"{name}/{index}/{slot}"] = value.detach().cpu().contiguous()
                    layout[str(index)][slot] = "tensor"
                else:
                    layout[str(index)][slot] = json.dumps(value)
        optim_json[name] = {"param_groups": sd["param_groups"], "state": layout}
    tensors["rng/torch"] = state.rng["torch"]
    tensors["rng/numpy"] = state.rng["numpy"]["keys"]
    numpy_rest = {k: v for k, v in state.rng["numpy"].items() if k != "keys"}
    version, internal, gauss = state.rng["python"]
    sidecar = {
        "format": FORMAT,
        "step": state.step,
        "optimizers": optim_json,
        "rng": {"numpy": numpy_rest, "python": [version, list(internal), gauss]},
        "meta": state.meta,
    }
    return tensors, sidecar


def _unflatten(tensors: dict[str, torch.Tensor], sidecar: dict[str, Any]) -> TrainingState:
    modules: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        head, _, rest = key.partition("/")
        if head in ("rng",) or head in sidecar["optimizers"]:
            continue
        modules.setdefault(head, {})[rest] = value
    optimizers: dict[str, dict[str, Any]] = {}
    for name, spec in sidecar["optimizers"].items():
        state: dict[int, dict[str, Any]] = {}
        for index, slots in spec["state"].items():
            state[int(index)] = {
                slot: tensors[f"{name}/{index}/{slot}"] if kind == "tensor" else json.loads(kind) for slot, kind in slots.items()
            }
        optimizers[name] = {"state": state, "param_groups": spec["param_groups"]}
    rng = {
        "torch": tensors["rng/torch"],
        "numpy": {**sidecar["rng"]["numpy"], "keys": tensors["rng/numpy"]},
        "python": (sidecar["rng"]["python"][0], tuple(sidecar["rng"]["python"][1]), sidecar["rng"]["python"][2]),
    }
    return TrainingState(step=sidecar["step"], modules=modules, optimizers=optimizers, rng=rng, meta=sidecar["meta"])


# -- files -------------------------------------------------------------------------------------
def state_paths(run_dir: Path, step: int) -> tuple[Path, Path]:
    stem = run_dir / f"state_{step:08d}"
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def saved_steps(run_dir: str | Path) -> list[int]:
    """Steps with a complete saved state (JSON sidecar present), oldest first."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    steps = []
    for p in run_dir.iterdir():
        m = _NAME.match(p.name)
        if m and state_paths(run_dir, int(m.group(1)))[0].is_file():
            steps.append(int(m.group(1)))
    return sorted(steps)


def save_state(run_dir: str | Path, state: TrainingState, keep: int) -> Path:
    """Write the pair atomically (tensors first, JSON last), then drop all but the newest `keep`."""
    run_dir = Path(run_dir)
    tensor_path, json_path = state_paths(run_dir, state.step)
    tensors, sidecar = _flatten(state)
    write_safetensors(tensor_path, tensors, {"format": FORMAT})
    sidecar["tensors_sha256"] = sha256_file(tensor_path)
    write_json_atomic(json_path, sidecar)
    for old in saved_steps(run_dir)[:-keep] if keep > 0 else []:
        old_tensors, old_json = state_paths(run_dir, old)
        old_json.unlink(missing_ok=True)  # JSON first: a half-deleted pair is never taken as complete
        old_tensors.unlink(missing_ok=True)
    return json_path


def load_state(run_dir: str | Path, step: int | None = None) -> TrainingState:
    """The newest (or the given) complete state in `run_dir`; a clear error when there is none."""
    run_dir = Path(run_dir)
    steps = saved_steps(run_dir)
    if not steps:
        raise CheckpointError(f"{run_dir}: nothing to resume (no state_*.json here); start without --resume")
    step = steps[-1] if step is None else step
    tensor_path, json_path = state_paths(run_dir, step)
    try:
        sidecar = json.loads(json_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{json_path}: unreadable training state ({exc}); delete it to resume from the one before") from None
    if sidecar.get("format") != FORMAT:
        raise CheckpointError(f"{json_path}: not an l2m-edge training state (format {sidecar.get('format')!r})")
    if sha256_file(tensor_path) != sidecar.get("tensors_sha256"):
        raise CheckpointError(f"{tensor_path}: does not match its sidecar's sha256; delete the pair to resume from the one before")
    return _unflatten(load_file(str(tensor_path)), sidecar)
