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

/// An independent definition of each activation, by name.
fn oracle(name: &str) -> Option<fn(f64) -> f64> {
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    Some(match name {
        "relu" => |v: f64| if v > 0.0 { v } else { 0.0 },
        "gelu" => |v: f64| 0.5 * v * (1.0 + erf(v / 2f64.sqrt())),
        "gelu_tanh" => |v: f64| {
            0.5 * v * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v.powi(3))).tanh())
        },
        "silu" => |v: f64| v * (1.0 / (1.0 + (-v).exp())),
        "sigmoid" => sig,
        "tanh" => f64::tanh,
        "exp" => f64::exp,
        "erf" => erf,
        "sqrt" => f64::sqrt,
        "reciprocal" => f64::recip,
        "rsqrt" => |v: f64| v.powf(-0.5),
        // ln(1 + eˣ) = max(x, 0) + ln(1 + e^-|x|), stable for large |x|.
        "log" => f64::ln,
        "abs" => |v: f64| if v < 0.0 { -v } else { v },
        "softplus" => |v: f64| v.max(0.0) + (1.0 + (-v.abs()).exp()).ln(),
        _ => return None,
    })
}

/// Points inside every function's domain (the log-domain functions take
/// positive inputs).
fn points(f: LookupFn) -> Vec<f64> {
    match f.domain_kind() {
        DomainKind::Linear => vec![-6.0, -3.0, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.25, 0.7, 1.0, 2.5, 6.0],
        DomainKind::Log => vec![1e-4, 1e-2, 0.3, 1.0, 2.0, 17.0, 1e4],
    }
}

#[test]
fn every_activation_matches_its_oracle() {
    for &f in LookupFn::ACTIVATIONS {
        let g = oracle(f.name()).unwrap_or_else(|| panic!("{}: no oracle in this test", f.name()));
        for x in points(f) {
            let (got, want) = (f.apply_f64(x), g(x));
            assert!(
                (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
                "{}({x}) = {got}, want {want}",
                f.name()
            );
            // The float graph's f32 evaluation is the same function.
            let y = Unary { op: UnaryOp::Fn(f) }.eval(&[&Tensor::scalar_f32(x as f32)]).unwrap().remove(0);
            let want32 = g(f64::from(x as f32));
            let y = f64::from(y.as_f32().unwrap()[0]);
            assert!(
                (y - want32).abs() <= 1e-6 * (1.0 + want32.abs()),
                "{} f32({x}) = {y}, want {want32}",
                f.name()
            );
        }
    }
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
            assert_eq!(LookupFn::from_onnx(form.op, attr), Some(f), "{form:?}");
            assert!(LookupFn::ONNX_OPS.contains(&form.op));
        }
    }
    // ONNX Gelu: the attribute selects the form, its absence the default.
    assert_eq!(LookupFn::from_onnx("Gelu", |_| None), Some(LookupFn::Gelu));
    assert_eq!(LookupFn::from_onnx("Gelu", |_| Some("tanh".into())), Some(LookupFn::GeluTanh));
    assert_eq!(LookupFn::from_onnx("Gelu", |_| Some("cubic".into())), None);
    assert_eq!(LookupFn::from_onnx("Conv", |_| None), None);
}
