"""Time the Triton kernels against eager PyTorch (and torch.compile) at every preset's real shapes.

    python benchmarks/kernels.py [--presets paper edge ...] [--batches 1 8] [--out FILE]
    python benchmarks/kernels.py --compile-only 90     # no GPU needed: build for sm_90, show registers

Needs a CUDA GPU; without one it exits with a one-line message. Times are medians of
`triton.testing.do_bench` (which flushes L2 between runs). `fused_adain` is also reported as
achieved GB/s (one read + one write of the map) against the device-to-device copy bandwidth
measured the same way (`clone`). The paper-preset Editor runs with kernels on and off. Every
Triton result is checked against the reference before it is timed. Results go to
benchmarks/results/kernels-<gpu>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import torch

from l2m_edge.config import get_preset, preset_names
from l2m_edge.kernels.packing import pack_latent_weights
from l2m_edge.model import build_editor
from l2m_edge.model.kernel_shapes import adain_shapes, latent_shape, random_latent_weights

RESULTS = Path(__file__).resolve().parent / "results"
DTYPES = {"fp32": torch.float32, "fp16": torch.float16}


def _median_ms(fn: Callable[[], Any]) -> float:
    from triton.testing import do_bench

    return float(do_bench(fn, warmup=25, rep=200, return_mode="median"))


def _compiled(fn: Callable[..., Any]) -> tuple[Callable[..., Any] | None, str]:
    try:
        return torch.compile(fn, dynamic=False), ""
    except Exception as exc:  # noqa: BLE001 — any failure just means "no compile column"
        return None, f"{type(exc).__name__}: {exc}".splitlines()[0]


def _time_compiled(fn: Callable[..., Any] | None, *args: Any) -> tuple[float | None, str]:
    if fn is None:
        return None, "torch.compile unavailable"
    try:
        fn(*args)
        return _median_ms(lambda: fn(*args)), ""
    except Exception as exc:  # noqa: BLE001
        return None, f"{type(exc).__name__}: {exc}".splitlines()[0][:200]


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-30))


def copy_bandwidth(numel: int, dtype: torch.dtype) -> float:
    """Device-to-device copy GB/s (read + write) for `numel` values: the roofline to compare with."""
    x = torch.randn(numel, device="cuda").to(dtype)
    ms = _median_ms(lambda: x.clone())
    return 2 * numel * x.element_size() / (ms * 1e-3) / 1e9


def bench_adain(presets: list[str], batches: list[int], dtypes: list[str]) -> list[dict]:
    from l2m_edge.kernels import fused_adain_reference
    from l2m_edge.kernels.triton_adain import fused_adain_triton

    compiled, compile_error = _compiled(fused_adain_reference)
    rows = []
    seen: set[tuple] = set()
    for preset in presets:
        for c, h, w in adain_shapes(preset):
            for batch in batches:
                for dname in dtypes:
                    key = (c, h, w, batch, dname)
                    if key in seen:
                        continue
                    seen.add(key)
                    dtype = DTYPES[dname]
                    x = torch.randn(batch, c, h, w, device="cuda").to(dtype)
                    gamma = torch.randn(batch, c, device="cuda").to(dtype)
                    beta = torch.randn(batch, c, device="cuda").to(dtype)
                    err = _rel_err(fused_adain_triton(x, gamma, beta), fused_adain_reference(x, gamma, beta))
                    eager = _median_ms(lambda: fused_adain_reference(x, gamma, beta))
                    triton_ms = _median_ms(lambda: fused_adain_triton(x, gamma, beta))
                    comp_ms, comp_note = _time_compiled(compiled, x, gamma, beta) if compiled else (None, compile_error)
                    moved = 2 * x.numel() * x.element_size()
                    rows.append({
                        "preset": preset, "shape": [batch, c, h, w], "dtype": dname, "rel_err": err,
                        "eager_ms": eager, "triton_ms": triton_ms, "compile_ms": comp_ms, "compile_note": comp_note,
                        "triton_gbs": moved / (triton_ms * 1e-3) / 1e9, "eager_gbs": moved / (eager * 1e-3) / 1e9,
                        "copy_gbs": copy_bandwidth(x.numel(), dtype), "speedup": eager / triton_ms,
                    })  # fmt: skip
                    print(f"adain  {preset:6} {str(rows[-1]['shape']):22} {dname}  eager {eager:.4f} ms  "
                          f"triton {triton_ms:.4f} ms  {rows[-1]['triton_gbs']:.0f}/{rows[-1]['copy_gbs']:.0f} GB/s")  # fmt: skip
    return rows


def bench_latent(presets: list[str], batches: list[int], dtypes: list[str]) -> list[dict]:
    from l2m_edge.kernels import fused_latent_reference
    from l2m_edge.kernels.triton_latent import fused_latent_triton

    rows = []
    for preset in presets:
        shape = latent_shape(preset)
        for dname in dtypes:
            dtype = DTYPES[dname]
            editor = build_editor(preset).to("cuda", dtype).eval()
            weights = editor.latent_weights()
            compiled, compile_error = _compiled(lambda h, s, t, a: fused_latent_reference(h, s, t, a, weights))
            for batch in batches:
                h = torch.randn(batch, shape.features, device="cuda").to(dtype)
                src = torch.randint(0, shape.num_domains, (batch,), device="cuda")
                tgt = torch.randint(0, shape.num_domains, (batch,), device="cuda")
                alpha = torch.rand(batch, device="cuda")
                with torch.inference_mode():
                    err = _rel_err(fused_latent_triton(h, src, tgt, alpha, weights),
                                   fused_latent_reference(h, src, tgt, alpha, weights))  # fmt: skip
                    eager = _median_ms(lambda: fused_latent_reference(h, src, tgt, alpha, weights))
                    triton_ms = _median_ms(lambda: fused_latent_triton(h, src, tgt, alpha, weights))
                    comp_ms, comp_note = (_time_compiled(compiled, h, src, tgt, alpha) if compiled
                                          else (None, compile_error))  # fmt: skip
                rows.append({
                    "preset": preset, "batch": batch, "dtype": dname, "shape": shape.__dict__, "rel_err": err,
                    "eager_ms": eager, "triton_ms": triton_ms, "compile_ms": comp_ms, "compile_note": comp_note,
                    "speedup": eager / triton_ms,
                })  # fmt: skip
                print(f"latent {preset:6} batch {batch:<3} {dname}  eager {eager:.4f} ms  triton {triton_ms:.4f} ms  "
                      f"×{eager / triton_ms:.1f}")  # fmt: skip
    return rows


def bench_editor(preset: str, batches: list[int], dtypes: list[str]) -> list[dict]:
    """The whole Editor with kernels on (auto → Triton on CUDA) and off (reference)."""
    rows = []
    config = get_preset(preset)
    previous = os.environ.get("L2M_EDGE_KERNELS")
    try:
        for dname in dtypes:
            editor = build_editor(preset).to("cuda", DTYPES[dname]).eval()
            for batch in batches:
                image = (torch.rand(batch, 3, config.img_size, config.img_size, device="cuda") * 2 - 1).to(DTYPES[dname])
                src = torch.zeros(batch, dtype=torch.long, device="cuda")
                tgt = torch.ones(batch, dtype=torch.long, device="cuda")
                alpha = torch.ones(batch, device="cuda")
                masks = torch.rand(batch, 2, config.img_size, config.img_size, device="cuda").to(DTYPES[dname]) if config.uses_masks else None
                times, outputs = {}, {}
                for mode in ("reference", "triton"):
                    os.environ["L2M_EDGE_KERNELS"] = mode
                    with torch.inference_mode():
                        outputs[mode] = editor(image, src, tgt, alpha, masks)
                        times[mode] = _median_ms(lambda: editor(image, src, tgt, alpha, masks))
                rows.append({
                    "preset": preset, "batch": batch, "dtype": dname,
                    "reference_ms": times["reference"], "triton_ms": times["triton"],
                    "speedup": times["reference"] / times["triton"],
                    "max_abs_diff": float((outputs["triton"].float() - outputs["reference"].float()).abs().max()),
                })  # fmt: skip
                print(f"editor {preset} batch {batch} {dname}: reference {times['reference']:.3f} ms, "
                      f"triton {times['triton']:.3f} ms (×{rows[-1]['speedup']:.2f})")  # fmt: skip
    finally:
        if previous is None:
            os.environ.pop("L2M_EDGE_KERNELS", None)
        else:
            os.environ["L2M_EDGE_KERNELS"] = previous
    return rows


def _resources(kernel: Any) -> dict[str, int]:
    """Registers, spill stack, shared and local memory per thread/block, read from the cubin."""
    import triton

    tool = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    if "cubin" not in kernel.asm or not tool.exists():
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        cubin = Path(tmp) / "kernel.cubin"
        cubin.write_bytes(kernel.asm["cubin"])
        text = subprocess.run([str(tool), "--dump-resource-usage", str(cubin)], capture_output=True, text=True).stdout
    return {key.lower(): int(value) for key, value in re.findall(r"\b(REG|STACK|SHARED|LOCAL):(\d+)", text)}


def compile_report(capability: int = 90, presets: list[str] | None = None) -> list[dict]:
    """Compile every kernel variant the wrappers launch at the presets' shapes for an NVIDIA GPU
    of this compute capability — no GPU needed — and read back its registers and spills.

    This catches what the interpreter cannot: type and lowering errors, and register spills.
    (Launches also specialise on pointer alignment; these builds do not, which changes little.)
    """
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from l2m_edge.kernels import triton_adain, triton_latent

    target = GPUTarget("cuda", capability, 32)
    presets = presets or preset_names()
    rows = []
    scalars = {"C": "i32", "HW": "i32", "stride_gn": "i32", "stride_gc": "i32", "stride_bn": "i32", "stride_bc": "i32",
               "eps": "fp32", "negative_slope": "fp32", "BLOCK": "constexpr", "SINGLE": "constexpr"}  # fmt: skip
    for config in sorted({triton_adain.launch_config(h * w) for p in presets for _, h, w in adain_shapes(p)}):
        block, single, warps = config
        for dname in ("fp32", "fp16", "bf16"):
            ptr = f"*{dname}"
            sig = {"x_ptr": ptr, "gamma_ptr": ptr, "beta_ptr": ptr, "out_ptr": ptr, **scalars}
            source = ASTSource(triton_adain._adain_kernel, sig, {"BLOCK": block, "SINGLE": single})
            kernel = triton.compile(source, target=target, options={"num_warps": warps})
            rows.append({"kernel": "fused_adain", "config": f"BLOCK={block} SINGLE={single} warps={warps}",
                         "dtype": dname, **_resources(kernel)})  # fmt: skip
    precision = "tf32x3" if capability >= 80 else "ieee"
    weight_ptrs = ("head_w_ptr", "head_b_ptr", "dec_w_ptr", "dec_b_ptr", "tr_w_ptr", "tr_b_ptr", "proj_w_ptr", "proj_b_ptr")
    shapes = {}
    for p in presets:
        packed = pack_latent_weights(random_latent_weights(latent_shape(p)))
        shapes.setdefault((packed.num_domains, packed.dec_w.shape[0], packed.trans_w.shape[0], packed.width, packed.block_k), p)
    for (d, l_dec, l_tr, width, block_k), preset in shapes.items():
        for dname in ("fp32", "fp16"):
            constants = {"D": d, "L_DEC": l_dec, "L_TR": l_tr, "W": width, "BLOCK_N": triton_latent.BLOCK_N,
                         "BLOCK_K": block_k, "BLOCK_P": triton_latent.BLOCK_P, "PRECISION": precision}  # fmt: skip
            ptr = f"*{dname}"
            sig = {"h_ptr": ptr, "src_ptr": "*i64", "tgt_ptr": "*i64", "alpha_ptr": "*fp32", "out_ptr": ptr,
                   **{name: ptr for name in weight_ptrs},
                   **{name: "i32" for name in ("N", "F", "F_PAD", "P", "stride_hn", "stride_hf", "stride_on")},
                   **{name: "constexpr" for name in constants}}  # fmt: skip
            source = ASTSource(triton_latent._latent_kernel, sig, constants)
            kernel = triton.compile(source, target=target, options={"num_warps": triton_latent.NUM_WARPS})
            rows.append({"kernel": "fused_latent", "config": f"{preset}: D={d} W={width} BLOCK_K={block_k} {precision}",
                         "dtype": dname, **_resources(kernel)})  # fmt: skip
    return rows


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=preset_names(), choices=preset_names())
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=list(DTYPES))
    parser.add_argument("--editor-preset", default="paper", choices=preset_names())
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default: benchmarks/results/kernels-<gpu>.json)")
    parser.add_argument("--compile-only", type=int, metavar="SM", default=None,
                        help="no GPU needed: compile every kernel variant for compute capability SM (e.g. 90) and "
                             "print registers and spills")  # fmt: skip
    args = parser.parse_args(argv)

    if os.environ.get("TRITON_INTERPRET") == "1":
        print("unset TRITON_INTERPRET: the interpreter neither compiles nor times the GPU", file=sys.stderr)
        return 2
    if args.compile_only is not None:
        for row in compile_report(args.compile_only, args.presets):
            print(json.dumps(row))
        return 0

    if not torch.cuda.is_available():
        print("benchmarks/kernels.py needs a CUDA GPU and this machine has none (torch.cuda.is_available() is False); "
              "run it where one is", file=sys.stderr)  # fmt: skip
        return 2
    import triton

    gpu = torch.cuda.get_device_name()
    result = {
        "gpu": gpu,
        "capability": list(torch.cuda.get_device_capability()),
        "torch": torch.__version__,
        "triton": triton.__version__,
        "cuda": torch.version.cuda,
        "host": platform.node(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "adain": bench_adain(args.presets, args.batches, args.dtypes),
        "latent": bench_latent(args.presets, args.batches, args.dtypes),
        "editor": bench_editor(args.editor_preset, args.batches, args.dtypes),
    }
    out = args.out or RESULTS / f"kernels-{_slug(gpu)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
