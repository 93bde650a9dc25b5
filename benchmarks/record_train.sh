#!/usr/bin/env bash
# Re-records this CPU machine's training-throughput rows (benchmarks/results/*-train-*.json) and
# benchmarks/train.md in one go. One torch thread per rank; 1 and 2 gloo ranks at the same global
# batch; SynthFaces rendered by the trainer's DataLoader. Overrides: LABEL, OUT, STEPS, MOBILE_STEPS, LEVER_STEPS.
#
# On a shared machine the wall-clock figures are depressed by the other jobs; the rows also carry
# the CPU time per step (summed over ranks), which they disturb far less.
set -euo pipefail
cd "$(dirname "$0")/.."
L2M=${L2M:-.venv/bin/l2m-edge}
LABEL=${LABEL:-"$(lscpu | sed -n 's/^Model name: *//p' | head -1) $(nproc) vCPU, shared"}
OUT=${OUT:-benchmarks/results}
row() {  # row LABEL ARGS…: one `bench train` run of this CPU, one thread per rank, global batch 8
  local label=$1; shift
  "$L2M" bench train --device cpu --threads 1 --batch 8 --out "$OUT" --device-label "$label" "$@"
}

# the scaling rows: 1 vs 2 gloo ranks at global batch 8
row "$LABEL" --preset tiny,demo --ranks 1,2 --steps "${STEPS:-10}" --warmup 2
row "$LABEL" --preset mobile --ranks 1,2 --steps "${MOBILE_STEPS:-3}" --warmup 1

# what each speed lever gives on this CPU (demo, 1 rank; compare with the demo 1-rank row above):
# loader workers, NHWC, bf16 autocast, torch.compile (its first step compiles; 3 warm-up steps)
row "$LABEL · no loader worker" --preset demo --workers 0 --steps "${LEVER_STEPS:-5}" --warmup 2
row "$LABEL · channels_last" --preset demo --channels-last --steps "${LEVER_STEPS:-5}" --warmup 2
row "$LABEL" --preset demo --precision bf16 --steps "${LEVER_STEPS:-5}" --warmup 1
row "$LABEL" --preset demo --backends torch-compile --steps "${LEVER_STEPS:-5}" --warmup 3

"$L2M" bench report "$OUT"/*-train-*.json --markdown benchmarks/train.md --plot benchmarks/train.png
