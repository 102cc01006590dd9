//! Loops with a static trip count, unrolled: tract imports `LSTM`, `GRU`,
//! `RNN` (both directions) and ONNX `Scan` as one `Scan` op whose body is a
//! model run once per step. A plan has static shapes and no control flow,
//! so each step's body is lowered in turn (its state inputs bound to the
//! previous step's state outputs, its scanned inputs to that step's slice)
//! and the scanned outputs are concatenated. The proof then covers every
//! step like any other layer.

use super::{Ctx, Registry, fail};
use crate::FrontendError;
use std::collections::HashMap;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::gru_seq::GruSeq;
use tract_onnx::tract_core::ops::lstm_cell::LstmEpilogue;
use tract_onnx::tract_core::ops::scan::{InputMapping, Scan};
use zkml_ir::ValueId;
use zkml_ir::ops::layout::{Concat, Slice};

pub(super) const ONNX: &[&str] = &["LSTM", "GRU", "RNN", "Scan"];

pub(super) fn register(r: &mut Registry) {
    r.insert::<Scan>(scan);
    r.insert::<LstmEpilogue>(lstm_cell);
    r.insert::<GruSeq>(gru_seq);
}

/// tract's whole-sequence GRU (`linear_before_reset`, as PyTorch exports
/// it), unrolled: `x·Wᵀ + Wb` once for the sequence, then per step
/// `z, r = σ(xw + h·Rᵀ + Rb)`, `n = tanh(xw_n + r ⊙ (h·R_nᵀ + Rb_n))`,
/// `h' = n + z ⊙ (h − n)`. Gate order z, r, n (ONNX).
fn gru_seq(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    use zkml_ir::ops::binary::{Binary, BinaryOp};
    use zkml_ir::ops::einsum::Einsum;
    use zkml_ir::ops::layout::Reshape;
    use zkml_ir::ops::lookup::LookupFn;
    use zkml_ir::ops::unary::{Unary, UnaryOp};
    let op = node.op_as::<GruSeq>().ok_or_else(|| fail(node, "not a GRU"))?;
    let h = op.hidden;
    let name = node.name.clone();
    let shape = ctx.fact(args[0]).shape.clone();
    let [b, t_len, _] = shape[..] else {
        return Err(fail(node, "a GRU input that is not [batch, time, features]"));
    };
    let r_slot = if op.projected { 1 } else { 2 };
    let bin =
        |ctx: &mut Ctx, o: BinaryOp, x: ValueId, y: ValueId, n: &str| ctx.add(n, Binary { op: o }, &[x, y]);
    let act =
        |ctx: &mut Ctx, f: LookupFn, x: ValueId, n: &str| ctx.add(n, Unary { op: UnaryOp::Fn(f) }, &[x]);
    let einsum = |ctx: &mut Ctx, eq: &str, x: ValueId, y: ValueId, n: &str| {
        ctx.add(n, Einsum::new(eq).map_err(|e| fail(node, e.to_string()))?, &[x, y])
    };
    let slice = |ctx: &mut Ctx, x: ValueId, axis: usize, k: usize, n: &str| {
        ctx.add(n, Slice { axis, start: (k * h) as i64, end: ((k + 1) * h) as i64, step: 1 }, &[x])
    };
    // Biases: [1, 6h] or [6h] -> W side and R side, [3h] each.
    let (wb, rb) = if op.has_bias {
        let bias = ctx.add(&format!("{name}.bias"), Reshape { shape: vec![6 * h] }, &[args[r_slot + 1]])?;
        let w =
            ctx.add(&format!("{name}.wb"), Slice { axis: 0, start: 0, end: 3 * h as i64, step: 1 }, &[bias])?;
        let r = ctx.add(
            &format!("{name}.rb"),
            Slice { axis: 0, start: 3 * h as i64, end: 6 * h as i64, step: 1 },
            &[bias],
        )?;
        (Some(w), Some(r))
    } else {
        (None, None)
    };
    let mut xw = if op.projected {
        args[0]
    } else {
        einsum(ctx, "bti,gi->btg", args[0], args[1], &format!("{name}.xw"))?
    };
    if let (Some(wb), false) = (wb, op.projected) {
        xw = bin(ctx, BinaryOp::Add, xw, wb, &format!("{name}.xw.bias"))?;
    }
    let r = args[r_slot];
    let mut ht = ctx.add(&format!("{name}.h0"), Reshape { shape: vec![b, h] }, &[args[args.len() - 1]])?;
    let mut ys: Vec<Option<ValueId>> = vec![None; t_len];
    for step in 0..t_len {
        let t = if op.chunk < 0 { t_len - 1 - step } else { step };
        let n = format!("{name}.t{t}");
        let xt = ctx.add(&n, Slice { axis: 1, start: t as i64, end: t as i64 + 1, step: 1 }, &[xw])?;
        let xt = ctx.add(&n, Reshape { shape: vec![b, 3 * h] }, &[xt])?;
        let mut rh = einsum(ctx, "bh,gh->bg", ht, r, &format!("{n}.rh"))?;
        if let Some(rb) = rb {
            rh = bin(ctx, BinaryOp::Add, rh, rb, &format!("{n}.rh.bias"))?;
        }
        let gate = |ctx: &mut Ctx, k: usize| -> Result<ValueId, FrontendError> {
            let a = slice(ctx, xt, 1, k, &format!("{n}.x{k}"))?;
            let c = slice(ctx, rh, 1, k, &format!("{n}.r{k}"))?;
            let s = bin(ctx, BinaryOp::Add, a, c, &format!("{n}.g{k}"))?;
            act(ctx, LookupFn::Sigmoid, s, &format!("{n}.g{k}.act"))
        };
        let z = gate(ctx, 0)?;
        let rg = gate(ctx, 1)?;
        let xn = slice(ctx, xt, 1, 2, &format!("{n}.x2"))?;
        let rn = slice(ctx, rh, 1, 2, &format!("{n}.r2"))?;
        let reset = bin(ctx, BinaryOp::Mul, rg, rn, &format!("{n}.reset"))?;
        let pre = bin(ctx, BinaryOp::Add, xn, reset, &format!("{n}.cand.pre"))?;
        let cand = act(ctx, LookupFn::Tanh, pre, &format!("{n}.cand"))?;
        let keep = bin(ctx, BinaryOp::Sub, ht, cand, &format!("{n}.keep"))?;
        let upd = bin(ctx, BinaryOp::Mul, z, keep, &format!("{n}.update"))?;
        ht = bin(ctx, BinaryOp::Add, cand, upd, &format!("{n}.h"))?;
        ys[t] = Some(ctx.add(&format!("{n}.y"), Reshape { shape: vec![b, 1, h] }, &[ht])?);
    }
    let ys: Vec<ValueId> = ys.into_iter().flatten().collect();
    let y = if !op.emit_y {
        // The sequence output is left empty (only the last state is read).
        let empty =
            zkml_ir::Tensor::from_f32(vec![b, 0, h], vec![]).map_err(|e| fail(node, e.to_string()))?;
        ctx.graph.add_const(format!("{name}.y"), empty)?
    } else if ys.len() == 1 {
        ys[0]
    } else {
        ctx.add(&format!("{name}.y"), Concat { axis: 1 }, &ys)?
    };
    let last = ctx.add(&format!("{name}.h_last"), Reshape { shape: vec![b, 1, h] }, &[ht])?;
    Ok(vec![y, last])
}

/// tract's fused LSTM step: gate pre-activations `[…, 4h]` in ONNX order
/// (input, output, forget, cell) and the previous cell state; `c = f·c' +
/// i·g`, `h = o·tanh(c)` with `i, o, f` sigmoids and `g` a tanh.
fn lstm_cell(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    use zkml_ir::ops::binary::{Binary, BinaryOp};
    use zkml_ir::ops::lookup::LookupFn;
    use zkml_ir::ops::unary::{Unary, UnaryOp};
    let op = node.op_as::<LstmEpilogue>().ok_or_else(|| fail(node, "not an LSTM cell"))?;
    let (pre, c_prev) = (args[0], args[1]);
    let h = op.hidden as i64;
    let axis =
        ctx.fact(pre).rank().checked_sub(1).ok_or_else(|| fail(node, "a scalar LSTM pre-activation"))?;
    let name = &node.name;
    let gate = |ctx: &mut Ctx, k: i64, f: LookupFn| -> Result<ValueId, FrontendError> {
        let s = ctx.add(
            &format!("{name}.gate{k}"),
            Slice { axis, start: k * h, end: (k + 1) * h, step: 1 },
            &[pre],
        )?;
        ctx.add(&format!("{name}.gate{k}.act"), Unary { op: UnaryOp::Fn(f) }, &[s])
    };
    let i = gate(ctx, 0, LookupFn::Sigmoid)?;
    let o = gate(ctx, 1, LookupFn::Sigmoid)?;
    let f = gate(ctx, 2, LookupFn::Sigmoid)?;
    let g = gate(ctx, 3, LookupFn::Tanh)?;
    let mul = Binary { op: BinaryOp::Mul };
    let kept = ctx.add(&format!("{name}.keep"), mul.clone(), &[f, c_prev])?;
    let new = ctx.add(&format!("{name}.write"), mul.clone(), &[i, g])?;
    let c = ctx.add(&format!("{name}.c"), Binary { op: BinaryOp::Add }, &[kept, new])?;
    let tc = ctx.add(&format!("{name}.c.tanh"), Unary { op: UnaryOp::Fn(LookupFn::Tanh) }, &[c])?;
    let ht = ctx.add(&format!("{name}.h"), mul, &[o, tc])?;
    Ok(vec![ht, c])
}

/// Most steps unrolled (each step's body is copied into the plan).
const MAX_STEPS: usize = 4096;

fn scan(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<Scan>().ok_or_else(|| fail(node, "not a scan"))?;
    if op.skip != 0 {
        return Err(fail(node, "a loop that skips its first steps is not supported"));
    }
    let scanned: Vec<(usize, usize, isize)> = op
        .input_mapping
        .iter()
        .enumerate()
        .filter_map(|(slot, m)| match m {
            InputMapping::Scan(info) => Some((slot, info.axis, info.chunk)),
            _ => None,
        })
        .collect();
    let &(slot0, axis0, chunk0) =
        scanned.first().ok_or_else(|| fail(node, "a loop without a scanned input"))?;
    let len0 = ctx.fact(args[slot0]).shape[axis0];
    let steps = len0.div_ceil(chunk0.unsigned_abs().max(1));
    if steps > MAX_STEPS {
        return Err(fail(node, format!("a loop of {steps} steps (at most {MAX_STEPS} are unrolled)")));
    }
    let backward_chunks = op.input_mapping.iter().filter_map(|m| m.as_scan()).map(|i| i.chunk);
    let backward_outs = op.output_mapping.iter().filter_map(|m| m.scan).map(|(_, i)| i.chunk);
    if backward_chunks.chain(backward_outs).any(|c| c < -1) {
        return Err(fail(node, "a backward loop over chunks of more than one step is not supported"));
    }
    for &(slot, axis, chunk) in &scanned {
        let len = ctx.fact(args[slot]).shape[axis];
        if !len.is_multiple_of(chunk.unsigned_abs().max(1))
            || len.div_ceil(chunk.unsigned_abs().max(1)) != steps
        {
            return Err(fail(node, "scanned inputs of different step counts"));
        }
    }
    let body = &op.body;
    let order = body.eval_order().map_err(|e| fail(node, e.to_string()))?;
    let registry = Registry::new();
    let mut states: Vec<ValueId> =
        op.input_mapping.iter().zip(args).filter(|(m, _)| m.is_state()).map(|(_, &v)| v).collect();
    let mut scan_outs: Vec<Vec<ValueId>> = vec![vec![]; op.output_mapping.len()];
    let mut last: Vec<Option<ValueId>> = vec![None; op.output_mapping.len()];
    let graph = std::mem::replace(&mut ctx.graph, zkml_ir::Graph::new());
    let mut sub = Ctx { graph, model: body };
    let result = (|| -> Result<(), FrontendError> {
        for step in 0..steps {
            let mut bound: HashMap<OutletId, ValueId> = HashMap::new();
            let mut state_ix = 0;
            for (slot, m) in op.input_mapping.iter().enumerate() {
                let v = match m {
                    InputMapping::Full => args[slot],
                    InputMapping::State => {
                        state_ix += 1;
                        states[state_ix - 1]
                    }
                    InputMapping::Scan(info) => {
                        let len = sub.fact(args[slot]).shape[info.axis] as i64;
                        let c = info.chunk.unsigned_abs() as i64;
                        let i = step as i64;
                        // Backward (a negative chunk): step i reads the
                        // i-th chunk from the end.
                        let s = if info.chunk > 0 {
                            Slice { axis: info.axis, start: i * c, end: (i + 1) * c, step: 1 }
                        } else {
                            Slice { axis: info.axis, start: len - (i + 1) * c, end: len - i * c, step: 1 }
                        };
                        sub.add(&format!("{}.step{step}.in{slot}", node.name), s, &[args[slot]])?
                    }
                };
                bound.insert(body.inputs[slot], v);
            }
            super::super::lower_nodes(&mut sub, &registry, &order, &mut bound)?;
            let outs: Vec<ValueId> = body
                .outputs
                .iter()
                .map(|o| bound.get(o).copied().ok_or_else(|| fail(node, "a loop output was not lowered")))
                .collect::<Result<_, _>>()?;
            let mut next = vec![];
            for (ix, (m, &v)) in op.output_mapping.iter().zip(&outs).enumerate() {
                if m.scan.is_some() {
                    scan_outs[ix].push(v);
                }
                last[ix] = Some(v);
                if m.state {
                    next.push(v);
                }
            }
            if next.len() != states.len() {
                return Err(fail(node, "a loop whose state outputs do not match its state inputs"));
            }
            states = next;
        }
        Ok(())
    })();
    ctx.graph = sub.graph;
    result?;
    let mut outputs: Vec<(usize, ValueId)> = vec![];
    for (ix, m) in op.output_mapping.iter().enumerate() {
        if let Some((slot, info)) = m.scan {
            let mut parts = scan_outs[ix].clone();
            if info.chunk < 0 {
                parts.reverse();
            }
            let v = if parts.len() == 1 {
                parts[0]
            } else {
                ctx.add(&format!("{}.out{slot}", node.name), Concat { axis: info.axis }, &parts)?
            };
            outputs.push((slot, v));
        }
        if let Some(slot) = m.last_value_slot {
            outputs.push((slot, last[ix].ok_or_else(|| fail(node, "a loop of no steps"))?));
        }
    }
    outputs.sort_by_key(|o| o.0);
    if outputs.iter().enumerate().any(|(i, o)| o.0 != i) || outputs.len() != node.outputs.len() {
        return Err(fail(node, "a loop's outputs do not match its output slots"));
    }
    Ok(outputs.into_iter().map(|o| o.1).collect())
}
