//! The float-level normalisation ops against their textbook formulas,
//! written out independently here (the frontend reaches these semantics
//! through tract's decompositions, which the ONNX node tests cover; these
//! ops are what the rewrite stage will pattern-match into).

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use zkml_ir::ops::nn::{BatchNorm, LayerNorm, RmsNorm, Softmax};
use zkml_ir::{Fact, OpDef, Tensor};

fn t(shape: &[usize], v: Vec<f32>) -> Tensor {
    Tensor::from_f32(shape, v).unwrap()
}

fn close(a: &[f32], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (*x as f64 - y).abs() <= 1e-5 * (1.0 + y.abs()))
}

proptest! {
    #[test]
    fn softmax_rows(rows in 1usize..4, cols in 1usize..6, v in proptest::collection::vec(-20f32..20.0, 24)) {
        let x = t(&[rows, cols], v[..rows * cols].to_vec());
        // axis 0 and axis 1
        for axis in 0..2 {
            let y = Softmax { axis }.eval(&[&x]).unwrap().remove(0);
            let mut want = vec![0f64; rows * cols];
            let (outer, inner) = if axis == 1 { (rows, cols) } else { (cols, rows) };
            for o in 0..outer {
                let idx = |i: usize| if axis == 1 { o * cols + i } else { i * cols + o };
                let m = (0..inner).map(|i| v[idx(i)] as f64).fold(f64::MIN, f64::max);
                let z: f64 = (0..inner).map(|i| (v[idx(i)] as f64 - m).exp()).sum();
                for i in 0..inner { want[idx(i)] = (v[idx(i)] as f64 - m).exp() / z; }
            }
            prop_assert!(close(y.as_f32().unwrap(), &want));
        }
    }

    #[test]
    fn layer_norm_and_rms_norm(v in proptest::collection::vec(-5f32..5.0, 12), g in proptest::collection::vec(0.5f32..2.0, 4), b in proptest::collection::vec(-1f32..1.0, 4)) {
        let x = t(&[3, 4], v.clone());
        let (gt, bt) = (t(&[4], g.clone()), t(&[4], b.clone()));
        let eps = 1e-5f64;
        let ln = LayerNorm { axis: 1, eps: eps as f32 }.eval(&[&x, &gt, &bt]).unwrap().remove(0);
        let rms = RmsNorm { axis: 1, eps: eps as f32 }.eval(&[&x, &gt]).unwrap().remove(0);
        let (mut want_ln, mut want_rms) = (vec![], vec![]);
        for r in 0..3 {
            let row: Vec<f64> = v[r * 4..r * 4 + 4].iter().map(|&x| x as f64).collect();
            let mean = row.iter().sum::<f64>() / 4.0;
            let var = row.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 4.0;
            let ms = row.iter().map(|x| x * x).sum::<f64>() / 4.0;
            for i in 0..4 {
                want_ln.push((row[i] - mean) / (var + eps).sqrt() * g[i] as f64 + b[i] as f64);
                want_rms.push(row[i] / (ms + eps).sqrt() * g[i] as f64);
            }
        }
        prop_assert!(close(ln.as_f32().unwrap(), &want_ln));
        prop_assert!(close(rms.as_f32().unwrap(), &want_rms));
    }
}

#[test]
fn batch_norm_per_channel() {
    let x = t(&[1, 2, 2], vec![1.0, 2.0, 3.0, 4.0]);
    let p = |a: f32, b: f32| t(&[2], vec![a, b]);
    let y = BatchNorm { eps: 0.0 }
        .eval(&[&x, &p(2.0, 3.0), &p(0.5, -0.5), &p(1.0, 3.0), &p(4.0, 1.0)])
        .unwrap()
        .remove(0);
    // channel 0: (x - 1) / 2 * 2 + 0.5; channel 1: (x - 3) / 1 * 3 - 0.5
    assert_eq!(y.as_f32().unwrap(), &[0.5, 1.5, -0.5, 2.5]);
    assert!(
        BatchNorm { eps: 0.0 }
            .infer(&[&x.fact(), &Fact::f32([3]), &Fact::f32([2]), &Fact::f32([2]), &Fact::f32([2])])
            .is_err()
    );
}
