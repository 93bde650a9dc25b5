"""How close an exported artifact is to PyTorch, and the bar each precision must clear.

The thresholds live here and only here (the README quotes them):

* fp32 (onnxruntime, OpenVINO with INFERENCE_PRECISION_HINT=f32): PSNR ≥ 80 dB against the
  reference output's own range (peak = max(2, max − min)): fp32 rounding noise grows with a model's
  depth and activations, so an absolute bar refuses healthy large models.
* fp16 / bf16 (reduced-precision compute): PSNR against the PyTorch fp32 output ≥ 35 dB.
* int8 (NNCF for OpenVINO, onnxruntime Q/DQ for Jetson): PSNR ≥ 22 dB, and, when an attribute
  classifier is given, accuracy on the edited outputs within 2 points of fp32.

Measured on this CPU (8 SynthFaces crops, seed 2002; fp32 as PSNR of range / max abs):

| artifact, compute                    | demo checkpoint            | random weights (seed 0)               |
|--------------------------------------|----------------------------|---------------------------------------|
| ONNX fp32, onnxruntime               | 141.3 dB / 6.0e-6          | mobile 110.9 dB, edge 95.8, paper 95.4 |
| OpenVINO FP32 IR, hint f32           | 135.4 dB / 1.4e-5          | mobile 101.9 dB, edge 85.0, paper 84.1 |
| OpenVINO FP16 IR, bf16 (CPU default) | 55.5 dB                    | tiny 46.1 dB                          |
| OpenVINO INT8 (NNCF MIXED), bf16     | 23.7 dB, accuracy 98 % vs 100 % | tiny ≈ 26 dB                     |
| Jetson INT8 Q/DQ, onnxruntime        | 23.9 dB, accuracy 99 % vs 100 % | tiny ≈ 27 dB                     |

Why these bars: one corrupted generator weight (a mid-sized weight's sign flipped, zeroed or doubled)
measures 60–76 dB against the range on mobile, edge and paper, the healthiest large fp32 export 84 dB:
80 dB sits between. bf16 keeps 8 mantissa bits: 55.5 dB on the trained demo, 46 dB (tiny) down to
35.9 dB (paper) on random weights, whose activations grow with depth (benchmarks/README.md); 35 dB
passes every preset while a wrong op (a dropped norm, a swapped domain) lands far below 30 dB. INT8 of a
generator loses texture detail (≈ 24 dB on the demo) without changing the edit — the classifier's
accuracy on INT8 edits stays within 1–2 points of fp32's — so the PSNR bar (22 dB) only catches broken quantisation
(wrong scales give < 15 dB) and the attribute accuracy is the quality bar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from l2m_edge.contract.signature import STYLE, STYLE_DELTA, EditorSignature
from l2m_edge.errors import ExportError

from .calibration import EditBatch, FeedBatch

DATA_RANGE = 2.0  # images live in [−1, 1]
INT8_ACCURACY_DROP = 2.0  # points of attribute accuracy INT8 may lose against fp32
FP32_MIN_PSNR_OF_RANGE = 80.0  # dB against the output's own range: fp32 rounding noise sits well above, a broken graph far below


@dataclass(frozen=True)
class Threshold:
    """The bar for one compute precision: a PSNR floor against the output's own range, against the
    image range [−1, 1], or both."""

    min_psnr_of_range: float | None = None  # dB, peak = the reference output's range (never below DATA_RANGE)
    min_psnr: float | None = None  # dB, peak = DATA_RANGE

    def failures(self, figures: dict[str, float]) -> list[str]:
        failed = []
        if self.min_psnr_of_range is not None and not figures["psnr_of_range_db"] >= self.min_psnr_of_range:
            failed.append(f"PSNR {figures['psnr_of_range_db']:.2f} dB < {self.min_psnr_of_range:g} dB of the output's range {figures['range']:.3g}")
        if self.min_psnr is not None and not figures["psnr_db"] >= self.min_psnr:
            failed.append(f"PSNR {figures['psnr_db']:.2f} dB < {self.min_psnr:g} dB")
        return failed


THRESHOLDS: dict[str, Threshold] = {
    "fp32": Threshold(min_psnr_of_range=FP32_MIN_PSNR_OF_RANGE),
    "fp16": Threshold(min_psnr=35.0),
    "bf16": Threshold(min_psnr=35.0),
    "int8": Threshold(min_psnr=22.0),
}


def threshold_for(precision: str) -> Threshold:
    try:
        return THRESHOLDS[precision]
    except KeyError:
        raise ExportError(f"no parity threshold for precision {precision!r}; known: {', '.join(THRESHOLDS)}") from None


def _psnr(peak: float, mse: float) -> float:
    return math.inf if mse == 0 else 10.0 * math.log10(peak**2 / mse)


def compare(output: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Errors of `output` against `reference`: max/mean abs, PSNR on the image range (2) and on the
    reference's own range (for fp32: untrained or large models produce outputs well beyond [−1, 1])."""
    if output.shape != reference.shape:
        raise ExportError(f"artifact output shape {output.shape} differs from PyTorch's {reference.shape}")
    diff = output.astype(np.float64) - reference.astype(np.float64)
    mse = float(np.mean(diff**2))
    scale = max(DATA_RANGE, float(np.ptp(reference))) if np.isfinite(reference).all() else DATA_RANGE
    return {
        "max_abs": float(np.max(np.abs(diff))),
        "mean_abs": float(np.mean(np.abs(diff))),
        "psnr_db": _psnr(DATA_RANGE, mse),
        "range": scale,
        "psnr_of_range_db": _psnr(scale, mse),
    }


@torch.no_grad()
def run_torch(editor: torch.nn.Module, batch: EditBatch) -> np.ndarray:
    """The PyTorch fp32 reference output (reference kernels, as exported)."""
    args = [torch.from_numpy(v) for v in batch.feed().values()]
    return editor(*args).float().numpy()


@torch.no_grad()
def torch_style_codes(editor: torch.nn.Module, batch: EditBatch) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's (style, style_delta) for `batch`: the reference of a split artifact's style stage."""
    style, delta = editor.style_stage(*(torch.from_numpy(a) for a in (batch.image, batch.source_domain, batch.target_domain)))
    return style.numpy(), delta.numpy()


def stage_inputs(editor: torch.nn.Module, batch: EditBatch, signatures: dict[str, EditorSignature]) -> dict[str, FeedBatch]:
    """Each stage graph's inputs for `batch`, the generator's style codes from PyTorch (calibration of split artifacts)."""
    style, delta = torch_style_codes(editor, batch)
    values = {**batch.feed(), STYLE: style, STYLE_DELTA: delta}
    return {stage: FeedBatch(signature.feed_named(values)) for stage, signature in signatures.items()}


@torch.no_grad()
def stage_reports(backend: Any, editor: torch.nn.Module, batch: EditBatch, bar: str, ran: dict[str, Any], inputs: str) -> dict[str, dict[str, Any]]:
    """Parity of each graph of a split artifact on its own: the style stage's (style, style_delta) against
    PyTorch's, and the generator stage fed PyTorch's codes against `Editor.generate` on them."""
    style, delta = torch_style_codes(editor, batch)
    codes = np.concatenate(backend.style_code(batch.image, batch.source_domain, batch.target_domain), axis=1)
    generated = backend.generate(batch.image, style, delta, batch.strength, batch.masks)
    tensors = [torch.from_numpy(a) for a in (batch.image, style, delta, batch.strength)]
    masks = () if batch.masks is None else (torch.from_numpy(batch.masks),)
    reference = editor.generate(*tensors, *masks).float().numpy()
    return {
        "style": parity_report(codes, np.concatenate([style, delta], axis=1), bar, ran, f"{inputs}; outputs style ‖ style_delta"),
        "generator": parity_report(generated, reference, bar, ran, f"{inputs}; PyTorch's style codes fed"),
    }


def parity_report(output: np.ndarray, reference: np.ndarray, bar: str, ran: dict[str, Any], inputs: str) -> dict[str, Any]:
    """The manifest's parity entry: figures, the bar they were held to, and whether they cleared it."""
    figures = compare(output, reference)
    threshold = threshold_for(bar)
    failed = threshold.failures(figures)
    return {
        "reference": "pytorch fp32 (reference kernels)",
        **ran,
        "inputs": inputs,
        **{k: _finite(v) for k, v in figures.items()},
        "threshold": {"precision": bar, "min_psnr_of_range_db": threshold.min_psnr_of_range, "min_psnr_db": threshold.min_psnr},
        "passed": not failed,
        "failures": failed,
    }


def _finite(value: float) -> float | str:
    """JSON has no inf: identical outputs record PSNR as the string 'inf'."""
    return value if math.isfinite(value) else "inf"


def enforce(report: dict[str, Any], what: str) -> None:
    """Fail the export loudly when parity missed its bar (the editor's, or a split artifact's stage's)."""
    for stage, part in report.get("stages", {}).items():
        enforce(part, f"{what}, {stage} stage")
    if not report["passed"]:
        raise ExportError(
            f"{what}: parity against PyTorch failed ({'; '.join(report['failures'])}) with {report.get('runtime')} computing in {report.get('compute')}"
        )


@torch.no_grad()
def attribute_accuracy(classifier: torch.nn.Module, images: np.ndarray, targets: np.ndarray, domains: tuple[str, ...] | list[str]) -> float:
    """Percent of edited images the classifier assigns to their target domain (matched by domain name)."""
    names = tuple(getattr(classifier, "domains", ()))
    if sorted(names) != sorted(domains):
        raise ExportError(f"the classifier knows domains {list(names)}, the editor {list(domains)}; use a classifier trained on this attribute")
    order = torch.tensor([names.index(d) for d in domains])
    probs = classifier.predict_domain(torch.from_numpy(images))[:, order]
    return float((probs.argmax(dim=1).numpy() == targets).mean() * 100.0)
