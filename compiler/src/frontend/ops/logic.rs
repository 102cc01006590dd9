//! Selection (`Where`), which carries causal masks.

use super::{Ctx, Registry};
use crate::FrontendError;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::logic::Iff;
use zkml_ir::ValueId;
use zkml_ir::ops::logic::Where;

pub(super) const ONNX: &[&str] = &["Where"];

pub(super) fn register(r: &mut Registry) {
    r.insert::<Iff>(iff);
}

fn iff(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    Ok(vec![ctx.add(&node.name, Where, args)?])
}
