//! Optimised CPU kernels. Each has a twin of the same name in
//! [`crate::reference`] and a test asserting they agree.

mod einsum;
mod matmul;
mod transpose;

pub use einsum::{einsum, einsum2};
pub use matmul::{matmul, matmul_bt};
pub use transpose::transpose;
