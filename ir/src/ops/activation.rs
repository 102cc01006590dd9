//! The activation table: every scalar nonlinearity the provable core
//! tabulates, declared once.
//!
//! A declaration gives the function's name (its text form, and its head in
//! rewrite rules), its real formula in f64, the kind of table domain it
//! reads, the ONNX op types (and attribute values) that denote it, and the
//! names tract gives it when an ONNX op is expanded into primitives. From
//! the table come:
//! * [`LookupFn`], the function a `lookup` tabulates (and, wrapped in
//!   [`UnaryOp::Fn`](super::unary::UnaryOp::Fn), the float-level unary op
//!   the frontend emits);
//! * the f32 semantics of the float graph (the f64 formula, rounded once);
//! * the compiler's frontend mapping (ONNX forms, tract names), its rewrite
//!   rules `(name ?x) => (lookup name ?x)` and its domain choice.
//!
//! Formulas use `libm`, never the platform's maths library: the table
//! entries (`T[i] = round(f(x_i) / s_out)`) must be identical on every
//! machine that derives them from a plan, so the formula is part of the
//! statement.
//!
//! Invariant: entries are only ever appended. A plan stores a function as
//! its position in this table, so reordering would make old plans mean
//! other functions.

use serde::{Deserialize, Serialize};
use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// Which table domain a function reads (the quantizer picks the grid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainKind {
    /// A uniform grid over the calibrated input range.
    Linear,
    /// A floating-point grid (exponent and top mantissa bits) when the
    /// calibrated input is never negative, uniform otherwise: for functions
    /// steep near 0 of inputs with a wide dynamic range (`rsqrt` of a
    /// variance, `reciprocal` of a softmax sum).
    Log,
}

/// One ONNX spelling of a function: an op type, optionally selected by a
/// string attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnnxForm {
    pub op: &'static str,
    /// `(attribute, value, is_default)`: the node's string attribute must
    /// equal `value`; when `is_default`, a node without the attribute
    /// matches too (the ONNX default).
    pub select: Option<(&'static str, &'static str, bool)>,
}

impl OnnxForm {
    /// Whether a node of type `op` whose attribute (if `select` names one)
    /// reads `attr` is this form.
    pub fn matches(&self, op: &str, attr: impl Fn(&str) -> Option<String>) -> bool {
        if self.op != op {
            return false;
        }
        match self.select {
            None => true,
            Some((name, value, is_default)) => match attr(name) {
                Some(v) => v == value,
                None => is_default,
            },
        }
    }
}

macro_rules! onnx_form {
    ($op:literal) => {
        OnnxForm { op: $op, select: None }
    };
    ($op:literal [$attr:literal = $value:literal]) => {
        OnnxForm { op: $op, select: Some(($attr, $value, false)) }
    };
    ($op:literal [$attr:literal = $value:literal default]) => {
        OnnxForm { op: $op, select: Some(($attr, $value, true)) }
    };
}

macro_rules! activation_table {
    ($(
        $(#[doc = $doc:literal])*
        $var:ident: $name:literal, $kind:ident, |$x:ident| $f:expr,
            onnx [$($op:literal $([$($sel:tt)*])?),*], tract [$($tract:literal),*];
    )*) => {
        /// The real function tabulated by a lookup: plain requantization or
        /// an entry of the activation table (see the module docs).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum LookupFn {
            /// Plain requantization: `T[i] = i`.
            Identity,
            $($(#[doc = $doc])* $var,)*
        }

        impl LookupFn {
            /// Every function, the identity first.
            pub const ALL: &'static [LookupFn] = &[LookupFn::Identity, $(LookupFn::$var,)*];
            /// The activations: every function but the identity.
            pub const ACTIVATIONS: &'static [LookupFn] = &[$(LookupFn::$var,)*];
            /// Every ONNX op type some activation is spelled as.
            pub const ONNX_OPS: &'static [&'static str] = &[$($($op,)*)*];

            /// The name in the text form (and in rewrite rules).
            pub fn name(self) -> &'static str {
                match self {
                    LookupFn::Identity => "identity",
                    $(LookupFn::$var => $name,)*
                }
            }

            /// The real function, in f64 with `libm` (portable; see the
            /// module docs).
            pub fn apply_f64(self, x: f64) -> f64 {
                match self {
                    LookupFn::Identity => x,
                    $(LookupFn::$var => { let $x = x; $f })*
                }
            }

            /// The table domain the function reads.
            pub fn domain_kind(self) -> DomainKind {
                match self {
                    LookupFn::Identity => DomainKind::Linear,
                    $(LookupFn::$var => DomainKind::$kind,)*
                }
            }

            /// The ONNX spellings of the function.
            pub fn onnx(self) -> &'static [OnnxForm] {
                match self {
                    LookupFn::Identity => &[],
                    $(LookupFn::$var => &[$(onnx_form!($op $([$($sel)*])?)),*],)*
                }
            }

            /// The names of tract's elementwise ops that compute the
            /// function (what tract's expansions of other ONNX ops emit).
            pub fn tract_names(self) -> &'static [&'static str] {
                match self {
                    LookupFn::Identity => &[],
                    $(LookupFn::$var => &[$($tract),*],)*
                }
            }
        }
    };
}

activation_table! {
    Relu: "relu", Linear, |x| x.max(0.0),
        onnx [], tract [];
    /// `x · Φ(x) = x/2 · (1 + erf(x/√2))`.
    Gelu: "gelu", Linear, |x| 0.5 * x * (1.0 + libm::erf(x * FRAC_1_SQRT_2)),
        onnx ["Gelu" ["approximate" = "none" default]], tract [];
    /// `x/2 · (1 + tanh(√(2/π)(x + 0.044715 x³)))`.
    GeluTanh: "gelu_tanh", Linear,
        |x| 0.5 * x * (1.0 + libm::tanh(libm::sqrt(2.0 / PI) * (x + 0.044715 * x * x * x))),
        onnx ["Gelu" ["approximate" = "tanh"]], tract ["GeluApproximate"];
    /// `x · sigmoid(x)` (swish).
    Silu: "silu", Linear, |x| x / (1.0 + libm::exp(-x)),
        onnx [], tract ["Silu"];
    Sigmoid: "sigmoid", Linear, |x| 1.0 / (1.0 + libm::exp(-x)),
        onnx ["Sigmoid"], tract ["Sigmoid"];
    Tanh: "tanh", Linear, |x| libm::tanh(x),
        onnx ["Tanh"], tract ["Tanh"];
    Exp: "exp", Linear, |x| libm::exp(x),
        onnx ["Exp"], tract ["Exp"];
    Erf: "erf", Linear, |x| libm::erf(x),
        onnx ["Erf"], tract ["Erf"];
    Sqrt: "sqrt", Log, |x| libm::sqrt(x),
        onnx ["Sqrt"], tract ["Sqrt"];
    Reciprocal: "reciprocal", Log, |x| 1.0 / x,
        onnx ["Reciprocal"], tract ["Recip"];
    Rsqrt: "rsqrt", Log, |x| 1.0 / libm::sqrt(x),
        onnx [], tract ["Rsqrt"];
    /// `ln(1 + eˣ)`.
    Softplus: "softplus", Linear, |x| libm::log1p(libm::exp(x)),
        onnx ["Softplus"], tract [];
    /// Natural logarithm (`-∞` at 0 saturates to the output's minimum).
    Log: "log", Log, |x| libm::log(x),
        onnx ["Log"], tract ["Ln"];
    Abs: "abs", Linear, |x| x.abs(),
        onnx ["Abs"], tract ["Abs"];
}

impl LookupFn {
    /// The function of a text-form name.
    pub fn from_name(name: &str) -> Option<LookupFn> {
        LookupFn::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// The activation an ONNX node denotes, given its op type and a reader
    /// of its string attributes.
    pub fn from_onnx(op: &str, attr: impl Fn(&str) -> Option<String>) -> Option<LookupFn> {
        LookupFn::ACTIVATIONS.iter().copied().find(|f| f.onnx().iter().any(|form| form.matches(op, &attr)))
    }

    /// The activation a tract elementwise op computes.
    pub fn from_tract(name: &str) -> Option<LookupFn> {
        LookupFn::ACTIVATIONS.iter().copied().find(|f| f.tract_names().contains(&name))
    }

    /// f32 semantics (the float graph): the f64 formula, rounded once.
    pub fn apply(self, x: f32) -> f32 {
        self.apply_f64(f64::from(x)) as f32
    }
}
