"""Compare the arm64 run of scripts/arm64_check.sh with the x86 run: the edited faces, pixel by pixel.

    python scripts/arm64_compare.py --work /var/tmp/l2m-arm64/work --out benchmarks/arm64

Reads the layout arm64_check.sh leaves in --work (clip/, out/<platform>-<backend>/ and .log, the
artifacts, model_out/, steps.tsv, arm64-system.txt, arm64-packages.json) and writes <out>.json
and <out>.md. Per backend, frame by frame:

- the edited region is every pixel that either platform's output changed against the input frame
  (both started from the same PNG frames, so any other pixel must be equal, and is counted);
- inside it, `export.parity.compare` on the two outputs scaled to [−1, 1], the largest difference in
  grey levels and the share of pixels that differ. These include the trackers' difference (each
  machine's MediaPipe places the crop a little differently, and the crop is resampled from there);
- the editor graph alone, fed the same aligned faces on both (scripts/arm64_model_parity.py): its
  outputs held to the precision's parity bar (`export.parity.THRESHOLDS`, fp32: PSNR ≥ 80 dB of the range);
- the shipped attribute classifier (on x86) reads the arm64 output's faces, aligned with the x86
  tracker's landmarks of the input frames: they must read as the target (smile).

And the tracker alone: aarch64 MediaPipe's landmarks on the photos and clips of
benchmarks/mediapipe_versions.py against x86's recorded ones, measured (what moves each machine's crop).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from l2m_edge.backends import open_artifact
from l2m_edge.export.parity import compare, threshold_for
from l2m_edge.runtime.align import align_face, crop_to_tensor
from l2m_edge.assets import shipped_classifier
from l2m_edge.metrics.classifier import load_classifier
from l2m_edge.runtime.tracking import FaceTracker

REPO = Path(__file__).resolve().parents[1]
PLATFORMS = ("x86_64", "arm64")
TARGET_DOMAIN = "smile"
ARTIFACT_FOR = {"onnxruntime": "art-onnx", "openvino": "art-openvino"}


def frames(folder: Path) -> list[np.ndarray]:
    paths = sorted(folder.glob("*.png"))
    if not paths:
        raise SystemExit(f"{folder}: no frames (did scripts/arm64_check.sh finish?)")
    return [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in paths]


def faces_edited(log: Path) -> int:
    found = re.search(r"faces edited (\d+)", log.read_text())
    return int(found.group(1)) if found else 0


def backend_line(log: Path) -> str:
    found = re.search(r"^backend: (.*)$", log.read_text(), re.MULTILINE)
    return found.group(1) if found else "?"


def pixel_parity(inputs: list[np.ndarray], x86: list[np.ndarray], arm: list[np.ndarray], precision: str) -> dict:
    """The two runs' outputs inside the edited region (see module docstring), over all frames."""
    if not len(inputs) == len(x86) == len(arm):
        raise SystemExit(f"frame counts differ: input {len(inputs)}, x86 {len(x86)}, arm64 {len(arm)}")
    region_x86, region_arm, outside_diff, edit_levels = [], [], 0, []
    for source, a, b in zip(inputs, x86, arm):
        region = (a != source).any(-1) | (b != source).any(-1)
        outside_diff += int(((a != b).any(-1) & ~region).sum())
        region_x86.append(a[region])
        region_arm.append(b[region])
        edit_levels.append(float(np.abs(a[region].astype(np.int16) - source[region]).mean()) if region.any() else 0.0)
    a, b = np.concatenate(region_x86).astype(np.float64), np.concatenate(region_arm).astype(np.float64)
    figures = compare(b / 127.5 - 1.0, a / 127.5 - 1.0)  # arm64 against the x86 reference
    levels = np.abs(a - b)
    return {
        "region_pixels": int(len(a)),
        "outside_region_pixels_differing": outside_diff,
        "edit_mean_abs_levels": float(np.mean(edit_levels)),
        "max_abs_levels": float(levels.max()),
        "mean_abs_levels": float(levels.mean()),
        "share_differing": float((levels > 0).any(-1).mean()),
        "parity": _finite(figures),
    }


def _finite(figures: dict[str, float]) -> dict[str, float | str]:
    return {k: (v if np.isfinite(v) else "inf") for k, v in figures.items()}


def graph_parity(work: Path, backend: str, precision: str) -> dict:
    """The editor graph's outputs on the same faces, arm64 against x86, and the precision's bar."""
    outputs = {p: work / "model_out" / f"{p}-{backend}.npy" for p in PLATFORMS}
    missing = [p for p, path in outputs.items() if not path.exists()]
    if missing:
        log = [line for line in (work / "model_out" / f"{missing[0]}-{backend}.log").read_text().splitlines() if line.strip()]
        return {"failed": f"{missing[0]}: no output ({' / '.join(log[-2:])})"}
    figures = compare(np.load(outputs["arm64"]), np.load(outputs["x86_64"]))
    return {"faces": int(len(np.load(outputs["x86_64"]))), "parity": _finite(figures), "bar": precision, "bar_failures": threshold_for(precision).failures(figures)}


def classifier_reading(inputs: list[np.ndarray], outputs: dict[str, list[np.ndarray]], artifact: Path) -> dict:
    """Share of faces the shipped classifier reads as TARGET_DOMAIN: input frames and each output, aligned with x86 landmarks."""
    manifest = open_artifact(artifact).manifest
    size = manifest.inputs[0].shape[-1]
    tracker = FaceTracker()
    landmarks = [faces[0].landmarks if (faces := tracker.update(frame, i / 25.0)) else None for i, frame in enumerate(inputs)]
    tracker.close()

    classifier = load_classifier(shipped_classifier())  # PyTorch, as trained: not the graph the artifact carries
    target = list(classifier.domains).index(TARGET_DOMAIN)

    def share(images: list[np.ndarray]) -> float:
        crops = [align_face(image, lm, size, manifest.framing).crop for image, lm in zip(images, landmarks) if lm is not None]
        probs = classifier.predict_domain(torch.from_numpy(crop_to_tensor(crops))).numpy()
        return float(np.mean(probs.argmax(1) == target))

    return {"faces": sum(lm is not None for lm in landmarks), "input": share(inputs), **{name: share(images) for name, images in outputs.items()}}


def landmark_agreement(work: Path) -> dict:
    """aarch64 MediaPipe's landmarks against x86's record (benchmarks/mediapipe_0.10.18.npz; x86's 0.10.21 gives the same points)."""
    spec = importlib.util.spec_from_file_location("mediapipe_versions", REPO / "benchmarks" / "mediapipe_versions.py")
    versions = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(versions)
    (x86_version, x86), (arm_version, arm) = versions.load(REPO / "benchmarks" / "mediapipe_0.10.18.npz"), versions.load(work / "arm64-mediapipe.npz")
    total = versions.summary(versions.compare(x86, arm))
    return {"x86_64": x86_version, "arm64": arm_version, "summary": total, "beyond_one_cpu_tolerance": versions.within_tolerance(total),
            "one_cpu_tolerance_px": versions.LANDMARK_TOLERANCE_PX}


def _lscpu() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    flags = " ".join(f for f in fields.get("Flags", "").split() if f.startswith(("avx", "fma", "f16c")))
    return f"{fields.get('Model name', '?').strip()}, flags {flags}"


def collect(work: Path) -> dict:
    inputs = frames(work / "clip")
    system = dict(line.split(": ", 1) for line in (work / "arm64-system.txt").read_text().splitlines() if ": " in line)
    packages = {p["name"].lower(): p["version"] for p in json.loads((work / "arm64-packages.json").read_text())}
    steps = [{"step": name, "seconds": int(sec)} for name, sec in (line.split("\t") for line in (work / "steps.tsv").read_text().splitlines())]
    import mediapipe
    import onnxruntime
    import openvino

    record = {
        "clip": {"frames": len(inputs), "size": f"{inputs[0].shape[1]}x{inputs[0].shape[0]}", "kind": "SynthFaces actor (runtime.clip), PNG frames"},
        "x86_64": {"cpu": _lscpu(), "python": platform.python_version(), "mediapipe": mediapipe.__version__, "onnxruntime": onnxruntime.__version__, "openvino": openvino.__version__},
        "arm64": {**system, "torch_installed": "torch" in packages, "packages": {k: packages[k] for k in sorted(packages)}},
        "steps": steps,
        "total_seconds": sum(s["seconds"] for s in steps),
        "backends": {},
        "mediapipe_landmarks": landmark_agreement(work),
    }
    for backend, art in ARTIFACT_FOR.items():
        logs = {p: work / "out" / f"{p}-{backend}.log" for p in PLATFORMS}
        precision = open_artifact(work / art).manifest.precision
        entry = record["backends"][backend] = {
            "artifact": f"{art} ({precision})",
            "command": (work / "out" / f"arm64-{backend}.cmd").read_text().strip(),
            "ran": {p: backend_line(logs[p]) for p in PLATFORMS},
            "faces_edited": {p: faces_edited(logs[p]) for p in PLATFORMS},
        }
        entry["graph"] = graph_parity(work, backend, precision)
        failed = {p: failure(work / "out" / f"{p}-{backend}") for p in PLATFORMS if (work / "out" / f"{p}-{backend}.failed").exists()}
        if failed:
            entry["failed"] = failed
            continue
        runs = {p: frames(work / "out" / f"{p}-{backend}") for p in PLATFORMS}
        entry["pixels"] = pixel_parity(inputs, runs["x86_64"], runs["arm64"], precision)
        entry["classifier_reads_smile"] = classifier_reading(inputs, runs, work / art)
    return record


def failure(run: Path) -> dict:
    """A failed run's exit status and the last lines of its log that are not MediaPipe's chatter."""
    lines = [line for line in run.with_suffix(".log").read_text().splitlines() if line.strip() and not line.startswith(("W0000", "I0000", "INFO:", "WARNING:"))]
    return {"exit": int(run.with_suffix(".failed").read_text()), "log_tail": lines[-3:]}


def markdown(r: dict) -> str:
    arm = r["arm64"]
    lines = [
        "# l2m-edge on arm64 (Debian bookworm under qemu-user-static)",
        "",
        "Made by `sudo scripts/arm64_check.sh` (compare: `scripts/arm64_compare.py`). An arm64 Debian root, the",
        "project's wheel built on x86 and installed there with its aarch64 dependencies from PyPI, runs",
        f"`l2m-edge run` on a {r['clip']['frames']}-frame {r['clip']['size']} clip ({r['clip']['kind']}) with artifacts exported on x86",
        "from the shipped demo checkpoint; the same command runs on x86 and the outputs are compared.",
        "",
        f"- arm64: {arm.get('machine')}, {arm.get('python')}, {arm.get('glibc')}, Debian {arm.get('debian')}, {arm.get('qemu')};",
        f"  mediapipe {arm['packages'].get('mediapipe')}, onnxruntime {arm['packages'].get('onnxruntime')}, openvino {arm['packages'].get('openvino')},"
        f" numpy {arm['packages'].get('numpy')}, opencv-contrib-python {arm['packages'].get('opencv-contrib-python')};"
        f" torch installed: {'yes' if arm['torch_installed'] else 'no'}.",
        f"- x86-64: {r['x86_64']['cpu']}, Python {r['x86_64']['python']}, mediapipe {r['x86_64']['mediapipe']},"
        f" onnxruntime {r['x86_64']['onnxruntime']}, openvino {r['x86_64']['openvino']}.",
        "",
        "The graph alone, the same aligned faces fed on both machines (arm64 against x86; the precision's parity bar):",
        "",
        "| backend | faces | max abs | PSNR of range (dB) | bar |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for backend, b in r["backends"].items():
        g = b["graph"]
        if "failed" in g:
            lines.append(f"| {backend} | – | – | – | **failed**: {g['failed']} |")
            continue
        psnr = g["parity"]["psnr_of_range_db"]
        verdict = f"{g['bar']}: " + ("passed" if not g["bar_failures"] else "failed: " + "; ".join(g["bar_failures"]))
        lines.append(f"| {backend} | {g['faces']} | {g['parity']['max_abs']:.2g} | {psnr if isinstance(psnr, str) else f'{psnr:.1f}'} | {verdict} |")
    lines += [
        "",
        "`l2m-edge run`'s frames: the edited region is every pixel either machine's output changed against the input;",
        "the differences include the trackers' (each machine's MediaPipe places the crop a little differently):",
        "",
        "| backend | ran on arm64 | faces edited x86 / arm64 | edited-region pixels | differing outside it | edit, mean grey levels | arm64 − x86 max / mean grey levels | share of pixels differing | PSNR of range (dB) | read as smile: input / x86 / arm64 |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for backend, b in r["backends"].items():
        if "failed" in b:
            why = "; ".join(f"{p}: exit {f['exit']}, " + " / ".join(f["log_tail"]) for p, f in b["failed"].items())
            lines.append(f"| {backend} | **failed** ({why}) | {b['faces_edited']['x86_64']} / {b['faces_edited']['arm64']} | – | – | – | – | – | – | – |")
            continue
        p, c = b["pixels"], b["classifier_reads_smile"]
        psnr = p["parity"]["psnr_of_range_db"]
        lines.append(
            f"| {backend} | {b['ran']['arm64']} | {b['faces_edited']['x86_64']} / {b['faces_edited']['arm64']} | {p['region_pixels']} | "
            f"{p['outside_region_pixels_differing']} | {p['edit_mean_abs_levels']:.1f} | {p['max_abs_levels']:.0f} / {p['mean_abs_levels']:.2g} | "
            f"{p['share_differing']:.2%} | {psnr if isinstance(psnr, str) else f'{psnr:.1f}'} | "
            f"{c['input']:.0%} / {c['x86_64']:.0%} / {c['arm64']:.0%} |"
        )
    m = r["mediapipe_landmarks"]
    t = m["summary"]
    lines += [
        "",
        f"The tracker alone (`benchmarks/mediapipe_versions.py` record, run in the root): MediaPipe {m['arm64']} on aarch64 against {m['x86_64']} on x86-64",
        f"(bit-identical to 0.10.21 there, `benchmarks/mediapipe_versions.md`), {t['cases']} photo/clip cases, {t['frames_with_face_in_both']} faces:",
        f"faces found differently {t['faces_found_differently']}, landmarks max {t['landmark_max_px']:.2g} px / mean {t['landmark_mean_px']:.2g} px,",
        f"high-pass mask IoU ≥ {t['mask_iou_min']:.4f} (mean |diff| ≤ {t['mask_mean_abs_diff']:.2g}), paste alpha IoU ≥ {t['alpha_iou_min']:.4f}.",
        "A measurement, not a bar: the two CPUs' FaceMesh kernels (XNNPACK on NEON, on AVX2) round differently, which moves each",
        "machine's crop and is why `run`'s frames differ where the graph alone does not. "
        + ("Within" if not m["beyond_one_cpu_tolerance"] else "Beyond")
        + f" the bar for two MediaPipe versions on one CPU (landmarks ≤ {m['one_cpu_tolerance_px']} px)"
        + (": " + "; ".join(m["beyond_one_cpu_tolerance"]) if m["beyond_one_cpu_tolerance"] else "") + ".",
    ]
    lines += ["", "Commands (the same on both, in the work folder): " + "; ".join(f"`{b['command']}`" for b in r["backends"].values()) + "."]
    lines += ["", "Steps (wall time on the shared 2-core x86 machine; emulation, not arm64 speed):", "", "| step | seconds |", "| --- | ---: |"]
    lines += [f"| {s['step']} | {s['seconds']} |" for s in r["steps"]]
    lines += [f"| total | {r['total_seconds']} |", "", f"Building the root itself (debootstrap, once; reused by every later run) took {arm.get('root_build_seconds', '?')} s.", "", "The root's venv (pip, aarch64 wheels from PyPI): " + ", ".join(f"{k} {v}" for k, v in arm["packages"].items()) + ".", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="stem: writes <out>.json and <out>.md")
    args = parser.parse_args(argv)
    record = collect(args.work)
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(record))
    broken = [b for b, v in record["backends"].items() if "failed" in v or "failed" in v["graph"] or v["graph"]["bar_failures"] or v["classifier_reads_smile"]["arm64"] < 0.5]
    print(args.out.with_suffix(".md").read_text())
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
