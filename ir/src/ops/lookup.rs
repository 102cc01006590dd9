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
//! `T` depends on the [`TableSpec`] `(f, domain, out)` alone, so lookups with
//! equal specs share one table; the domain has at most 2^16 entries, however
//! wide the input: the prover handles the wide part (step 1) with a range
//! check of the remainder and of the saturated high part, never with a huge
//! table. Table entries are computed in f64 with `libm` (not the platform's
//! libm), so every machine derives the same table from the spec.

use super::{OpDef, map_f32};
use crate::{DType, Fact, OpError, QType, Tensor, bail_op};
use serde::{Deserialize, Serialize};

/// The real function tabulated by a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LookupFn {
    /// Plain requantization.
    Identity,
    Relu,
    /// `x · Φ(x)` (erf form).
    Gelu,
    /// `0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³)))`.
    GeluTanh,
    Silu,
    Sigmoid,
    Tanh,
    Exp,
    Erf,
    Sqrt,
    Reciprocal,
    Rsqrt,
}

impl LookupFn {
    pub const ALL: [LookupFn; 12] = [
        LookupFn::Identity,
        LookupFn::Relu,
        LookupFn::Gelu,
        LookupFn::GeluTanh,
        LookupFn::Silu,
        LookupFn::Sigmoid,
        LookupFn::Tanh,
        LookupFn::Exp,
        LookupFn::Erf,
        LookupFn::Sqrt,
        LookupFn::Reciprocal,
        LookupFn::Rsqrt,
    ];

    /// The name in the text form (and in rewrite rules).
    pub fn name(self) -> &'static str {
        match self {
            LookupFn::Identity => "identity",
            LookupFn::Relu => "relu",
            LookupFn::Gelu => "gelu",
            LookupFn::GeluTanh => "gelu_tanh",
            LookupFn::Silu => "silu",
            LookupFn::Sigmoid => "sigmoid",
            LookupFn::Tanh => "tanh",
            LookupFn::Exp => "exp",
            LookupFn::Erf => "erf",
            LookupFn::Sqrt => "sqrt",
            LookupFn::Reciprocal => "reciprocal",
            LookupFn::Rsqrt => "rsqrt",
        }
    }

    pub fn from_name(name: &str) -> Option<LookupFn> {
        LookupFn::ALL.into_iter().find(|f| f.name() == name)
    }

    /// f32 semantics (the float graph), matching the float-level unary ops.
    pub fn apply(self, x: f32) -> f32 {
        use super::unary::UnaryOp as U;
        match self {
            LookupFn::Identity => x,
            LookupFn::Relu => U::Relu.apply(x),
            LookupFn::Gelu => U::Gelu.apply(x),
            LookupFn::GeluTanh => U::GeluTanh.apply(x),
            LookupFn::Silu => U::Silu.apply(x),
            LookupFn::Sigmoid => U::Sigmoid.apply(x),
            LookupFn::Tanh => U::Tanh.apply(x),
            LookupFn::Exp => U::Exp.apply(x),
            LookupFn::Erf => U::Erf.apply(x),
            LookupFn::Sqrt => U::Sqrt.apply(x),
            LookupFn::Reciprocal => U::Reciprocal.apply(x),
            LookupFn::Rsqrt => U::Rsqrt.apply(x),
        }
    }

    /// f64 semantics for table entries: portable (`libm`), so that prover
    /// and verifier machines derive identical tables.
    pub fn apply_f64(self, x: f64) -> f64 {
        match self {
            LookupFn::Identity => x,
            LookupFn::Relu => x.max(0.0),
            LookupFn::Gelu => 0.5 * x * (1.0 + libm::erf(x * std::f64::consts::FRAC_1_SQRT_2)),
            LookupFn::GeluTanh => {
                let c = libm::sqrt(2.0 / std::f64::consts::PI);
                0.5 * x * (1.0 + libm::tanh(c * (x + 0.044715 * x * x * x)))
            }
            LookupFn::Silu => x / (1.0 + libm::exp(-x)),
            LookupFn::Sigmoid => 1.0 / (1.0 + libm::exp(-x)),
            LookupFn::Tanh => libm::tanh(x),
            LookupFn::Exp => libm::exp(x),
            LookupFn::Erf => libm::erf(x),
            LookupFn::Sqrt => libm::sqrt(x),
            LookupFn::Reciprocal => 1.0 / x,
            LookupFn::Rsqrt => 1.0 / libm::sqrt(x),
        }
    }
}

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

/// Everything that determines a table's contents.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TableSpec {
    pub func: LookupFn,
    /// Integer type of the table index.
    pub domain: QType,
    pub out: QType,
}

impl TableSpec {
    /// Largest index magnitude: the table has `2·max + 1` rows.
    pub fn max_index(&self) -> i64 {
        self.domain.max_abs()
    }
    /// `T[i]` (see the module docs). Non-finite results saturate; NaN maps to 0.
    pub fn entry(&self, i: i64) -> i64 {
        let y = self.func.apply_f64(i as f64 * self.domain.scale as f64) / self.out.scale as f64;
        let m = self.out.max_abs();
        if y.is_nan() { 0 } else { (y.round().clamp(-(m as f64), m as f64)) as i64 }
    }
    /// Equality key for table sharing (f32 scales compared bit for bit).
    pub fn key(&self) -> (LookupFn, u8, u32, u8, u32) {
        (self.func, self.domain.bits, self.domain.scale.to_bits(), self.out.bits, self.out.scale.to_bits())
    }
}

/// Quantization parameters of a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LookupQuant {
    /// Expected input type.
    pub input: QType,
    pub requant: Requant,
    pub table: TableSpec,
}

impl LookupQuant {
    /// The table index of an input integer: requantized, then saturated.
    pub fn index(&self, q: i64) -> i64 {
        let m = self.table.max_index() as i128;
        self.requant.apply(q).clamp(-m, m) as i64
    }
}

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
        let mut a = vec![("fn", self.func.name().to_string())];
        if let Some(q) = &self.quant {
            a.push(("requant", format!("*{}>>{}", q.requant.mult, q.requant.shift)));
            a.push(("domain", DType::Q(q.table.domain).to_string()));
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
                if !(1..=MAX_DOMAIN_BITS).contains(&q.table.domain.bits) || q.table.out.bits > 62 {
                    bail_op!(
                        "table domain of {} bits or output of {} bits out of range",
                        q.table.domain.bits,
                        q.table.out.bits
                    );
                }
                if q.requant.mult < 1
                    || q.requant.shift > 62
                    || u32::from(q.input.bits) + (64 - q.requant.mult.leading_zeros()) > 62
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
                x.as_i64()?.iter().map(|&v| q.table.entry(q.index(v))).collect(),
            )?]),
        }
    }
}
