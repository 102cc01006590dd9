#!/usr/bin/env bash
# Builds zkc/zkrt and runs the main job on the embedded default model:
# compile a shipped fixture to a plan, describe it, and execute it.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-tests/fixtures/lenet_mnist.onnx}
INPUT=${2:-tests/fixtures/lenet_mnist.input.json}
OUT=${OUT:-target/demo}
mkdir -p "$OUT"
cargo build --release --bin zkc --bin zkrt
# --float until zkrt runs quantized plans (issue 4, part 2).
./target/release/zkc compile "$MODEL" --float -o "$OUT/plan.bin"
./target/release/zkrt info "$OUT/plan.bin"
./target/release/zkrt run "$OUT/plan.bin" --input "$INPUT" --output "$OUT/output.json"
echo "outputs: $(cat "$OUT/output.json")"
