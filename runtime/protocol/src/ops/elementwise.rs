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

use crate::layout::{Layout, lt_eval};
use crate::packing::Claim;
use crate::prover::Prover;
use crate::verifier::Verifier;
use crate::{Error, Result};
use p3_field::PrimeCharacteristicRing;
use zkml_ir::ValueId;
use zkml_proof::mle::{eq_eval, eq_table, evaluate};
use zkml_proof::sumcheck::{self, Table, Term};
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

/// Sends `a(pa)`, `b(pb)` and hands them on as claims.
fn send_operands(p: &mut Prover<'_>, (a, pa): (ValueId, Vec<EF>), (b, pb): (ValueId, Vec<EF>)) -> Result<()> {
    let va = evaluate(&p.padded(a)?, &pa);
    let vb = evaluate(&p.padded(b)?, &pb);
    p.sink.evals(&mut p.t, vec![va, vb]);
    p.claim(a, Claim { point: pa, value: va })?;
    p.claim(b, Claim { point: pb, value: vb })
}

pub(crate) fn prove_add(p: &mut Prover<'_>, id: usize, _sub: bool, c: Claim) -> Result<()> {
    let (out, sa, sb, a, b) = shapes(&p.pk.vk, id);
    let (pa, _) = project(&out, &sa, &c.point);
    let (pb, _) = project(&out, &sb, &c.point);
    send_operands(p, (a, pa), (b, pb))
}

pub(crate) fn verify_add(v: &mut Verifier<'_>, id: usize, sub: bool, c: Claim) -> Result<()> {
    let (out, sa, sb, a, b) = shapes(v.vk, id);
    let (pa, sel_a) = project(&out, &sa, &c.point);
    let (pb, sel_b) = project(&out, &sb, &c.point);
    let e = v.src.evals(&mut v.t, 2, "add")?;
    let rhs = if sub { e[0] * sel_a - e[1] * sel_b } else { e[0] * sel_a + e[1] * sel_b };
    if rhs != c.value {
        return Err(Error::Reject("add/sub: operand evaluations do not sum to the output claim".into()));
    }
    v.claim(a, Claim { point: pa, value: e[0] })?;
    v.claim(b, Claim { point: pb, value: e[1] })
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

pub(crate) fn prove_mul(p: &mut Prover<'_>, id: usize, c: Claim) -> Result<()> {
    let (out, sa, sb, a, b) = shapes(&p.pk.vk, id);
    let (pa, _) = project(&out, &sa, &c.point);
    let (pb, _) = project(&out, &sb, &c.point);
    if pa.is_empty() || pb.is_empty() {
        return send_operands(p, (a, pa), (b, pb));
    }
    let tables = vec![
        Table::Ext(eq_table(&c.point)),
        Table::Base(broadcast(&out, &sa, &p.ints(a)?)),
        Table::Base(broadcast(&out, &sb, &p.ints(b)?)),
    ];
    let (proof, res) = sumcheck::prove(tables, &mul_terms(), c.value, &mut p.t)?;
    p.sink.sumcheck(proof);
    let (pa, _) = project(&out, &sa, &res.point);
    let (pb, _) = project(&out, &sb, &res.point);
    send_operands(p, (a, pa), (b, pb))
}

pub(crate) fn verify_mul(v: &mut Verifier<'_>, id: usize, c: Claim) -> Result<()> {
    let (out, sa, sb, a, b) = shapes(v.vk, id);
    let (pa, sel_a) = project(&out, &sa, &c.point);
    let (pb, sel_b) = project(&out, &sb, &c.point);
    if pa.is_empty() || pb.is_empty() {
        let e = v.src.evals(&mut v.t, 2, "mul")?;
        // The variable-free operand's own broadcast factor is 1 wherever the
        // other is nonzero: only the other's counts (both empty: no variables
        // at all, and both factors are 1).
        let sel = if pb.is_empty() { sel_a } else { sel_b };
        if e[0] * e[1] * sel != c.value {
            return Err(Error::Reject("mul: operand evaluations do not multiply to the output claim".into()));
        }
        v.claim(a, Claim { point: pa, value: e[0] })?;
        return v.claim(b, Claim { point: pb, value: e[1] });
    }
    let proof = v.src.sumcheck("mul")?;
    let res = sumcheck::verify(out.vars(), 3, &mul_terms(), c.value, proof, &mut v.t)
        .map_err(|e| Error::Reject(format!("mul sumcheck: {e}")))?;
    let (pa, sel_a) = project(&out, &sa, &res.point);
    let (pb, sel_b) = project(&out, &sb, &res.point);
    let e = v.src.evals(&mut v.t, 2, "mul")?;
    if res.evals[0] != eq_eval(&c.point, &res.point)
        || res.evals[1] != e[0] * sel_a
        || res.evals[2] != e[1] * sel_b
    {
        return Err(Error::Reject("mul: final evaluations disagree with the operand claims".into()));
    }
    v.claim(a, Claim { point: pa, value: e[0] })?;
    v.claim(b, Claim { point: pb, value: e[1] })
}
