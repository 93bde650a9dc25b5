"""Jetson bundles: everything a Jetson needs to build and run the editor, without Python.

TensorRT engines are specific to the GPU and the TensorRT version, so the engine is built on
the device: the bundle carries a static-shape ONNX in an opset JetPack's TensorRT parses, a
`build_engine.sh` around `trtexec`, the native runner's C++ sources, the manifest and a README.

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
        "## Native runner\n\n"
        "```bash\n"
        "cmake -S . -B build -DL2M_EDGE_WITH_TENSORRT=ON -DL2M_EDGE_WITH_OPENVINO=OFF\n"
        "cmake --build build -j\n"
        "```\n\n"
        "The runner (`l2m-edge-runner`, see native/README.md) reads manifest.json, checks file hashes and runs "
        f"{ENGINE_NAME}.\n"
        if has_native
        else "## Native runner\n\nThis bundle was made from an installed wheel, which has no C++ sources: export from a source checkout to include native/.\n"
    )
    return f"""# l2m-edge Jetson bundle

Editor for {device}, JetPack {jetpack.version} (TensorRT {jetpack.tensorrt}), {precision}{dla}.

Inputs (see manifest.json): `image` float32 [1,3,{size},{size}] RGB in [-1, 1], NCHW;
`source_domain`, `target_domain` int64 [1] with {", ".join(f"{i} = {d}" for i, d in enumerate(domains))};
`strength` float32 [1] (0 reconstructs, 1 is the trained edit). Output `edited`, like `image`.

## Build the engine (on the device)

```bash
./{SCRIPT_NAME}          # trtexec → {ENGINE_NAME}; set TRTEXEC=... if trtexec is not on PATH
```

The ONNX ({onnx_name}) has static shapes and opset ≤ {jetpack.max_opset}; its parity against PyTorch
was measured before shipping (manifest.json, `parity`).

{native}"""
