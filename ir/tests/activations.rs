//! The activation table against independent definitions: every entry must
//! have an oracle here (std's f64 maths or published values, never the
//! table's own `libm` formula), so adding an activation means adding its
//! oracle too.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use zkml_ir::ops::activation::{DomainKind, LookupFn};
use zkml_ir::ops::unary::{Unary, UnaryOp};
use zkml_ir::{OpDef, Tensor};

/// `erf` by its Maclaurin series for |x| < 2, and for |x| ≥ 2 as
/// `1 - erfc(x)` with erfc's continued fraction
/// `e^(-x²)/√π · 1/(x + ½/(x + 1/(x + 3⁄2/(x + …))))`, which avoids the
/// series' cancellation for large |x|.
fn erf(x: f64) -> f64 {
    let sqrt_pi = std::f64::consts::PI.sqrt();
    if x.abs() >= 2.0 {
        let a = x.abs();
        let mut cf = a;
        for k in (1..=80).rev() {
            cf = a + f64::from(k) / 2.0 / cf;
        }
        let erfc = (-a * a).exp() / sqrt_pi / cf;
        return (1.0 - erfc).copysign(x);
    }
    let (mut term, mut sum, mut n) = (x, x, 0.0);
    while term.abs() > 1e-18 * sum.abs().max(1e-300) {
        n += 1.0;
        term *= -x * x / n;
        sum += term / (2.0 * n + 1.0);
    }
    2.0 / sqrt_pi * sum
}

/// An independent definition of each activation (std's f64 maths), with
/// its parameters as the function carries them.
fn oracle(f: LookupFn) -> Option<Box<dyn Fn(f64) -> f64>> {
    let p = |name: &str| f.params().iter().find(|(n, _)| *n == name).map(|(_, v)| *v).expect("parameter");
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    let softplus = |v: f64| v.max(0.0) + (1.0 + (-v.abs()).exp()).ln();
    Some(match f.name() {
        "relu" => Box::new(|v: f64| if v > 0.0 { v } else { 0.0 }),
        "gelu" => Box::new(|v: f64| 0.5 * v * (1.0 + erf(v / 2f64.sqrt()))),
        "gelu_tanh" => Box::new(|v: f64| {
            0.5 * v * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v.powi(3))).tanh())
        }),
        "silu" => Box::new(move |v: f64| v * sig(v)),
        "sigmoid" => Box::new(sig),
        "tanh" => Box::new(f64::tanh),
        "exp" => Box::new(f64::exp),
        "erf" => Box::new(erf),
        "sqrt" => Box::new(f64::sqrt),
        "reciprocal" => Box::new(f64::recip),
        "rsqrt" => Box::new(|v: f64| v.powf(-0.5)),
        // ln(1 + eˣ) = max(x, 0) + ln(1 + e^-|x|), stable for large |x|.
        "softplus" => Box::new(softplus),
        "log" => Box::new(f64::ln),
        "abs" => Box::new(|v: f64| if v < 0.0 { -v } else { v }),
        "elu" => {
            let a = p("alpha");
            Box::new(move |v: f64| if v < 0.0 { a * (v.exp() - 1.0) } else { v })
        }
        "selu" => {
            let (a, g) = (p("alpha"), p("gamma"));
            Box::new(move |v: f64| if v <= 0.0 { g * a * (v.exp() - 1.0) } else { g * v })
        }
        "celu" => {
            let a = p("alpha");
            Box::new(move |v: f64| v.max(0.0) + (a * ((v / a).exp() - 1.0)).min(0.0))
        }
        "leaky_relu" => {
            let a = p("alpha");
            Box::new(move |v: f64| if v < 0.0 { a * v } else { v })
        }
        "thresholded_relu" => {
            let a = p("alpha");
            Box::new(move |v: f64| if v > a { v } else { 0.0 })
        }
        "hard_sigmoid" => {
            let (a, b) = (p("alpha"), p("beta"));
            Box::new(move |v: f64| step01(a * v + b))
        }
        "hard_swish" => Box::new(|v: f64| v * step01(v / 6.0 + 0.5)),
        "softsign" => Box::new(|v: f64| v / (1.0 + v.abs())),
        "mish" => Box::new(move |v: f64| v * softplus(v).tanh()),
        "shrink" => {
            let (b, l) = (p("bias"), p("lambd"));
            Box::new(move |v: f64| {
                if v < -l {
                    v + b
                } else if v > l {
                    v - b
                } else {
                    0.0
                }
            })
        }
        "sign" => Box::new(|v: f64| if v == 0.0 { 0.0 } else { v.signum() }),
        "sin" => Box::new(f64::sin),
        "cos" => Box::new(f64::cos),
        "tan" => Box::new(f64::tan),
        "asin" => Box::new(f64::asin),
        "acos" => Box::new(f64::acos),
        "atan" => Box::new(f64::atan),
        "sinh" => Box::new(f64::sinh),
        "cosh" => Box::new(f64::cosh),
        "asinh" => Box::new(f64::asinh),
        "acosh" => Box::new(f64::acosh),
        "atanh" => Box::new(f64::atanh),
        "floor" => Box::new(f64::floor),
        "ceil" => Box::new(f64::ceil),
        "round" => Box::new(f64::round_ties_even),
        "step" => Box::new(|v: f64| f64::from(u8::from(v > 0.0))),
        "step_eq" => Box::new(|v: f64| f64::from(u8::from(v >= 0.0))),
        "is_zero" => Box::new(|v: f64| f64::from(u8::from(v == 0.0))),
        "pow_const" => {
            let e = p("exponent");
            Box::new(move |v: f64| v.powf(e))
        }
        _ => return None,
    })
}

/// `t` limited to `[0, 1]` (written out: the table uses `clamp`).
#[allow(clippy::manual_clamp)]
fn step01(t: f64) -> f64 {
    if t < 0.0 {
        0.0
    } else if t > 1.0 {
        1.0
    } else {
        t
    }
}

/// Equal, or both NaN (outside the function's domain), within `tol`
/// relative.
fn same(got: f64, want: f64, tol: f64) -> bool {
    (got.is_nan() && want.is_nan()) || got == want || (got - want).abs() <= tol * (1.0 + want.abs())
}

/// Points inside every function's domain (the log-domain functions take
/// positive inputs).
fn points(f: LookupFn) -> Vec<f64> {
    match f.domain_kind() {
        DomainKind::Linear => {
            vec![-6.0, -3.0, -1.5, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.25, 0.5, 0.7, 1.0, 1.5, 2.5, 6.0]
        }
        DomainKind::Log => vec![1e-4, 1e-2, 0.3, 1.0, 2.0, 17.0, 1e4],
    }
}

#[test]
fn every_activation_matches_its_oracle() {
    for &f in LookupFn::ACTIVATIONS {
        let g = oracle(f).unwrap_or_else(|| panic!("{}: no oracle in this test", f.name()));
        for x in points(f) {
            let (got, want) = (f.apply_f64(x), g(x));
            assert!(same(got, want, 1e-12), "{}({x}) = {got}, want {want}", f.name());
            // The float graph's f32 evaluation is the same function.
            let y = Unary { op: UnaryOp::Fn(f) }.eval(&[&Tensor::scalar_f32(x as f32)]).unwrap().remove(0);
            let want32 = g(f64::from(x as f32));
            let y = f64::from(y.as_f32().unwrap()[0]);
            assert!(same(y, want32, 1e-6), "{} f32({x}) = {y}, want {want32}", f.name());
        }
    }
}

/// Parameters come from the ONNX attributes, keep their exact f32 bits
/// through the text key, and change the function.
#[test]
fn parameters_round_trip() {
    let f = LookupFn::from_onnx("LeakyRelu", |_| None, |n| (n == "alpha").then_some(0.3)).unwrap();
    assert_eq!(f.key(), "leaky_relu(alpha=0.3)");
    assert_eq!(LookupFn::from_key(&f.key()), Some(f));
    assert!((f.apply_f64(-2.0) - -0.6).abs() < 1e-6);
    let default = LookupFn::from_onnx("LeakyRelu", |_| None, |_| None).unwrap();
    assert_ne!(default, f);
    assert!((default.apply_f64(-2.0) - -0.02).abs() < 1e-6);
    for &f in LookupFn::ALL {
        assert_eq!(LookupFn::from_key(&f.key()), Some(f), "{}", f.key());
    }
    assert_eq!(LookupFn::from_key("leaky_relu(alpha=x)"), None);
    assert_eq!(LookupFn::from_key("relu(alpha=1)"), None);
    assert_eq!(LookupFn::from_key("nothing"), None);
}

#[test]
fn published_values() {
    // erf(0.5), erf(-3) (Abramowitz & Stegun 7.1); GELU(1) exact and tanh form.
    let cases = [
        (LookupFn::Erf, 0.5, 0.520_499_877_8),
        (LookupFn::Erf, -3.0, -0.999_977_909_5),
        (LookupFn::Gelu, 1.0, 0.841_344_746_1),
        (LookupFn::GeluTanh, 1.0, 0.841_191_990_6),
    ];
    for (f, x, want) in cases {
        assert!((f.apply_f64(x) - want).abs() < 1e-9, "{}({x})", f.name());
    }
}

#[test]
fn names_and_spellings_are_unambiguous() {
    let mut names = HashSet::new();
    let mut tract = HashSet::new();
    for &f in LookupFn::ALL {
        assert!(names.insert(f.name()), "duplicate name {}", f.name());
        assert_eq!(LookupFn::from_name(f.name()), Some(f));
        for t in f.tract_names() {
            assert!(tract.insert(*t), "tract name {t} claimed twice");
            assert_eq!(LookupFn::from_tract(t), Some(f));
        }
    }
    // Every ONNX form selects its own function and no other.
    for &f in LookupFn::ACTIVATIONS {
        for form in f.onnx() {
            let attr = |name: &str| form.select.filter(|s| s.0 == name).map(|s| s.1.to_string());
            assert_eq!(LookupFn::from_onnx(form.op, attr, |_| None), Some(f), "{form:?}");
            assert!(LookupFn::ONNX_OPS.contains(&form.op));
        }
    }
    // ONNX Gelu: the attribute selects the form, its absence the default.
    let none = |_: &str| None::<f32>;
    assert_eq!(LookupFn::from_onnx("Gelu", |_| None, none), Some(LookupFn::Gelu));
    assert_eq!(LookupFn::from_onnx("Gelu", |_| Some("tanh".into()), none), Some(LookupFn::GeluTanh));
    assert_eq!(LookupFn::from_onnx("Gelu", |_| Some("cubic".into()), none), None);
    assert_eq!(LookupFn::from_onnx("Conv", |_| None, none), None);
}
