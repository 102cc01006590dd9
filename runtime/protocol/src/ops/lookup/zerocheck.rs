//! Zerochecks: ReLU complementarity (`pos·neg = 0`) and saturation
//! (overflow only where the value is clamped).

use super::*;

/// The ReLU nodes of a partition, increasing.
pub(crate) fn relu_nodes(cols: &ColumnPlan) -> Vec<usize> {
    cols.nodes.iter().filter(|(_, c)| matches!(c, NodeCols::Relu { .. })).map(|(&id, _)| id).collect()
}

fn relu_cols(v: &crate::vk::VerifyingKey, cols: &ColumnPlan, id: usize) -> Result<(Chunks, Chunks, Layout)> {
    match cols.nodes.get(&id) {
        Some(NodeCols::Relu { pos, neg, .. }) => {
            Ok((pos.clone(), neg.clone(), Layout::new(&crate::columns::shape_of(v, v.nodes[id].inputs[0]))))
        }
        _ => Err(Error::Internal(format!("node {id} has no ReLU columns"))),
    }
}

/// `eq·pos·neg` over tables `[eq, pos, neg]`.
fn relu_terms() -> Vec<Term> {
    vec![Term { coeff: EF::ONE, factors: vec![0, 1, 2] }]
}

/// ReLU complementarity: the zerocheck `Σ_x eq(τ, x)·pos(x)·neg(x) = 0`
/// at a random `τ`. With `pos, neg` range-checked (non-negative, far below
/// `p`), `pos·neg = 0` entrywise says one of them is zero, so
/// `pos = max(pos − neg, 0) = max(y, 0)`.
pub(crate) fn argue_relu<S: Side>(s: &mut S, id: usize) -> Result<()> {
    let (pos, neg, layout) = relu_cols(s.vk(), s.cols(), id)?;
    s.transcript().label(b"relu");
    let tau = s.transcript().challenges_ext(layout.vars());
    let what = format!("ReLU at node {id}");
    let out = s.sumcheck(layout.vars(), 3, &relu_terms(), EF::ZERO, &what, |w| {
        let n = layout.padded_len();
        Ok(vec![
            Table::Ext(eq_table(&tau)),
            Table::Base(w.cols.chunk_table(&pos, w.col_data, n)),
            Table::Base(w.cols.chunk_table(&neg, w.col_data, n)),
        ])
    })?;
    let opened: Vec<usize> = pos.cols.iter().chain(&neg.cols).copied().collect();
    let ev = s.open_at(&opened, &out.point, "ReLU openings")?;
    let (ep, en) = ev.split_at(pos.cols.len());
    s.check(
        || out.evals == [eq_eval(&tau, &out.point), s.cols().combine(ep), s.cols().combine(en)],
        || format!("ReLU at node {id}: openings disagree with the zerocheck"),
    )
}

/// `up·(m·real − y) + λ·down·(m·real + y)` over `[eq, up, A, down, B]`.
fn sat_terms(lambda: EF) -> Vec<Term> {
    vec![Term { coeff: EF::ONE, factors: vec![0, 1, 2] }, Term { coeff: lambda, factors: vec![0, 3, 4] }]
}

/// How a saturating node represents its clamped value `y`.
enum YCols {
    /// Table nodes: `y` committed.
    Col(usize),
    /// Plain requantization: `lo = y + m`, `hi = m − y`.
    LoHi(Chunks, Chunks),
    /// ReLU: `y = pos − neg`.
    PosNeg(Chunks, Chunks),
}

struct SatCols {
    up: Chunks,
    down: Chunks,
    y: YCols,
    m: i64,
    layout: Layout,
}

impl SatCols {
    /// Columns opened at the zerocheck's point, in message order.
    fn opened(&self) -> Vec<usize> {
        let mut out: Vec<usize> = self.up.cols.iter().chain(&self.down.cols).copied().collect();
        match &self.y {
            YCols::Col(y) => out.push(*y),
            YCols::LoHi(a, b) | YCols::PosNeg(a, b) => out.extend(a.cols.iter().chain(&b.cols)),
        }
        out
    }
}

fn sat_cols(v: &crate::vk::VerifyingKey, cols: &ColumnPlan, id: usize) -> Result<SatCols> {
    let q = match crate::ops::classify(v, id)? {
        Kind::Table(q) | Kind::Range(q) | Kind::Relu(q) => q,
        _ => return Err(Error::Internal(format!("node {id} is not a lookup"))),
    };
    let (_, _, _, m) = requant_params(&q);
    let layout = Layout::new(&crate::columns::shape_of(v, v.nodes[id].inputs[0]));
    let (s, y) = match cols.nodes.get(&id) {
        Some(NodeCols::Table { y, sat: Some(s), .. }) => (s, YCols::Col(*y)),
        Some(NodeCols::Range { lo, hi, sat: Some(s), .. }) => (s, YCols::LoHi(lo.clone(), hi.clone())),
        Some(NodeCols::Relu { pos, neg, sat: Some(s), .. }) => (s, YCols::PosNeg(pos.clone(), neg.clone())),
        _ => {
            return Err(Error::Reject(format!("node {id} is marked saturating but has no overflow columns")));
        }
    };
    Ok(SatCols { up: s.up.clone(), down: s.down.clone(), y, m, layout })
}

/// Saturation of node `id`: the zerocheck
/// `Σ_x eq(τ, x)·[up·(m·real − y) + λ·down·(m·real + y)](x) = 0`, which
/// with `up, down ≥ 0` and `|y| ≤ m` says: `y = m` wherever `up > 0` and
/// `y = −m` wherever `down > 0`.
pub(crate) fn argue_saturation<S: Side>(s: &mut S, id: usize) -> Result<()> {
    let sc = sat_cols(s.vk(), s.cols(), id)?;
    s.transcript().label(b"saturation");
    let tau = s.transcript().challenges_ext(sc.layout.vars());
    let lambda = s.transcript().challenge_ext();
    let what = format!("saturation at node {id}");
    let out = s.sumcheck(sc.layout.vars(), 5, &sat_terms(lambda), EF::ZERO, &what, |w| {
        let n = sc.layout.padded_len();
        let chunks = |c: &Chunks| w.cols.chunk_table(c, w.col_data, n);
        let mreal: Vec<F> =
            sc.layout.real_mask().iter().map(|&b| F::from_bool(b) * embed_i64(sc.m)).collect();
        let around = |y: &[F]| -> (Vec<F>, Vec<F>) {
            (
                mreal.iter().zip(y).map(|(&m, &y)| m - y).collect(),
                mreal.iter().zip(y).map(|(&m, &y)| m + y).collect(),
            )
        };
        let (a, b): (Vec<F>, Vec<F>) = match &sc.y {
            YCols::Col(y) => around(w.col(*y)),
            YCols::LoHi(lo, hi) => (chunks(hi), chunks(lo)),
            YCols::PosNeg(pos, neg) => {
                let y: Vec<F> = chunks(pos).into_iter().zip(chunks(neg)).map(|(a, b)| a - b).collect();
                around(&y)
            }
        };
        Ok(vec![
            Table::Ext(eq_table(&tau)),
            Table::Base(chunks(&sc.up)),
            Table::Base(a),
            Table::Base(chunks(&sc.down)),
            Table::Base(b),
        ])
    })?;
    let cols = sc.opened();
    let ev = s.open_at(&cols, &out.point, "saturation openings")?;
    s.check(
        || {
            let c = s.cols();
            let (nu, nd) = (sc.up.cols.len(), sc.down.cols.len());
            let up = c.combine(&ev[..nu]);
            let down = c.combine(&ev[nu..nu + nd]);
            let rest = &ev[nu + nd..];
            let mreal = EF::from(embed_i64(sc.m)) * sc.layout.real_eval(&out.point);
            let (a, b) = match &sc.y {
                YCols::Col(_) => (mreal - rest[0], mreal + rest[0]),
                YCols::LoHi(lo, _) => {
                    let (lo, hi) = rest.split_at(lo.cols.len());
                    (c.combine(hi), c.combine(lo))
                }
                YCols::PosNeg(pos, _) => {
                    let (ep, en) = rest.split_at(pos.cols.len());
                    let y = c.combine(ep) - c.combine(en);
                    (mreal - y, mreal + y)
                }
            };
            out.evals[0] == eq_eval(&tau, &out.point) && out.evals[1..] == [up, a, down, b]
        },
        || format!("saturation at node {id}: openings disagree with the zerocheck"),
    )
}
