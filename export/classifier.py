"""The attribute classifier exported beside the editor, so an artifact runs `--from auto` without torch.

`attach_classifier` is the export's one hook: it writes the classifier graph into the artifact
(`backends.classifier` says where and how it runs), checks it against PyTorch on SynthFaces crops
and adds its files and `ClassifierRecord` to what the builder wrote, so the manifest hashes them.
The classifier is the one given to `export --classifier`, else the shipped one when it knows the
editor's domains. It is exported in fp32 whatever the editor's precision: at ~0.1 M parameters it
costs nothing, and an INT8 judge of an INT8 editor would hide what quantisation changed.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from l2m_edge.assets import shipped_classifier
from l2m_edge.backends import Artifact
from l2m_edge.backends.classifier import INPUT, MANIFEST_KEY, OUTPUT, STEM, ClassifierGraph, ClassifierRecord, classifier_record
from l2m_edge.errors import ExportError
from l2m_edge.io import sha256_file
from l2m_edge.metrics.classifier import AttributeClassifier, load_classifier
from l2m_edge.model.editor import Editor

from .builders import BuiltArtifact
from .calibration import VERIFY_SEED, synth_crops

PARITY_COUNT = 16
PARITY_SEED = 11  # crops the classifier's own check draws (apart from the editor's)
MAX_ABS = 1e-4  # probabilities: fp32 rounding sits near 1e-7, a wrong weight far above


class _Probabilities(nn.Module):
    """The classifier's softmax over its domains, traced at its own input size (no resize in the graph)."""

    def __init__(self, classifier: AttributeClassifier) -> None:
        super().__init__()
        self.classifier = classifier.eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(images).softmax(dim=1)


def attach_classifier(
    built: BuiltArtifact, directory: Path, editor: Editor, artifact_format: str, opset: int, given: str | os.PathLike | None, enforce: bool = True
) -> BuiltArtifact:
    """`built` with the classifier graph added (files and `options["classifier"]`); unchanged when no classifier applies."""
    source = Path(given) if given is not None else shipped_classifier()
    if source is None:
        return built
    classifier = load_classifier(source)
    if sorted(classifier.domains) != sorted(editor.domains):
        if given is not None:
            raise ExportError(f"{source}: the classifier knows domains {list(classifier.domains)}, the editor {list(editor.domains)}; use a classifier trained on this attribute")
        return built
    files = _write_graph(classifier, directory, artifact_format, opset)
    record = ClassifierRecord(
        graph=files[0], img_size=classifier.config.img_size, domains=classifier.domains, attribute=classifier.config.attribute,
        source_sha256=sha256_file(source), source=str(source.resolve()), parity={},
    )
    report = classifier_parity(classifier, ClassifierGraph(directory, record), PARITY_SEED)
    if enforce and not report["passed"]:
        raise ExportError(f"the classifier graph differs from PyTorch by {report['max_abs']:.2e} (bar {MAX_ABS:g}); re-export")
    record = dataclasses.replace(record, parity=report)
    return dataclasses.replace(built, files=(*built.files, *files), options={**built.options, MANIFEST_KEY: record.to_dict()})


def verify_classifier(artifact: Artifact) -> dict[str, Any] | None:
    """The classifier graph re-checked against its source file on fresh crops (None: the artifact has none).

    Skipped with the reason when the source file is not where the export found it; a source with
    another hash, or a graph off the bar, is refused."""
    record = classifier_record(artifact)
    if record is None:
        return None
    source = Path(record.source)
    if not source.is_file():
        return {"skipped": f"classifier {record.source or '?'} not found, so its graph was not re-checked"}
    if sha256_file(source) != record.source_sha256:
        raise ExportError(f"{source}: sha256 differs from the classifier this artifact was exported with")
    report = classifier_parity(load_classifier(source), ClassifierGraph(artifact.directory, record), VERIFY_SEED)
    if not report["passed"]:
        raise ExportError(f"{artifact.directory.name}: the classifier graph differs from PyTorch by {report['max_abs']:.2e} (bar {MAX_ABS:g}); re-export")
    return report


@torch.no_grad()
def classifier_parity(classifier: AttributeClassifier, graph: ClassifierGraph, seed: int) -> dict[str, Any]:
    """Probabilities of the graph vs PyTorch's on SynthFaces crops at the classifier's size: max abs and argmax agreement."""
    images, _ = synth_crops(PARITY_COUNT, classifier.config.img_size, seed, classifier.config.attribute or "smile")
    reference = classifier.predict_domain(torch.from_numpy(images)).numpy()
    output = graph.probabilities(images)
    max_abs = float(np.max(np.abs(output.astype(np.float64) - reference)))
    same = bool((output.argmax(1) == reference.argmax(1)).all())
    return {
        "runtime": graph.runtime, "max_abs": max_abs, "bar_max_abs": MAX_ABS, "same_domain": same, "passed": max_abs <= MAX_ABS and same,
        "inputs": f"{PARITY_COUNT} SynthFaces crops, seed {seed}",
    }


def _write_graph(classifier: AttributeClassifier, directory: Path, artifact_format: str, opset: int) -> tuple[str, ...]:
    """classifier.onnx, or for an OpenVINO artifact classifier.xml + .bin (fp32); the graph file first."""
    onnx_path = directory / f"{STEM}.onnx"
    size = classifier.config.img_size
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # TorchScript exporter deprecation notes
        torch.onnx.export(
            _Probabilities(classifier), (torch.zeros(1, 3, size, size),), str(onnx_path), dynamo=False, opset_version=opset,
            input_names=[INPUT], output_names=[OUTPUT], dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}},
        )
    if artifact_format != "openvino":
        return (onnx_path.name,)
    import openvino as ov

    xml = directory / f"{STEM}.xml"
    ov.save_model(ov.convert_model(str(onnx_path)), str(xml), compress_to_fp16=False)
    onnx_path.unlink()
    return (xml.name, xml.with_suffix(".bin").name)

