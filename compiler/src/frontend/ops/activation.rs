//! Activations: the ONNX spellings and tract names of every entry of the
//! IR's activation table ([`zkml_ir::ops::activation`]) lower to one
//! float-level unary op of that function.
//!
//! tract expands several activations (Softplus, Gelu, HardSigmoid, …) into
//! primitives before we see its typed graph; we would then have to
//! recognise each expansion again. Instead, the ONNX op types the table
//! declares are parsed by [`register_onnx`] into [`TableActivation`], a
//! tract elementwise op that evaluates the table's own formula (so tract's
//! shape inference and constant folding still work), and lowered here by
//! name. Activations that tract's expansions of *other* ops emit (`Rsqrt`
//! in a normalisation, `Silu`) are recognised by their tract names.

use super::{Ctx, Registry, fail};
use crate::FrontendError;
use tract_onnx::model::{OnnxOpRegister, ParsingContext};
use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::element_wise::{ElementWiseMiniOp, ElementWiseOp};
use tract_onnx::tract_hir::internal::{InferenceOp, bail};
use tract_onnx::tract_hir::ops::element_wise::ElementWiseIntoHir;
use zkml_ir::ValueId;
use zkml_ir::ops::logic::{Logic, LogicOp};
use zkml_ir::ops::lookup::LookupFn;
use zkml_ir::ops::unary::{Unary, UnaryOp};

/// The ONNX op types of the table.
pub(super) const ONNX: &[&str] = LookupFn::ONNX_OPS;

pub(super) fn register(r: &mut Registry) {
    r.insert::<ElementWiseOp>(lower);
}

/// Parses every ONNX op type of the table into [`TableActivation`],
/// replacing tract's own parser (and its expansion) for those types.
pub fn register_onnx(ops: &mut OnnxOpRegister) {
    for &op in LookupFn::ONNX_OPS {
        ops.insert(op, parse);
    }
}

fn parse(_: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let attr = |name: &str| node.get_attr_opt::<String>(name).ok().flatten();
    // A parameter given with the wrong type is an error, never its default.
    for &f in LookupFn::ACTIVATIONS.iter().filter(|f| f.onnx().iter().any(|form| form.op == node.op_type)) {
        for (p, _) in f.params() {
            if let Err(e) = node.get_attr_opt::<f32>(p) {
                bail!("{} node {:?}: attribute {p}: {e:#}", node.op_type, node.name);
            }
        }
    }
    let float = |name: &str| node.get_attr_opt::<f32>(name).ok().flatten();
    let Some(func) = LookupFn::from_onnx(&node.op_type, attr, float) else {
        bail!(
            "{} node {:?}: no form of the activation table matches its attributes",
            node.op_type,
            node.name
        );
    };
    Ok((ElementWiseOp(Box::new(TableActivation(func)), None).into_hir(), vec![]))
}

/// A tract elementwise op computing one function of the activation table
/// in f32 (the float graph's semantics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableActivation(pub LookupFn);

impl ElementWiseMiniOp for TableActivation {
    fn name(&self) -> String {
        format!("zkml.{}", self.0.name())
    }
    /// In place in f32; other float types round-trip through f32.
    fn eval_in_place(&self, t: &mut Tensor, _: Option<DatumType>) -> TractResult<()> {
        let dt = t.datum_type();
        let mut x = t.cast_to::<f32>()?.into_owned();
        x.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?.iter_mut().for_each(|v| *v = self.0.apply(*v));
        *t = x.cast_to_dt(dt)?.into_owned();
        Ok(())
    }
}

/// Lowers a tract elementwise op: a table activation (ours, or tract's own
/// op of that name) or one of the non-tabulated unary ops.
fn lower(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let op = node.op_as::<ElementWiseOp>().ok_or_else(|| fail(node, "not an elementwise op"))?;
    if let Some(out) = super::quant::quantize_elementwise(ctx, node, op, args)? {
        return Ok(out);
    }
    let u = if let Some(TableActivation(f)) = op.0.downcast_ref::<TableActivation>() {
        UnaryOp::Fn(*f)
    } else {
        let name = op.0.name();
        match LookupFn::from_tract(&name) {
            Some(f) => UnaryOp::Fn(f),
            None => match name.as_str() {
                "Square" => UnaryOp::Square,
                "Neg" => UnaryOp::Neg,
                "Not" => return Ok(vec![ctx.add(&node.name, Logic { op: LogicOp::Not }, args)?]),
                other => return Err(fail(node, format!("elementwise op {other} is not supported"))),
            },
        }
    };
    Ok(vec![ctx.add(&node.name, Unary { op: u }, args)?])
}
