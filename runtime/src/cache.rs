//! Cached decoding: a decoding step computes only the new position's rows.
//!
//! Every value of a decoder plan's pass is kept between steps (the K/V
//! projections among them: the concatenation cache; the rows of RoPE
//! tables and of the causal mask are read at the step's offset: the
//! positional cache). A value has a *query axis* `a` when its row `t`
//! along `a` is computed from row `t` of the operands that carry the
//! query position and from whole operands that do not (the keys and values
//! an attention row reads). Such a value is updated by recomputing rows
//! `[lo, hi)` only: element-wise ops and lookups slice every operand along
//! the axis aligned with `a` (broadcast axes of size 1 are read whole),
//! einsums slice the operands holding the query label, reductions,
//! reshapes that keep the query axis's prefix, transposes, expands,
//! gathers by token id, and slices and concatenations along other axes
//! follow. Any other op is recomputed whole from the (current) values.
//!
//! [`query_axes`] derives the axes from the graph alone, following the
//! token ids; an einsum whose operands carry the position under two output
//! labels (`Q·Kᵀ`) takes its first operand's, the query.
//!
//! Exactness: rows `t < hi` of a value with a query axis depend on
//! positions `≤ t` only, except entries a causal mask removes (a score
//! against a later key), which enter through the mask's saturated table
//! as exact zeros. [`crate::generate::Greedy`] proves nothing from the
//! cache: the witness of a generation is one full pass, which must agree
//! with every cached step's token, and the tests compare every cached
//! value with a full pass row by row.

use crate::Executor;
use zkml_ir::ops::layout::{Concat, Slice};
use zkml_ir::{Graph, IrError, Op, OpDef, OpError, Tensor, TensorData};

/// The query axis of each node's first output (`None`: not
/// position-dependent, or recomputed whole), and whether it depends on
/// the token ids at all.
#[derive(Debug, Clone)]
pub struct QueryAxes {
    pub axis: Vec<Option<usize>>,
    pub varying: Vec<bool>,
}

impl QueryAxes {
    /// Nodes recomputed whole at every step.
    pub fn whole(&self) -> usize {
        self.varying.iter().zip(&self.axis).filter(|(v, a)| **v && a.is_none()).count()
    }
    /// Nodes updated by rows.
    pub fn by_rows(&self) -> usize {
        self.varying.iter().zip(&self.axis).filter(|(v, a)| **v && a.is_some()).count()
    }
}

/// The query axes of a decoder graph of `positions` positions.
pub fn query_axes(g: &Graph, positions: usize) -> QueryAxes {
    let n = g.len();
    let (mut axis, mut varying) = (vec![None; n], vec![false; n]);
    for (id, node) in g.nodes() {
        varying[id] = matches!(node.op, Op::Input(_)) || node.inputs.iter().any(|v| varying[v.node]);
        if !varying[id] || node.outputs.len() != 1 {
            continue;
        }
        let out = &node.outputs[0].fact.shape;
        let q = |i: usize| {
            let v = node.inputs[i];
            if varying[v.node] && v.slot == 0 { axis[v.node] } else { None }
        };
        let rank = |i: usize| g.fact(node.inputs[i]).map_or(0, |f| f.rank());
        let found = match &node.op {
            Op::Input(_) => (out.len() == 2).then_some(1),
            Op::Binary(_) | Op::Where(_) | Op::Compare(_) | Op::Logic(_) => {
                let shifted: Vec<Option<usize>> = (0..node.inputs.len())
                    .map(|i| q(i).map(|a| a + out.len() - rank(i).min(out.len())))
                    .collect();
                let first = shifted.iter().flatten().next().copied();
                // Every varying operand must carry the position on that axis.
                let agree =
                    (0..node.inputs.len()).all(|i| !varying[node.inputs[i].node] || shifted[i] == first);
                first.filter(|_| agree)
            }
            Op::Lookup(_) | Op::Unary(_) | Op::Cast(_) | Op::Clip(_) => q(0),
            Op::Einsum(e) => e.spec().ok().and_then(|spec| {
                let label = (0..node.inputs.len())
                    .find_map(|i| q(i).map(|a| spec.inputs[i][a]).filter(|l| spec.output.contains(l)))?;
                let agree = (0..node.inputs.len()).all(|i| {
                    let pos = spec.inputs[i].iter().position(|&c| c == label);
                    !varying[node.inputs[i].node] || pos.is_none() || pos == q(i)
                });
                agree.then(|| spec.output.iter().position(|&c| c == label)).flatten()
            }),
            Op::Reduce(r) => q(0)
                .filter(|a| !r.axes.contains(a))
                .map(|a| if r.keepdims { a } else { a - r.axes.iter().filter(|&&x| x < a).count() }),
            Op::Reshape(_) => q(0).and_then(|a| {
                let ins = g.fact(node.inputs[0]).map(|f| f.shape.clone()).unwrap_or_default();
                let prefix: usize = ins[..a].iter().product();
                (0..out.len()).find(|&b| out[..b].iter().product::<usize>() == prefix && out[b] == ins[a])
            }),
            Op::Transpose(t) => q(0).and_then(|a| t.perm.iter().position(|&p| p == a)),
            Op::Expand(_) => q(0).map(|a| a + out.len() - rank(0).min(out.len())),
            Op::Slice(s) => q(0).filter(|&a| s.axis != a),
            Op::Concat(c) => {
                let a = (0..node.inputs.len()).find_map(q);
                let agree = (0..node.inputs.len()).all(|i| !varying[node.inputs[i].node] || q(i) == a);
                a.filter(|&a| agree && c.axis != a)
            }
            Op::Gather(ga) if !varying[node.inputs[0].node] => q(1).map(|a| ga.axis + a),
            _ => None,
        };
        axis[id] = found.filter(|&a| out.get(a) == Some(&positions));
    }
    QueryAxes { axis, varying }
}

/// Rows `[lo, hi)` of `t` along `axis`.
fn rows(t: &Tensor, axis: usize, lo: usize, hi: usize) -> Result<Tensor, OpError> {
    let s = Slice { axis, start: lo as i64, end: hi as i64, step: 1 };
    Ok(s.eval(&[t])?.remove(0))
}

/// Whether [`write_rows`] applies: `part` has `whole`'s storage width and
/// shape except along `axis`, and its rows fit from `lo`.
fn rows_fit(whole: &Tensor, part: &Tensor, axis: usize, lo: usize) -> bool {
    let (w, p) = (whole.shape(), part.shape());
    p.len() == w.len()
        && axis < w.len()
        && (0..w.len()).all(|i| i == axis || p[i] == w[i])
        && lo + p[axis] <= w[axis]
        && std::mem::discriminant(whole.data()) == std::mem::discriminant(part.data())
}

/// `whole` with its rows `[lo, lo + k)` along `axis` replaced by `part`'s
/// `k` rows ([`rows_fit`]), written in place when `whole` owns its data:
/// a step copies its own rows, not the whole tensor.
fn write_rows(whole: Tensor, part: &Tensor, axis: usize, lo: usize) -> Result<Tensor, OpError> {
    let shape = whole.shape().to_vec();
    let (n, inner) = (shape[axis], shape[axis + 1..].iter().product::<usize>());
    let run = part.shape()[axis] * inner;
    fn put<T: Copy>(dst: &mut [T], src: &[T], n: usize, inner: usize, lo: usize, run: usize) {
        for (o, chunk) in src.chunks_exact(run.max(1)).enumerate() {
            let at = (o * n + lo) * inner;
            dst[at..at + chunk.len()].copy_from_slice(chunk);
        }
    }
    let mut data = whole.into_data();
    match (&mut data, part.data()) {
        (TensorData::F32(d), TensorData::F32(s)) => put(d, s, n, inner, lo, run),
        (TensorData::I64(d), TensorData::I64(s)) => put(d, s, n, inner, lo, run),
        (TensorData::Bool(d), TensorData::Bool(s)) => put(d, s, n, inner, lo, run),
        (TensorData::I8(d), TensorData::I8(s)) => put(d, s, n, inner, lo, run),
        (TensorData::I16(d), TensorData::I16(s)) => put(d, s, n, inner, lo, run),
        (TensorData::I32(d), TensorData::I32(s)) => put(d, s, n, inner, lo, run),
        _ => return Err(OpError::new("cached rows of another storage width")),
    }
    Tensor::new(shape, data)
}

/// The operands of `node` for rows `[lo, hi)` of its output's axis `a`:
/// each sliced where it carries that axis, whole where it does not.
fn operands(
    g: &Graph,
    qa: &QueryAxes,
    id: usize,
    a: usize,
    values: &[Vec<Tensor>],
    (lo, hi): (usize, usize),
) -> Result<Vec<Tensor>, OpError> {
    let node = g.node(id);
    let out_rank = node.outputs[0].fact.rank();
    let positions = node.outputs[0].fact.shape[a];
    let mut args = Vec::with_capacity(node.inputs.len());
    for (i, v) in node.inputs.iter().enumerate() {
        let t = &values[v.node][v.slot];
        let along = match &node.op {
            Op::Einsum(e) => {
                let spec = e.spec()?;
                let label = spec.output[a];
                spec.inputs[i].iter().position(|&c| c == label)
            }
            // Data and indices of a gather by token id: the indices.
            Op::Gather(_) => (i == 1).then(|| qa.axis[v.node]).flatten(),
            Op::Reduce(_)
            | Op::Transpose(_)
            | Op::Reshape(_)
            | Op::Lookup(_)
            | Op::Unary(_)
            | Op::Cast(_)
            | Op::Clip(_)
            | Op::Slice(_) => qa.axis[v.node],
            // Broadcasting ops and concatenation: aligned from the right.
            _ => (a + t.shape().len()).checked_sub(out_rank),
        };
        args.push(match along {
            Some(x) if t.shape().get(x) == Some(&positions) => rows(t, x, lo, hi)?,
            _ => t.clone(),
        });
    }
    Ok(args)
}

/// `op` computing `hi − lo` rows of axis `a` instead of all of them.
fn op_for_rows(op: &Op, a: usize, n: usize) -> Op {
    match op {
        Op::Reshape(r) => {
            let mut r = r.clone();
            r.shape[a] = n;
            Op::Reshape(r)
        }
        Op::Expand(x) => {
            let mut x = x.clone();
            x.shape[a] = n;
            Op::Expand(x)
        }
        op => op.clone(),
    }
}

/// A decoder pass kept between steps.
#[derive(Debug)]
pub struct Cached<'e, 'g> {
    exec: &'e Executor<'g>,
    axes: QueryAxes,
    values: Vec<Vec<Tensor>>,
}

impl<'e, 'g> Cached<'e, 'g> {
    /// The full pass over `ids` (the prefill), kept.
    pub fn prefill(exec: &'e Executor<'g>, positions: usize, ids: &Tensor) -> Result<Self, IrError> {
        let axes = query_axes(exec.graph(), positions);
        let values = exec.run_all(std::slice::from_ref(ids))?;
        Ok(Cached { exec, axes, values })
    }

    pub fn axes(&self) -> &QueryAxes {
        &self.axes
    }

    pub fn values(&self) -> &[Vec<Tensor>] {
        &self.values
    }

    /// Updates every value for `ids`, which differ from the last step's
    /// at positions `[lo, hi)` only and hold nothing a position below `hi`
    /// reads after them.
    pub fn step(&mut self, ids: &Tensor, lo: usize, hi: usize) -> Result<(), IrError> {
        let g = self.exec.graph();
        for (id, node) in g.nodes() {
            if !self.axes.varying[id] {
                continue;
            }
            let err = |error: OpError| IrError::Node {
                id,
                name: node.name.clone(),
                op: node.op.to_string(),
                error,
            };
            if let Op::Input(_) = node.op {
                self.values[id] = vec![ids.clone()];
                continue;
            }
            match self.axes.axis[id] {
                Some(a) => {
                    let args = operands(g, &self.axes, id, a, &self.values, (lo, hi)).map_err(err)?;
                    let refs: Vec<&Tensor> = args.iter().collect();
                    let op = op_for_rows(&node.op, a, hi - lo);
                    let part = self.exec.eval_node(id, &op, &refs).map_err(err)?.remove(0);
                    zkml_ir::check_range(&part, &node.outputs[0].fact).map_err(err)?;
                    self.values[id][0] = if rows_fit(&self.values[id][0], &part, a, lo) {
                        let whole = std::mem::replace(&mut self.values[id][0], Tensor::scalar_f32(0.0));
                        write_rows(whole, &part, a, lo).map_err(err)?
                    } else {
                        // Another storage width than the last pass's: rebuilt
                        // from pieces.
                        let whole = &self.values[id][0];
                        let n = whole.shape()[a];
                        let mut pieces = vec![];
                        if lo > 0 {
                            pieces.push(rows(whole, a, 0, lo).map_err(err)?);
                        }
                        pieces.push(part);
                        if hi < n {
                            pieces.push(rows(whole, a, hi, n).map_err(err)?);
                        }
                        let refs: Vec<&Tensor> = pieces.iter().collect();
                        Concat { axis: a }.eval(&refs).map_err(err)?.remove(0)
                    };
                }
                None => {
                    let args: Vec<&Tensor> =
                        node.inputs.iter().map(|v| &self.values[v.node][v.slot]).collect();
                    let out = self.exec.eval_node(id, &node.op, &args).map_err(err)?;
                    for (t, v) in out.iter().zip(&node.outputs) {
                        zkml_ir::check_range(t, &v.fact).map_err(err)?;
                    }
                    self.values[id] = out;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows written in place equal the slices-and-concat rebuild, along
    /// every axis and for a narrow storage width.
    #[test]
    fn rows_written_in_place_equal_the_concat_rebuild() {
        let shape = [2usize, 5, 3];
        let whole = Tensor::new(shape, TensorData::I16((0..30).collect())).unwrap();
        for axis in 0..3 {
            for (lo, k) in [(0, 1), (1, 1), (shape[axis] - 1, 1), (0, shape[axis])] {
                let mut ps = shape.to_vec();
                ps[axis] = k;
                let n: usize = ps.iter().product();
                let part =
                    Tensor::new(ps, TensorData::I16((0..n as i16).map(|x| 100 + x).collect())).unwrap();
                assert!(rows_fit(&whole, &part, axis, lo));
                let fast = write_rows(whole.clone(), &part, axis, lo).unwrap();
                let mut pieces = vec![];
                if lo > 0 {
                    pieces.push(rows(&whole, axis, 0, lo).unwrap());
                }
                pieces.push(part.clone());
                if lo + k < shape[axis] {
                    pieces.push(rows(&whole, axis, lo + k, shape[axis]).unwrap());
                }
                let refs: Vec<&Tensor> = pieces.iter().collect();
                let slow = Concat { axis }.eval(&refs).unwrap().remove(0);
                assert_eq!(fast.shape(), slow.shape());
                assert_eq!(
                    fast.as_i64().unwrap(),
                    slow.as_i64().unwrap(),
                    "axis {axis}, rows {lo}..{}",
                    lo + k
                );
            }
        }
        // The whole tensor is shared elsewhere: that copy is unchanged.
        let part = Tensor::new([2, 1, 3], TensorData::I16(vec![7; 6])).unwrap();
        let kept = whole.clone();
        let _ = write_rows(whole.clone(), &part, 1, 2).unwrap();
        assert_eq!(kept, whole);
        // Another width or shape does not fit.
        let wide = Tensor::from_i64([2, 1, 3], vec![7; 6]).unwrap();
        assert!(!rows_fit(&whole, &wide, 1, 2));
        assert!(!rows_fit(&whole, &part, 1, 5));
    }
}
