#!/usr/bin/env bash
# The shipped demo checkpoint (l2m_edge/assets/demo.safetensors), exactly as it was trained.
# Rerunning resumes the run in $OUT from its newest saved state. ITERS overrides the length
# (training is deterministic, so ITERS=k reproduces the state the full run had at step k).
#
# One torch thread: on the shared 2-core machine a second thread made each step ~5x slower
# (OpenMP threads spin-waiting on a loaded CPU), see l2m_edge/assets/demo.md.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/demo}
ITERS=${ITERS:-6400}
RESUME=()
if compgen -G "$OUT/state_*.json" > /dev/null; then RESUME=(--resume); fi
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
exec .venv/bin/l2m-edge train --data synth --attr smile --preset demo --seed 0 \
  --iters "$ITERS" --batch 8 --out "$OUT" --threads 1 \
  --lr 5e-4 --ema 0.998 --r1-every 4 \
  --lambda-adv 1 --lambda-r1 1 --lambda-cyc 1 --lambda-sty 1 --lambda-orth 1 --lambda-un 1 --lambda-preserve 5 \
  --sample-every 200 --save-every 200 --log-every 20 --keep 3 "${RESUME[@]}"
