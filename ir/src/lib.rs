//! The zkml intermediate representation.
//!
//! A model is a [`Graph`]: a DAG of [`Node`]s, each applying an [`Op`] to
//! earlier nodes' outputs. Every value carries a [`Fact`] (static shape and
//! element type) and the ONNX name it came from. Each op has shape/type
//! inference (where validation happens), an f32 reference evaluator, and a
//! text form ([`Graph::to_text`]). A [`plan::Plan`] is a graph serialised to
//! the versioned, hashed, mmap-friendly plan format.
//!
//! See `docs/architecture.md` for where the IR sits in the pipeline.

pub mod codec;
mod dtype;
mod error;
pub mod graph;
pub mod ops;
pub mod plan;
pub mod shape;
mod tensor;
mod text;

pub use dtype::{DType, Fact, QType};
pub use error::{IrError, OpError, PlanError};
pub use graph::{Graph, Node, Value, ValueId};
pub use ops::{Op, OpDef};
pub use plan::Plan;
pub use tensor::{Tensor, TensorData};
