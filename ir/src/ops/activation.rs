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

/// A real parameter of an activation (`alpha` of a leaky ReLU), stored as
/// its f32 bits so that functions compare and hash exactly.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Param(u32);

impl Param {
    pub const fn new(v: f32) -> Param {
        Param(v.to_bits())
    }
    pub fn get(self) -> f64 {
        f64::from(f32::from_bits(self.0))
    }
}

impl std::fmt::Debug for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", f32::from_bits(self.0))
    }
}

macro_rules! activation_table {
    ($(
        $(#[doc = $doc:literal])*
        $var:ident $({ $($p:ident = $default:literal),* })?: $name:literal, $kind:ident, |$x:ident| $f:expr,
            onnx [$($op:literal $([$($sel:tt)*])?),*], tract [$($tract:literal),*];
    )*) => {
        /// The real function tabulated by a lookup: plain requantization or
        /// an entry of the activation table (see the module docs).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum LookupFn {
            /// Plain requantization: `T[i] = i`.
            Identity,
            $($(#[doc = $doc])* $var $({ $($p: Param),* })?,)*
        }

        impl LookupFn {
            /// Every function (parameters at their defaults), the identity
            /// first.
            pub const ALL: &'static [LookupFn] =
                &[LookupFn::Identity, $(LookupFn::$var $({ $($p: Param::new($default)),* })?,)*];
            /// The activations (parameters at their defaults): every
            /// function but the identity.
            pub const ACTIVATIONS: &'static [LookupFn] =
                &[$(LookupFn::$var $({ $($p: Param::new($default)),* })?,)*];
            /// Every ONNX op type some activation is spelled as.
            pub const ONNX_OPS: &'static [&'static str] = &[$($($op,)*)*];

            /// The function's name (its head in rewrite rules; see
            /// [`LookupFn::key`] for the name with parameters).
            pub fn name(self) -> &'static str {
                match self {
                    LookupFn::Identity => "identity",
                    $(LookupFn::$var { .. } => $name,)*
                }
            }

            /// The real function, in f64 with `libm` (portable; see the
            /// module docs).
            pub fn apply_f64(self, x: f64) -> f64 {
                match self {
                    LookupFn::Identity => x,
                    $(LookupFn::$var $({ $($p),* })? => {
                        let $x = x;
                        $($(let $p = $p.get();)*)?
                        $f
                    })*
                }
            }

            /// The parameters, by name (their ONNX attribute names).
            pub fn params(self) -> Vec<(&'static str, f64)> {
                match self {
                    LookupFn::Identity => vec![],
                    $(LookupFn::$var $({ $($p),* })? => vec![$($((stringify!($p), $p.get())),*)?],)*
                }
            }

            /// The same function with the parameters `get` gives (by
            /// name); the others keep their values.
            pub fn with_params(self, get: impl Fn(&str) -> Option<f32>) -> LookupFn {
                let _ = &get;
                match self {
                    LookupFn::Identity => LookupFn::Identity,
                    $(LookupFn::$var $({ $($p),* })? => LookupFn::$var $({ $($p: get(stringify!($p)).map(Param::new).unwrap_or($p)),* })?,)*
                }
            }

            /// The table domain the function reads.
            pub fn domain_kind(self) -> DomainKind {
                match self {
                    LookupFn::Identity => DomainKind::Linear,
                    $(LookupFn::$var { .. } => DomainKind::$kind,)*
                }
            }

            /// The ONNX spellings of the function.
            pub fn onnx(self) -> &'static [OnnxForm] {
                match self {
                    LookupFn::Identity => &[],
                    $(LookupFn::$var { .. } => &[$(onnx_form!($op $([$($sel)*])?)),*],)*
                }
            }

            /// The names of tract's elementwise ops that compute the
            /// function (what tract's expansions of other ONNX ops emit).
            pub fn tract_names(self) -> &'static [&'static str] {
                match self {
                    LookupFn::Identity => &[],
                    $(LookupFn::$var { .. } => &[$($tract),*],)*
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
    /// `x` for `x ≥ 0`, `α(eˣ − 1)` below.
    Elu { alpha = 1.0 }: "elu", Linear, |x| if x >= 0.0 { x } else { alpha * libm::expm1(x) },
        onnx ["Elu"], tract [];
    /// `γ·x` for `x > 0`, `γ·α(eˣ − 1)` below.
    Selu { alpha = 1.673_263_2, gamma = 1.050_701 }: "selu", Linear,
        |x| gamma * if x > 0.0 { x } else { alpha * libm::expm1(x) },
        onnx ["Selu"], tract [];
    /// `max(0, x) + min(0, α(e^(x/α) − 1))`.
    Celu { alpha = 1.0 }: "celu", Linear, |x| x.max(0.0) + (alpha * libm::expm1(x / alpha)).min(0.0),
        onnx ["Celu"], tract [];
    /// `x` for `x ≥ 0`, `α·x` below.
    LeakyRelu { alpha = 0.01 }: "leaky_relu", Linear, |x| if x >= 0.0 { x } else { alpha * x },
        onnx ["LeakyRelu"], tract [];
    /// `x` for `x > α`, 0 otherwise.
    ThresholdedRelu { alpha = 1.0 }: "thresholded_relu", Linear, |x| if x > alpha { x } else { 0.0 },
        onnx ["ThresholdedRelu"], tract [];
    /// `max(0, min(1, α·x + β))`.
    HardSigmoid { alpha = 0.2, beta = 0.5 }: "hard_sigmoid", Linear,
        |x| (alpha * x + beta).clamp(0.0, 1.0),
        onnx ["HardSigmoid"], tract [];
    /// `x · max(0, min(1, x/6 + ½))`.
    HardSwish: "hard_swish", Linear, |x| x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
        onnx ["HardSwish"], tract ["HardSwish"];
    /// `x / (1 + |x|)`.
    Softsign: "softsign", Linear, |x| x / (1.0 + x.abs()),
        onnx ["Softsign"], tract [];
    /// `x · tanh(ln(1 + eˣ))`.
    Mish: "mish", Linear, |x| x * libm::tanh(libm::log1p(libm::exp(x))),
        onnx ["Mish"], tract [];
    /// `x + bias` below `−λ`, `x − bias` above `λ`, 0 between.
    Shrink { bias = 0.0, lambd = 0.5 }: "shrink", Linear,
        |x| if x < -lambd { x + bias } else if x > lambd { x - bias } else { 0.0 },
        onnx ["Shrink"], tract [];
    /// −1, 0 or 1.
    Sign: "sign", Linear, |x| if x > 0.0 { 1.0 } else if x < 0.0 { -1.0 } else { 0.0 },
        onnx ["Sign"], tract ["Sign"];
    Sin: "sin", Linear, |x| libm::sin(x), onnx ["Sin"], tract ["Sin"];
    Cos: "cos", Linear, |x| libm::cos(x), onnx ["Cos"], tract ["Cos"];
    Tan: "tan", Linear, |x| libm::tan(x), onnx ["Tan"], tract ["Tan"];
    Asin: "asin", Linear, |x| libm::asin(x), onnx ["Asin"], tract ["Asin"];
    Acos: "acos", Linear, |x| libm::acos(x), onnx ["Acos"], tract ["Acos"];
    Atan: "atan", Linear, |x| libm::atan(x), onnx ["Atan"], tract ["Atan"];
    Sinh: "sinh", Linear, |x| libm::sinh(x), onnx ["Sinh"], tract ["Sinh"];
    Cosh: "cosh", Linear, |x| libm::cosh(x), onnx ["Cosh"], tract ["Cosh"];
    Asinh: "asinh", Linear, |x| libm::asinh(x), onnx ["Asinh"], tract ["Asinh"];
    Acosh: "acosh", Linear, |x| libm::acosh(x), onnx ["Acosh"], tract ["Acosh"];
    Atanh: "atanh", Linear, |x| libm::atanh(x), onnx ["Atanh"], tract ["Atanh"];
    Floor: "floor", Linear, |x| libm::floor(x), onnx ["Floor"], tract ["Floor"];
    Ceil: "ceil", Linear, |x| libm::ceil(x), onnx ["Ceil"], tract ["Ceil"];
    /// Round half to even (ONNX `Round`).
    Round: "round", Linear, |x| libm::rint(x), onnx ["Round"], tract ["Round"];
    /// 1 for `x > 0`, else 0 (Heaviside step; comparisons themselves are
    /// exact range checks, see the quantizer's lowering).
    Step: "step", Linear, |x| if x > 0.0 { 1.0 } else { 0.0 }, onnx [], tract [];
    /// 1 for `x ≥ 0`, else 0.
    StepEq: "step_eq", Linear, |x| if x >= 0.0 { 1.0 } else { 0.0 }, onnx [], tract [];
    /// 1 for `x = 0`, else 0.
    IsZero: "is_zero", Linear, |x| if x == 0.0 { 1.0 } else { 0.0 }, onnx [], tract [];
    /// `x^p` for a constant exponent `p` (ONNX `Pow` by a constant other
    /// than 2, 3 or ½; negative bases where `p` is an integer).
    PowConst { exponent = 1.0 }: "pow_const", Linear, |x| libm::pow(x, exponent), onnx [], tract [];
}

impl LookupFn {
    /// The function of a text-form name, parameters at their defaults.
    pub fn from_name(name: &str) -> Option<LookupFn> {
        LookupFn::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// The name with the parameters, `leaky_relu(alpha=0.01)` (just the
    /// name without parameters): the function's identity in the text form
    /// and in the rewrite stage's registry. f32 values print in their
    /// shortest exact form, so [`LookupFn::from_key`] gets the same bits
    /// back.
    pub fn key(self) -> String {
        let params = self.params();
        if params.is_empty() {
            return self.name().to_string();
        }
        let list: Vec<String> = params.iter().map(|(n, v)| format!("{n}={:?}", *v as f32)).collect();
        format!("{}({})", self.name(), list.join(","))
    }

    /// The function of a [`LookupFn::key`].
    pub fn from_key(key: &str) -> Option<LookupFn> {
        let (name, args) = match key.split_once('(') {
            Some((n, rest)) => (n, rest.strip_suffix(')')?),
            None => (key, ""),
        };
        let mut values = vec![];
        for a in args.split(',').filter(|a| !a.is_empty()) {
            let (n, v) = a.split_once('=')?;
            values.push((n, v.parse::<f32>().ok()?));
        }
        let f =
            LookupFn::from_name(name)?.with_params(|p| values.iter().find(|(n, _)| *n == p).map(|(_, v)| *v));
        (f.key() == key).then_some(f)
    }

    /// The activation an ONNX node denotes, given its op type and readers
    /// of its string and float attributes (absent parameters take their
    /// ONNX defaults).
    pub fn from_onnx(
        op: &str,
        attr: impl Fn(&str) -> Option<String>,
        float: impl Fn(&str) -> Option<f32>,
    ) -> Option<LookupFn> {
        LookupFn::ACTIVATIONS
            .iter()
            .copied()
            .find(|f| f.onnx().iter().any(|form| form.matches(op, &attr)))
            .map(|f| f.with_params(float))
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
