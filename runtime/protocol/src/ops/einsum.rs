//! Contractions: `einsum` of any rank and axis order, and `reduce_sum`.
//!
//! For `out[o] = Σ_c Π_t A_t[…]` and a claim `out(r) = e`, every axis
//! letter `l` is one of
//! * **free** — in the output and in exactly one operand: that operand's
//!   `l`-variables are fixed to `r_l` before the sumcheck (a partial
//!   evaluation, `O(|A_t|)`);
//! * **batch** — in the output and in several operands: a sumcheck variable,
//!   with the factor `eq(r_l, ·)`;
//! * **contracted** — not in the output: a sumcheck variable.
//!
//! Then `e = Σ_{x ∈ batch ∪ contracted} eq(r_batch, x_batch) · Π_t Ã_t(x)`
//! where `Ã_t` is `A_t` with free variables fixed, broadcast over the
//! sumcheck variables it lacks. One sumcheck of degree `#operands (+1)`
//! ends at a point `s`; operand `t` gets the claim `A_t(r_free, s_t)`.
//! Padding is harmless: every operand is zero off its real entries, so each
//! product is.
//!
//! Cost: prover `O(Σ|A_t| + 2^{vars}·degree²)`, verifier `O(vars·degree)`.

use crate::layout::Layout;
use crate::packing::Claim;
use crate::side::Side;
use crate::{Error, Result};
use p3_field::PrimeCharacteristicRing;
use rayon::prelude::*;
use zkml_ir::ValueId;
use zkml_proof::mle::{eq_eval, eq_table};
use zkml_proof::sumcheck::{Table, Term};
use zkml_proof::{EF, F};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    /// Fixed to the output claim's coordinates of output axis `.0`.
    Free(usize),
    /// Sumcheck label `.0`.
    Sum(usize),
}

#[derive(Debug)]
struct Plan {
    inputs: Vec<ValueId>,
    layouts: Vec<Layout>,
    roles: Vec<Vec<Role>>,
    /// Sumcheck labels: bits each, and for batch labels the output axis.
    sc_bits: Vec<usize>,
    sc_out: Vec<Option<usize>>,
    out_layout: Layout,
}

impl Plan {
    fn vars(&self) -> usize {
        self.sc_bits.iter().sum()
    }
    /// Offset of sumcheck label `k` in the sumcheck point.
    fn offset(&self, k: usize) -> usize {
        self.sc_bits[..k].iter().sum()
    }
    fn has_batch(&self) -> bool {
        self.sc_out.iter().any(|o| o.is_some())
    }
    /// Operand `j`'s point: free axes from `r`, sumcheck axes from `s`.
    fn operand_point(&self, j: usize, r: &[&[EF]], s: &[EF]) -> Vec<EF> {
        let mut pt = Vec::with_capacity(self.layouts[j].vars());
        for role in &self.roles[j] {
            match *role {
                Role::Free(o) => pt.extend_from_slice(r[o]),
                Role::Sum(k) => {
                    let off = self.offset(k);
                    pt.extend_from_slice(&s[off..off + self.sc_bits[k]]);
                }
            }
        }
        pt
    }
    fn terms(&self) -> Vec<Term> {
        let n = self.inputs.len() + usize::from(self.has_batch());
        vec![Term { coeff: EF::ONE, factors: (0..n).collect() }]
    }
}

fn plan(vk: &crate::vk::VerifyingKey, id: usize, operands: &[Vec<char>], output: &[char]) -> Result<Plan> {
    let node = &vk.nodes[id];
    let bad = |m: &str| Error::Key(format!("node {id}: {m}"));
    if node.inputs.len() != operands.len() {
        return Err(bad("operand count differs from the equation"));
    }
    let layouts: Vec<Layout> =
        node.inputs.iter().map(|&v| Layout::new(&crate::columns::shape_of(vk, v))).collect();
    let mut dims: Vec<(char, usize)> = vec![];
    for (labels, l) in operands.iter().zip(&layouts) {
        if labels.len() != l.rank() {
            return Err(bad("operand rank differs from the equation"));
        }
        for (&c, &d) in labels.iter().zip(&l.dims) {
            match dims.iter().find(|(x, _)| *x == c) {
                Some(&(_, d0)) if d0 != d => return Err(bad("axis sizes disagree")),
                Some(_) => {}
                None => dims.push((c, d)),
            }
        }
    }
    let dim = |c: char| dims.iter().find(|(x, _)| *x == c).map(|&(_, d)| d);
    let out_dims = output
        .iter()
        .map(|&c| dim(c).ok_or_else(|| bad("output axis in no operand")))
        .collect::<Result<Vec<_>>>()?;
    let out_layout = Layout::new(&out_dims);
    let users = |c: char| operands.iter().filter(|o| o.contains(&c)).count();
    let mut sc: Vec<char> = vec![];
    for labels in operands {
        for &c in labels {
            let in_out = output.contains(&c);
            if (!in_out || users(c) > 1) && !sc.contains(&c) {
                sc.push(c);
            }
        }
    }
    let roles = operands
        .iter()
        .map(|labels| {
            labels
                .iter()
                .map(|&c| match sc.iter().position(|&x| x == c) {
                    Some(k) => Role::Sum(k),
                    None => Role::Free(output.iter().position(|&x| x == c).unwrap_or(0)),
                })
                .collect()
        })
        .collect();
    let sc_bits = sc.iter().map(|&c| crate::layout::log2_ceil(dim(c).unwrap_or(1))).collect();
    let sc_out = sc.iter().map(|&c| output.iter().position(|&x| x == c)).collect();
    Ok(Plan { inputs: node.inputs.clone(), layouts, roles, sc_bits, sc_out, out_layout })
}

/// Partial evaluation of operand `j` at its free coordinates, laid out on
/// the sumcheck variables (broadcast over labels it lacks).
fn project(plan: &Plan, j: usize, src: &[F], r: &[&[EF]]) -> Vec<EF> {
    let layout = &plan.layouts[j];
    let vars = plan.vars();
    let shift = |k: usize| -> usize { plan.sc_bits[k + 1..].iter().sum() };
    let sstr = layout.padded_strides();
    let axes: Vec<(usize, usize, Option<Vec<EF>>, usize)> = plan.roles[j]
        .iter()
        .enumerate()
        .map(|(a, role)| match *role {
            Role::Free(o) => (layout.dims[a], sstr[a], Some(eq_table(r[o])), 0),
            Role::Sum(k) => (layout.dims[a], sstr[a], None, 1usize << shift(k)),
        })
        .collect();
    let mut out = vec![EF::ZERO; 1 << vars];
    if axes.is_empty() {
        // A scalar operand: its single entry, broadcast below.
        out[0] = EF::from(src[0]);
        return broadcast_missing(plan, j, out, shift);
    }
    // Parallel over the first axis: each task accumulates into its own
    // output when that output is small next to the operand, else one pass.
    let (dim0, sstr0, ref eq0, dstr0) = axes[0];
    if dim0 >= 8 && out.len() * 8 <= src.len() {
        let chunk = dim0.div_ceil(rayon::current_num_threads() * 4).max(1);
        let starts: Vec<usize> = (0..dim0).step_by(chunk).collect();
        let parts: Vec<Vec<EF>> = starts
            .par_iter()
            .map(|&i0| {
                let mut part = vec![EF::ZERO; out.len()];
                for i in i0..(i0 + chunk).min(dim0) {
                    let w = eq0.as_ref().map_or(EF::ONE, |e| e[i]);
                    let d = if eq0.is_some() { 0 } else { i * dstr0 };
                    if axes.len() == 1 {
                        part[d] += w * src[i * sstr0];
                    } else {
                        fill(&axes, 1, src, i * sstr0, w, d, &mut part);
                    }
                }
                part
            })
            .collect();
        for part in parts {
            out.iter_mut().zip(&part).for_each(|(o, &p)| *o += p);
        }
    } else {
        fill(&axes, 0, src, 0, EF::ONE, 0, &mut out);
    }
    broadcast_missing(plan, j, out, shift)
}

/// Broadcast over the sumcheck labels operand `j` lacks: copy from the
/// entry with their bits zero.
fn broadcast_missing(plan: &Plan, j: usize, mut out: Vec<EF>, shift: impl Fn(usize) -> usize) -> Vec<EF> {
    let mut missing = 0usize;
    for k in 0..plan.sc_bits.len() {
        if !plan.roles[j].contains(&Role::Sum(k)) {
            missing |= ((1usize << plan.sc_bits[k]) - 1) << shift(k);
        }
    }
    if missing != 0 {
        for x in 0..out.len() {
            if x & missing != 0 {
                out[x] = out[x & !missing];
            }
        }
    }
    out
}

type Axis = (usize, usize, Option<Vec<EF>>, usize);

fn fill(axes: &[Axis], a: usize, src: &[F], s: usize, w: EF, d: usize, out: &mut [EF]) {
    let (dim, sstr, eq, dstr) = &axes[a];
    let last = a + 1 == axes.len();
    match (eq, last) {
        (None, true) => {
            for i in 0..*dim {
                out[d + i * dstr] += w * src[s + i * sstr];
            }
        }
        (Some(eq), true) => {
            let mut acc = EF::ZERO;
            for i in 0..*dim {
                acc += eq[i] * src[s + i * sstr];
            }
            out[d] += w * acc;
        }
        (None, false) => {
            for i in 0..*dim {
                fill(axes, a + 1, src, s + i * sstr, w, d + i * dstr, out);
            }
        }
        (Some(eq), false) => {
            for (i, &e) in eq.iter().enumerate().take(*dim) {
                fill(axes, a + 1, src, s + i * sstr, w * e, d, out);
            }
        }
    }
}

fn eq_batch(plan: &Plan, r: &[&[EF]]) -> Vec<EF> {
    let mut out = vec![EF::ONE; 1 << plan.vars()];
    for k in 0..plan.sc_bits.len() {
        let Some(o) = plan.sc_out[k] else { continue };
        let eq = eq_table(r[o]);
        let sh: usize = plan.sc_bits[k + 1..].iter().sum();
        let mask = (1usize << plan.sc_bits[k]) - 1;
        for (x, v) in out.iter_mut().enumerate() {
            *v *= eq[(x >> sh) & mask];
        }
    }
    out
}

pub(crate) fn reduce<S: Side>(
    s: &mut S,
    id: usize,
    operands: &[Vec<char>],
    output: &[char],
    c: Claim,
) -> Result<()> {
    let plan = plan(s.vk(), id, operands, output)?;
    s.ensure(c.point.len() == plan.out_layout.vars(), || "einsum claim of the wrong arity".into())?;
    let r = plan.out_layout.split(&c.point);
    let n = plan.inputs.len() + usize::from(plan.has_batch());
    let out = s.sumcheck(plan.vars(), n, &plan.terms(), c.value, "einsum sumcheck", |w| {
        let mut tables = Vec::with_capacity(n);
        for (j, &v) in plan.inputs.iter().enumerate() {
            tables.push(Table::Ext(project(&plan, j, &w.padded(v)?, &r)));
        }
        if plan.has_batch() {
            tables.push(Table::Ext(eq_batch(&plan, &r)));
        }
        Ok(tables)
    })?;
    if plan.has_batch() {
        let expect = || {
            let mut expect = EF::ONE;
            for k in 0..plan.sc_bits.len() {
                if let Some(o) = plan.sc_out[k] {
                    let off = plan.offset(k);
                    expect *= eq_eval(r[o], &out.point[off..off + plan.sc_bits[k]]);
                }
            }
            expect
        };
        s.check(|| out.evals[n - 1] == expect(), || "einsum batch eq evaluation".into())?;
    }
    for (j, &v) in plan.inputs.iter().enumerate() {
        let point = plan.operand_point(j, &r, &out.point);
        s.claim(v, Claim { point, value: out.evals[j] })?;
    }
    Ok(())
}
