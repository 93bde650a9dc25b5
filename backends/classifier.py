"""The attribute classifier an artifact carries beside its editor, run on the editor's runtime without torch.

`export` writes the classifier (the one that judges the edit, or the shipped one when it knows the
editor's domains) as `classifier.xml`/`.bin` in an OpenVINO artifact and `classifier.onnx` in the
others, hashed in the manifest like the editor and described under `options["classifier"]`
(`ClassifierRecord`). The live runtime reads a face's source domain with it (`--from auto`), so a
device needs no PyTorch to run an artifact. Input: `image` [N, 3, S, S] in [−1, 1] at the
classifier's own size S; output: `probabilities` [N, D] over the classifier's domains.

An OpenVINO artifact's classifier is compiled on the editor's device in f32; an ONNX one runs on
onnxruntime with the editor's execution provider, and a TensorRT artifact's on onnxruntime with its
CUDA provider where this onnxruntime has one (a classifier of ~0.1 M parameters needs no engine).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from l2m_edge.errors import BackendUnavailable

from .artifact import Artifact

MANIFEST_KEY = "classifier"  # under the manifest's options
STEM = "classifier"  # classifier.onnx | classifier.xml + classifier.bin
INPUT, OUTPUT = "image", "probabilities"


@dataclass(frozen=True)
class ClassifierRecord:
    """What the manifest says about the classifier graph."""

    graph: str  # classifier.onnx | classifier.xml, relative to the artifact
    img_size: int
    domains: tuple[str, ...]
    attribute: str
    source_sha256: str  # of the .safetensors it was exported from
    source: str  # where that file was at export (for `verify`)
    parity: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "graph": self.graph, "img_size": self.img_size, "domains": list(self.domains), "attribute": self.attribute,
            "source_sha256": self.source_sha256, "source": self.source, "parity": self.parity,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ClassifierRecord":
        return cls(
            graph=str(data["graph"]), img_size=int(data["img_size"]), domains=tuple(data["domains"]), attribute=str(data.get("attribute", "")),
            source_sha256=str(data.get("source_sha256", "")), source=str(data.get("source", "")), parity=dict(data.get("parity", {})),
        )


def classifier_record(artifact: Artifact) -> ClassifierRecord | None:
    """The artifact's classifier, or None when it carries none (exported without one, or by an older l2m-edge)."""
    data = artifact.manifest.options.get(MANIFEST_KEY)
    if not data:
        return None
    record = ClassifierRecord.from_dict(data)
    if record.graph not in {f.path for f in artifact.manifest.files}:
        raise BackendUnavailable(f"{artifact.directory}: the manifest's classifier {record.graph} is not among its hashed files; re-export")
    return record


class ClassifierGraph:
    """The classifier graph of an artifact on OpenVINO or onnxruntime: `probabilities(crops)`."""

    def __init__(self, directory: Path, record: ClassifierRecord, backend: str = "onnxruntime", device: str | None = None) -> None:
        """`directory`: the artifact's; `backend`/`device`: the editor's registry backend and device, which the classifier follows."""
        self.record = record
        path = directory / record.graph
        if path.suffix == ".xml":
            self._run = _openvino_runner(str(path), device if backend == "openvino" and device else "CPU")
            self.runtime = "openvino"
        else:
            self._run = _onnxruntime_runner(str(path), _providers(backend, device))
            self.runtime = "onnxruntime"

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """[N, D] probabilities over `record.domains` for images [N, 3, S, S] f32 in [−1, 1]."""
        size = self.record.img_size
        if images.ndim != 4 or images.shape[1:] != (3, size, size):
            raise BackendUnavailable(f"the classifier takes [N, 3, {size}, {size}] images, got {list(images.shape)}")
        if len(images) == 0:
            return np.zeros((0, len(self.record.domains)), np.float32)
        return np.asarray(self._run(np.ascontiguousarray(images, dtype=np.float32)), dtype=np.float32)


def _providers(backend: str, device: str | None) -> list[str]:
    """The editor's execution provider (onnxruntime), CUDA's for a TensorRT editor, then the CPU's."""
    from .onnxruntime_backend import available_providers

    wanted = {"onnxruntime": [device] if device else [], "tensorrt": ["CUDAExecutionProvider"]}.get(backend, [])
    available = available_providers()
    return [p for p in dict.fromkeys([*wanted, "CPUExecutionProvider"]) if p in available]


def _onnxruntime_runner(path: str, providers: list[str]) -> Any:
    import onnxruntime as ort

    session = ort.InferenceSession(path, providers=providers)
    return lambda images: session.run([OUTPUT], {INPUT: images})[0]


def _openvino_runner(path: str, device: str) -> Any:
    try:
        import openvino as ov
        import openvino.properties.hint as hints
    except ImportError as exc:
        raise BackendUnavailable(f"openvino is not importable ({exc}); pip install openvino") from None
    core = ov.Core()
    try:
        compiled = core.compile_model(core.read_model(path), device, {hints.inference_precision(): "f32"})
    except RuntimeError as exc:
        raise BackendUnavailable(f"OpenVINO could not compile {path} for {device}: {str(exc).splitlines()[0]}") from None
    request = compiled.create_infer_request()
    return lambda images: request.infer({INPUT: images})[compiled.output(OUTPUT)]
