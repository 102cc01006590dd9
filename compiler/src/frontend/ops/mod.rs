//! Lowering of tract typed ops into zkml IR ops: one file per op family,
//! every family registered in [`FAMILIES`].
//!
//! Each family file declares
//! * `ONNX`: the ONNX op types whose tract translation it lowers (this is
//!   the supported-op table that unsupported models are checked against);
//! * `register`: the builders, keyed by the tract op's Rust type.

mod activation;
mod array;
mod cnn;
mod einsum;
mod element_wise;
mod logic;
mod nn;
mod reduce;

pub use activation::register_onnx;

use crate::FrontendError;
use std::any::TypeId;
use std::collections::HashMap;
use tract_onnx::prelude::*;
use zkml_ir::{DType, Fact, Graph, Op, ValueId};

/// A family of ops: its ONNX op types and its builder registration.
struct Family {
    onnx: &'static [&'static str],
    register: fn(&mut Registry),
}

/// The one table of op families.
const FAMILIES: &[Family] = &[
    Family { onnx: einsum::ONNX, register: einsum::register },
    Family { onnx: element_wise::ONNX, register: element_wise::register },
    Family { onnx: activation::ONNX, register: activation::register },
    Family { onnx: logic::ONNX, register: logic::register },
    Family { onnx: array::ONNX, register: array::register },
    Family { onnx: reduce::ONNX, register: reduce::register },
    Family { onnx: nn::ONNX, register: nn::register },
    Family { onnx: cnn::ONNX, register: cnn::register },
];

/// ONNX op types that only produce constants or are no-ops at inference;
/// tract folds them, so no builder is needed.
const FOLDED_ONNX: &[&str] =
    &["Constant", "ConstantOfShape", "Identity", "Shape", "Size", "Range", "Dropout", "CastLike"];

/// ONNX op types the frontend accepts that are proven only where they
/// compute on constants (shape arithmetic, masks built from positions),
/// which tract folds before lowering: computing on the input they have no
/// provable form, and `zkc compile` refuses them naming the node.
pub const CONSTANT_ONLY_ONNX: &[&str] =
    &["Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "ReduceProd"];

/// The supported ONNX op types that are proven wherever they occur, sorted.
pub fn provable_onnx_ops() -> Vec<&'static str> {
    supported_onnx_ops().into_iter().filter(|op| !CONSTANT_ONLY_ONNX.contains(op)).collect()
}

/// Every accepted ONNX op type, sorted: [`provable_onnx_ops`] and
/// [`CONSTANT_ONLY_ONNX`].
pub fn supported_onnx_ops() -> Vec<&'static str> {
    let mut v: Vec<&str> =
        FAMILIES.iter().flat_map(|f| f.onnx.iter().copied()).chain(FOLDED_ONNX.iter().copied()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Lowers one tract node given its lowered inputs; returns one value per
/// node output.
pub type Builder = fn(&mut Ctx, &TypedNode, &[ValueId]) -> Result<Vec<ValueId>, FrontendError>;

/// Builders by tract op type.
#[derive(Debug)]
pub struct Registry(HashMap<TypeId, Builder>);

impl Registry {
    pub fn new() -> Self {
        let mut r = Registry(HashMap::new());
        for f in FAMILIES {
            (f.register)(&mut r);
        }
        r
    }
    pub fn insert<T: 'static>(&mut self, b: Builder) {
        self.0.insert(TypeId::of::<T>(), b);
    }
    pub fn lower(
        &self,
        ctx: &mut Ctx,
        node: &TypedNode,
        args: &[ValueId],
    ) -> Result<Vec<ValueId>, FrontendError> {
        let any = tract_onnx::tract_core::internal::tract_downcast_rs::Downcast::as_any(&*node.op);
        let ty = any.type_id();
        // An identity is transparent whatever its type.
        if node.op.name() == "Identity" && args.len() == 1 {
            return Ok(vec![args[0]]);
        }
        // Inference-mode dropout (no ratio or training-mode input, no mask
        // output) is the identity; tract-onnx's op type is private, so it
        // is recognised by name.
        if node.op.name() == "Dropout" && args.len() == 1 && node.outputs.len() == 1 {
            return Ok(vec![args[0]]);
        }
        let b = self.0.get(&ty).ok_or_else(|| FrontendError::Lowering {
            node: node.name.clone(),
            message: format!("tract op {} has no zkml lowering", node.op.name()),
        })?;
        b(ctx, node, args)
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

/// Lowering state: the IR graph under construction and the tract model.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub graph: Graph,
    pub model: &'a TypedModel,
}

impl<'a> Ctx<'a> {
    pub fn new(model: &'a TypedModel) -> Self {
        Ctx { graph: Graph::new(), model }
    }
    /// Adds a single-output node.
    pub fn add(
        &mut self,
        name: &str,
        op: impl Into<Op>,
        inputs: &[ValueId],
    ) -> Result<ValueId, FrontendError> {
        Ok(ValueId::new(self.graph.add_node(name, op, inputs)?, 0))
    }
    pub fn fact(&self, v: ValueId) -> &Fact {
        self.graph.fact(v).expect("lowered values exist")
    }
    /// The constant value of a node input, if tract knows it.
    pub fn konst(&self, node: &TypedNode, input: usize) -> Option<Arc<Tensor>> {
        let o = node.inputs.get(input)?;
        self.model.outlet_fact(*o).ok()?.konst.clone()
    }
    /// The node's (single) output shape, as tract computed it.
    pub fn out_shape(&self, node: &TypedNode) -> Result<Vec<usize>, FrontendError> {
        node.outputs[0]
            .fact
            .shape
            .as_concrete()
            .map(|s| s.to_vec())
            .ok_or_else(|| fail(node, "output shape is not concrete"))
    }
}

/// A lowering error about `node`.
pub fn fail(node: &TypedNode, msg: impl Into<String>) -> FrontendError {
    FrontendError::Lowering { node: node.name.clone(), message: msg.into() }
}

/// Maps a tract element type to the IR's.
fn ir_dtype(dt: DatumType) -> Result<DType, String> {
    Ok(match dt {
        DatumType::F32 | DatumType::F16 | DatumType::F64 => DType::F32,
        DatumType::Bool => DType::Bool,
        DatumType::I8 | DatumType::I16 | DatumType::I32 | DatumType::I64 => DType::I64,
        // u64 values ≥ 2^63 do not fit; they are refused when converted.
        DatumType::U8 | DatumType::U16 | DatumType::U32 | DatumType::U64 | DatumType::TDim => DType::I64,
        other => return Err(format!("element type {other:?} is not supported")),
    })
}

/// Maps a typed tract fact (with a concrete shape) to an IR fact.
pub fn ir_fact(f: &TypedFact) -> Result<Fact, String> {
    let shape = f.shape.as_concrete().ok_or_else(|| format!("shape {:?} is not concrete", f.shape))?;
    Ok(Fact::new(ir_dtype(f.datum_type)?, shape.to_vec()))
}

/// Converts a tract tensor to an IR tensor (casting to f32/i64/bool).
pub fn ir_tensor(t: &Tensor) -> Result<zkml_ir::Tensor, String> {
    let e = |e: TractError| format!("{e:#}");
    let shape = t.shape().to_vec();
    let r = match ir_dtype(t.datum_type())? {
        DType::F32 => {
            let c = t.cast_to::<f32>().map_err(e)?;
            zkml_ir::Tensor::from_f32(
                shape,
                c.try_as_plain_ram().map_err(e)?.as_slice::<f32>().map_err(e)?.to_vec(),
            )
        }
        DType::Bool => {
            let v = t.try_as_plain_ram().map_err(e)?.as_slice::<bool>().map_err(e)?.to_vec();
            zkml_ir::Tensor::new(shape, zkml_ir::TensorData::Bool(v))
        }
        _ => {
            if t.datum_type() == DatumType::U64 {
                let v = t.try_as_plain_ram().map_err(e)?;
                if v.as_slice::<u64>().map_err(e)?.iter().any(|&x| x > i64::MAX as u64) {
                    return Err("u64 value does not fit in i64".into());
                }
            }
            let c = t.cast_to::<i64>().map_err(e)?;
            zkml_ir::Tensor::from_i64(
                shape,
                c.try_as_plain_ram().map_err(e)?.as_slice::<i64>().map_err(e)?.to_vec(),
            )
        }
    };
    r.map_err(|e| e.to_string())
}

/// Values of a constant integer input (axes, starts, …).
pub fn konst_i64(ctx: &Ctx, node: &TypedNode, input: usize) -> Result<Vec<i64>, FrontendError> {
    let t = ctx.konst(node, input).ok_or_else(|| fail(node, format!("input {input} must be a constant")))?;
    let t = ir_tensor(&t).map_err(|m| fail(node, m))?;
    t.as_i64().map(|v| v.to_vec()).map_err(|m| fail(node, m.to_string()))
}
