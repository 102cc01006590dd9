//! `zkc`, the zkml compiler: ONNX in, proving plan out.
//!
//! Stages (each can be printed with `zkc dump --stage <name>`):
//! 1. [`frontend`]: tract-onnx loads the model, fixes input shapes, folds
//!    shape arithmetic; the typed tract graph is mapped into the zkml IR.
//! 2. [`rewrite`]: e-graph rewriting to the provable op set;
//! 3. [`quantize`]: calibration and fixed point ([`pipeline`] chains 2-3);
//! 4. [`partition`]: colored partitions of the proving work.
//!
//! The plan is written by [`zkml_ir::Plan`].

pub mod decoder;
pub mod error;
pub mod frontend;
pub mod partition;
pub mod pipeline;
pub mod quantize;
pub mod report;
pub mod rewrite;

pub use error::FrontendError;
pub use frontend::{AssumedDim, FrontendOptions, load_onnx, load_onnx_noted};
