#!/usr/bin/env bash
# Builds zkc/zkrt and runs the main job on the embedded default model:
# compile a shipped model to a quantized plan and its verifying key, run it
# with exact integer semantics while proving the inference, verify the
# proof, and compare the outputs with the float plan's.
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
./target/release/zkc compile "$MODEL" --float -o "$OUT/plan.f32.bin" > /dev/null
./target/release/zkrt run "$OUT/plan.bin" --input "$INPUT" --output "$OUT/output.json" --proof "$OUT/proof.bin" \
  --proved-input "$OUT/proved_input.json" --json
./target/release/zkrt verify "$OUT/plan.vk" --input "$OUT/proved_input.json" --output "$OUT/output.json" --proof "$OUT/proof.bin"
./target/release/zkrt run "$OUT/plan.f32.bin" --input "$INPUT" --output "$OUT/output.f32.json"
echo "quantized outputs (proven): $(cat "$OUT/output.json")"
echo "float outputs:              $(cat "$OUT/output.f32.json")"
