#!/usr/bin/env bash
# The commands that recorded this CPU machine's results in benchmarks/results/ (see README.md).
# Random-weight editors (seeded); 2 threads everywhere; each row timed for a fixed duration.
set -euo pipefail
LABEL=${LABEL:-"Xeon 2 vCPU (AMX), shared"}
WORK=${WORK:-"$HOME/.cache/l2m-edge/bench"}
OUT=benchmarks/results
common=(--threads 2 --warmup 5 --workdir "$WORK" --out "$OUT" --device-label "$LABEL")

# model rows: every backend × every precision its export target offers (TensorRT rows say why not)
l2m-edge bench --preset tiny,mobile,edge --backends torch,onnxruntime,openvino,tensorrt --duration 8 "${common[@]}"
l2m-edge bench --preset paper --backends torch,onnxruntime,openvino --duration 15 "${common[@]}"

# the live pipeline on the generated 640×480 clip (a real photo in motion)
l2m-edge bench --pipeline --preset mobile --backends torch,onnxruntime,openvino --frames 120 "${common[@]}"

# OpenVINO's benchmark_app on the same IRs
l2m-edge bench crosscheck --preset mobile --threads 2 --seconds 8 --workdir "$WORK" --out benchmarks/crosscheck.json

l2m-edge bench report "$OUT"/*.json --markdown benchmarks/report.md --plot benchmarks/report.png
