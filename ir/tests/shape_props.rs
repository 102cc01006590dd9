//! Property tests of shape inference (einsum, broadcasting, reshape,
//! transpose) against direct definitions.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use zkml_ir::ops::binary::{Binary, BinaryOp};
use zkml_ir::ops::einsum::Einsum;
use zkml_ir::ops::layout::{Reshape, Transpose};
use zkml_ir::{Fact, OpDef, Tensor};

fn fill(shape: &[usize], seed: u32) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_f32(shape, (0..n).map(|i| ((i as u32 * 7 + seed) % 13) as f32 - 6.0).collect()).unwrap()
}

/// An output shape and two operand shapes that broadcast to it: each
/// operand drops some leading axes and replaces some dims by 1.
fn broadcastable() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, Vec<usize>)> {
    proptest::collection::vec(1usize..4, 0..5)
        .prop_flat_map(|out| {
            let r = out.len();
            (Just(out), 0..=r, 0..=r, proptest::collection::vec(any::<(bool, bool)>(), r))
        })
        .prop_map(|(out, da, db, ones)| {
            let a = out.iter().enumerate().skip(da).map(|(i, &d)| if ones[i].0 { 1 } else { d }).collect();
            let b = out.iter().enumerate().skip(db).map(|(i, &d)| if ones[i].1 { 1 } else { d }).collect();
            (out, a, b)
        })
}

proptest! {
    #[test]
    fn broadcast_infer_and_eval_follow_numpy((out, a, b) in broadcastable()) {
        let op = Binary { op: BinaryOp::Sub };
        let f = op.infer(&[&Fact::f32(a.clone()), &Fact::f32(b.clone())]).unwrap();
        // The inferred shape: max rank, right-aligned, per axis the non-1 dim
        // (which is `out`'s trailing dims when some operand keeps them).
        let rank = a.len().max(b.len());
        let want: Vec<usize> = (0..rank).map(|i| {
            let pick = |s: &[usize]| { let off = rank - s.len(); if i >= off { s[i - off] } else { 1 } };
            pick(&a).max(pick(&b))
        }).collect();
        prop_assert!(want.iter().zip(&out[out.len() - rank..]).all(|(w, o)| w == o || *w == 1));
        prop_assert_eq!(&f[0].shape, &want);
        // Evaluation: element at multi-index i is a[i mod a] - b[i mod b].
        let (ta, tb) = (fill(&a, 1), fill(&b, 5));
        let r = op.eval(&[&ta, &tb]).unwrap().remove(0);
        let (va, vb, vr) = (ta.as_f32().unwrap(), tb.as_f32().unwrap(), r.as_f32().unwrap());
        prop_assert_eq!(vr.len(), want.iter().product::<usize>());
        for (lin, &got) in vr.iter().enumerate() {
            let mut idx = vec![0; want.len()];
            let mut rest = lin;
            for k in (0..want.len()).rev() { idx[k] = rest % want[k]; rest /= want[k]; }
            let at = |s: &[usize], v: &[f32]| {
                let off = want.len() - s.len();
                let mut p = 0;
                for (k, &d) in s.iter().enumerate() { p = p * d + if d == 1 { 0 } else { idx[off + k] }; }
                v[p]
            };
            prop_assert_eq!(got, at(&a, va) - at(&b, vb));
        }
    }

    #[test]
    fn broadcast_rejects_conflicting_dims(d1 in 2usize..5, d2 in 2usize..5, lead in 1usize..3) {
        prop_assume!(d1 != d2);
        let op = Binary { op: BinaryOp::Add };
        prop_assert!(op.infer(&[&Fact::f32([lead, d1]), &Fact::f32([d2])]).is_err());
    }

    #[test]
    fn einsum_infers_letter_sizes(sizes in proptest::collection::vec(1usize..4, 4), perm in 0usize..6) {
        // "ab,bc->.." with the output a permutation of {a, c, d?}: contraction over b.
        let outs = ["ac", "ca", "a", "c", "", "ac"];
        let eq = format!("ab,bc->{}", outs[perm]);
        let op = Einsum::new(&eq).unwrap();
        let (a, b, c) = (sizes[0], sizes[1], sizes[2]);
        let f = op.infer(&[&Fact::f32([a, b]), &Fact::f32([b, c])]).unwrap();
        let want: Vec<usize> = outs[perm].chars().map(|l| if l == 'a' { a } else { c }).collect();
        prop_assert_eq!(&f[0].shape, &want);
        // A contracted size mismatch is refused.
        prop_assert!(op.infer(&[&Fact::f32([a, b]), &Fact::f32([b + 1, c])]).is_err());
        // Evaluation agrees with the kernels' reference.
        let (ta, tb) = (fill(&[a, b], 2), fill(&[b, c], 3));
        let got = op.eval(&[&ta, &tb]).unwrap().remove(0);
        let spec = op.spec().unwrap();
        let want_v = zkml_kernels::reference::einsum(&spec, &[ta.as_f32().unwrap(), tb.as_f32().unwrap()], &[&[a, b], &[b, c]]);
        prop_assert_eq!(got.as_f32().unwrap(), &want_v[..]);
    }

    #[test]
    fn reshape_accepts_exactly_equal_sizes(from in proptest::collection::vec(1usize..5, 0..4), to in proptest::collection::vec(1usize..5, 0..4)) {
        let op = Reshape { shape: to.clone() };
        let ok = op.infer(&[&Fact::f32(from.clone())]).is_ok();
        prop_assert_eq!(ok, from.iter().product::<usize>() == to.iter().product::<usize>());
        if ok {
            let t = fill(&from, 9);
            let r = op.eval(&[&t]).unwrap().remove(0);
            prop_assert_eq!(r.shape(), &to[..]);
            prop_assert_eq!(r.as_f32().unwrap(), t.as_f32().unwrap());
        }
    }

    #[test]
    fn transpose_then_inverse_is_identity(shape in proptest::collection::vec(1usize..4, 1..5), seed in any::<u64>()) {
        let r = shape.len();
        let mut perm: Vec<usize> = (0..r).collect();
        for i in 0..r { perm.swap(i, (seed as usize >> (3 * i)) % r); }
        let mut inv = vec![0; r];
        for (i, &p) in perm.iter().enumerate() { inv[p] = i; }
        let t = fill(&shape, 4);
        let f = Transpose { perm: perm.clone() }.infer(&[&t.fact()]).unwrap();
        prop_assert_eq!(&f[0].shape, &perm.iter().map(|&p| shape[p]).collect::<Vec<_>>());
        let once = Transpose { perm }.eval(&[&t]).unwrap().remove(0);
        let back = Transpose { perm: inv }.eval(&[&once]).unwrap().remove(0);
        prop_assert_eq!(back, t);
    }
}

#[test]
fn transpose_rejects_non_permutations() {
    let f = Fact::f32([2, 3]);
    assert!(Transpose { perm: vec![0, 0] }.infer(&[&f]).is_err());
    assert!(Transpose { perm: vec![0] }.infer(&[&f]).is_err());
    assert!(Transpose { perm: vec![0, 2] }.infer(&[&f]).is_err());
}
