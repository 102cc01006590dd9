#!/usr/bin/env bash
# Builds zkc/zkrt and runs the main job on the embedded default model:
# compile a shipped fixture to a quantized plan, describe it, execute it
# with exact integer semantics, and compare with the float plan.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-tests/fixtures/lenet_mnist.onnx}
INPUT=${2:-tests/fixtures/lenet_mnist.input.json}
OUT=${OUT:-target/demo}
mkdir -p "$OUT"
cargo build --release --bin zkc --bin zkrt
# Calibration data shipped beside the model (real digits for the LeNet), if any.
CAL=()
if [ -f "${MODEL%.onnx}.calibration.json" ]; then CAL=(--calibration "${MODEL%.onnx}.calibration.json"); fi
./target/release/zkc compile "$MODEL" "${CAL[@]}" -o "$OUT/plan.bin"
./target/release/zkc compile "$MODEL" --float -o "$OUT/plan.f32.bin"
./target/release/zkrt info "$OUT/plan.bin"
./target/release/zkrt run "$OUT/plan.bin" --input "$INPUT" --output "$OUT/output.json"
./target/release/zkrt run "$OUT/plan.f32.bin" --input "$INPUT" --output "$OUT/output.f32.json"
echo "quantized outputs: $(cat "$OUT/output.json")"
echo "float outputs:     $(cat "$OUT/output.f32.json")"
