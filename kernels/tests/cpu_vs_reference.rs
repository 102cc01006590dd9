//! The optimised kernels agree with their reference twins on random inputs.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use proptest::prelude::*;
use zkml_kernels::{EinsumSpec, cpu, reference};

/// Relative to the largest magnitude of the oracle: the sums are reordered, so
/// an element-wise relative bound would be meaningless where terms cancel.
fn close(a: &[f32], b: &[f32]) -> bool {
    let scale = b.iter().fold(1e-6f32, |m, x| m.max(x.abs()));
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-5 * scale)
}

fn values(n: usize) -> impl Strategy<Value = Vec<f32>> {
    proptest::collection::vec(-4.0f32..4.0, n)
}

/// Random two-operand equation over up to 5 letters with sizes 1..4.
fn equation() -> impl Strategy<Value = (String, Vec<usize>)> {
    let letters = ['a', 'b', 'c', 'd', 'e'];
    (
        proptest::collection::vec(1usize..4, 5),
        proptest::collection::vec(0u8..4, 5), // 0: A only, 1: B only, 2: both, 3: absent
        proptest::collection::vec(any::<bool>(), 5), // in output?
        any::<u64>(),
    )
        .prop_map(move |(sizes, owner, in_out, shuffle)| {
            let (mut a, mut b, mut o) = (String::new(), String::new(), String::new());
            for i in 0..5 {
                let c = letters[i];
                if owner[i] == 0 || owner[i] == 2 {
                    a.push(c)
                }
                if owner[i] == 1 || owner[i] == 2 {
                    b.push(c)
                }
                if owner[i] != 3 && in_out[i] {
                    o.push(c)
                }
            }
            // permute the output letters deterministically from `shuffle`
            let mut o: Vec<char> = o.chars().collect();
            let len = o.len();
            for i in 0..len {
                let j = (shuffle as usize >> (i * 3)) % len.max(1);
                o.swap(i, j);
            }
            let o: String = o.into_iter().collect();
            (format!("{a},{b}->{o}"), sizes)
        })
}

proptest! {
    #[test]
    fn einsum_cpu_matches_reference((eq, sizes) in equation(), seed in any::<u32>()) {
        let spec = EinsumSpec::parse(&eq).unwrap();
        let shape_of = |t: &[char]| t.iter().map(|&c| sizes[(c as u8 - b'a') as usize]).collect::<Vec<_>>();
        let (sa, sb) = (shape_of(&spec.inputs[0]), shape_of(&spec.inputs[1]));
        let fill = |n: usize, s: u32| (0..n).map(|i| (((i as u32).wrapping_mul(2654435761) ^ s) % 17) as f32 - 8.0).collect::<Vec<f32>>();
        let a = fill(sa.iter().product(), seed);
        let b = fill(sb.iter().product(), seed.rotate_left(7));
        let want = reference::einsum(&spec, &[&a, &b], &[&sa, &sb]);
        let got = cpu::einsum(&spec, &[&a, &b], &[&sa, &sb]);
        prop_assert!(close(&got, &want), "{eq}: {got:?} vs {want:?}");
    }

    /// The integer path is exact: the optimised i64 kernel equals the i128
    /// definition bit for bit, including sums of products near 2^40.
    #[test]
    fn einsum_i64_cpu_is_exact((eq, sizes) in equation(), seed in any::<u32>()) {
        let spec = EinsumSpec::parse(&eq).unwrap();
        let shape_of = |t: &[char]| t.iter().map(|&c| sizes[(c as u8 - b'a') as usize]).collect::<Vec<_>>();
        let (sa, sb) = (shape_of(&spec.inputs[0]), shape_of(&spec.inputs[1]));
        let fill = |n: usize, s: u32| (0..n).map(|i| (((i as u32).wrapping_mul(2654435761) ^ s) >> 11) as i64 - (1 << 20)).collect::<Vec<i64>>();
        let a = fill(sa.iter().product(), seed);
        let b = fill(sb.iter().product(), seed.rotate_left(7));
        let want: Vec<i64> = reference::einsum_exact(&spec, &[&a, &b], &[&sa, &sb]).into_iter().map(|x| i64::try_from(x).unwrap()).collect();
        prop_assert_eq!(cpu::einsum(&spec, &[&a, &b], &[&sa, &sb]), want);
    }

    #[test]
    fn einsum_three_operands_match_reference(seed in any::<u32>()) {
        let spec = EinsumSpec::parse("ab,bc,cd->ad").unwrap();
        let (sa, sb, sc) = (vec![2, 3], vec![3, 4], vec![4, 2]);
        let fill = |n: usize, s: u32| (0..n).map(|i| (((i as u32).wrapping_mul(2654435761) ^ s) % 17) as f32 - 8.0).collect::<Vec<f32>>();
        let (a, b, c) = (fill(6, seed), fill(12, seed ^ 1), fill(8, seed ^ 2));
        let want = reference::einsum(&spec, &[&a, &b, &c], &[&sa, &sb, &sc]);
        prop_assert!(close(&cpu::einsum(&spec, &[&a, &b, &c], &[&sa, &sb, &sc]), &want));
    }

    #[test]
    fn matmul_cpu_matches_reference(batch in 1usize..3, m in 1usize..9, k in 1usize..9, n in 1usize..9, a in values(512), b in values(512)) {
        let a = &a[..batch * m * k];
        let b = &b[..batch * k * n];
        // Float sums in another order differ by rounding relative to the
        // terms' magnitude (k · 4 · 4), not to a result that may cancel to ~0.
        let (got, want) = (cpu::matmul(a, b, batch, m, k, n), reference::matmul(a, b, batch, m, k, n));
        let tol = 1e-5 * 16.0 * k as f32;
        prop_assert!(got.len() == want.len() && got.iter().zip(&want).all(|(x, y)| (x - y).abs() <= tol));
    }

    #[test]
    fn matmul_bt_cpu_matches_reference(batch in 1usize..3, m in 1usize..9, k in 0usize..9, n in 1usize..9, a in values(512), b in values(512)) {
        let a = &a[..batch * m * k];
        let b = &b[..batch * n * k];
        let got: Vec<f32> = cpu::matmul_bt(a, b, batch, m, k, n);
        let want = reference::matmul_bt(a, b, batch, m, k, n);
        let tol = 1e-5 * 16.0 * k.max(1) as f32;
        prop_assert!(got.len() == want.len() && got.iter().zip(&want).all(|(x, y)| (x - y).abs() <= tol));
    }

    /// Narrow operands (16- and 8-bit, as a plan stores weights) give
    /// exactly the `i64` result, on every equation shape, including the
    /// transposed-weight layout `einsum2` reads in place.
    #[test]
    fn einsum2_narrow_operands_are_exact((eq, sizes) in equation(), seed in any::<u32>()) {
        let spec = EinsumSpec::parse(&eq).unwrap();
        let shape_of = |t: &[char]| t.iter().map(|&c| sizes[(c as u8 - b'a') as usize]).collect::<Vec<_>>();
        let (sa, sb) = (shape_of(&spec.inputs[0]), shape_of(&spec.inputs[1]));
        let fill = |n: usize, s: u32| (0..n).map(|i| (((i as u32).wrapping_mul(2654435761) ^ s) >> 11) as i64 - (1 << 20)).collect::<Vec<i64>>();
        let a = fill(sa.iter().product(), seed);
        let b16: Vec<i16> = fill(sb.iter().product(), seed.rotate_left(7)).iter().map(|&x| (x >> 6) as i16).collect();
        let b8: Vec<i8> = b16.iter().map(|&x| (x >> 8) as i8).collect();
        for b in [b16.iter().map(|&x| x as i64).collect::<Vec<_>>(), b8.iter().map(|&x| x as i64).collect()] {
            let want: Vec<i64> = reference::einsum_exact(&spec, &[&a, &b], &[&sa, &sb]).into_iter().map(|x| i64::try_from(x).unwrap()).collect();
            if b.iter().all(|&x| i8::try_from(x).is_ok()) {
                let b8: Vec<i8> = b.iter().map(|&x| x as i8).collect();
                prop_assert_eq!(cpu::einsum2::<i64, _, _>(&spec, &a, &b8, &[&sa, &sb]), want.clone());
            }
            let b16: Vec<i16> = b.iter().map(|&x| x as i16).collect();
            prop_assert_eq!(cpu::einsum2::<i64, _, _>(&spec, &a, &b16, &[&sa, &sb]), want.clone());
            let a32: Vec<i32> = a.iter().map(|&x| x as i32).collect();
            prop_assert_eq!(cpu::einsum2::<i64, _, _>(&spec, &a32, &b16, &[&sa, &sb]), want);
        }
    }

    #[test]
    fn transpose_cpu_matches_reference(shape in proptest::collection::vec(1usize..5, 1..5), seed in any::<u64>()) {
        let n: usize = shape.iter().product();
        let data: Vec<u32> = (0..n as u32).collect();
        let mut perm: Vec<usize> = (0..shape.len()).collect();
        for i in 0..perm.len() { let j = (seed as usize >> (i * 4)) % perm.len(); perm.swap(i, j); }
        prop_assert_eq!(cpu::transpose(&data, &shape, &perm), reference::transpose(&data, &shape, &perm));
    }
}

#[test]
fn einsum_spec_rejects_bad_equations() {
    assert!(EinsumSpec::parse("ij,jk").is_err());
    assert!(EinsumSpec::parse("ii,jk->ik").is_err());
    assert!(EinsumSpec::parse("ij,jk->iz").is_err());
    assert!(EinsumSpec::parse("i1,jk->ik").is_err());
    let spec = EinsumSpec::parse("ij,jk->ik").unwrap();
    assert!(spec.output_shape(&[&[2, 3], &[4, 5]]).is_err());
    assert_eq!(spec.output_shape(&[&[2, 3], &[3, 5]]).unwrap(), vec![2, 5]);
}
