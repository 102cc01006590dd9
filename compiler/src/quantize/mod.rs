//! Post-training quantization of the rewritten (provable-core) graph.
//!
//! Files: `options.rs` (settings and their bounds), `calibration.rs`
//! (ranges over sample inputs), `domains.rs` (scale algebra, table domains,
//! per-tensor weights), `rules.rs` (the walk and each op's fixed-point
//! form), `lower.rs` (integers and booleans as scale-1 values; exact
//! comparisons, logic, selection, casts, `max`/`min` lowered into the
//! core); this file holds the errors and the entry point's types.
//!
//! **Calibration** runs the float graph on sample inputs and records, for
//! every value, the range seen (`absmax` is its largest magnitude). **Quantization** then
//! walks the graph once, in order, and gives every value a fixed-point type
//! `q·s` (symmetric, per tensor):
//!
//! * model inputs and table outputs: `bits` wide, `s = absmax / (2^(bits-1) - 1)`;
//!   integer inputs used as numbers and boolean inputs: `s = 1` (integer
//!   ids that index a table keep their plain integer type);
//! * constants: `weight_bits` wide per tensor; a constant whose nonzero
//!   entries all have one magnitude `m` (masks, `1/n` vectors, scalars) is
//!   stored exactly as `{-1, 0, 1} · m`;
//! * `einsum`, `mul`: exact, scales multiply, widths grow by the worst case;
//!   operands wider than `bits` are first requantized (an identity lookup);
//! * `add`/`sub`/`concat`/`max`: `add` operands wider than `bits` are
//!   first requantized (so residual streams do not widen layer after
//!   layer); then operands are brought to one scale, exactly
//!   (multiplying by an integer ratio) when the scales allow it, else by
//!   requantizing the finer one; a constant addend is rounded to the other
//!   operand's scale (a bias joins its accumulator exactly);
//! * `lookup`: its input is taken as is, however wide: the table's own
//!   multiplier/shift requantizes it to a `domain_bits` domain fitted to the
//!   input's calibrated range (cut where the function is flat at the
//!   output's precision: `exp` far below its maximum), and the output gets
//!   `bits` bits (a ReLU's output keeps its domain's type: `max(y, 0)` is
//!   then exact and proven without a table). `rsqrt`, `reciprocal` and `sqrt` of never-negative
//!   inputs read a floating-point domain instead (exponent and top
//!   mantissa bits of the input integer; see `zkml_ir::ops::lookup::Domain`);
//! * graph outputs wider than `bits` are requantized.
//!
//! Every width is checked against the 62-bit exact range by the IR's type
//! inference: a model whose ranges cannot fit is an error naming the node.

mod calibration;
mod domains;
mod lower;
mod options;
mod rules;

pub use calibration::Calibration;
pub use domains::quantize_tensor;
use domains::*;
pub use lower::lowered_cost;
pub use options::{HEADROOM, QuantOptions, WIDE_BITS};
pub use rules::quantize;

use crate::rewrite::non_core;
use std::collections::HashMap;
use zkml_ir::ops::binary::{Binary, BinaryOp, same_scale};
use zkml_ir::ops::lookup::{
    Domain, DomainKind, LogDomain, Lookup, LookupFn, LookupQuant, MAX_ROWS, Requant, TableSpec,
};
use zkml_ir::ops::source::{Const, Input};
use zkml_ir::{DType, Fact, Graph, IrError, Op, QType, Tensor, TensorData, ValueId};

/// Errors of calibration and quantization.
#[derive(Debug, thiserror::Error)]
pub enum QuantError {
    #[error("bit width {0} is not supported (choose 4..=16 for activations, 2..=16 for weights)")]
    Bits(u8),
    #[error("headroom {0} is not supported (choose a factor in 1..=1024)")]
    Headroom(f32),
    #[error(
        "node {id} '{name}' ({op}) is not provable: no rewrite brings it into the provable core ({})",
        zkml_protocol::provable::provable_ops()
    )]
    NotCore { id: usize, name: String, op: String },
    #[error("calibration: {0}")]
    Calibration(String),
    /// A value or constant that has no fixed-point form (an internal
    /// inconsistency or a range beyond 62 bits).
    #[error("{0}")]
    Form(String),
    #[error("quantizing node {id} '{name}' ({op}): {msg}")]
    Node { id: usize, name: String, op: String, msg: String },
    #[error(transparent)]
    Ir(#[from] IrError),
}

/// A quantized graph and, for each value of the float graph it came from
/// that has a quantized counterpart, that counterpart (for per-layer error
/// reports).
#[derive(Debug)]
pub struct Quantized {
    pub graph: Graph,
    pub values: Vec<(ValueId, ValueId)>,
}

/// A failure inside one node's quantization (given context by the caller).
enum Step {
    Ir(IrError),
    Msg(String),
}

impl From<IrError> for Step {
    fn from(e: IrError) -> Self {
        Step::Ir(e)
    }
}

impl From<QuantError> for Step {
    fn from(e: QuantError) -> Self {
        match e {
            QuantError::Ir(e) => Step::Ir(e),
            other => Step::Msg(other.to_string()),
        }
    }
}
