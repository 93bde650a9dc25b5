"""The Editor as an ONNX graph: traced with the reference kernels, simplified and checked.

Exporter choice (measured on the tiny preset, torch 2.13, onnxscript installed):
* `torch.onnx.export(dynamo=True)` emits opset 18 and cannot go down to 17 (onnxscript's
  version converter has no Resize adapter to 17), takes 5.8 s, 199 nodes (GatherND heads);
* the TorchScript exporter (`dynamo=False`) emits the requested opset exactly, takes 0.3 s,
  340 nodes that onnxslim folds to 197 (plain Gather heads); parity is identical (5e-6).
Opset 17 is the newest that every TensorRT we target parses (JetPack 5 ships TensorRT 8.5,
whose parser stops at 17) and it has InstanceNormalization and nearest Resize natively, so the
TorchScript exporter at opset 17 is the default and the only path.

`--split-style` traces the editor's two stages (`Editor.style_stage`, `Editor.generate`) the same
way, one graph each.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from pathlib import Path
from typing import Iterator

import onnx
import torch

from torch import nn

from l2m_edge.contract.signature import BATCH, GENERATOR_STAGE, STYLE_STAGE, EditorSignature, editor_signature, stage_signatures
from l2m_edge.errors import ExportError
from l2m_edge.model.editor import Editor, GeneratorStage, StyleStage

from .options import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET



def example_inputs(signature: EditorSignature, batch: int) -> tuple[torch.Tensor, ...]:
    """Traced example inputs, one per signature input in its range; values only steer tracing,
    never constant-folded into the graph."""
    generator = torch.Generator().manual_seed(0)
    tensors = []
    for spec in signature.inputs:
        shape = [batch, *spec.shape[1:]]
        if spec.dtype == "int64":  # domain indices: distinct, valid ones
            high = int(spec.value_range[1]) + 1 if spec.value_range else 1
            tensors.append((torch.arange(batch, dtype=torch.int64) + len(tensors)) % high)
        elif spec.value_range is None:
            tensors.append(torch.ones(shape))
        else:
            low, high = spec.value_range
            tensors.append(torch.rand(shape, generator=generator) * (high - low) + low)
    return tuple(tensors)


def export_onnx(editor: Editor, path: Path, opset: int = DEFAULT_OPSET, batch: int = 1, dynamic: bool = False) -> Path:
    """Write the editor to `path` as a checked, simplified ONNX model (static batch, or dynamic)."""
    _check(opset, batch)
    signature = editor_signature(editor.config, None if dynamic else batch)
    return _export_graph(editor.eval(), editor, signature, path, opset, batch, dynamic, "L2M-GAN editor")


def export_split_onnx(editor: Editor, directory: Path, opset: int = DEFAULT_OPSET, batch: int = 1, dynamic: bool = False) -> dict[str, Path]:
    """The editor as two checked ONNX graphs, `style.onnx` and `generator.onnx` (contract.signature's stages)."""
    _check(opset, batch)
    signatures = stage_signatures(editor.config, None if dynamic else batch)
    modules: dict[str, nn.Module] = {STYLE_STAGE: StyleStage(editor.eval()), GENERATOR_STAGE: GeneratorStage(editor)}
    return {
        stage: _export_graph(modules[stage], editor, signatures[stage], directory / f"{stage}.onnx", opset, batch, dynamic, f"L2M-GAN editor, {stage} stage")
        for stage in signatures
    }


def _check(opset: int, batch: int) -> None:
    """Refuse an opset or batch size the exporter cannot write."""
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ExportError(f"--opset {opset} is out of range; choose {MIN_OPSET}..{MAX_OPSET} ({DEFAULT_OPSET} for TensorRT / Jetson)")
    if batch < 1:
        raise ExportError(f"--batch {batch}: the batch size must be ≥ 1")


@contextlib.contextmanager
def _exporter_errors(title: str) -> Iterator[None]:
    """torch's exporter failing on a graph (an op it cannot convert) as one ExportError line: the
    runtime's on-the-fly export then falls back to PyTorch instead of stopping with a traceback."""
    try:
        yield
    except RuntimeError as exc:  # torch.onnx.OnnxExporterError and the tracer's errors
        detail = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise ExportError(f"torch's ONNX exporter cannot convert the {title}: {detail}") from None


def _export_graph(
    module: nn.Module, editor: Editor, signature: EditorSignature, path: Path, opset: int, batch: int, dynamic: bool, title: str
) -> Path:
    """Trace `module` (taking `signature`'s inputs) into `path`: exported, simplified, labelled and checked."""
    axes = {name: {0: BATCH} for name in (*signature.input_names, *signature.output_names)} if dynamic else None
    raw = path.with_suffix(".raw.onnx")
    with warnings.catch_warnings(), torch.no_grad(), _exporter_errors(title):
        warnings.simplefilter("ignore")  # TorchScript exporter deprecation and tracer notes
        torch.onnx.export(
            module,
            example_inputs(signature, batch),
            str(raw),
            dynamo=False,
            opset_version=opset,
            input_names=list(signature.input_names),
            output_names=list(signature.output_names),
            dynamic_axes=axes,
            do_constant_folding=True,
        )
    model = simplify(onnx.load(str(raw)))
    raw.unlink()
    model.doc_string = f"{title} (l2m-edge): " + ", ".join(f"{s.name} {s.dtype}{s.shape}" for s in signature.inputs) + f" -> {', '.join(signature.output_names)}"
    for key, value in (("domains", json.dumps(list(editor.domains))), ("attribute", editor.attribute), ("preset", editor.config.name)):
        entry = model.metadata_props.add()
        entry.key, entry.value = f"l2m_edge.{key}", value
    check(model, signature)
    onnx.save(model, str(path))
    return path


def simplify(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnxslim: constant folding and dead-node removal (340 → ~197 nodes on the tiny preset)."""
    import onnxslim

    slim = onnxslim.slim(model)
    if slim is None:
        raise ExportError("onnxslim returned no model; re-run with a newer onnxslim")
    return slim


def check(model: onnx.ModelProto, signature: EditorSignature) -> None:
    """onnx.checker with shape inference, and the signature's I/O names every runtime relies on."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"exported ONNX failed onnx.checker: {str(exc).splitlines()[0]}") from None
    inputs = tuple(i.name for i in model.graph.input)
    outputs = tuple(o.name for o in model.graph.output)
    if inputs != signature.input_names or outputs != signature.output_names:
        raise ExportError(f"exported ONNX has inputs {inputs} / outputs {outputs}, expected {signature.input_names} / {signature.output_names}")

