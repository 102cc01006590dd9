//! `reduce_max` over a set of axes (max pooling after im2col, softmax's
//! running maximum).
//!
//! The prover commits `out` and the differences `d = out_b − x` (as range
//! chunks, so `0 ≤ d < 2^bits`), where `out_b` is `out` broadcast over the
//! reduced axes. Then `out = max x` over each window iff
//! * `d ≥ 0` everywhere (range checks): `out` bounds every entry;
//! * `Π_{w ∈ window} d(y, w) = 0` for every output position `y`: some entry
//!   attains it. Proven by the zerocheck `Σ_y eq(τ, y) Π_w d_w(y) = 0`
//!   (degree `|window| + 1`) at a random `τ`, ending in claims on the
//!   chunks at `(s, w)` for each real window position `w`;
//! * `x = out_b − d` as polynomials: at a random point `ρ` of `x`'s layout
//!   the claim `x(ρ) = out(ρ_kept)·Π_{reduced} lt(ρ_a, n_a) − d(ρ)` goes to
//!   `x`'s producer.
//!
//! Claims on `out` from its consumers are openings of the committed column.

use crate::columns::{Chunks, ColumnPlan, NodeCols, shape_of, witness_ints};
use crate::layout::{Layout, bits_point, lt_eval};
use crate::ops::Kind;
use crate::packing::Claim;
use crate::side::Side;
use crate::vk::VerifyingKey;
use crate::{Error, Result};
use p3_field::PrimeCharacteristicRing;
use zkml_ir::{Tensor, ValueId};
use zkml_proof::mle::{eq_eval, eq_table};
use zkml_proof::sumcheck::{Table, Term};
use zkml_proof::{EF, F, Transcript};

struct Geometry {
    x: ValueId,
    xl: Layout,
    /// Output layout over the kept axes only (same variables as `out`).
    ol: Layout,
    axes: Vec<usize>,
    /// Real window positions, each a coordinate per reduced axis.
    windows: Vec<Vec<usize>>,
}

fn geometry(vk: &VerifyingKey, id: usize, axes: &[usize]) -> Geometry {
    let x = vk.nodes[id].inputs[0];
    let xl = Layout::new(&crate::columns::shape_of(vk, x));
    let kept: Vec<usize> = (0..xl.rank()).filter(|a| !axes.contains(a)).map(|a| xl.dims[a]).collect();
    let red: Vec<usize> = axes.iter().map(|&a| xl.dims.get(a).copied().unwrap_or(1)).collect();
    let mut windows = vec![vec![]];
    for &d in &red {
        windows =
            windows.into_iter().flat_map(|w| (0..d).map(move |i| [w.clone(), vec![i]].concat())).collect();
    }
    Geometry { x, ol: Layout::new(&kept), xl, axes: axes.to_vec(), windows }
}

impl Geometry {
    /// The point on `x`'s layout: kept axes from `s` (split by `ol`), reduced
    /// axes at window `w`'s coordinates.
    fn window_point(&self, s: &[EF], w: &[usize]) -> Vec<EF> {
        let ss = self.ol.split(s);
        let mut pt = vec![];
        let (mut k, mut r) = (0, 0);
        for a in 0..self.xl.rank() {
            if self.axes.contains(&a) {
                pt.extend(bits_point(w[r], self.xl.bits[a]));
                r += 1;
            } else {
                pt.extend_from_slice(ss[k]);
                k += 1;
            }
        }
        pt
    }
    /// Splits a point of `x` into the kept part and the reduced-axes factor.
    fn kept_point(&self, rho: &[EF]) -> (Vec<EF>, EF) {
        let parts = self.xl.split(rho);
        let mut kept = vec![];
        let mut sel = EF::ONE;
        for (a, part) in parts.iter().enumerate() {
            if self.axes.contains(&a) {
                sel *= lt_eval(part, self.xl.dims[a]);
            } else {
                kept.extend_from_slice(part);
            }
        }
        (kept, sel)
    }
}

fn max_cols(cols: &crate::columns::ColumnPlan, id: usize) -> Result<(usize, Chunks)> {
    match cols.nodes.get(&id) {
        Some(NodeCols::Max { out, diff }) => Ok((*out, diff.clone())),
        _ => Err(Error::Internal(format!("node {id} has no max columns"))),
    }
}

fn terms(n: usize) -> Vec<Term> {
    vec![Term { coeff: EF::ONE, factors: (0..n).collect() }]
}

/// Nodes proven by [`prove_max`], in order.
pub(crate) fn max_nodes(cols: &crate::columns::ColumnPlan) -> Vec<usize> {
    cols.nodes.iter().filter(|(_, c)| matches!(c, NodeCols::Max { .. })).map(|(&id, _)| id).collect()
}

fn axes_of(vk: &VerifyingKey, id: usize) -> Result<Vec<usize>> {
    match crate::ops::classify(vk, id)? {
        crate::ops::Kind::Max { axes, .. } => Ok(axes),
        _ => Err(Error::Internal(format!("node {id} is not a max"))),
    }
}

pub(crate) fn argue_max<S: Side>(s: &mut S, id: usize) -> Result<()> {
    let g = geometry(s.vk(), id, &axes_of(s.vk(), id)?);
    let (out_col, diff) = max_cols(s.cols(), id)?;
    s.transcript().label(b"max-zerocheck");
    let tau = s.transcript().challenges_ext(g.ol.vars());
    let n = g.windows.len() + 1;
    let out = s.sumcheck(g.ol.vars(), n, &terms(n), EF::ZERO, "max zerocheck", |w| {
        // d on x's padded layout, then one table per window position over
        // the output's padded layout.
        let d = w.cols.chunk_table(&diff, w.col_data, g.xl.padded_len());
        let ol_idx = g.ol.padded_indices();
        let mut all = vec![Table::Ext(eq_table(&tau))];
        for win in &g.windows {
            let mut t = vec![F::ZERO; g.ol.padded_len()];
            for (real, &py) in ol_idx.iter().enumerate() {
                t[py] = d[x_index(&g, real, win)];
            }
            all.push(Table::Base(t));
        }
        Ok(all)
    })?;
    s.check(
        || out.evals[0] == eq_eval(&tau, &out.point),
        || format!("max at node {id}: zerocheck eq mismatch"),
    )?;
    let k = diff.cols.len();
    let points: Vec<Vec<EF>> = g.windows.iter().map(|win| g.window_point(&out.point, win)).collect();
    let at: Vec<(usize, &[EF])> =
        points.iter().flat_map(|pt| diff.cols.iter().map(move |&c| (c, pt.as_slice()))).collect();
    let ev = s.open(&at, "max differences")?;
    for wi in 0..g.windows.len() {
        let chunk = &ev[wi * k..(wi + 1) * k];
        s.check(
            || s.cols().combine(chunk) == out.evals[1 + wi],
            || format!("max at node {id}: window differences disagree with the zerocheck"),
        )?;
    }
    s.transcript().label(b"max-input");
    let rho = s.transcript().challenges_ext(g.xl.vars());
    let (kept, sel) = g.kept_point(&rho);
    let mut at: Vec<(usize, &[EF])> = vec![(out_col, kept.as_slice())];
    at.extend(diff.cols.iter().map(|&c| (c, rho.as_slice())));
    let ev = s.open(&at, "max input")?;
    let value = ev[0] * sel - s.cols().combine(&ev[1..]);
    s.claim(g.x, Claim { value, point: rho })
}

/// Padded index in `x` of output real position `real` at window `w`.
fn x_index(g: &Geometry, real: usize, w: &[usize]) -> usize {
    let strides = g.xl.padded_strides();
    let mut rest = real;
    let kept: Vec<usize> = (0..g.xl.rank()).filter(|a| !g.axes.contains(a)).collect();
    let mut coord = vec![0usize; g.xl.rank()];
    for &a in kept.iter().rev() {
        coord[a] = rest % g.xl.dims[a];
        rest /= g.xl.dims[a];
    }
    for (r, &a) in g.axes.iter().enumerate() {
        coord[a] = w[r];
    }
    coord.iter().zip(&strides).map(|(c, s)| c * s).sum()
}

/// The committed columns of a max reduction: its output and the
/// differences `d` as range-checked chunks.
pub(crate) fn columns(plan: &mut ColumnPlan, vk: &VerifyingKey, id: usize, kind: &Kind) -> Option<NodeCols> {
    let Kind::Max { bits, .. } = kind else { return None };
    let x = shape_of(vk, vk.nodes[id].inputs[0]);
    let out = plan.col(&shape_of(vk, ValueId::new(id, 0)));
    let diff = plan.chunks(&x, *bits);
    Some(NodeCols::Max { out, diff })
}

/// Fills a max reduction's columns from the executor's values.
pub(crate) fn fill(
    plan: &ColumnPlan,
    vk: &VerifyingKey,
    id: usize,
    nc: &NodeCols,
    values: &[Vec<Tensor>],
    cols: &mut [Vec<F>],
    _table_rows: &mut [Vec<u64>],
) -> Result<()> {
    let node = &vk.nodes[id];
    let ints = |v: ValueId| witness_ints(values, v);
    let x = ints(node.inputs[0])?;
    match nc {
        NodeCols::Max { out, diff } => {
            let Kind::Max { axes, .. } = crate::ops::classify(vk, id)? else {
                return Err(Error::Internal(format!("node {id} is not a max")));
            };
            let xs = shape_of(vk, node.inputs[0]);
            let os = ints(ValueId::new(id, 0))?;
            let kept: Vec<usize> =
                xs.iter().enumerate().map(|(a, &d)| if axes.contains(&a) { 1 } else { d }).collect();
            let offsets = zkml_ir::shape::broadcast_offsets(&[&kept], &xs).remove(0);
            let d: Vec<u64> = x.iter().zip(&offsets).map(|(&xv, &o)| (os[o] - xv) as u64).collect();
            let xl = Layout::new(&xs);
            cols[*out] = plan.layouts[*out].pad_i64(&os);
            plan.fill_chunks(cols, diff, &xl, &d);
        }
        _ => return Err(Error::Internal(format!("node {id} has no max columns"))),
    }
    Ok(())
}
