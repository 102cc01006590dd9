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
pub mod decoder;
mod dtype;
mod error;
pub mod graph;
pub mod ops;
pub mod partition;
pub mod plan;
pub mod shape;
mod size;
mod tensor;
mod text;

pub use decoder::{Decoder, GenerationError};
pub use dtype::{DType, Fact, QType};
pub use error::{
    IrError, OpError, PlanError, chain_message, last_panic, panic_message, quiet_panics, run_main,
};
pub use graph::{Graph, Node, Value, ValueId, id_bounds};
pub use ops::{Op, OpDef};
pub use partition::{Partition, Partitioning};
pub use plan::Plan;
pub use size::parse_size;
pub use tensor::{Tensor, TensorData};

/// Checks that a computed tensor holds what its fact declares: the storage
/// type, and for quantized facts that every integer lies in the declared
/// bit range (so an overflow is reported at the node that made it, never
/// carried on as a silently wrapped value).
pub fn check_range(t: &Tensor, fact: &Fact) -> Result<(), OpError> {
    if t.dtype() != fact.dtype.storage() {
        bail_op!("computed {} data, the fact says {}", t.dtype(), fact.dtype);
    }
    // Checked in the storage width (no widened copy of a weight tensor).
    let overflow = |q: QType| {
        with_ints!(t.data(), v => v.iter().map(|&x| i64::from(x)).enumerate().find(|&(_, x)| !q.contains(x)))
            .flatten()
    };
    if let DType::Q(q) = fact.dtype
        && let Some((i, x)) = overflow(q)
    {
        bail_op!("value {x} at flat index {i} overflows the declared {} bits of {}", q.bits, fact.dtype);
    }
    Ok(())
}
