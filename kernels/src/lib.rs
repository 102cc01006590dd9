//! Hot loops of zkml, each in two mirrored versions:
//!
//! * [`reference`]: the naive definition, written for obviousness, used as the
//!   oracle in tests;
//! * [`cpu`]: the optimised CPU version (layout changes, blocking, rayon).
//!
//! Every optimised kernel has a reference twin with the same file name, and a
//! test (property test where the inputs are cheap to generate) asserting the
//! two agree. A CUDA backend will sit beside `cpu/` behind a feature.
//!
//! Kernels work on flat row-major slices plus shapes: they know nothing about
//! graphs, facts or errors of the IR. Shape validation is the caller's job
//! (the IR's shape inference); kernels `debug_assert!` their preconditions.

pub mod cpu;
pub mod einsum_spec;
pub mod reference;
mod scalar;

pub use einsum_spec::{EinsumError, EinsumSpec};
pub use scalar::Scalar;

/// Row-major strides of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}
