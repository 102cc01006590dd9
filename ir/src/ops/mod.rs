//! The IR's op set, one file per family, all registered in [`op_table!`].
//!
//! Every op implements [`OpDef`]: a text name and attributes (the text form),
//! shape/type inference (where validation happens: a graph only ever holds
//! nodes whose inference succeeded), and an f32 reference evaluator.
//!
//! Two strata live in one enum:
//! * the **provable core** that the rewrite stage targets: `Input`, `Const`,
//!   `Einsum`, `Lookup`, elementwise `Add/Sub/Mul`, layout ops and sums;
//! * **float-level** ops that exist between the frontend and the rewrite
//!   stage (`Relu`, `Softmax`, `Conv`, …), which the rewriter lowers into the
//!   core.

use crate::{Fact, OpError, Tensor};
use serde::{Deserialize, Serialize};

pub mod activation;
pub mod binary;
pub mod cnn;
pub mod einsum;
pub mod layout;
pub mod logic;
pub mod lookup;
pub mod nn;
pub mod quant;
pub mod reduce;
pub mod source;
pub mod unary;

/// Behaviour every op provides.
pub trait OpDef {
    /// Name in the text form, e.g. `einsum`.
    fn name(&self) -> &'static str;
    /// Attributes in the text form, in a fixed order.
    fn attrs(&self) -> Vec<(&'static str, String)> {
        vec![]
    }
    /// Output facts for these input facts; refuses anything invalid.
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError>;
    /// Reference semantics. Inputs satisfy [`OpDef::infer`].
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError>;
}

macro_rules! op_table {
    ($($variant:ident($ty:ty),)*) => {
        /// One IR operation (see the module docs for the op set).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub enum Op { $($variant($ty),)* }

        impl Op {
            /// The op's behaviour.
            pub fn def(&self) -> &dyn OpDef {
                match self { $(Op::$variant(o) => o,)* }
            }
        }

        $(impl From<$ty> for Op {
            fn from(o: $ty) -> Op { Op::$variant(o) }
        })*
    };
}

op_table! {
    Input(source::Input),
    Const(source::Const),
    Einsum(einsum::Einsum),
    Lookup(lookup::Lookup),
    Binary(binary::Binary),
    Unary(unary::Unary),
    Cast(unary::Cast),
    Clip(unary::Clip),
    Compare(logic::Compare),
    Where(logic::Where),
    Reshape(layout::Reshape),
    Transpose(layout::Transpose),
    Slice(layout::Slice),
    Concat(layout::Concat),
    Split(layout::Split),
    Gather(layout::Gather),
    Pad(layout::Pad),
    Expand(layout::Expand),
    Reduce(reduce::Reduce),
    Softmax(nn::Softmax),
    LayerNorm(nn::LayerNorm),
    RmsNorm(nn::RmsNorm),
    BatchNorm(nn::BatchNorm),
    Conv(cnn::Conv),
    MaxPool(cnn::MaxPool),
    AveragePool(cnn::AveragePool),
    Im2Col(cnn::Im2Col),
    Logic(logic::Logic),
    Arg(reduce::Arg),
    TopK(reduce::TopK),
    QuantizeLinear(quant::QuantizeLinear),
}

impl Op {
    /// Evaluates with integer inputs of any storage width (see
    /// [`TensorData`](crate::TensorData)): ops that only move data take
    /// narrow storage as it is and keep it (a gathered embedding row stays
    /// 16-bit); every other op sees `i64`. Callers evaluating graphs use
    /// this, not [`OpDef::eval`].
    pub fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let moves = matches!(
            self,
            Op::Reshape(_) | Op::Transpose(_) | Op::Slice(_) | Op::Split(_) | Op::Gather(_) | Op::Expand(_)
        );
        let narrow =
            |t: &Tensor| t.dtype() == crate::DType::I64 && !matches!(t.data(), crate::TensorData::I64(_));
        if moves || !inputs.iter().any(|t| narrow(t)) {
            return self.def().eval(inputs);
        }
        let wide: Vec<Tensor> = inputs.iter().map(|t| t.widened()).collect();
        self.def().eval(&wide.iter().collect::<Vec<_>>())
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.def();
        write!(f, "{}", d.name())?;
        let attrs = d.attrs();
        if !attrs.is_empty() {
            let a: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            write!(f, "[{}]", a.join(", "))?;
        }
        Ok(())
    }
}

/// Formats a list for attributes: `[1,2,3]`.
pub(crate) fn list<T: std::fmt::Display>(v: &[T]) -> String {
    format!("[{}]", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(","))
}

/// Maps every f32 of a tensor through `f`.
pub(crate) fn map_f32(t: &Tensor, f: impl Fn(f32) -> f32) -> Result<Tensor, OpError> {
    Tensor::from_f32(t.shape(), t.as_f32()?.iter().map(|&x| f(x)).collect())
}

/// Requires all inputs to be `f32`.
pub(crate) fn expect_f32(inputs: &[&Fact], op: &str) -> Result<(), OpError> {
    for (i, f) in inputs.iter().enumerate() {
        if f.dtype != crate::DType::F32 {
            crate::bail_op!("{op} input {i} must be f32, got {}", f.dtype);
        }
    }
    Ok(())
}
