#!/usr/bin/env bash
# The commands that recorded this CPU machine's results in benchmarks/results/ (see README.md).
# Random-weight editors (seeded); 2 threads everywhere; each row timed for a fixed duration.
# Overrides: LABEL, WORK (artifact cache), OUT, DURATION, PAPER_DURATION, FRAMES, CROSSCHECK_SECONDS.
set -euo pipefail
LABEL=${LABEL:-"Xeon 2 vCPU (AMX), shared"}
WORK=${WORK:-"$HOME/.cache/l2m-edge/bench"}
OUT=${OUT:-benchmarks/results}
common=(--threads 2 --warmup 5 --workdir "$WORK" --out "$OUT" --device-label "$LABEL")

# model rows: every backend × every precision its export target offers (TensorRT rows say why not)
l2m-edge bench --preset tiny,mobile,edge --backends torch,onnxruntime,openvino,tensorrt --duration "${DURATION:-8}" "${common[@]}"
l2m-edge bench --preset paper --backends torch,onnxruntime,openvino --duration "${PAPER_DURATION:-15}" "${common[@]}"
l2m-edge bench --preset mobile --backends torch-compile --duration "${DURATION:-8}" "${common[@]}"
# PyTorch eager on one thread too: on a shared 2-core machine its two OpenMP threads wait on each
# other whenever another job holds a core; the report's "× eager" uses the faster of the two.
l2m-edge bench --preset tiny,mobile,edge,paper --backends torch --duration "${DURATION:-8}" --threads 1 --warmup 3 \
    --workdir "$WORK" --out "$OUT" --device-label "$LABEL"

# the live pipeline on the generated 640×480 clip (a real photo in motion)
l2m-edge bench --pipeline --preset mobile --backends torch,onnxruntime,openvino --frames "${FRAMES:-120}" "${common[@]}"

# OpenVINO's benchmark_app on the same IRs
l2m-edge bench crosscheck --preset mobile --threads 2 --seconds "${CROSSCHECK_SECONDS:-8}" --workdir "$WORK" --out "$(dirname "$OUT")/crosscheck.json"

l2m-edge bench report "$OUT"/*.json --markdown "$(dirname "$OUT")/report.md" --plot "$(dirname "$OUT")/report.png"
