"""How close an exported artifact is to PyTorch, and the bar each precision must clear.

The thresholds live here and only here (the README quotes them):

* fp32 (onnxruntime, OpenVINO with INFERENCE_PRECISION_HINT=f32): max abs error ≤ 1e-4 on
  images in [−1, 1].
* fp16 / bf16 (reduced-precision compute): PSNR against the PyTorch fp32 output ≥ 35 dB.
* int8 (NNCF for OpenVINO, onnxruntime Q/DQ for Jetson): PSNR ≥ 22 dB, and, when an attribute
  classifier is given, accuracy on the edited outputs within 2 points of fp32.

Measured on this CPU (8 SynthFaces crops, seed 2002), on the trained demo checkpoint and on the
random-weight tiny preset of the tests:

| artifact, compute                    | demo checkpoint            | tiny, random weights |
|--------------------------------------|----------------------------|----------------------|
| ONNX fp32, onnxruntime               | max abs 4.2e-6             | 1.1e-5               |
| OpenVINO FP32 IR, hint f32           | max abs 1.3e-5             | 4.0e-5               |
| OpenVINO FP16 IR, bf16 (CPU default) | 55.5 dB                    | 46.1 dB              |
| OpenVINO INT8 (NNCF MIXED), bf16     | 23.7 dB, accuracy 98 % vs 100 % | ≈ 26 dB              |
| Jetson INT8 Q/DQ, onnxruntime        | 23.9 dB, accuracy 99 % vs 100 % | ≈ 27 dB              |

Why these bars: fp32 runtimes differ from PyTorch only by kernel rounding (1e-5), so 1e-4 catches
any graph change. bf16 keeps 8 mantissa bits: 55.5 dB on the trained demo, 46 dB (tiny) down to
35.9 dB (paper) on random weights, whose activations grow with depth (benchmarks/README.md); 35 dB
passes every preset while a wrong op (a dropped norm, a swapped domain) lands far below 30 dB. INT8 of a
generator loses texture detail (≈ 24 dB on the demo) without changing the edit — the classifier's
accuracy on INT8 edits stays within 1–2 points of fp32's — so the PSNR bar (22 dB) only catches broken quantisation
(wrong scales give < 15 dB) and the attribute accuracy is the quality bar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from l2m_edge.contract.signature import EDITED
from l2m_edge.errors import ExportError

from .calibration import EditBatch

DATA_RANGE = 2.0  # images live in [−1, 1]
INT8_ACCURACY_DROP = 2.0  # points of attribute accuracy INT8 may lose against fp32


@dataclass(frozen=True)
class Threshold:
    """The bar for one compute precision: a max abs error, a minimum PSNR, or both."""

    max_abs: float | None = None
    min_psnr: float | None = None

    def failures(self, max_abs: float, psnr: float) -> list[str]:
        failed = []
        if self.max_abs is not None and not max_abs <= self.max_abs:
            failed.append(f"max abs error {max_abs:.3g} > {self.max_abs:g}")
        if self.min_psnr is not None and not psnr >= self.min_psnr:
            failed.append(f"PSNR {psnr:.2f} dB < {self.min_psnr:g} dB")
        return failed


THRESHOLDS: dict[str, Threshold] = {
    "fp32": Threshold(max_abs=1e-4),
    "fp16": Threshold(min_psnr=35.0),
    "bf16": Threshold(min_psnr=35.0),
    "int8": Threshold(min_psnr=22.0),
}

# OpenVINO's names for what compiled models compute in → ours.
_OV_NAMES = {"f32": "fp32", "float32": "fp32", "f16": "fp16", "float16": "fp16", "bf16": "bf16", "bfloat16": "bf16"}


def threshold_for(precision: str) -> Threshold:
    try:
        return THRESHOLDS[precision]
    except KeyError:
        raise ExportError(f"no parity threshold for precision {precision!r}; known: {', '.join(THRESHOLDS)}") from None


def compare(output: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """max/mean abs error and PSNR (dB, data range 2) of `output` against `reference`."""
    if output.shape != reference.shape:
        raise ExportError(f"artifact output shape {output.shape} differs from PyTorch's {reference.shape}")
    diff = output.astype(np.float64) - reference.astype(np.float64)
    mse = float(np.mean(diff**2))
    return {
        "max_abs": float(np.max(np.abs(diff))),
        "mean_abs": float(np.mean(np.abs(diff))),
        "psnr_db": math.inf if mse == 0 else 10.0 * math.log10(DATA_RANGE**2 / mse),
    }


def check_domains(batch: EditBatch, domains: list[str] | tuple[str, ...]) -> None:
    """Refuse out-of-range domain indices before any runtime sees them (OpenVINO's Gather crashes on them)."""
    for name in ("source_domain", "target_domain"):
        values = getattr(batch, name)
        bad = values[(values < 0) | (values >= len(domains))]
        if bad.size:
            valid = ", ".join(f"{i}={d}" for i, d in enumerate(domains))
            raise ExportError(f"{name} {int(bad[0])} is out of range; valid domains are {valid}")


def _chunks(batch: EditBatch, static_batch: int | None) -> list[EditBatch]:
    step = static_batch or len(batch)
    if len(batch) % step:
        raise ExportError(f"{len(batch)} inputs do not split into static batches of {step}")
    return [batch.slice(i, i + step) for i in range(0, len(batch), step)]


@torch.no_grad()
def run_torch(editor: torch.nn.Module, batch: EditBatch) -> np.ndarray:
    """The PyTorch fp32 reference output (reference kernels, as exported)."""
    args = [torch.from_numpy(v) for v in batch.feed().values()]
    return editor(*args).float().numpy()


def run_onnxruntime(path: Path, batch: EditBatch, domains: tuple[str, ...] | list[str], static_batch: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Run an ONNX file in onnxruntime on the CPU: (output, what ran)."""
    import onnxruntime as ort

    check_domains(batch, domains)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    outputs = [session.run([EDITED], chunk.feed())[0] for chunk in _chunks(batch, static_batch)]
    return np.concatenate(outputs), {"runtime": f"onnxruntime {ort.__version__}", "provider": "CPUExecutionProvider", "compute": "fp32"}


def run_openvino(
    path: Path, batch: EditBatch, domains: tuple[str, ...] | list[str], hint: str | None, device: str = "CPU", static_batch: int | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Run an IR (or ONNX) in OpenVINO: (output, what ran — read back from the compiled model).

    `hint` is INFERENCE_PRECISION_HINT ('f32', 'f16', 'bf16') or None for the device default
    (bf16 on CPUs with AMX/AVX512-BF16, f16 on GPUs, f32 elsewhere).
    """
    import openvino as ov
    import openvino.properties.hint as hints

    check_domains(batch, domains)
    core = ov.Core()
    config = {hints.inference_precision: hint} if hint else {}
    compiled = core.compile_model(core.read_model(str(path)), device, config)
    ran = str(compiled.get_property(hints.inference_precision()))
    ran = _OV_NAMES.get(ran.lower().replace("<type: '", "").rstrip("'>"), ran)
    request = compiled.create_infer_request()
    outputs = [request.infer(chunk.feed())[EDITED].copy() for chunk in _chunks(batch, static_batch)]
    return np.concatenate(outputs), {"runtime": f"openvino {ov.__version__}", "device": device, "compute": ran, "hint": hint or "device default"}


def parity_report(output: np.ndarray, reference: np.ndarray, bar: str, ran: dict[str, Any], inputs: str) -> dict[str, Any]:
    """The manifest's parity entry: figures, the bar they were held to, and whether they cleared it."""
    figures = compare(output, reference)
    threshold = threshold_for(bar)
    failed = threshold.failures(figures["max_abs"], figures["psnr_db"])
    return {
        "reference": "pytorch fp32 (reference kernels)",
        **ran,
        "inputs": inputs,
        **{k: _finite(v) for k, v in figures.items()},
        "threshold": {"precision": bar, "max_abs": threshold.max_abs, "min_psnr_db": threshold.min_psnr},
        "passed": not failed,
        "failures": failed,
    }


def _finite(value: float) -> float | str:
    """JSON has no inf: identical outputs record PSNR as the string 'inf'."""
    return value if math.isfinite(value) else "inf"


def enforce(report: dict[str, Any], what: str) -> None:
    """Fail the export loudly when parity missed its bar."""
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
