"""A dense ReLU MLP for the end-to-end benchmark: `--layers` layers of
`--width` x `--width` (default 4 x 1024 x 1024, about 4.2M parameters),
batch 1, random weights (He init, fixed seed). Writes the ONNX model and an
EZKL-style input file next to it.

    python3 examples/gen_mlp.py -o target/bench/mlp4m.onnx
"""
import argparse
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--output", default="target/bench/mlp4m.onnx")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--width", type=int, default=1024)
    a = ap.parse_args()
    rng = np.random.default_rng(7)
    w = a.width
    inits, nodes, x = [], [], "x"
    for i in range(a.layers):
        W = (rng.standard_normal((w, w)) * np.sqrt(2.0 / w)).astype(np.float32)
        b = (rng.standard_normal(w) * 0.01).astype(np.float32)
        inits += [numpy_helper.from_array(W, f"fc{i}.weight"), numpy_helper.from_array(b, f"fc{i}.bias")]
        y = f"fc{i}"
        nodes.append(helper.make_node("Gemm", [x, f"fc{i}.weight", f"fc{i}.bias"], [y], name=y, transB=1))
        if i + 1 < a.layers:
            nodes.append(helper.make_node("Relu", [y], [f"relu{i}"], name=f"relu{i}"))
            y = f"relu{i}"
        x = y
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, w])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, w])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    os.makedirs(os.path.dirname(a.output) or ".", exist_ok=True)
    onnx.save(model, a.output)
    inp = rng.standard_normal(w).astype(np.float32)
    with open(a.output.replace(".onnx", ".input.json"), "w") as f:
        json.dump({"input_data": [inp.tolist()]}, f)
    print(f"{a.output}: {a.layers} x {w}x{w}, {a.layers * (w * w + w)} parameters")


if __name__ == "__main__":
    main()
