//! Naive reference kernels: the definitions the optimised kernels are tested
//! against. Clarity over speed; accumulation in f64 so that the oracle is
//! more accurate than what it checks.

mod einsum;
mod matmul;
mod transpose;

pub use einsum::{einsum, einsum_exact};
pub use matmul::{matmul, matmul_bt};
pub use transpose::transpose;
