//! The one generic nonlinearity of the provable core: a requantizing table.
//!
//! Before quantization a `Lookup` simply applies its real function `f` to
//! f32 values. After quantization (`quant` is set) it maps an integer `q` of
//! the input type (`q · s_in` real, up to ~60 bits wide: typically an einsum
//! accumulator) in two steps, both exact integer arithmetic:
//!
//! 1. **requantize** to the table's domain: `i = clamp(⌊(q·M + 2^(k-1)) / 2^k⌋,
//!    ±(2^(d-1) - 1))`, a fixed-point multiplier `M` and shift `k` with
//!    `M / 2^k ≈ s_in / s_dom` (round half up), saturating at the `d`-bit
//!    domain;
//! 2. **tabulate**: `out = T[i]` with `T[i] = clamp(round(f(i · s_dom) /
//!    s_out), ±(2^(b-1) - 1))`.
//!
//! Functions of a positive input with a wide dynamic range (`rsqrt` of a
//! variance, `reciprocal` of a softmax sum) use a floating-point domain
//! instead ([`Domain::Log`]): no requantization, the row is the input's
//! exponent and top mantissa bits, so small inputs keep the same relative
//! precision as large ones.
//!
//! `T` depends on the [`TableSpec`] `(f, domain, out)` alone, so lookups with
//! equal specs share one table; a table has at most 2^16 rows ([`MAX_ROWS`]),
//! however wide the input: the prover handles the wide part (step 1, or the
//! exponent/mantissa split) with range checks, never with a huge table.
//! Table entries are computed in f64 with `libm` (not the platform's libm),
//! so every machine derives the same table from the spec.

use super::{OpDef, map_f32};
use crate::{DType, Fact, OpError, QType, Tensor, bail_op};
use serde::{Deserialize, Serialize};

pub use super::activation::{DomainKind, LookupFn};

/// Fixed-point multiplier and shift: `q ↦ ⌊(q·mult + 2^(shift-1)) / 2^shift⌋`
/// (round half up; no rounding term when `shift = 0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Requant {
    pub mult: i64,
    pub shift: u8,
}

impl Requant {
    /// Bits of precision kept in the multiplier.
    pub const MULT_BITS: u32 = 24;

    /// The multiplier/shift pair closest to `ratio` (> 0) such that inputs of
    /// `in_bits` times the multiplier stay below 2^62.
    pub fn approximating(ratio: f64, in_bits: u8) -> Result<Requant, OpError> {
        if !(ratio.is_finite() && ratio > 0.0) {
            bail_op!("requantization ratio {ratio} must be positive and finite");
        }
        // A power-of-two ratio ≤ 1 needs no multiplier: a shift is exact
        // whatever the input's width (narrowing of wide values).
        let log = ratio.log2();
        if log <= 0.0 && log == log.round() && log >= -62.0 {
            return Ok(Requant { mult: 1, shift: (-log) as u8 });
        }
        let budget = 62i32 - i32::from(in_bits);
        if budget < 2 {
            bail_op!("input of {in_bits} bits leaves no room for a requantization multiplier below 2^62");
        }
        let p = (Self::MULT_BITS as i32).min(budget);
        // mult = ratio · 2^shift with mult in [2^(p-1), 2^p).
        let mut shift = p - 1 - ratio.log2().floor() as i32;
        shift = shift.clamp(0, 62);
        let mult = (ratio * 2f64.powi(shift)).round();
        if mult < 1.0 {
            return Ok(Requant { mult: 1, shift: 62 }); // everything rounds to zero
        }
        if mult >= 2f64.powi(budget) {
            bail_op!("requantization ratio {ratio} is too large for {in_bits}-bit inputs");
        }
        Ok(Requant { mult: mult as i64, shift: shift as u8 })
    }

    /// Applies the multiplier and shift (exact, in i128).
    pub fn apply(self, q: i64) -> i128 {
        let mut t = q as i128 * self.mult as i128;
        if self.shift > 0 {
            t += 1i128 << (self.shift - 1);
        }
        t >> self.shift
    }
}

/// How an input integer selects a table row.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Domain {
    /// A uniform grid: the (requantized) index `i`, `|i| ≤ 2^(bits-1) - 1`,
    /// stands for `i · scale`.
    Linear(QType),
    /// A floating-point grid for functions of non-negative inputs with a
    /// wide dynamic range (`rsqrt` of a variance, `reciprocal` of a sum),
    /// where a uniform grid fitted to the largest input has no precision
    /// left for small ones. See [`LogDomain`].
    Log(LogDomain),
}

/// Row of `q ≥ 0` (the input integer itself; no requantization): with
/// `d = mantissa`, `e = max(0, bitlen(q) - d)` and `m = q >> e` (the top `d`
/// bits, so `2^(d-1) ≤ m < 2^d` when `e > 0`), the row stands for
/// `(m + ½) · 2^e · scale` when `e > 0` (the middle of the inputs it
/// covers: relative error ≤ 2^-d) and `m · scale` exactly when `e = 0`.
/// `q ≤ 0` reads row 0 (the value 0); `e > max_exp` saturates to the last
/// row. Rows: `2^d` for `e = 0`, then `2^(d-1)` per exponent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogDomain {
    pub scale: f32,
    pub mantissa: u8,
    pub max_exp: u8,
}

impl LogDomain {
    pub fn rows(&self) -> usize {
        (1usize << self.mantissa) + usize::from(self.max_exp) * (1usize << (self.mantissa - 1))
    }
    /// The row of input integer `q`.
    pub fn row(&self, q: i64) -> usize {
        let d = u32::from(self.mantissa);
        if q <= 0 {
            return 0;
        }
        let e = (64 - q.leading_zeros()).saturating_sub(d);
        if e == 0 {
            return q as usize;
        }
        if e > u32::from(self.max_exp) {
            return self.rows() - 1;
        }
        let m = (q >> e) as usize;
        (1usize << d) + (e as usize - 1) * (1usize << (d - 1)) + (m - (1usize << (d - 1)))
    }
    /// The real input a row stands for.
    pub fn value(&self, row: usize) -> f64 {
        let d = u32::from(self.mantissa);
        if row < 1 << d {
            return row as f64 * self.scale as f64;
        }
        let r = row - (1 << d);
        let half = 1usize << (d - 1);
        let (e, m) = (r / half + 1, half + r % half);
        (m as f64 + 0.5) * 2f64.powi(e as i32) * self.scale as f64
    }
}

/// Everything that determines a table's contents.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TableSpec {
    pub func: LookupFn,
    pub domain: Domain,
    pub out: QType,
}

impl TableSpec {
    /// Whether the output has the linear domain's own type (bits and scale,
    /// bit for bit): an identity table is then a plain requantization and
    /// a ReLU table is `max(y, 0)` exactly, both provable without a table.
    pub fn output_is_domain(&self) -> bool {
        match self.domain {
            Domain::Linear(d) => d.bits == self.out.bits && d.scale.to_bits() == self.out.scale.to_bits(),
            Domain::Log(_) => false,
        }
    }
    /// Number of rows.
    pub fn rows(&self) -> usize {
        match self.domain {
            Domain::Linear(q) => 2 * q.max_abs() as usize + 1,
            Domain::Log(l) => l.rows(),
        }
    }
    /// The real input row `row` stands for.
    pub fn input_value(&self, row: usize) -> f64 {
        match self.domain {
            Domain::Linear(q) => (row as i64 - q.max_abs()) as f64 * q.scale as f64,
            Domain::Log(l) => l.value(row),
        }
    }
    /// `T[row]` (see the module docs). Non-finite results saturate; NaN maps to 0.
    pub fn entry(&self, row: usize) -> i64 {
        let y = self.func.apply_f64(self.input_value(row)) / self.out.scale as f64;
        let m = self.out.max_abs();
        if y.is_nan() { 0 } else { (y.round().clamp(-(m as f64), m as f64)) as i64 }
    }
    /// Equality key for table sharing (f32 scales compared bit for bit).
    pub fn key(&self) -> (LookupFn, u8, u8, u32, u8, u32) {
        let (kind, bits, scale) = match self.domain {
            Domain::Linear(q) => (0, q.bits, q.scale),
            Domain::Log(l) => (1 + l.max_exp, l.mantissa, l.scale),
        };
        (self.func, kind, bits, scale.to_bits(), self.out.bits, self.out.scale.to_bits())
    }
}

/// Quantization parameters of a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LookupQuant {
    /// Expected input type.
    pub input: QType,
    /// Requantization to a linear domain; the identity (`×1 >> 0`) for a
    /// log domain, which reads the input integer itself.
    pub requant: Requant,
    pub table: TableSpec,
}

impl LookupQuant {
    /// A requantization by exactly 1 into the 2-bit domain `{−1, 0, 1}` of
    /// scale 1: the sign (or, under a ReLU, the step) of the input integer,
    /// whatever its scale. Saturating is its purpose (exact comparisons).
    pub fn is_sign_domain(&self) -> bool {
        let b = QType::new(2, 1.0);
        self.requant == Requant::IDENTITY && self.table.domain == Domain::Linear(b) && self.table.out == b
    }

    /// Whether input integer `q` saturates in a way that changes the
    /// output: its requantized value lies beyond the linear domain and the
    /// function there differs (by at least one output step) from its value
    /// at the domain's edge. `exp` far below its maximum and other
    /// functions flat beyond the domain saturate harmlessly; a sign domain
    /// always does.
    pub fn saturates_harmfully(&self, q: i64) -> bool {
        let Domain::Linear(d) = self.table.domain else { return false };
        let y = self.requant.apply(q);
        let m = d.max_abs() as i128;
        if y.abs() <= m || self.is_sign_domain() {
            return false;
        }
        let exact = self.table.func.apply_f64(y as f64 * d.scale as f64) / self.table.out.scale as f64;
        let clamped = self.table.entry(self.row(q)) as f64;
        !exact.is_finite() || (exact - clamped).abs() >= 1.0
    }

    /// The table row of an input integer.
    pub fn row(&self, q: i64) -> usize {
        match self.table.domain {
            Domain::Linear(d) => {
                let m = d.max_abs() as i128;
                (self.requant.apply(q).clamp(-m, m) + m) as usize
            }
            Domain::Log(l) => l.row(q),
        }
    }
}

impl Requant {
    /// `×1 >> 0`.
    pub const IDENTITY: Requant = Requant { mult: 1, shift: 0 };
}

/// Most rows a materialised table may have.
pub const MAX_ROWS: usize = 1 << 16;

/// Widest domain of a plain requantization (`Identity`). Its "table" is
/// `T[i] = i`: never materialised, the prover range-checks the result in
/// chunks of at most 16 bits instead.
pub const MAX_REQUANT_BITS: u8 = 32;

/// Largest table domain (bits), so tables never exceed 2^16 rows.
pub const MAX_DOMAIN_BITS: u8 = 16;

/// Elementwise table lookup (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lookup {
    pub func: LookupFn,
    /// `None` in the float graph.
    pub quant: Option<LookupQuant>,
}

impl Lookup {
    pub fn float(func: LookupFn) -> Self {
        Lookup { func, quant: None }
    }
}

impl OpDef for Lookup {
    fn name(&self) -> &'static str {
        "lookup"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        let mut a = vec![("fn", self.func.key())];
        if let Some(q) = &self.quant {
            a.push(("requant", format!("*{}>>{}", q.requant.mult, q.requant.shift)));
            a.push((
                "domain",
                match q.table.domain {
                    Domain::Linear(d) => DType::Q(d).to_string(),
                    Domain::Log(l) => format!("log(m{},e{})@{:e}", l.mantissa, l.max_exp, l.scale),
                },
            ));
            a.push(("out", DType::Q(q.table.out).to_string()));
        }
        a
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        crate::shape::expect_inputs(inputs, 1)?;
        let x = inputs[0];
        match &self.quant {
            None if x.dtype == DType::F32 => Ok(vec![x.clone()]),
            None => bail_op!("an unquantized lookup expects f32, got {}", x.dtype),
            Some(q) => {
                if x.dtype != DType::Q(q.input) {
                    bail_op!("lookup expects {}, got {}", DType::Q(q.input), x.dtype);
                }
                if q.table.func != self.func {
                    bail_op!("table function {:?} differs from the op's {:?}", q.table.func, self.func);
                }
                let domain_ok = match q.table.domain {
                    // Identity and ReLU onto their own domain are range
                    // checks, not tables: they may be wider.
                    Domain::Linear(d) => {
                        (1..=MAX_DOMAIN_BITS).contains(&d.bits)
                            || (self.func == LookupFn::Identity && d.bits <= MAX_REQUANT_BITS)
                            || (self.func == LookupFn::Relu
                                && q.table.output_is_domain()
                                && d.bits <= MAX_REQUANT_BITS)
                    }
                    Domain::Log(l) => {
                        (2..=16).contains(&l.mantissa)
                            && l.max_exp <= 62
                            && l.rows() <= MAX_ROWS
                            && q.requant == Requant::IDENTITY
                            && l.scale.to_bits() == q.input.scale.to_bits()
                    }
                };
                if !domain_ok || q.table.out.bits > 62 {
                    bail_op!(
                        "table domain {:?} or output of {} bits out of range",
                        q.table.domain,
                        q.table.out.bits
                    );
                }
                if q.requant.mult < 1
                    || q.requant.shift > 62
                    || u32::from(q.input.bits) - 1 + (64 - q.requant.mult.leading_zeros()) > 62
                {
                    bail_op!(
                        "requantization {:?} of {}-bit inputs leaves the 62-bit range",
                        q.requant,
                        q.input.bits
                    );
                }
                Ok(vec![Fact::new(DType::Q(q.table.out), x.shape.clone())])
            }
        }
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let x = inputs[0];
        match &self.quant {
            None => Ok(vec![map_f32(x, |v| self.func.apply(v))?]),
            // Entry by entry from the definition: the executor's shared tables
            // are checked against this.
            Some(q) => Ok(vec![Tensor::from_i64(
                x.shape(),
                x.as_i64()?.iter().map(|&v| q.table.entry(q.row(v))).collect(),
            )?]),
        }
    }
}
