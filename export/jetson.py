"""Jetson bundles: everything a Jetson needs to build and run the editor.

TensorRT engines are specific to the GPU and the TensorRT version, so the engine is built on
the device: the bundle carries a static-shape ONNX in an opset JetPack's TensorRT parses, a
`build_engine.sh` around `trtexec`, a `setup.sh` for the live editor on JetPack 6 (a venv over
JetPack's own TensorRT bindings and GStreamer OpenCV, l2m-edge's device install: no torch), the
native runner's C++ sources, the manifest and a README. JetPack 5 (Python 3.8) gets the C++
runner only: the Python runtime needs 3.10-3.12.

INT8 bundles carry an explicitly quantised (Q/DQ) ONNX, calibrated here on face crops with
symmetric scales (TensorRT accepts only zero-point 0): trtexec `--int8` then takes its scales
from the graph, which TensorRT 10 recommends over implicit calibration, and which lets this
machine measure the INT8 graph's parity in onnxruntime before it ships.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from l2m_edge.errors import ExportError

from .calibration import EditBatch


@dataclass(frozen=True)
class JetPack:
    version: int
    tensorrt: str
    max_opset: int


# JetPack 5.1 ships TensorRT 8.5 (ONNX parser: opset ≤ 17); JetPack 6.0 ships 8.6 and 6.1+ ship 10.3.
JETPACKS = {5: JetPack(5, "8.5", 17), 6: JetPack(6, "8.6 / 10.3", 17)}
# DLA cores per module; Orin Nano has none.
DLA_CORES = {"orin-nano": 0, "orin-nx": 2, "agx-orin": 2}
ENGINE_NAME = "model.engine"
SCRIPT_NAME = "build_engine.sh"
SETUP_NAME = "setup.sh"
PYTHONS = ("3.10", "3.11", "3.12")  # pyproject's requires-python: JetPack 6 has 3.10, JetPack 5 3.8


def check_options(jetpack: int, device: str, dla_core: int | None, precision: str, opset: int) -> JetPack:
    """Refuse a combination the device cannot build, naming what would work."""
    if jetpack not in JETPACKS:
        raise ExportError(f"--jetpack {jetpack} is not supported; choose one of {', '.join(map(str, JETPACKS))}")
    info = JETPACKS[jetpack]
    if opset > info.max_opset:
        raise ExportError(f"--opset {opset}: JetPack {jetpack}'s TensorRT {info.tensorrt} parses ONNX opset ≤ {info.max_opset}")
    if dla_core is not None:
        cores = DLA_CORES[device]
        if not 0 <= dla_core < cores:
            have = f"cores 0..{cores - 1}" if cores else "no DLA"
            raise ExportError(f"--dla-core {dla_core}: {device} has {have}; drop --dla-core to run on the GPU")
        if precision == "fp32":
            raise ExportError("DLA runs fp16 or int8 only; pass --precision fp16 or int8 with --dla-core")
    return info


def quantize_qdq(onnx_in: Path, onnx_out: Path, calibration: EditBatch, static_batch: int) -> Path:
    """Symmetric INT8 Q/DQ ONNX for TensorRT (onnxruntime static quantisation of the convolutions).

    Percentile (99.999 %) activation ranges: symmetric min-max spends the INT8 range on rare
    outliers (demo checkpoint: 21.3 dB vs 23.9 dB PSNR against fp32 with percentile).
    """
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.starts = list(range(0, len(calibration) - len(calibration) % static_batch, static_batch))

        def get_next(self) -> dict | None:
            if not self.starts:
                return None
            start = self.starts.pop(0)
            return calibration.slice(start, start + static_batch).feed()

    quantize_static(
        str(onnx_in),
        str(onnx_out),
        Reader(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        calibrate_method=CalibrationMethod.Percentile,
        op_types_to_quantize=["Conv"],  # the latent MatMuls stay float: see openvino_ir.quantize
        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True},
    )
    return onnx_out


def build_script(onnx_name: str, precision: str, workspace_gib: float, dla_core: int | None) -> str:
    """`build_engine.sh`: trtexec with this bundle's precision, workspace and DLA settings."""
    flags = [f"--onnx={onnx_name}", f"--saveEngine={ENGINE_NAME}", f"--memPoolSize=workspace:{int(workspace_gib * 1024)}", "--timingCacheFile=timing.cache"]
    if precision in ("fp16", "int8"):
        flags.append("--fp16")
    if precision == "int8":
        flags.append("--int8")  # scales come from the Q/DQ nodes in the ONNX
    if dla_core is not None:
        flags += [f"--useDLACore={dla_core}", "--allowGPUFallback"]
    joined = " \\\n    ".join(flags)
    return f"""#!/usr/bin/env bash
# Build {ENGINE_NAME} on this Jetson. Engines are tied to the GPU and TensorRT version, so this
# runs on the device that will use it. Extra arguments go to trtexec (e.g. --verbose).
set -euo pipefail
cd "$(dirname "$0")"
TRTEXEC="${{TRTEXEC:-$(command -v trtexec || echo /usr/src/tensorrt/bin/trtexec)}}"
if [ ! -x "$TRTEXEC" ]; then
    echo "trtexec not found: install TensorRT (it ships with JetPack) or set TRTEXEC=/path/to/trtexec" >&2
    exit 1
fi
"$TRTEXEC" \\
    {joined} \\
    "$@"
echo "built $(pwd)/{ENGINE_NAME}"
"""


def setup_script(version: str) -> str:
    """`setup.sh` for JetPack 6: venv (with JetPack's TensorRT and OpenCV), device install, engine, a check."""
    pythons = "|".join(PYTHONS)
    return f"""#!/usr/bin/env bash
# Set up l2m-edge's live editor on this Jetson (JetPack 6): a venv that sees JetPack's TensorRT
# Python bindings and its GStreamer-enabled OpenCV (--system-site-packages), l2m-edge's device
# install (no torch: PyPI's torch is not NVIDIA's CUDA build), then the engine.
#   VENV=...               where the venv goes (default: ./venv beside this script)
#   L2M_EDGE_WHEEL=...     the l2m-edge wheel or requirement to install (default: a l2m_edge-*.whl
#                          beside this script, else l2m-edge=={version} from PyPI)
set -euo pipefail
cd "$(dirname "$0")"
BUNDLE="$(pwd)"
VENV="${{VENV:-$BUNDLE/venv}}"
PYTHON="${{PYTHON:-python3}}"

say() {{ printf '%s\\n' "$*"; }}
fail() {{ printf 'setup.sh: %s\\n' "$*" >&2; exit 1; }}

TEGRA_RELEASE="${{TEGRA_RELEASE:-/etc/nv_tegra_release}}"  # L4T's release file: only a Jetson has it
[ -r "$TEGRA_RELEASE" ] || fail "not a Jetson (no $TEGRA_RELEASE); on a PC: pip install l2m-edge"
version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
case "$version" in
    {pythons}) ;;
    *) fail "Python $version: l2m-edge's runtime needs Python {PYTHONS[0]}-{PYTHONS[-1]} (JetPack 6). JetPack 5 (Python 3.8) runs the C++ runner only: see README.md, 'JetPack 5'" ;;
esac
"$PYTHON" -c 'import tensorrt' 2>/dev/null || fail "JetPack's TensorRT Python bindings are missing: sudo apt-get install python3-libnvinfer"
"$PYTHON" -m venv --help >/dev/null 2>&1 || fail "python3-venv is missing: sudo apt-get install python3-venv"

wheel="${{L2M_EDGE_WHEEL:-}}"
if [ -z "$wheel" ]; then
    for candidate in "$BUNDLE"/l2m_edge-*.whl; do
        [ -e "$candidate" ] && wheel="$candidate"
    done
fi
wheel="${{wheel:-l2m-edge=={version}}}"

say "venv: $VENV (over the system's site-packages: TensorRT, OpenCV)"
"$PYTHON" -m venv --system-site-packages "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
say "installing $wheel (the device install: runtime, MediaPipe 0.10.18, onnxruntime, OpenVINO; no torch)"
"$VENV/bin/python" -m pip install "$wheel"

# pip's OpenCV wheel has no GStreamer, so it cannot open csi://0; JetPack's can. Keep JetPack's when it has it.
if "$PYTHON" -c 'import cv2, re, sys; sys.exit(not re.search(r"GStreamer:\\s+YES", cv2.getBuildInformation()))' 2>/dev/null; then
    "$VENV/bin/python" -m pip uninstall --yes --quiet opencv-contrib-python
    say "OpenCV: JetPack's (GStreamer: csi:// cameras open)"
else
    say "OpenCV: pip's (no GStreamer: csi:// needs JetPack's OpenCV, sudo apt-get install nvidia-opencv)"
fi

[ -f {ENGINE_NAME} ] || ./{SCRIPT_NAME}
"$VENV/bin/l2m-edge" verify "$BUNDLE"
"$VENV/bin/l2m-edge" info
say ""
say "ready. Live, from the CSI camera, on the TensorRT backend:"
say "  $VENV/bin/l2m-edge run --source csi://0 --model $BUNDLE/{ENGINE_NAME} --backend tensorrt --sink window"
"""


def check_script(path: Path) -> None:
    """`bash -n`: the script parses (it can only run on the device)."""
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        raise ExportError(f"{path.name} does not parse: {result.stderr.strip().splitlines()[0]}")


def source_root() -> Path:
    """The source checkout holding native/ and CMakeLists.txt (export/ sits at its top level)."""
    return Path(__file__).resolve().parents[1]


def copy_native(directory: Path) -> list[str]:
    """Copy native/ and CMakeLists.txt from the source tree; [] when this install has none (a wheel)."""
    root = source_root()
    if not (root / "native").is_dir() or not (root / "CMakeLists.txt").is_file():
        return []
    shutil.copy2(root / "CMakeLists.txt", directory / "CMakeLists.txt")
    shutil.copytree(root / "native", directory / "native", ignore=shutil.ignore_patterns("build*", "__pycache__", ".*"))
    return ["CMakeLists.txt", *sorted(str(p.relative_to(directory)) for p in (directory / "native").rglob("*") if p.is_file())]


def readme(onnx_name: str, precision: str, jetpack: JetPack, device: str, dla_core: int | None, has_native: bool, domains: list[str], size: int) -> str:
    dla = f" on DLA core {dla_core} (GPU fallback allowed)" if dla_core is not None else " on the GPU"
    native = (
        "```bash\n"
        "cmake -S . -B build -DL2M_EDGE_WITH_TENSORRT=ON -DL2M_EDGE_WITH_OPENVINO=OFF\n"
        "cmake --build build -j\n"
        f"build/l2m-edge-runner . --input crop.bin --output edited.bin   # one aligned {size}×{size} face crop\n"
        "```\n\n"
        "The runner (`l2m-edge-runner`, native/README.md) reads manifest.json, checks every file's hash and runs "
        f"{ENGINE_NAME} on aligned face crops (tensors in the layout below). It does not track or align faces, so it "
        "refuses videos: the live editor is the Python runtime.\n"
        if has_native
        else "This bundle was made from an installed wheel, which has no C++ sources: export from a source checkout to include native/.\n"
    )
    return f"""# l2m-edge Jetson bundle

Editor for {device}, JetPack {jetpack.version} (TensorRT {jetpack.tensorrt}), {precision}{dla}.
Not run on a Jetson by the project (none was available): everything up to the engine is checked
where it was exported (the ONNX's parity, both scripts with `bash -n` and shellcheck).

## Live on JetPack 6: from unpacking to a CSI camera

```bash
tar xf bundle.tar && cd bundle          # this folder, copied to the Jetson
./{SETUP_NAME}                              # venv + device install (no torch) + ./{SCRIPT_NAME} + checks
venv/bin/l2m-edge run --source csi://0 --model {ENGINE_NAME} --backend tensorrt --sink window
venv/bin/l2m-edge run --source csi://0 --model {ENGINE_NAME} --sink edited.mp4   # headless: to a file
```

`{SETUP_NAME}` makes `venv/` with `--system-site-packages`, so JetPack's TensorRT bindings
(`python3-libnvinfer`) and its OpenCV, built with GStreamer (`csi://0` is `nvarguscamerasrc`), are
the ones used; it installs l2m-edge's device install (runtime, MediaPipe 0.10.18, onnxruntime,
OpenVINO; no torch, whose PyPI build is not NVIDIA's CUDA one) from a `l2m_edge-*.whl` put beside it
(`pip wheel --no-deps .` in a checkout) or `L2M_EDGE_WHEEL=...`, removes pip's OpenCV when JetPack's has
GStreamer, builds the engine and runs `l2m-edge verify` and `l2m-edge info`. The attribute classifier
(`--from auto`) is `classifier.onnx` in this bundle, run by onnxruntime.

## Build the engine (on the device; `{SETUP_NAME}` does it)

```bash
./{SCRIPT_NAME}          # trtexec → {ENGINE_NAME}; set TRTEXEC=... if trtexec is not on PATH
```

The ONNX ({onnx_name}) has static shapes and opset ≤ {jetpack.max_opset}; its parity against PyTorch
was measured before shipping (manifest.json, `parity`). Engines are tied to the GPU and TensorRT
version: rebuild after a JetPack upgrade.

## JetPack 5: the C++ runner only

JetPack 5 has Python 3.8; l2m-edge's runtime needs Python {PYTHONS[0]}-{PYTHONS[-1]} (MediaPipe and numpy
releases it depends on), so `{SETUP_NAME}` refuses it. JetPack 5 runs the C++ runner on aligned crops:

{native}
Inputs (manifest.json): `image` float32 [1,3,{size},{size}] RGB in [-1, 1], NCHW;
`source_domain`, `target_domain` int64 [1] with {", ".join(f"{i} = {d}" for i, d in enumerate(domains))};
`strength` float32 [1] (0 reconstructs, 1 is the trained edit). Output `edited`, like `image`.
"""
