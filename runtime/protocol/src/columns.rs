//! The witness columns: everything the prover commits per proof.
//!
//! Only lookups need committed data (a GKR claim can be pushed through
//! arithmetic, but a table read has no algebraic inverse). Per node:
//!
//! * **table lookup** `z = T[clamp(requant(x))]` (linear domain ≤ 16 bits):
//!   `y = ⌊(x·mult + h)/2^s⌋` (`h = 2^(s-1)`, or 0 when `s = 0`) and `z`,
//!   with `rem = x·mult + h − 2^s·y ∈ [0, 2^s)` as `c`-bit chunks. The pairs
//!   `(y, z)` are looked up in the table `{(i − m, T[i])}`;
//! * **plain requantization** (identity table, up to 32 bits): `y` is never
//!   committed; `y + m` and `m − y` are range-checked in chunks (so
//!   `|y| ≤ m`), plus the `rem` chunks;
//! * **max** over axes: `out` and the differences `d = out − x ≥ 0` as
//!   chunks;
//! * **ReLU** at its domain's scale (`z = max(y, 0)`): `y = pos − neg` with
//!   `pos, neg` range-checked in chunks and `pos·neg = 0` (a zerocheck);
//!   `z = pos`, the `rem` chunks as above; no table, no committed `y`;
//! * one multiplicity column per distinct table and one per range bucket
//!   (see below) for the range table `[0, 2^c)`.
//!
//! The chunk width `c` (6 to 16 bits) is chosen per partition from the
//! number of range-checked entries ([`ColumnPlan::new`]). A chunk narrower
//! than `c` (`w < c`) is range-checked twice, as `v` and `v + 2^c − 2^w`,
//! which together force `v < 2^w`.
//!
//! **Range buckets.** The range-checked chunks are split into buckets of
//! at most [`RANGE_BUCKET_VARS`] packed variables (largest chunks first;
//! a chunk larger than that is a bucket of its own), each its own logUp
//! argument with its own multiplicity column. The lookup argument's
//! prover holds its fraction tree in the extension field (~70 bytes per
//! looked-up entry); one argument over all chunks of SmolLM2-135M at 64
//! positions (2^28 entries) would need ~20 GB, a bucket needs ~600 MB and
//! buckets are proven one after the other. The price is one
//! `2^c`-entry multiplicity column and one small table tree per bucket.
//!
//! Saturation (an input far outside the calibrated range, so that the
//! requantized index leaves the table's domain) is part of the statement:
//! the proof lists the saturating lookups, and each carries overflow columns
//! (`up`, `down`, range-checked) with a zerocheck that pins `y` to `±m`
//! wherever it overflows ([`Saturation`]). A lookup not listed proves
//! `|y_true| ≤ m` (the table or the two-sided range check fails otherwise).
//!
//! This module is the allocator and the container (columns, chunks,
//! tables, the range argument's packing); each op family plans its own
//! nodes' columns and fills them from the witness (`columns` and `fill` in
//! its module of `crate::ops`, dispatched by `ops::columns`/`ops::fill`).
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

/// Range-check chunk widths a plan may use: the table `[0, 2^c)` is
/// chosen per partition (see [`ColumnPlan::new`]).
pub const CHUNK_WIDTHS: std::ops::RangeInclusive<u32> = 6..=16;

/// A value `v = Σ_j 2^(c·j) v_j` with each `v_j < 2^widths[j]`, where `c`
/// is the plan's chunk width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunks {
    pub cols: Vec<usize>,
    pub widths: Vec<u32>,
}

/// A saturating requantization's overflow `y_true − y = up − down`, both
/// parts non-negative and range-checked, with `up·(m − y) = 0` and
/// `down·(m + y) = 0` (so `y = clamp(y_true, −m, m)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saturation {
    pub up: Chunks,
    pub down: Chunks,
}

/// The committed columns of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeCols {
    Table {
        table: usize,
        y: usize,
        z: usize,
        rem: Chunks,
        sat: Option<Saturation>,
    },
    /// Floating-point domain: `x = m·p + r`, `(m, p, z)` a table row,
    /// `0 ≤ r`, `0 ≤ u = p − 1 − r`.
    LogTable {
        table: usize,
        m: usize,
        p: usize,
        z: usize,
        r: Chunks,
        u: Chunks,
    },
    Range {
        lo: Chunks,
        hi: Chunks,
        rem: Chunks,
        sat: Option<Saturation>,
    },
    /// `z = max(y, 0)` as `y = pos − neg` with `pos, neg ∈ [0, 2^(b−1))`
    /// and `pos·neg = 0`; `z = pos`. No table and no committed `y`.
    Relu {
        pos: Chunks,
        neg: Chunks,
        rem: Chunks,
        sat: Option<Saturation>,
    },
    Max {
        out: usize,
        diff: Chunks,
    },
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

/// Most packed variables of one range argument in the keys `zkc` makes
/// (`VerifyingKey::range_bucket_vars`; see the module docs).
pub const RANGE_BUCKET_VARS: usize = 23;

/// One range argument: some of the plan's range entries packed together,
/// with their multiplicity column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeBucket {
    /// Indices into [`ColumnPlan::range`], in packing order.
    pub entries: Vec<usize>,
    pub packing: Packing,
    /// The multiplicity column of the table `[0, 2^c)` for these entries.
    pub mult: usize,
}

/// Splits entries of `2^vars[i]` rows into buckets of at most
/// `2^max_vars` packed rows, largest first (a larger entry is a bucket of
/// its own). Returns each bucket's entry indices.
pub fn bucket_entries(vars: &[usize], max_vars: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..vars.len()).collect();
    // Stable: equal sizes keep the plan's order.
    order.sort_by_key(|&i| std::cmp::Reverse(vars[i]));
    let mut out: Vec<Vec<usize>> = vec![];
    let mut used = 0usize;
    for i in order {
        let n = 1usize << vars[i];
        match out.last_mut() {
            // Sizes come in decreasing powers of two, so a bucket that has
            // room for this entry has it at an aligned offset.
            Some(b) if used + n <= 1usize << max_vars => {
                b.push(i);
                used += n;
            }
            _ => {
                out.push(vec![i]);
                used = n;
            }
        }
    }
    out
}

/// A range-checked virtual column: committed column plus a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeEntry {
    pub col: usize,
    pub offset: u64,
}

/// The committed columns of one partition (color).
#[derive(Debug, Clone)]
pub struct ColumnPlan {
    /// The partition these columns belong to.
    pub color: usize,
    /// Boundary tensors read here (computed in another partition): this
    /// partition's committed copy, by value.
    pub boundary_in: BTreeMap<ValueId, usize>,
    /// Boundary tensors computed here and read elsewhere: committed copy.
    pub boundary_out: BTreeMap<ValueId, usize>,
    pub layouts: Vec<Layout>,
    pub nodes: BTreeMap<usize, NodeCols>,
    pub tables: Vec<TablePlan>,
    pub range: Vec<RangeEntry>,
    /// The range arguments over [`ColumnPlan::range`] (none without range
    /// checks).
    pub range_buckets: Vec<RangeBucket>,
    /// Range-check chunk width `c`: every chunk is looked up in `[0, 2^c)`.
    pub chunk: u32,
    /// Most entries of one witness group, as `log2` (the key's
    /// `witness_group_vars`).
    pub group_vars: usize,
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

/// Bits of `|y_true| + m`, the overflow of a saturating requantization.
pub fn overflow_bits(q: &LookupQuant) -> u32 {
    let mb = 64 - q.requant.mult.leading_zeros();
    (u32::from(q.input.bits) + mb).saturating_sub(u32::from(q.requant.shift)).clamp(1, 62)
}

/// The lookup nodes whose requantization saturates on this witness (their
/// proof carries overflow columns; the others prove `|y_true| ≤ m`).
pub fn saturating_nodes(vk: &VerifyingKey, values: &[Vec<Tensor>]) -> Result<Vec<usize>> {
    let mut out = vec![];
    for id in 0..vk.nodes.len() {
        if let Kind::Table(q) | Kind::Range(q) | Kind::Relu(q) = ops::classify(vk, id)? {
            let (mult, s, h, m) = requant_params(&q);
            let x = values
                .get(vk.nodes[id].inputs[0].node)
                .and_then(|n| n.get(vk.nodes[id].inputs[0].slot))
                .ok_or_else(|| Error::Internal("witness too short".into()))?
                .as_i64()
                .map_err(|e| Error::Internal(e.to_string()))?;
            if x.iter().any(|&xv| ((xv as i128 * mult as i128 + h) >> s).unsigned_abs() > m as u128) {
                out.push(id);
            }
        }
    }
    Ok(out)
}

impl ColumnPlan {
    /// The columns of partition `color` for a proof in which the lookups
    /// `saturating` (sorted node ids) saturate.
    ///
    /// The range-check chunk width is the one of [`CHUNK_WIDTHS`] that
    /// minimises the proof's work on it: the range argument's looked-up
    /// entries (packed, so narrower chunks mean more of them) and table
    /// rows, plus every committed entry (narrower chunks mean more columns;
    /// each range bucket's multiplicity column is one). A small model checks
    /// 8-bit chunks against a 256-row table instead of 16-bit ones against
    /// 65 536 rows. A function of the key alone, so prover and verifier
    /// agree.
    pub fn new(vk: &VerifyingKey, color: usize, saturating: &[usize]) -> Result<ColumnPlan> {
        let mut best: Option<(usize, ColumnPlan)> = None;
        for c in CHUNK_WIDTHS.rev() {
            let plan = Self::with_chunk(vk, color, saturating, c)?;
            let committed: usize = plan.layouts.iter().map(Layout::padded_len).sum();
            let looked_up: usize = plan.range_buckets.iter().map(|b| b.packing.len() + (1usize << c)).sum();
            let cost = looked_up + committed;
            if best.as_ref().is_none_or(|(b, _)| cost < *b) {
                best = Some((cost, plan));
            }
        }
        best.map(|(_, p)| p).ok_or_else(|| Error::Internal("no chunk width".into()))
    }

    /// The columns with range-check chunks of `chunk` bits.
    pub fn with_chunk(
        vk: &VerifyingKey,
        color: usize,
        saturating: &[usize],
        chunk: u32,
    ) -> Result<ColumnPlan> {
        let part = vk
            .partitions
            .parts
            .get(color)
            .ok_or_else(|| Error::Key(format!("partition {color} does not exist")))?;
        let mut plan = ColumnPlan::empty(color, chunk);
        plan.group_vars = usize::from(vk.witness_group_vars);
        for &v in &part.inputs {
            let c = plan.col(&shape_of(vk, v));
            plan.boundary_in.insert(v, c);
        }
        for &v in &part.outputs {
            let c = plan.col(&shape_of(vk, v));
            plan.boundary_out.insert(v, c);
        }
        for &id in &part.nodes {
            let kind = ops::classify(vk, id)?;
            let Some(cols) = ops::columns(&mut plan, vk, id, &kind, saturating) else { continue };
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
        let vars: Vec<usize> = plan.range.iter().map(|e| plan.layouts[e.col].vars()).collect();
        for entries in bucket_entries(&vars, usize::from(vk.range_bucket_vars)) {
            let mult = plan.col(&[1 << chunk]);
            let packing = Packing::new(&entries.iter().map(|&i| vars[i]).collect::<Vec<_>>());
            plan.range_buckets.push(RangeBucket { entries, packing, mult });
        }
        Ok(plan)
    }

    fn empty(color: usize, chunk: u32) -> ColumnPlan {
        ColumnPlan {
            color,
            boundary_in: BTreeMap::new(),
            boundary_out: BTreeMap::new(),
            layouts: vec![],
            nodes: BTreeMap::new(),
            tables: vec![],
            range: vec![],
            range_buckets: vec![],
            chunk,
            group_vars: crate::packing::WITNESS_GROUP_VARS,
        }
    }

    /// The witness entries each computing node of `vk`'s graph commits with
    /// range-check chunks of `chunk` bits, as [`ColumnPlan::with_chunk`]
    /// allocates them (no saturating lookups): its columns at their padded
    /// lengths, plus the multiplicity column of its table (`2^bits` rows)
    /// when it reads one. A table shared by several lookups is counted at
    /// each of them (an upper bound for a partition holding several).
    pub fn node_entries(vk: &VerifyingKey, chunk: u32) -> Result<Vec<u64>> {
        let mut plan = ColumnPlan::empty(0, chunk);
        let mut entries = vec![0u64; vk.nodes.len()];
        for part in &vk.partitions.parts {
            for &id in &part.nodes {
                let kind = ops::classify(vk, id)?;
                let first = plan.layouts.len();
                let Some(cols) = ops::columns(&mut plan, vk, id, &kind, &[]) else { continue };
                let table = match cols {
                    NodeCols::Table { table, .. } | NodeCols::LogTable { table, .. } => {
                        1u64 << plan.tables[table].bits
                    }
                    _ => 0,
                };
                let own: usize = plan.layouts[first..].iter().map(Layout::padded_len).sum();
                entries[id] = own as u64 + table;
            }
        }
        Ok(entries)
    }

    pub(crate) fn saturation(
        &mut self,
        saturating: &[usize],
        id: usize,
        shape: &[usize],
        q: &LookupQuant,
    ) -> Option<Saturation> {
        saturating.contains(&id).then(|| {
            let b = overflow_bits(q);
            Saturation { up: self.chunks(shape, b), down: self.chunks(shape, b) }
        })
    }

    /// The table of a lookup (shared by every lookup with the same spec).
    pub(crate) fn table(&mut self, q: &LookupQuant, id: usize) -> usize {
        let t = match self.tables.iter().position(|t| t.spec.key() == q.table.key()) {
            Some(t) => t,
            None => {
                self.tables.push(TablePlan {
                    spec: q.table,
                    bits: crate::layout::log2_ceil(q.table.rows()),
                    nodes: vec![],
                    mult: usize::MAX,
                    packing: Packing::new(&[]),
                });
                self.tables.len() - 1
            }
        };
        self.tables[t].nodes.push(id);
        t
    }

    /// This partition's lookups marked saturating (they carry overflow
    /// columns), increasing.
    pub fn saturating(&self) -> Vec<usize> {
        self.nodes
            .iter()
            .filter(|(_, n)| {
                matches!(
                    n,
                    NodeCols::Table { sat: Some(_), .. }
                        | NodeCols::Range { sat: Some(_), .. }
                        | NodeCols::Relu { sat: Some(_), .. }
                )
            })
            .map(|(&id, _)| id)
            .collect()
    }

    /// How the columns are packed into the witness commitments.
    pub fn witness_groups(&self) -> crate::packing::Groups {
        crate::packing::Groups::bounded(
            &self.layouts.iter().map(|l| l.vars()).collect::<Vec<_>>(),
            self.group_vars,
        )
    }

    /// `Σ_j 2^(c·j) v_j` from the chunks' evaluations.
    pub fn combine(&self, evals: &[EF]) -> EF {
        let base = EF::from_u64(1 << self.chunk);
        evals.iter().rev().fold(EF::ZERO, |acc, &e| acc * base + e)
    }

    /// A chunked value's table `Σ_j 2^(c·j) v_j` from the committed chunk
    /// columns (`len` entries; no chunks: all zero).
    pub fn chunk_table(&self, c: &Chunks, cols: &[Vec<F>], len: usize) -> Vec<F> {
        let mut out = vec![F::ZERO; len];
        for (j, &col) in c.cols.iter().enumerate() {
            let sc = F::from_u64(1u64 << (self.chunk as usize * j));
            for (dst, &v) in out.iter_mut().zip(&cols[col]) {
                *dst += sc * v;
            }
        }
        out
    }

    pub(crate) fn col(&mut self, shape: &[usize]) -> usize {
        self.layouts.push(Layout::new(shape));
        self.layouts.len() - 1
    }

    /// Chunks of a `bits`-bit non-negative value, registered for range checks.
    pub(crate) fn chunks(&mut self, shape: &[usize], bits: u32) -> Chunks {
        let mut c = Chunks { cols: vec![], widths: vec![] };
        let mut left = bits;
        while left > 0 {
            let w = left.min(self.chunk);
            let col = self.col(shape);
            self.range.push(RangeEntry { col, offset: 0 });
            if w < self.chunk {
                self.range.push(RangeEntry { col, offset: (1 << self.chunk) - (1 << w) });
            }
            c.cols.push(col);
            c.widths.push(w);
            left -= w;
        }
        c
    }

    /// Table columns, padded to `2^b` rows by repeating row 0: `(i − m,
    /// T[i])` for a linear domain, `(mantissa, 2^exponent, T[i])` for a
    /// floating-point one.
    pub fn table_columns(t: &TablePlan) -> Vec<Vec<F>> {
        let rows = t.spec.rows();
        let n = 1usize << t.bits;
        let row = |i: usize| if i < rows { i } else { 0 };
        let z: Vec<F> = (0..n).map(|i| embed_i64(t.spec.entry(row(i)))).collect();
        match t.spec.domain {
            Domain::Linear(_) => {
                let m = (rows / 2) as i64;
                vec![(0..n).map(|i| embed_i64(row(i) as i64 - m)).collect(), z]
            }
            Domain::Log(l) => {
                let (ms, ps): (Vec<F>, Vec<F>) = (0..n)
                    .map(|i| {
                        let (m, e) = log_row(l.mantissa, row(i));
                        (F::from_u64(m), F::from_u64(1u64 << e))
                    })
                    .unzip();
                vec![ms, ps, z]
            }
        }
    }

    /// Computes every column from the executor's values (`values[node][slot]`).
    pub fn fill(&self, vk: &VerifyingKey, values: &[Vec<Tensor>]) -> Result<Vec<Vec<F>>> {
        let mut cols: Vec<Vec<F>> = vec![vec![]; self.layouts.len()];
        let ints = |v: ValueId| witness_ints(values, v);
        for (&v, &col) in self.boundary_in.iter().chain(&self.boundary_out) {
            cols[col] = self.layouts[col].pad_i64(&ints(v)?);
        }
        let mut table_rows: Vec<Vec<u64>> = self.tables.iter().map(|t| vec![0u64; 1 << t.bits]).collect();
        for (&id, nc) in &self.nodes {
            ops::fill(self, vk, id, nc, values, &mut cols, &mut table_rows)?;
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
        for b in &self.range_buckets {
            let mut counts = vec![0u64; 1 << self.chunk];
            let mut filled = 0;
            for e in b.entries.iter().map(|&i| self.range[i]) {
                for &v in &cols[e.col] {
                    // An honest chunk is below 2^c; a value that is not is
                    // counted nowhere and the argument fails.
                    if let Some(c) = counts
                        .get_mut((zkml_proof::field::decode_i64(v) as u64).wrapping_add(e.offset) as usize)
                    {
                        *c += 1;
                    }
                }
                filled += self.layouts[e.col].padded_len();
            }
            // The packing's unused rows are zeros.
            counts[0] += (b.packing.len() - filled) as u64;
            cols[b.mult] = counts.iter().map(|&c| F::from_u64(c)).collect();
        }
        Ok(cols)
    }

    pub(crate) fn fill_chunks(&self, cols: &mut [Vec<F>], c: &Chunks, layout: &Layout, vals: &[u64]) {
        for (j, (&col, &w)) in c.cols.iter().zip(&c.widths).enumerate() {
            let mask = (1u64 << w) - 1;
            let part: Vec<i64> =
                vals.iter().map(|&v| ((v >> (self.chunk * j as u32)) & mask) as i64).collect();
            cols[col] = layout.pad_i64(&part);
        }
    }
}

/// `(mantissa, exponent)` of a floating-point domain row (see
/// [`zkml_ir::ops::lookup::LogDomain`]).
pub fn log_row(mantissa: u8, row: usize) -> (u64, u32) {
    let d = u32::from(mantissa);
    if row < 1 << d {
        return (row as u64, 0);
    }
    let r = row - (1 << d);
    let half = 1usize << (d - 1);
    ((half + r % half) as u64, (r / half + 1) as u32)
}

/// The integers of value `v` in the executor's values.
pub(crate) fn witness_ints(values: &[Vec<Tensor>], v: ValueId) -> Result<std::borrow::Cow<'_, [i64]>> {
    values
        .get(v.node)
        .and_then(|n| n.get(v.slot))
        .ok_or_else(|| Error::Internal(format!("witness lacks {v}")))?
        .as_i64()
        .map_err(|e| Error::Internal(format!("witness {v}: {e}")))
}

/// Shape of a value (empty if it does not exist; keys are validated first).
pub(crate) fn shape_of(vk: &VerifyingKey, v: ValueId) -> Vec<usize> {
    vk.fact(v).map(|f| f.shape.clone()).unwrap_or_default()
}
