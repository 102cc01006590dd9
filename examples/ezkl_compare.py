"""EZKL (pip install ezkl==23.0.5) against zkml on the same ONNX model and
input: EZKL's prove time, verify time and proof size beside ours.

    cargo run --release -p zkml-tests --example bench_e2e -- --json MODEL.onnx > target/bench/ours.jsonl
    python3 examples/ezkl_compare.py MODEL.onnx --ours target/bench/ours.jsonl

The input is `MODEL.input.json` beside the model (EZKL's own layout). The SRS
is generated locally with `ezkl.gen_srs` (its `get_srs` downloads one, and
this machine has no internet); that is a test SRS, fine for timing. EZKL's
settings come from its own calibration ("resources" target) with the model's
parameters fixed (committed in the circuit), input and output public, as our
statement. Work files go to target/ezkl/<model>/.
"""
import argparse
import asyncio
import inspect
import json
import os
import time

import ezkl


def explicit_attributes(model_path, out_path):
    """The same model with ONNX's default Conv/Pool attributes written out:
    EZKL's loader requires explicit `strides` (and pads, dilations)."""
    import onnx
    from onnx import helper

    m = onnx.load(model_path)
    for n in m.graph.node:
        if n.op_type not in ("Conv", "MaxPool", "AveragePool"):
            continue
        have = {a.name for a in n.attribute}
        k = None
        for a in n.attribute:
            if a.name == "kernel_shape":
                k = len(a.ints)
        if k is None and n.op_type == "Conv":
            w = next(i for i in m.graph.initializer if i.name == n.input[1])
            k = len(w.dims) - 2
        if k is None:
            continue
        if "strides" not in have:
            n.attribute.append(helper.make_attribute("strides", [1] * k))
        if "pads" not in have and "auto_pad" not in have:
            n.attribute.append(helper.make_attribute("pads", [0] * (2 * k)))
        if "dilations" not in have and n.op_type == "Conv":
            n.attribute.append(helper.make_attribute("dilations", [1] * k))
    onnx.save(m, out_path)
    return out_path


def run(x):
    return asyncio.run(x) if inspect.isawaitable(x) else x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--input")
    ap.add_argument("--ours", help="bench_e2e --json output (one JSON object per line)")
    ap.add_argument("--target", default="resources", choices=["resources", "accuracy"])
    a = ap.parse_args()
    name = os.path.splitext(os.path.basename(a.model))[0]
    work = os.path.join("target", "ezkl", name)
    os.makedirs(work, exist_ok=True)
    data = a.input or a.model.replace(".onnx", ".input.json")
    f = lambda n: os.path.join(work, n)
    args = ezkl.PyRunArgs()
    args.input_visibility = "public"
    args.output_visibility = "public"
    args.param_visibility = "fixed"
    model = explicit_attributes(a.model, f("model.onnx"))
    t = {}
    t0 = time.time()
    assert run(ezkl.gen_settings(model, f("settings.json"), py_run_args=args))
    assert run(ezkl.calibrate_settings(data, model, f("settings.json"), a.target))
    assert run(ezkl.compile_circuit(model, f("model.compiled"), f("settings.json")))
    t["compile_s"] = time.time() - t0
    logrows = json.load(open(f("settings.json")))["run_args"]["logrows"]
    t0 = time.time()
    run(ezkl.gen_srs(f("kzg.srs"), logrows))
    t["srs_s"] = time.time() - t0
    t0 = time.time()
    run(ezkl.gen_witness(data, f("model.compiled"), f("witness.json")))
    t["witness_s"] = time.time() - t0
    t0 = time.time()
    assert run(ezkl.setup(f("model.compiled"), f("vk.key"), f("pk.key"), f("kzg.srs")))
    t["setup_s"] = time.time() - t0
    t0 = time.time()
    run(ezkl.prove(f("witness.json"), f("model.compiled"), f("pk.key"), f("proof.json"), f("kzg.srs")))
    t["prove_s"] = time.time() - t0
    t0 = time.time()
    assert run(ezkl.verify(f("proof.json"), f("settings.json"), f("vk.key"), f("kzg.srs")))
    t["verify_s"] = time.time() - t0
    proof = json.load(open(f("proof.json")))
    size = len(bytes.fromhex(proof["proof"][2:])) if isinstance(proof.get("proof"), str) else len(json.dumps(proof))
    print(f"EZKL {ezkl.__version__} on {name}: logrows {logrows}")
    for k, v in t.items():
        print(f"  {k:10s} {v:10.2f}")
    print(f"  proof      {size / 1024:10.1f} KB")
    if a.ours:
        ours = [json.loads(l) for l in open(a.ours) if l.strip()]
        ours = [o for o in ours if o["model"] == name]
        if ours:
            o = ours[-1]
            print(f"zkml: prove {o['prove_ms']:.1f} ms, verify {o['verify_ms']:.2f} ms, proof {o['proof_bytes'] / 1024:.1f} KB")
            print(f"EZKL prove / zkml prove = {t['prove_s'] * 1e3 / o['prove_ms']:.0f}x")


if __name__ == "__main__":
    main()
