"""The ONNX graph builder shared by the LLM converters: named constants and
nodes, and the decoder pieces exporters write (RMSNorm as
Pow/ReduceMean/Add/Sqrt/Reciprocal/Mul, head split, rotate_half RoPE,
grouped-query key/value repetition, the LM head)."""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Builder:
    def __init__(self, seq, hd, h, kv, eps):
        self.seq, self.hd, self.h, self.kv, self.eps = seq, hd, h, kv, eps
        self.inits, self.nodes, self.count = [], [], 0
        self.half = [self.const(np.array([v], np.int64)) for v in (0, hd // 2, hd, -1)]

    def const(self, arr, name=None):
        self.count += 1
        name = name or f"const_{self.count}"
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def op(self, kind, ins, name, **attrs):
        self.nodes.append(helper.make_node(kind, ins, [name], name=name, **attrs))
        return name

    def rms(self, x, g, name):
        op, const = self.op, self.const
        sq = op("Pow", [x, const(np.array(2.0, np.float32))], name + "/pow")
        ms = op("ReduceMean", [sq, const(np.array([-1], np.int64))], name + "/mean", keepdims=1)
        den = op("Sqrt", [op("Add", [ms, const(np.array(self.eps, np.float32))], name + "/add_eps")], name + "/sqrt")
        return op("Mul", [const(g, name + ".weight"), op("Mul", [x, op("Reciprocal", [den], name + "/rsqrt")], name + "/scale")], name)

    def linear(self, t, w, name):
        return self.op("MatMul", [t, self.const(np.ascontiguousarray(w.T), name + ".weight")], name)

    def heads(self, t, n, name):
        r = self.op("Reshape", [t, self.const(np.array([1, self.seq, n, self.hd], np.int64))], name + "/reshape")
        return self.op("Transpose", [r], name + "/transpose", perm=[0, 2, 1, 3])

    def rope(self, t, cos, sin, name):
        op, half = self.op, self.half
        a = op("Slice", [t, half[0], half[1], half[3]], name + "/x1")
        b = op("Slice", [t, half[1], half[2], half[3]], name + "/x2")
        rot = op("Concat", [op("Neg", [b], name + "/neg"), a], name + "/rotate_half", axis=-1)
        return op("Add", [op("Mul", [t, cos], name + "/cos"), op("Mul", [rot, sin], name + "/sin")], name)

    def repeat_kv(self, t, name, length=None):
        """Key/value heads repeated for grouped-query attention, over
        `length` positions (the sequence by default; a cache's rows)."""
        h, kv, hd = self.h, self.kv, self.hd
        seq = length or self.seq
        u = self.op("Unsqueeze", [t, self.const(np.array([2], np.int64))], name + "/unsqueeze")
        e = self.op("Expand", [u, self.const(np.array([1, kv, h // kv, seq, hd], np.int64))], name + "/expand")
        return self.op("Reshape", [e, self.const(np.array([1, h, seq, hd], np.int64))], name + "/reshape")

    def model(self, name, x, head, d, vocab):
        """Adds the LM head (`x · headᵀ`) and returns the ONNX model."""
        seq = self.seq
        flat = self.op("Reshape", [x, self.const(np.array([seq, d], np.int64))], "flatten_tokens")
        self.nodes.append(helper.make_node("Gemm", [flat, head], ["logits_2d"], name="lm_head", transB=1))
        self.op("Reshape", ["logits_2d", self.const(np.array([1, seq, vocab], np.int64))], "logits")
        graph = helper.make_graph(self.nodes, name, [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, seq])],
                                  [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, seq, vocab])], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="zkml-examples")
        model.ir_version = 8
        return model
