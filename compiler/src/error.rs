//! Typed errors of the compiler library (the `zkc` binary adds context).

use zkml_ir::IrError;

#[derive(Debug, thiserror::Error)]
pub enum FrontendError {
    #[error("cannot read '{path}': {error}")]
    Io { path: String, error: std::io::Error },
    #[error("'{path}' is not a valid ONNX model (protobuf decoding failed: {reason})")]
    Corrupt { path: String, reason: String },
    #[error(
        "unsupported op: node '{node}' is a {domain}{op_type} (opset {opset}); zkml proves: {supported}; \
         and accepts on constants only (shape arithmetic, masks, folded at compile time): {}",
        crate::frontend::ops::CONSTANT_ONLY_ONNX.join(", ")
    )]
    UnsupportedOp { node: String, op_type: String, domain: String, opset: i64, supported: String },
    #[error("the model has no input named '{name}' (inputs: {inputs})")]
    UnknownInput { name: String, inputs: String },
    #[error("bad --input-shape '{0}': expected name=d1,d2,… with positive integers")]
    BadShapeSpec(String),
    #[error("input '{name}' has no fixed shape ({fact}); give one with --input-shape {name}=d1,d2,…")]
    SymbolicInput { name: String, fact: String },
    #[error("the model does not type-check with these input shapes: {0}")]
    Shapes(String),
    #[error("tract could not load the model: {0}")]
    Tract(String),
    #[error("node '{node}': {message}")]
    Lowering { node: String, message: String },
    #[error(
        "tensor '{name}' of shape {shape:?} needs {bytes} bytes, beyond the memory budget of {budget} bytes \
         (raise it with --max-memory, or give smaller input shapes)"
    )]
    TooLarge { name: String, shape: Vec<usize>, bytes: u128, budget: u64 },
    #[error(transparent)]
    Ir(#[from] IrError),
}
