//! Heavy einsums split into row blocks of their weight, so that one
//! einsum (a language model's head) can spread over partitions.

use super::{CostModel, PartitionError};
use zkml_ir::{Graph, Op, ValueId};

/// Splits every einsum that would dominate a partition along a free axis of
/// its weight: an einsum costing more than `1/(2k)` of the graph, with one
/// constant operand that has an output axis no other operand has (the rows
/// of a weight, the vocabulary of a language model's head), becomes `p`
/// einsums on row blocks of the weight (new constants) and a `concat` of
/// their outputs, `p = ⌈cost / limit⌉` (at most the axis length). The
/// result is the same tensor (each output entry is the same sum), so the
/// split graph computes exactly what `g` does; the partitioner can then
/// put the blocks in different partitions. `k ≤ 1` returns `g` unchanged.
pub fn split_heavy_einsums(g: &Graph, k: usize) -> Result<Graph, PartitionError> {
    if k <= 1 {
        return Ok(g.clone());
    }
    let total = CostModel::new(g)?.total();
    split_einsums_above(g, (total / (2 * k as u64)).max(1))
}

/// [`split_heavy_einsums`] with an explicit cost limit: every splittable
/// einsum costing more than `limit` becomes `⌈cost / limit⌉` blocks.
pub fn split_einsums_above(g: &Graph, limit: u64) -> Result<Graph, PartitionError> {
    let limit = limit.max(1);
    let costs = CostModel::new(g)?;
    let mut out = Graph::new();
    let mut map: std::collections::BTreeMap<ValueId, ValueId> = Default::default();
    for (id, node) in g.nodes() {
        let inputs: Vec<ValueId> = node.inputs.iter().map(|v| map[v]).collect();
        let split = match &node.op {
            Op::Einsum(e) if costs.node_cost(id) > limit => split_axis(g, &node.inputs, &e.equation),
            _ => None,
        };
        let new_id = match split {
            None => {
                let n = out.add_node(node.name.clone(), node.op.clone(), &inputs)?;
                for (slot, v) in node.outputs.iter().enumerate() {
                    out.set_value_name(ValueId::new(n, slot), v.name.clone());
                }
                n
            }
            Some((operand, w_axis, out_axis)) => {
                let Op::Einsum(e) = &node.op else { unreachable!("matched above") };
                let w_node = g.node(node.inputs[operand].node);
                let Op::Const(c) = &w_node.op else { unreachable!("split_axis checks") };
                let len = c.fact.shape[w_axis];
                let pieces = (costs.node_cost(id).div_ceil(limit) as usize).clamp(2, len);
                let mut parts = vec![];
                for i in 0..pieces {
                    let (lo, hi) = (i * len / pieces, (i + 1) * len / pieces);
                    let t = slice_axis(&c.value, w_axis, lo, hi)?;
                    let mut fact = c.fact.clone();
                    fact.shape[w_axis] = hi - lo;
                    let w = out.add_node(
                        format!("{}.rows{lo}", w_node.name),
                        zkml_ir::ops::source::Const { fact, value: std::sync::Arc::new(t) },
                        &[],
                    )?;
                    let mut ins = inputs.clone();
                    ins[operand] = ValueId::new(w, 0);
                    let part = out.add_node(format!("{}.rows{lo}", node.name), e.clone(), &ins)?;
                    parts.push(ValueId::new(part, 0));
                }
                let n =
                    out.add_node(node.name.clone(), zkml_ir::ops::layout::Concat { axis: out_axis }, &parts)?;
                out.set_value_name(ValueId::new(n, 0), node.outputs[0].name.clone());
                n
            }
        };
        for slot in 0..node.outputs.len() {
            map.insert(ValueId::new(id, slot), ValueId::new(new_id, slot));
        }
    }
    out.set_outputs(g.outputs().iter().map(|v| map[v]).collect());
    Ok(out)
}

/// For an einsum over `inputs`: `(operand, its axis, output axis)` of a
/// constant operand's letter that appears in the output and in no other
/// operand (the longest such axis), if any.
fn split_axis(g: &Graph, inputs: &[ValueId], equation: &str) -> Option<(usize, usize, usize)> {
    let spec = zkml_kernels::EinsumSpec::parse(equation).ok()?;
    let mut best: Option<(usize, usize, usize, usize)> = None;
    for (o, v) in inputs.iter().enumerate() {
        let Op::Const(c) = &g.node(v.node).op else { continue };
        for (a, letter) in spec.inputs[o].iter().enumerate() {
            let elsewhere = spec.inputs.iter().enumerate().any(|(j, s)| j != o && s.contains(letter));
            let Some(out_axis) = spec.output.iter().position(|l| l == letter) else { continue };
            // A repeated letter (a diagonal) cannot be cut on one side.
            if elsewhere || spec.inputs[o].iter().filter(|l| *l == letter).count() > 1 {
                continue;
            }
            let len = c.fact.shape[a];
            if len >= 2 && best.is_none_or(|b| len > b.3) {
                best = Some((o, a, out_axis, len));
            }
        }
    }
    best.map(|(o, a, out_axis, _)| (o, a, out_axis))
}

/// Entries `lo..hi` of `axis` of `t`.
fn slice_axis(
    t: &zkml_ir::Tensor,
    axis: usize,
    lo: usize,
    hi: usize,
) -> Result<zkml_ir::Tensor, PartitionError> {
    let shape = t.shape();
    let inner: usize = shape[axis + 1..].iter().product();
    let outer: usize = shape[..axis].iter().product();
    let mut new_shape = shape.to_vec();
    new_shape[axis] = hi - lo;
    fn take<T: Copy>(v: &[T], outer: usize, len: usize, inner: usize, lo: usize, hi: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(outer * (hi - lo) * inner);
        for o in 0..outer {
            out.extend_from_slice(&v[(o * len + lo) * inner..(o * len + hi) * inner]);
        }
        out
    }
    let len = shape[axis];
    let t = zkml_ir::Tensor::new(
        new_shape,
        zkml_ir::map_data!(t.data(), v => take(v, outer, len, inner, lo, hi)),
    );
    t.map_err(|e| PartitionError::Ir(zkml_ir::IrError::Partition(e.to_string())))
}
