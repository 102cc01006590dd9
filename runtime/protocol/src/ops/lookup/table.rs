//! Table lookups: one logUp-GKR argument per distinct table over every
//! lookup into it, and the floating-point domain's input claims.

use super::*;

pub(crate) fn argue_tables<S: Side>(s: &mut S) -> Result<()> {
    for ti in 0..s.cols().tables.len() {
        let tp = s.cols().tables[ti].clone();
        let tcols = ColumnPlan::table_columns(&tp);
        let pk = &tp.packing;
        let what = format!("lookup into {:?} table", tp.spec.func);
        let claims = s.logup(pk.vars, &tcols, tp.mult, &what, |w| {
            // Every lookup's columns in its slot; padding and gaps hold
            // table row 0.
            let mut cats: Vec<Vec<F>> = tcols.iter().map(|c| vec![c[0]; pk.len()]).collect();
            for (i, &id) in tp.nodes.iter().enumerate() {
                let lk = looked_up(w.cols, id)?;
                let off = pk.slots[i].0;
                for pos in w.cols.layouts[lk[0]].padded_indices() {
                    for (cat, &c) in cats.iter_mut().zip(&lk) {
                        cat[off + pos] = w.col(c)[pos];
                    }
                }
            }
            Ok(cats)
        })?;
        let t = &claims.table_point;
        s.check(
            || {
                let expect: Vec<EF> = match tp.spec.domain {
                    // (i − m), with row 2^b − 1 repeating row 0: succinct.
                    Domain::Linear(_) => {
                        let m = EF::from_u64((tp.spec.rows() / 2) as u64);
                        let top = EF::from_u64((1u64 << tp.bits) - 1);
                        vec![
                            index_eval(t) - m - top * t.iter().copied().product::<EF>(),
                            evaluate(&tcols[1], t),
                        ]
                    }
                    Domain::Log(_) => tcols.iter().map(|c| evaluate(c, t)).collect(),
                };
                claims.table_evals == expect
            },
            || "lookup: table evaluations are wrong".into(),
        )?;
        s.col_claim(tp.mult, t, claims.multiplicity_eval);
        let rho = &claims.lookup_point;
        let mut sums = vec![EF::ZERO; tcols.len()];
        let mut realsum = EF::ZERO;
        for (i, &id) in tp.nodes.iter().enumerate() {
            let lk = looked_up(s.cols(), id)?;
            let (rem, nr, ns) = rem_cols(s.cols(), id);
            let ri = pk.suffix(i, rho).to_vec();
            let opened: Vec<usize> = lk.iter().chain(&rem).copied().collect();
            let ev = s.open_at(&opened, &ri, "a lookup's columns")?;
            let w = pk.slot_weight(i, rho);
            let real = s.cols().layouts[lk[0]].real_eval(&ri);
            for (sum, &e) in sums.iter_mut().zip(&ev) {
                *sum += w * e;
            }
            realsum += w * real;
            let x = s.vk().nodes[id].inputs[0];
            match crate::ops::classify(s.vk(), id)? {
                Kind::Table(q) => {
                    let (over, r) = split_requant(s.cols(), &ev[2..], nr, ns);
                    s.claim(x, Claim { value: input_claim(&q, ev[0] + over, r, real), point: ri })?;
                }
                _ => argue_log_input(s, id, ri)?,
            }
        }
        let fill = EF::ONE - realsum;
        let want: Vec<EF> = sums.iter().zip(&tcols).map(|(&s, c)| s + EF::from(c[0]) * fill).collect();
        s.check(
            || claims.column_evals == want,
            || "lookup: looked-up columns disagree with the committed ones".into(),
        )?;
    }
    Ok(())
}

fn log_cols(cols: &ColumnPlan, id: usize) -> Result<(usize, usize, Chunks, Chunks)> {
    match cols.nodes.get(&id) {
        Some(NodeCols::LogTable { m, p, r, u, .. }) => Ok((*m, *p, r.clone(), u.clone())),
        _ => Err(Error::Internal(format!("node {id} has no floating-point lookup columns"))),
    }
}

/// `eq·m·p + eq·r` over tables `[eq, m, p, r]`.
fn log_terms() -> Vec<Term> {
    vec![Term { coeff: EF::ONE, factors: vec![0, 1, 2] }, Term { coeff: EF::ONE, factors: vec![0, 3] }]
}

/// Floating-point domain: the claim `x(ρ) = v` is proven as
/// `v = Σ_y eq(ρ, y)·(m(y)·p(y) + r(y))` (degree 3), ending in openings of
/// `m`, `p` and the chunks of `r` and `u = p − 1 − r` at the sumcheck point
/// `s`, where the verifier checks `u(s) = p(s) − real(s) − r(s)`.
fn argue_log_input<S: Side>(s: &mut S, id: usize, rho: Vec<EF>) -> Result<()> {
    let (m, pc, r, u) = log_cols(s.cols(), id)?;
    let x = s.vk().nodes[id].inputs[0];
    let value =
        s.message(1, "a floating-point lookup's input", |w| Ok(vec![evaluate(&w.padded(x)?, &rho)]))?[0];
    let vars = s.layout(x).vars();
    let what = format!("floating-point lookup at node {id}");
    let out = s.sumcheck(vars, 4, &log_terms(), value, &what, |w| {
        let rt = w.cols.chunk_table(&r, w.col_data, w.col(m).len());
        Ok(vec![
            Table::Ext(eq_table(&rho)),
            Table::Base(w.col(m).to_vec()),
            Table::Base(w.col(pc).to_vec()),
            Table::Base(rt),
        ])
    })?;
    s.col_claim(m, &out.point, out.evals[1]);
    s.col_claim(pc, &out.point, out.evals[2]);
    let opened: Vec<usize> = r.cols.iter().chain(&u.cols).copied().collect();
    let ev = s.open_at(&opened, &out.point, "floating-point remainders")?;
    let (er, eu) = ev.split_at(r.cols.len());
    let real = s.layout(x).real_eval(&out.point);
    s.check(
        || {
            out.evals[0] == eq_eval(&rho, &out.point)
                && out.evals[3] == s.cols().combine(er)
                && s.cols().combine(eu) == out.evals[2] - real - out.evals[3]
        },
        || format!("floating-point lookup at node {id}: decomposition mismatch"),
    )?;
    s.claim(x, Claim { point: rho, value })
}
