#!/usr/bin/env bash
# One command on a CUDA machine: training throughput of the paper preset (256², batch 8) and of
# mobile (128², batch 8), fp32 eager vs bf16 vs bf16 + torch.compile, then the Triton kernel
# benchmark, then the merged report (benchmarks/train.md). Not run by this project: no GPU was
# lent to the work that wrote it. Needs a CUDA build of torch 2.13.0 and triton in the venv:
#   .venv/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126 && .venv/bin/pip install triton
# Overrides: LABEL, OUT, STEPS, WARMUP, NGPU (>1 adds a 1-vs-NGPU row at NGPU × batch 8).
set -euo pipefail
cd "$(dirname "$0")/.."
L2M=${L2M:-.venv/bin/l2m-edge}
PY=${PY:-.venv/bin/python}
"$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "no CUDA device visible to torch " + torch.__version__)'
LABEL=${LABEL:-"$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"}
OUT=${OUT:-benchmarks/results}
NGPU=${NGPU:-1}
common=(--device cuda --batch 8 --steps "${STEPS:-30}" --warmup "${WARMUP:-5}" --out "$OUT" --device-label "$LABEL")

# paper is the official graph (w_hpf = 1: SynthFaces masks from exact landmarks ride with each batch);
# edge is 256² at half the channels without the skips.
for preset in paper edge mobile; do
  "$L2M" bench train --preset "$preset" --backends torch --precision fp32,bf16 "${common[@]}"
  "$L2M" bench train --preset "$preset" --backends torch-compile --precision bf16 "${common[@]}"
done
if [ "$NGPU" -gt 1 ]; then
  "$L2M" bench train --preset edge --ranks "1,$NGPU" --precision bf16 --device cuda --batch $((8 * NGPU)) \
      --steps "${STEPS:-30}" --warmup "${WARMUP:-5}" --out "$OUT" --device-label "$LABEL"
fi

"$PY" benchmarks/kernels.py
"$L2M" bench report "$OUT"/*-train-*.json --markdown benchmarks/train.md --plot benchmarks/train.png
