//! The range argument shared by a partition's chunks, and requantization
//! claims (plain requantizations and ReLUs) reduced to their input.

use super::*;

/// Distinct committed columns of a bucket's range entries, in first-use
/// order.
fn range_cols(cols: &ColumnPlan, b: &RangeBucket) -> Vec<usize> {
    let mut out: Vec<usize> = vec![];
    for &i in &b.entries {
        let col = cols.range[i].col;
        if !out.contains(&col) {
            out.push(col);
        }
    }
    out
}

/// The range arguments of a partition: one logUp argument per bucket
/// (`ColumnPlan::range_buckets`), in order.
pub(crate) fn argue_range<S: Side>(s: &mut S) -> Result<()> {
    let buckets = s.cols().range_buckets.clone();
    for (k, b) in buckets.iter().enumerate() {
        argue_bucket(s, k, b)?;
    }
    Ok(())
}

/// One bucket: its chunks, shifted by their offsets and packed, are looked
/// up in `[0, 2^c)`; each chunk column is then opened at the lookup
/// point's suffix and the packed evaluation rebuilt from the openings.
fn argue_bucket<S: Side>(s: &mut S, k: usize, b: &RangeBucket) -> Result<()> {
    let rp = &b.packing;
    let table: Vec<F> = (0..1u64 << s.cols().chunk).map(F::from_u64).collect();
    let what = format!("range checks, bucket {k}");
    let claims = s.logup(rp.vars, std::slice::from_ref(&table), b.mult, &what, |w| {
        let mut cat = vec![F::ZERO; rp.len()];
        for (&i, &(off, k)) in b.entries.iter().zip(&rp.slots) {
            let e = w.cols.range[i];
            let add = F::from_u64(e.offset);
            for (dst, &src) in cat[off..off + (1 << k)].iter_mut().zip(w.col(e.col)) {
                *dst = src + add;
            }
        }
        Ok(vec![cat])
    })?;
    s.check(
        || claims.table_evals == [index_eval(&claims.table_point)],
        || format!("{what}: table evaluation is wrong"),
    )?;
    s.col_claim(b.mult, &claims.table_point, claims.multiplicity_eval);
    let rho = &claims.lookup_point;
    let cols = range_cols(s.cols(), b);
    // Each column is opened at the point of its first entry in the bucket
    // (a chunk checked twice, with an offset, is one column in two slots
    // of one size, so at one suffix).
    let points: Vec<Vec<EF>> = cols
        .iter()
        .map(|&col| {
            let j = b.entries.iter().position(|&i| s.cols().range[i].col == col).unwrap_or(0);
            rp.suffix(j, rho).to_vec()
        })
        .collect();
    let at: Vec<(usize, &[EF])> = cols.iter().zip(&points).map(|(&c, p)| (c, p.as_slice())).collect();
    let ev = s.open(&at, "range-checked columns")?;
    s.check(
        || {
            let mut sum = EF::ZERO;
            for (j, &i) in b.entries.iter().enumerate() {
                let e = s.cols().range[i];
                let c = cols.iter().position(|&c| c == e.col).unwrap_or(0);
                sum += rp.slot_weight(j, rho) * (ev[c] + EF::from_u64(e.offset));
            }
            claims.column_evals == [sum]
        },
        || format!("{what}: looked-up column disagrees with the committed chunks"),
    )
}

/// The columns a requantization's output claim opens.
struct ReqCols {
    /// Plain requantization: `lo = y + m`, `hi = m − y`; ReLU: `pos`, `neg`.
    a: Chunks,
    b: Chunks,
    /// The remainder's chunks, then the overflow's (up, down).
    rem: Chunks,
    nr: usize,
    ns: usize,
    relu: bool,
}

fn req_node(cols: &ColumnPlan, id: usize) -> Result<ReqCols> {
    let (a, b, rem, sat, relu) = match cols.nodes.get(&id) {
        Some(NodeCols::Range { lo, hi, rem, sat }) => (lo, hi, rem, sat, false),
        Some(NodeCols::Relu { pos, neg, rem, sat }) => (pos, neg, rem, sat, true),
        _ => return Err(Error::Internal(format!("node {id} has no requantization columns"))),
    };
    let mut all = rem.clone();
    if let Some(s) = sat {
        all.cols.extend(&s.up.cols);
        all.cols.extend(&s.down.cols);
    }
    Ok(ReqCols {
        a: a.clone(),
        b: b.clone(),
        rem: all,
        nr: rem.cols.len(),
        ns: sat.as_ref().map_or(0, |s| s.up.cols.len()),
        relu,
    })
}

impl ReqCols {
    fn opened(&self) -> impl Iterator<Item = &usize> {
        self.a.cols.iter().chain(&self.b.cols).chain(&self.rem.cols)
    }
}

/// A claim `z(r) = e` on a plain requantization or a ReLU: the value's
/// chunks, remainder and overflow are opened at `r`; `y(r)` follows (`e`
/// itself, or `e − neg(r)` for a ReLU) and becomes the claim on `x`.
pub(crate) fn reduce_requant<S: Side>(s: &mut S, id: usize, q: &LookupQuant, c: Claim) -> Result<()> {
    let rc = req_node(s.cols(), id)?;
    let opened: Vec<usize> = rc.opened().copied().collect();
    let ev = s.open_at(&opened, &c.point, "a requantization's chunks")?;
    let x: ValueId = s.vk().nodes[id].inputs[0];
    let real = s.layout(x).real_eval(&c.point);
    let (ea, rest) = ev.split_at(rc.a.cols.len());
    let (eb, er) = rest.split_at(rc.b.cols.len());
    let (a, b) = (s.cols().combine(ea), s.cols().combine(eb));
    let y = if rc.relu {
        // z = pos; y = pos − neg (pos·neg = 0 is the zerocheck's job).
        s.check(
            || a == c.value,
            || format!("ReLU at node {id}: output disagrees with its committed chunks"),
        )?;
        c.value - b
    } else {
        let (_, _, _, m) = requant_params(q);
        let m = EF::from(embed_i64(m)) * real;
        s.check(
            || a - m == c.value && b == m - c.value,
            || format!("requantization at node {id}: value outside its range or inconsistent"),
        )?;
        c.value
    };
    let (over, r) = split_requant(s.cols(), er, rc.nr, rc.ns);
    s.claim(x, Claim { value: input_claim(q, y + over, r, real), point: c.point })
}
