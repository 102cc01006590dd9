#!/usr/bin/env python3
"""Greedy tokens of the exact (proven) executor against f32 greedy decoding.

For each prompt (16-token windows of the model's calibration sentence, one
per starting offset), runs `zkrt generate` (the quantized plan's tokens,
the ones a proof certifies; `--proof` is not needed for the tokens) and
`decode_tract` (tract's f32 run of the with-past export, K/V cached), and
reports per prompt the tokens identical before the first divergence and
the tokens equal at the same index overall, with both speeds.

    python3 examples/convert_smollm2.py --layers 30 --seq 64 --with-past
    zkc compile examples/out/smollm2_l30_s64.onnx -o target/s64l30/plan.bin --decoder \\
        --calibration examples/out/smollm2_l30_s64.input.json
    cargo build --release -p zkml-tests --example decode_tract
    python3 examples/generation_agreement.py target/s64l30/plan.bin \\
        examples/out/smollm2_l30_s64.with_past.onnx examples/out/smollm2_l30_s64.input.json
"""
import argparse
import json
import os
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("plan")
    ap.add_argument("with_past")
    ap.add_argument("ids", help="a calibration file whose first sample holds the sentence's ids")
    ap.add_argument("--prompts", type=int, default=20)
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--new", type=int, default=48)
    args = ap.parse_args()
    zkrt = os.path.join(ROOT, "target/release/zkrt")
    tract = os.path.join(ROOT, "target/release/examples/decode_tract")
    ids = json.load(open(args.ids))["input_data"][0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.prompts):
            prompt = ids[k:k + args.prompt_len]
            pf, gf = os.path.join(tmp, "prompt.json"), os.path.join(tmp, "gen.json")
            json.dump({"input_ids": prompt}, open(pf, "w"))
            ours = run_json([zkrt, "generate", args.plan, "--prompt-ids", pf, "--max-new-tokens", str(args.new),
                             "--output", gf, "--json"])
            got = json.load(open(gf))["generated_ids"]
            ref = run_json([tract, args.with_past, "--prompt-ids", pf, "--max-new-tokens", str(args.new)])
            want = ref["generated_ids"]
            prefix = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), len(want))
            same = sum(a == b for a, b in zip(got, want))
            rows.append(dict(offset=k, prefix=prefix, same=same, tokens=len(want),
                             ours_tps=ours["tokens_per_s"], tract_tps=ref["tokens_per_s"]))
            print(f"prompt {k:2}: identical prefix {prefix:2}/{len(want)}, same index {same:2}/{len(want)}, "
                  f"{ours['tokens_per_s']:.2f} vs tract f32 {ref['tokens_per_s']:.2f} tokens/s", flush=True)
    n = sum(r["tokens"] for r in rows)
    summary = dict(prompts=len(rows), tokens=n,
                   identical_prefix_mean=sum(r["prefix"] for r in rows) / len(rows),
                   fully_identical=sum(r["prefix"] == r["tokens"] for r in rows),
                   same_index=sum(r["same"] for r in rows) / n,
                   ours_tps_mean=sum(r["ours_tps"] for r in rows) / len(rows),
                   tract_tps_mean=sum(r["tract_tps"] for r in rows) / len(rows))
    print(json.dumps(dict(summary=summary, rows=rows)))


if __name__ == "__main__":
    main()
