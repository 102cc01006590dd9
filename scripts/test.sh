#!/usr/bin/env bash
# Runs the whole test suite. The ONNX node conformance tests read the test
# data shipped in the `onnx==1.22.0` wheel (later wheels dropped it); this
# script installs that wheel for the current user if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${ONNX_NODE_TEST_DIR:-}" ]; then
  if ! python3 -c 'import onnx, sys; sys.exit(onnx.__version__ != "1.22.0")' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check "onnx==1.22.0"
  fi
  ONNX_NODE_TEST_DIR=$(python3 -c 'import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node"))')
  export ONNX_NODE_TEST_DIR
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace "$@" 2>&1 | tee "$log"
# One closing line over all test binaries (cargo prints one per binary,
# the last ones being empty doc-test runs).
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"
