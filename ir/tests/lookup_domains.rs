//! Table domains against their definitions: the floating-point (log)
//! domain's row of `q` stands for a value within relative 2^-d of `q·s`,
//! rows are monotone in `q`, and a power-of-two requantization is exact.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use zkml_ir::ops::lookup::{LogDomain, MAX_ROWS, Requant};

fn domain(mantissa: u8, max_exp: u8) -> LogDomain {
    LogDomain { scale: 0.5, mantissa, max_exp }
}

proptest! {
    #[test]
    fn log_rows_approximate_their_inputs(q in 1i64..(1 << 40), d in 4u8..=12) {
        let l = domain(d, 40);
        let v = l.value(l.row(q));
        let want = q as f64 * 0.5;
        prop_assert!(((v - want) / want).abs() <= 2f64.powi(-i32::from(d)), "q {q}: {v} vs {want}");
        // Below 2^d the row is the integer itself: exact.
        if q < (1 << d) {
            prop_assert_eq!(v, want);
        }
    }

    #[test]
    fn log_rows_are_monotone_and_in_range(a in -5i64..(1 << 45), b in -5i64..(1 << 45), d in 4u8..=12) {
        let l = domain(d, 30);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(l.row(lo) <= l.row(hi));
        prop_assert!(l.row(hi) < l.rows());
    }

    #[test]
    fn power_of_two_requantization_is_a_rounded_shift(q in -(1i64 << 61)..(1i64 << 61), k in 1u8..40) {
        let r = Requant::approximating(2f64.powi(-i32::from(k)), 62).unwrap();
        prop_assert_eq!(r, Requant { mult: 1, shift: k });
        let want = (q as i128 + (1i128 << (k - 1))) >> k;
        prop_assert_eq!(r.apply(q), want);
    }
}

#[test]
fn log_domain_sizes() {
    // 2^d rows for the exact part, 2^(d-1) per exponent.
    assert_eq!(domain(12, 24).rows(), 4096 + 24 * 2048);
    assert!(domain(12, 24).rows() <= MAX_ROWS);
    assert_eq!(domain(4, 0).row(0), 0);
    assert_eq!(domain(4, 0).row(-7), 0);
    assert_eq!(domain(4, 2).row(1 << 20), domain(4, 2).rows() - 1, "beyond max_exp saturates");
}
