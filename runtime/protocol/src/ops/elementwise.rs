//! Elementwise `add`, `sub`, `mul` with numpy broadcasting.
//!
//! An operand `a` broadcast to the output shape is, on the padded layout,
//! `a_b(y) = a(π(y)) · Π_{a ∈ B} [y_a < O_a]`, where `π` keeps the axes `a`
//! shares with the output and `B` are the axes it is broadcast along (size 1
//! or missing). The two factors depend on disjoint variables, so
//! `ã_b(r) = ã(π(r)) · Π_{a ∈ B} lt(r_a, O_a)`, which the verifier computes
//! from a claimed `ã(π(r))` in `O(vars)`.
//!
//! * `add`/`sub` are linear: `out(r) = ã_b(r) ± b̃_b(r)`; no sumcheck.
//! * `mul` by an operand with no variables (a scalar, or broadcast along
//!   every axis) is linear too: `out(r) = b₀ · ã_b(r)`.
//! * general `mul`: the degree-3 sumcheck `Σ_y eq(r, y) a_b(y) b_b(y)`,
//!   ending in claims on `a` and `b` at the sumcheck point.

use crate::Result;
use crate::layout::{Layout, lt_eval};
use crate::packing::Claim;
use crate::side::Side;
use p3_field::PrimeCharacteristicRing;
use zkml_ir::ValueId;
use zkml_proof::mle::{eq_eval, eq_table, evaluate};
use zkml_proof::sumcheck::{Table, Term};
use zkml_proof::{EF, F};

/// Operand point and broadcast factor at an output point.
fn project(out: &Layout, operand: &[usize], r: &[EF]) -> (Vec<EF>, EF) {
    let rs = out.split(r);
    let lead = out.rank() - operand.len().min(out.rank());
    let mut point = Vec::new();
    let mut sel = EF::ONE;
    for a in 0..out.rank() {
        let same = a >= lead && operand[a - lead] == out.dims[a];
        if same {
            point.extend_from_slice(rs[a]);
        } else {
            sel *= lt_eval(rs[a], out.dims[a]);
        }
    }
    (point, sel)
}

fn shapes(vk: &crate::vk::VerifyingKey, id: usize) -> (Layout, Vec<usize>, Vec<usize>, ValueId, ValueId) {
    let n = &vk.nodes[id];
    let out = Layout::new(&crate::columns::shape_of(vk, ValueId::new(id, 0)));
    let (a, b) = (n.inputs[0], n.inputs[1]);
    (out, crate::columns::shape_of(vk, a), crate::columns::shape_of(vk, b), a, b)
}

/// The message `a(pa), b(pb)`, handed on as claims by the caller.
fn operands<S: Side>(
    s: &mut S,
    (a, pa): (ValueId, &[EF]),
    (b, pb): (ValueId, &[EF]),
    what: &str,
) -> Result<Vec<EF>> {
    s.message(2, what, |w| Ok(vec![evaluate(&w.padded(a)?, pa), evaluate(&w.padded(b)?, pb)]))
}

pub(crate) fn reduce_add<S: Side>(s: &mut S, id: usize, sub: bool, c: Claim) -> Result<()> {
    let (out, sa, sb, a, b) = shapes(s.vk(), id);
    let (pa, sel_a) = project(&out, &sa, &c.point);
    let (pb, sel_b) = project(&out, &sb, &c.point);
    let e = operands(s, (a, &pa), (b, &pb), "add")?;
    let rhs = if sub { e[0] * sel_a - e[1] * sel_b } else { e[0] * sel_a + e[1] * sel_b };
    s.check(|| rhs == c.value, || "add/sub: operand evaluations do not sum to the output claim".into())?;
    s.claim(a, Claim { point: pa, value: e[0] })?;
    s.claim(b, Claim { point: pb, value: e[1] })
}

/// The broadcast operand on the output's padded layout.
fn broadcast(out: &Layout, operand: &[usize], data: &[i64]) -> Vec<F> {
    let offsets = zkml_ir::shape::broadcast_offsets(&[operand], &out.dims).remove(0);
    let vals: Vec<i64> = offsets.iter().map(|&o| data[o]).collect();
    out.pad_i64(&vals)
}

fn mul_terms() -> Vec<Term> {
    vec![Term { coeff: EF::ONE, factors: vec![0, 1, 2] }]
}

pub(crate) fn reduce_mul<S: Side>(s: &mut S, id: usize, c: Claim) -> Result<()> {
    let (out, sa, sb, a, b) = shapes(s.vk(), id);
    let (pa, sel_a) = project(&out, &sa, &c.point);
    let (pb, sel_b) = project(&out, &sb, &c.point);
    if pa.is_empty() || pb.is_empty() {
        let e = operands(s, (a, &pa), (b, &pb), "mul")?;
        // The variable-free operand's own broadcast factor is 1 wherever the
        // other is nonzero: only the other's counts (both empty: no variables
        // at all, and both factors are 1).
        let sel = if pb.is_empty() { sel_a } else { sel_b };
        s.check(
            || e[0] * e[1] * sel == c.value,
            || "mul: operand evaluations do not multiply to the output claim".into(),
        )?;
        s.claim(a, Claim { point: pa, value: e[0] })?;
        return s.claim(b, Claim { point: pb, value: e[1] });
    }
    let res = s.sumcheck(out.vars(), 3, &mul_terms(), c.value, "mul sumcheck", |w| {
        Ok(vec![
            Table::Ext(eq_table(&c.point)),
            Table::Base(broadcast(&out, &sa, &w.ints(a)?)),
            Table::Base(broadcast(&out, &sb, &w.ints(b)?)),
        ])
    })?;
    let (pa, sel_a) = project(&out, &sa, &res.point);
    let (pb, sel_b) = project(&out, &sb, &res.point);
    let e = operands(s, (a, &pa), (b, &pb), "mul")?;
    s.check(
        || {
            res.evals[0] == eq_eval(&c.point, &res.point)
                && res.evals[1] == e[0] * sel_a
                && res.evals[2] == e[1] * sel_b
        },
        || "mul: final evaluations disagree with the operand claims".into(),
    )?;
    s.claim(a, Claim { point: pa, value: e[0] })?;
    s.claim(b, Claim { point: pb, value: e[1] })
}
