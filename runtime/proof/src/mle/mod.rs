//! Multilinear extensions over the hypercube (see the crate docs for the
//! index convention), with parallel implementations. Each function has a
//! naive twin in [`reference`] that the tests compare against.
//!
//! * `fix_first` — `g(x') = f(r, x') = f(0, x') + r·(f(1, x') − f(0, x'))`;
//! * `evaluate` — `f(z) = Σ_x f(x) · eq(x, z)`, computed by successive folds;
//! * `eq_table` — `eq(x, z) = Π_k (x_k z_k + (1 − x_k)(1 − z_k))` for all `x`.

pub mod reference;

use crate::{EF, F};
use p3_field::{Algebra, Field, PrimeCharacteristicRing};
use rayon::prelude::*;

/// Below this many output elements, threads cost more than they save.
const PAR_MIN: usize = 1 << 12;

/// Fixes the first variable of `f` (base or extension field) to `r`.
pub fn fix_first<T>(f: &[T], r: EF) -> Vec<EF>
where
    T: Field,
    EF: Algebra<T>,
{
    let half = f.len() / 2;
    let (lo, hi) = f.split_at(half);
    let fold = |(&l, &h): (&T, &T)| r * (h - l) + l;
    if half >= PAR_MIN {
        lo.par_iter().zip(hi.par_iter()).map(fold).collect()
    } else {
        lo.iter().zip(hi.iter()).map(fold).collect()
    }
}

/// Fixes the first variable in place (extension field tables).
pub fn fix_first_in_place(f: &mut Vec<EF>, r: EF) {
    let half = f.len() / 2;
    let (lo, hi) = f.split_at_mut(half);
    let fold = |(l, &h): (&mut EF, &EF)| *l += r * (h - *l);
    if half >= PAR_MIN {
        lo.par_iter_mut().zip(hi.par_iter()).for_each(fold);
    } else {
        lo.iter_mut().zip(hi.iter()).for_each(fold);
    }
    f.truncate(half);
}

/// `f(z)` for a table of `2^z.len()` base-field values.
pub fn evaluate(f: &[F], z: &[EF]) -> EF {
    assert_eq!(f.len(), 1 << z.len(), "table size must be 2^(number of variables)");
    let Some((&first, rest)) = z.split_first() else { return EF::from(f[0]) };
    let mut t = fix_first(f, first);
    for &r in rest {
        fix_first_in_place(&mut t, r);
    }
    t[0]
}

/// `f(z)` for an extension-field table.
pub fn evaluate_ext(f: &[EF], z: &[EF]) -> EF {
    assert_eq!(f.len(), 1 << z.len(), "table size must be 2^(number of variables)");
    let mut t = f.to_vec();
    for &r in z {
        fix_first_in_place(&mut t, r);
    }
    t[0]
}

/// The table `x ↦ eq(x, z)` (index convention: variable 0 is the MSB).
pub fn eq_table(z: &[EF]) -> Vec<EF> {
    let mut t = Vec::with_capacity(1 << z.len());
    t.push(EF::ONE);
    for &zk in z {
        // Each step appends a new least-significant variable.
        let next: Vec<EF> = if t.len() >= PAR_MIN {
            t.par_iter()
                .flat_map_iter(|&v| {
                    let hi = v * zk;
                    [v - hi, hi]
                })
                .collect()
        } else {
            t.iter()
                .flat_map(|&v| {
                    let hi = v * zk;
                    [v - hi, hi]
                })
                .collect()
        };
        t = next;
    }
    t
}

/// `eq(x, y) = Π_k (x_k y_k + (1 − x_k)(1 − y_k))` at two points.
pub fn eq_eval(x: &[EF], y: &[EF]) -> EF {
    assert_eq!(x.len(), y.len());
    x.iter().zip(y).map(|(&a, &b)| a * b + (EF::ONE - a) * (EF::ONE - b)).product()
}
