//! The witness columns: everything the prover commits per proof.
//!
//! Only lookups need committed data (a GKR claim can be pushed through
//! arithmetic, but a table read has no algebraic inverse). Per node:
//!
//! * **table lookup** `z = T[clamp(requant(x))]` (linear domain ≤ 16 bits):
//!   `y = ⌊(x·mult + h)/2^s⌋` (`h = 2^(s-1)`, or 0 when `s = 0`) and `z`,
//!   with `rem = x·mult + h − 2^s·y ∈ [0, 2^s)` as 16-bit chunks. The pairs
//!   `(y, z)` are looked up in the table `{(i − m, T[i])}`;
//! * **plain requantization** (identity table, up to 32 bits): `y` is never
//!   committed; `y + m` and `m − y` are range-checked in chunks (so
//!   `|y| ≤ m`), plus the `rem` chunks;
//! * **max** over axes: `out` and the differences `d = out − x ≥ 0` as
//!   chunks;
//! * one multiplicity column per distinct table and one for the 16-bit range
//!   table.
//!
//! A chunk narrower than 16 bits (`w < 16`) is range-checked twice, as `c`
//! and `c + 2^16 − 2^w`, which together force `c < 2^w`.
//!
//! Saturation (an input far outside the calibrated range, so that the
//! requantized index leaves the table's domain) is refused by the prover
//! with an error naming the node; the verifier never accepts it (the table
//! or the two-sided range check fails).
//!
//! The plan of columns is a function of the verifying key alone, so prover
//! and verifier derive the same one.

use crate::layout::Layout;
use crate::ops::{self, Kind};
use crate::packing::Packing;
use crate::vk::VerifyingKey;
use crate::{Error, Result};
use p3_field::PrimeCharacteristicRing;
use std::collections::BTreeMap;
use zkml_ir::ops::lookup::{Domain, LookupQuant, TableSpec};
use zkml_ir::{Tensor, ValueId};
use zkml_proof::field::embed_i64;
use zkml_proof::{EF, F};

/// Range-check chunk width.
pub const CHUNK: u32 = 16;

/// A value `v = Σ_j 2^(16j) c_j` with each `c_j < 2^widths[j]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunks {
    pub cols: Vec<usize>,
    pub widths: Vec<u32>,
}

impl Chunks {
    /// `Σ_j 2^(16j) c_j` from the chunks' evaluations.
    pub fn combine(evals: &[EF]) -> EF {
        evals.iter().rev().fold(EF::ZERO, |acc, &e| acc * EF::from_u64(1 << CHUNK) + e)
    }
}

/// The committed columns of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeCols {
    Table { table: usize, y: usize, z: usize, rem: Chunks },
    Range { lo: Chunks, hi: Chunks, rem: Chunks },
    Max { out: usize, diff: Chunks },
}

/// One distinct table and the lookups into it.
#[derive(Debug, Clone)]
pub struct TablePlan {
    pub spec: TableSpec,
    /// Domain bits `b`: rows `i − m` for `i < 2^b − 1`, padded to `2^b` by
    /// repeating row 0.
    pub bits: usize,
    pub nodes: Vec<usize>,
    pub mult: usize,
    /// How the nodes' columns are concatenated for the lookup argument.
    pub packing: Packing,
}

/// A range-checked virtual column: committed column plus a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeEntry {
    pub col: usize,
    pub offset: u64,
}

#[derive(Debug, Clone)]
pub struct ColumnPlan {
    pub layouts: Vec<Layout>,
    pub nodes: BTreeMap<usize, NodeCols>,
    pub tables: Vec<TablePlan>,
    pub range: Vec<RangeEntry>,
    pub range_packing: Packing,
    pub range_mult: Option<usize>,
}

/// Lookup parameters the protocol uses: `(mult, shift, h, m)`.
pub fn requant_params(q: &LookupQuant) -> (i64, u32, i128, i64) {
    let s = u32::from(q.requant.shift);
    let h = if s > 0 { 1i128 << (s - 1) } else { 0 };
    let m = match q.table.domain {
        Domain::Linear(d) => d.max_abs(),
        Domain::Log(_) => 0,
    };
    (q.requant.mult, s, h, m)
}

impl ColumnPlan {
    pub fn new(vk: &VerifyingKey) -> Result<ColumnPlan> {
        let mut plan = ColumnPlan {
            layouts: vec![],
            nodes: BTreeMap::new(),
            tables: vec![],
            range: vec![],
            range_packing: Packing::new(&[]),
            range_mult: None,
        };
        let mut table_of: BTreeMap<(u8, u8, u8, u32, u8, u32), usize> = BTreeMap::new();
        for id in 0..vk.nodes.len() {
            let kind = ops::classify(vk, id)?;
            let shape = |v: ValueId| vk.fact(v).map(|f| f.shape.clone()).unwrap_or_default();
            let cols = match kind {
                Kind::Table(q) => {
                    let x = shape(vk.nodes[id].inputs[0]);
                    let (_, s, _, _) = requant_params(&q);
                    let y = plan.col(&x);
                    let z = plan.col(&x);
                    let rem = plan.chunks(&x, s);
                    let k = q.table.key();
                    let key = (k.0 as u8, k.1, k.2, k.3, k.4, k.5);
                    let table = *table_of.entry(key).or_insert_with(|| {
                        let bits = match q.table.domain {
                            Domain::Linear(d) => usize::from(d.bits),
                            Domain::Log(_) => 0,
                        };
                        plan.tables.push(TablePlan {
                            spec: q.table,
                            bits,
                            nodes: vec![],
                            mult: usize::MAX,
                            packing: Packing::new(&[]),
                        });
                        plan.tables.len() - 1
                    });
                    plan.tables[table].nodes.push(id);
                    NodeCols::Table { table, y, z, rem }
                }
                Kind::Range(q) => {
                    let x = shape(vk.nodes[id].inputs[0]);
                    let (_, s, _, _) = requant_params(&q);
                    let b = match q.table.domain {
                        Domain::Linear(d) => u32::from(d.bits),
                        Domain::Log(_) => 0,
                    };
                    let lo = plan.chunks(&x, b);
                    let hi = plan.chunks(&x, b);
                    let rem = plan.chunks(&x, s);
                    NodeCols::Range { lo, hi, rem }
                }
                Kind::Max { bits, .. } => {
                    let x = shape(vk.nodes[id].inputs[0]);
                    let out = plan.col(&shape(ValueId::new(id, 0)));
                    let diff = plan.chunks(&x, bits);
                    NodeCols::Max { out, diff }
                }
                _ => continue,
            };
            plan.nodes.insert(id, cols);
        }
        for ti in 0..plan.tables.len() {
            let bits = plan.tables[ti].bits;
            plan.tables[ti].mult = plan.col(&[1 << bits]);
            let vars: Vec<usize> = plan.tables[ti]
                .nodes
                .iter()
                .map(|&id| Layout::new(&shape_of(vk, vk.nodes[id].inputs[0])).vars())
                .collect();
            plan.tables[ti].packing = Packing::new(&vars);
        }
        if !plan.range.is_empty() {
            plan.range_mult = Some(plan.col(&[1 << CHUNK]));
            let vars: Vec<usize> = plan.range.iter().map(|e| plan.layouts[e.col].vars()).collect();
            plan.range_packing = Packing::new(&vars);
        }
        Ok(plan)
    }

    /// How the columns are packed into the witness commitment.
    pub fn witness_packing(&self) -> Packing {
        Packing::new(&self.layouts.iter().map(|l| l.vars()).collect::<Vec<_>>())
    }

    fn col(&mut self, shape: &[usize]) -> usize {
        self.layouts.push(Layout::new(shape));
        self.layouts.len() - 1
    }

    /// Chunks of a `bits`-bit non-negative value, registered for range checks.
    fn chunks(&mut self, shape: &[usize], bits: u32) -> Chunks {
        let mut c = Chunks { cols: vec![], widths: vec![] };
        let mut left = bits;
        while left > 0 {
            let w = left.min(CHUNK);
            let col = self.col(shape);
            self.range.push(RangeEntry { col, offset: 0 });
            if w < CHUNK {
                self.range.push(RangeEntry { col, offset: (1 << CHUNK) - (1 << w) });
            }
            c.cols.push(col);
            c.widths.push(w);
            left -= w;
        }
        c
    }

    /// Table columns `(i − m, T[i])`, padded to `2^b` rows with row 0.
    pub fn table_columns(t: &TablePlan) -> (Vec<F>, Vec<F>) {
        let rows = t.spec.rows();
        let m = (rows / 2) as i64;
        let n = 1usize << t.bits;
        let mut a = Vec::with_capacity(n);
        let mut z = Vec::with_capacity(n);
        for i in 0..n {
            let r = if i < rows { i } else { 0 };
            a.push(embed_i64(r as i64 - m));
            z.push(embed_i64(t.spec.entry(r)));
        }
        (a, z)
    }

    /// Computes every column from the executor's values (`values[node][slot]`).
    pub fn fill(&self, vk: &VerifyingKey, values: &[Vec<Tensor>]) -> Result<Vec<Vec<F>>> {
        let mut cols: Vec<Vec<F>> = vec![vec![]; self.layouts.len()];
        let ints = |v: ValueId| -> Result<&[i64]> {
            values
                .get(v.node)
                .and_then(|n| n.get(v.slot))
                .ok_or_else(|| Error::Internal(format!("witness lacks {v}")))?
                .as_i64()
                .map_err(|e| Error::Internal(format!("witness {v}: {e}")))
        };
        let mut table_rows: Vec<Vec<u64>> = self.tables.iter().map(|t| vec![0u64; 1 << t.bits]).collect();
        for (&id, nc) in &self.nodes {
            let node = &vk.nodes[id];
            let witness_err = |reason: String| Error::Witness { node: id, name: node.name.clone(), reason };
            let x = ints(node.inputs[0])?;
            match nc {
                NodeCols::Table { .. } | NodeCols::Range { .. } => {
                    let (Kind::Table(q) | Kind::Range(q)) = ops::classify(vk, id)? else {
                        return Err(Error::Internal(format!("node {id} is not a lookup")));
                    };
                    let (mult, s, h, m) = requant_params(&q);
                    let layout = &Layout::new(&shape_of(vk, node.inputs[0]));
                    let mut ys = Vec::with_capacity(x.len());
                    let mut rems = Vec::with_capacity(x.len());
                    for &xv in x {
                        let t = xv as i128 * mult as i128 + h;
                        let y = t >> s;
                        if y.unsigned_abs() > m as u128 {
                            return Err(witness_err(format!(
                                "input {xv} requantizes to {y}, outside the table's domain ±{m} (saturation is \
                                 not provable: calibrate on inputs like this one, or raise --headroom)"
                            )));
                        }
                        ys.push(y as i64);
                        rems.push((t - (y << s)) as u64);
                    }
                    match nc {
                        NodeCols::Table { table, y, z, rem } => {
                            let zs = ints(ValueId::new(id, 0))?;
                            for &yv in &ys {
                                table_rows[*table][(yv + m) as usize] += 1;
                            }
                            cols[*y] = layout.pad_i64(&ys);
                            cols[*z] = layout.pad_i64(zs);
                            self.fill_chunks(&mut cols, rem, layout, &rems);
                        }
                        NodeCols::Range { lo, hi, rem } => {
                            let l: Vec<u64> = ys.iter().map(|&y| (y + m) as u64).collect();
                            let u: Vec<u64> = ys.iter().map(|&y| (m - y) as u64).collect();
                            self.fill_chunks(&mut cols, lo, layout, &l);
                            self.fill_chunks(&mut cols, hi, layout, &u);
                            self.fill_chunks(&mut cols, rem, layout, &rems);
                        }
                        NodeCols::Max { .. } => unreachable!(),
                    }
                }
                NodeCols::Max { out, diff } => {
                    let Kind::Max { axes, .. } = ops::classify(vk, id)? else {
                        return Err(Error::Internal(format!("node {id} is not a max")));
                    };
                    let xs = shape_of(vk, node.inputs[0]);
                    let os = ints(ValueId::new(id, 0))?;
                    let kept: Vec<usize> =
                        xs.iter().enumerate().map(|(a, &d)| if axes.contains(&a) { 1 } else { d }).collect();
                    let offsets = zkml_ir::shape::broadcast_offsets(&[&kept], &xs).remove(0);
                    let d: Vec<u64> = x.iter().zip(&offsets).map(|(&xv, &o)| (os[o] - xv) as u64).collect();
                    let xl = Layout::new(&xs);
                    cols[*out] = self.layouts[*out].pad_i64(os);
                    self.fill_chunks(&mut cols, diff, &xl, &d);
                }
            }
        }
        for (t, rows) in self.tables.iter().zip(&mut table_rows) {
            let real: usize = t
                .nodes
                .iter()
                .map(|&id| shape_of(vk, vk.nodes[id].inputs[0]).iter().product::<usize>())
                .sum();
            rows[0] += (t.packing.len() - real) as u64;
            cols[t.mult] = rows.iter().map(|&c| F::from_u64(c)).collect();
        }
        if let Some(mc) = self.range_mult {
            let mut counts = vec![0u64; 1 << CHUNK];
            for e in &self.range {
                for &v in &cols[e.col] {
                    counts[(zkml_proof::field::decode_i64(v) as u64 + e.offset) as usize] += 1;
                }
            }
            counts[0] += (self.range_packing.len()
                - self.range.iter().map(|e| self.layouts[e.col].padded_len()).sum::<usize>())
                as u64;
            cols[mc] = counts.iter().map(|&c| F::from_u64(c)).collect();
        }
        Ok(cols)
    }

    fn fill_chunks(&self, cols: &mut [Vec<F>], c: &Chunks, layout: &Layout, vals: &[u64]) {
        for (j, (&col, &w)) in c.cols.iter().zip(&c.widths).enumerate() {
            let mask = (1u64 << w) - 1;
            let part: Vec<i64> = vals.iter().map(|&v| ((v >> (CHUNK * j as u32)) & mask) as i64).collect();
            cols[col] = layout.pad_i64(&part);
        }
    }
}

/// Shape of a value (empty if it does not exist; keys are validated first).
pub(crate) fn shape_of(vk: &VerifyingKey, v: ValueId) -> Vec<usize> {
    vk.fact(v).map(|f| f.shape.clone()).unwrap_or_default()
}
