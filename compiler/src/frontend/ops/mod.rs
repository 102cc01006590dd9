//! Lowering of tract typed ops into zkml IR ops: one file per op family,
//! every family registered in [`FAMILIES`].
//!
//! Each family file declares
//! * `ONNX`: the ONNX op types whose tract translation it lowers (this is
//!   the supported-op table that unsupported models are checked against);
//! * `register`: the builders, keyed by the tract op's Rust type.

mod activation;
mod array;
mod attention;
mod cnn;
mod einsum;
mod element_wise;
mod indexing;
mod logic;
mod nn;
mod quant;
mod reduce;
mod resize;
mod scan;

use crate::FrontendError;
use std::any::TypeId;
use std::collections::HashMap;
use tract_onnx::prelude::*;
use zkml_ir::{DType, Fact, Graph, Op, ValueId};

/// Registers zkml's own ONNX parsers with tract's: the activation table
/// (see [`activation`]) and `Attention` (see [`attention`]).
pub fn register_onnx(ops: &mut tract_onnx::model::OnnxOpRegister) {
    activation::register_onnx(ops);
    attention::register_onnx(ops);
}

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
    Family { onnx: resize::ONNX, register: resize::register },
    Family { onnx: scan::ONNX, register: scan::register },
    Family { onnx: cnn::ONNX, register: cnn::register },
    Family { onnx: quant::ONNX, register: quant::register },
    Family { onnx: attention::ONNX, register: attention::register },
    Family { onnx: indexing::ONNX, register: indexing::register },
];

/// ONNX op types that only produce constants or are no-ops at inference;
/// tract folds them, so no builder is needed.
const FOLDED_ONNX: &[&str] =
    &["Constant", "ConstantOfShape", "Identity", "Shape", "Size", "Range", "Dropout", "CastLike", "EyeLike"];

/// ONNX op types the frontend accepts that are proven only where they
/// compute on constants (shape arithmetic, masks built from positions),
/// which tract folds before lowering: computing on the input they have no
/// provable form, and `zkc compile` refuses them naming the node.
pub const CONSTANT_ONLY_ONNX: &[&str] = &["ReduceProd"];

/// The supported ONNX op types that are proven wherever they occur, sorted.
pub fn provable_onnx_ops() -> Vec<&'static str> {
    supported_onnx_ops().into_iter().filter(|op| !CONSTANT_ONLY_ONNX.contains(op)).collect()
}

/// How each accepted ONNX op type (other than the activation table's) is
/// proven, for the supported-ops table (`docs/supported-ops.md`).
const PROVEN_AS: &[(&str, &str)] = &[
    ("Add", "elementwise add (linear)"),
    (
        "Attention",
        "einsums for the scores and the weighted values (grouped-query heads as a batch axis), a product with the scale, softmax; a −∞ mask (causal, boolean) becomes a 0/1 factor after exp",
    ),
    (
        "RotaryEmbedding",
        "the cos/sin caches gathered by position (embedding rows), products and sums, data movement",
    ),
    (
        "QuantizeLinear",
        "one requantization by s_x/scale into a saturating integer domain, the zero point added, exact ReLU clamps to the type (rounds half up: differs from half-to-even on exact ties only)",
    ),
    (
        "DequantizeLinear",
        "(q − q₀)·scale: a subtraction and a product with a constant (one scale per tensor)",
    ),
    (
        "QLinearMatMul",
        "a − a₀, b − b₀ as exact integers, an exact integer einsum, one requantization to the output type (as QuantizeLinear)",
    ),
    (
        "QLinearConv",
        "x − x₀, w − w₀ as exact integers, an exact integer convolution (im2col and an einsum) plus the int32 bias, one requantization to the output type",
    ),
    ("MatMulInteger", "the exact int32 accumulator: an einsum of (a − a₀) and (b − b₀) on scale-1 integers"),
    (
        "ConvInteger",
        "the exact int32 accumulator: a convolution of (x − x₀) and (w − w₀) on scale-1 integers",
    ),
    (
        "ArgMax",
        "m = max (committed differences), then the smallest index i + n·[m − x_i > 0] (a max of its negation); exact",
    ),
    ("ArgMin", "ArgMax of −x"),
    (
        "TopK",
        "k rounds of ArgMax: the max, its first index, then that entry pushed below every other; values and order proven",
    ),
    ("And", "a·b on 0/1 values"),
    ("Or", "a + b − a·b on 0/1 values"),
    ("Xor", "(a − b)² on 0/1 values"),
    ("Not", "1 − a on 0/1 values"),
    ("DepthToSpace", "data movement (reshape and transpose)"),
    ("GlobalMaxPool", "max reduction (committed differences)"),
    ("InstanceNormalization", "means as einsums, a `sqrt` table, a `reciprocal` table, products"),
    (
        "LpNormalization",
        "squares, a sum, a `sqrt` and a `reciprocal` table, a product (p = 2); absolute values and a sum (p = 1)",
    ),
    ("Mean", "elementwise adds and a product with 1/n"),
    ("MeanVarianceNormalization", "means as einsums, a `sqrt` table, a `reciprocal` table, products"),
    ("ReduceL1", "an `abs` table, then an einsum"),
    ("ReduceL2", "a product, an einsum, a `sqrt` table"),
    ("ReduceLogSum", "an einsum, then a `log` table"),
    ("ReduceLogSumExp", "an `exp` table, an einsum, a `log` table"),
    ("SpaceToDepth", "data movement (reshape and transpose)"),
    ("AveragePool", "im2col (data movement), then an einsum"),
    ("BatchNormalization", "folded into a per-channel product and sum"),
    ("Cast", "integers and booleans are scale-1 fixed point: the identity; to bool: (sign x)²"),
    ("CastLike", "folded at compile time"),
    ("Clip", "max and min, each an exact ReLU of a difference"),
    ("Concat", "data movement"),
    ("Constant", "folded at compile time"),
    (
        "ConvTranspose",
        "a convolution of the input with zeros inserted (data movement) and the kernel flipped (reversing slices); groups, dilations, output padding",
    ),
    ("ConstantOfShape", "folded at compile time"),
    ("EyeLike", "folded at compile time (it depends on the input's shape only)"),
    (
        "Conv",
        "im2col (data movement), then an einsum; 1-D to 4-D, dilations, groups (depthwise) with the group as a batch axis",
    ),
    ("Div", "by a constant: a product; by a tensor: a `reciprocal` table, then a product"),
    (
        "Dropout",
        "inference mode: the identity (mask: constant true); training mode with a nonzero ratio is refused",
    ),
    ("Einsum", "einsum (sumcheck)"),
    ("Equal", "exact on the fixed-point grid: 1 − sign(a − b)², the sign a saturating range check"),
    ("Expand", "data movement"),
    ("Flatten", "data movement (a relabelling)"),
    (
        "Gather",
        "by public ids from a constant table: embedding rows; by constant indices: data movement; by computed indices: exact comparisons with the positions (a one-hot), then an einsum",
    ),
    (
        "GatherElements",
        "constant indices: data movement (one gather by a constant source map); computed indices: a one-hot of exact comparisons, then an einsum",
    ),
    ("GatherND", "constant indices: data movement (one gather by a constant source map)"),
    (
        "ScatterElements",
        "constant indices, no reduction: data movement (one gather of data and updates by a constant source map)",
    ),
    ("Scatter", "as ScatterElements"),
    (
        "ScatterND",
        "constant indices, no reduction: data movement (one gather of data and updates by a constant source map)",
    ),
    ("Gemm", "einsum (sumcheck) and an add"),
    ("Hardmax", "ArgMax, then a one-hot of it"),
    ("OneHot", "exact comparisons of the index with the positions, then a selection"),
    ("Tile", "data movement (a reshape, a broadcast, a reshape per axis)"),
    ("CumSum", "tract's expansion, a loop unrolled into additions"),
    (
        "GRU",
        "unrolled over the static sequence (both directions): per step einsums, sigmoid and tanh tables, products",
    ),
    (
        "LSTM",
        "unrolled over the static sequence (both directions): per step einsums, sigmoid and tanh tables, products",
    ),
    ("RNN", "unrolled over the static sequence (both directions): per step einsums and an activation table"),
    ("Scan", "unrolled over the static trip count: the body's ops, once per step"),
    ("GlobalAveragePool", "einsum with a 1/n vector"),
    ("Greater", "exact on the fixed-point grid: a saturating range check [a − b > 0] (scale-1 boolean)"),
    ("GreaterOrEqual", "exact on the fixed-point grid: 1 − [b − a > 0], a saturating range check"),
    ("Identity", "the identity"),
    ("LayerNormalization", "means as einsums, an `rsqrt` table, products"),
    ("GroupNormalization", "means over each group as einsums, an `rsqrt` table, products"),
    (
        "LRN",
        "squares, the channel window's sum as one einsum with a constant 0/1 band, a `pow_const` table, a product",
    ),
    ("Less", "exact on the fixed-point grid: a saturating range check [b − a > 0] (scale-1 boolean)"),
    ("LessOrEqual", "exact on the fixed-point grid: 1 − [a − b > 0], a saturating range check"),
    ("LogSoftmax", "softmax, then a `log` table"),
    ("MatMul", "einsum (sumcheck)"),
    ("Max", "b + ReLU(a − b): an exact, range-checked ReLU"),
    (
        "MaxPool",
        "im2col (data movement; padding and ceil_mode as copies of edge cells), then a max reduction (committed differences)",
    ),
    ("Min", "a − ReLU(a − b): an exact, range-checked ReLU"),
    ("Mul", "elementwise product (degree-3 sumcheck)"),
    ("Neg", "a product with −1"),
    ("Pad", "data movement (constant mode; a nonzero value v: pad(x − v) + v)"),
    (
        "Pow",
        "constant exponent 2 or 3: products; 0.5: a `sqrt` table; another constant: a `pow_const` table; computed exponent: exp(y·ln x), x > 0",
    ),
    ("Range", "folded at compile time"),
    ("ReduceMax", "max reduction (committed differences)"),
    ("ReduceMean", "einsum with a 1/n vector"),
    ("ReduceMin", "−max(−x)"),
    ("ReduceProd", "on constants only (shape arithmetic)"),
    ("ReduceSum", "einsum with a ones vector"),
    (
        "Resize",
        "per resized axis, an einsum with the constant interpolation matrix (nearest: a 0/1 selection; linear, cubic); integer nearest upsampling: data movement",
    ),
    ("ReduceSumSquare", "a product, then an einsum"),
    ("Relu", "a range-checked ReLU (no table)"),
    ("Reshape", "data movement (a relabelling when the padded layouts agree)"),
    ("Shape", "folded at compile time"),
    ("Size", "folded at compile time"),
    ("Slice", "data movement"),
    ("Softmax", "max reduction, an `exp` table, a sum, a `reciprocal` table, a product"),
    ("Split", "data movement"),
    ("Squeeze", "data movement (a relabelling)"),
    ("Sub", "elementwise subtract (linear)"),
    ("Sum", "elementwise adds"),
    ("Transpose", "data movement (a relabelling)"),
    ("Trilu", "a product with a constant 0/1 mask"),
    ("Unsqueeze", "data movement (a relabelling)"),
    ("Where", "y + c·(x − y), c a 0/1 value (computed or a constant mask)"),
];

/// How `op` (an accepted ONNX op type) is proven; `None` for an op with no
/// entry (a test keeps every accepted op covered).
pub fn proven_as(op: &str) -> Option<String> {
    if let Some((_, how)) = PROVEN_AS.iter().find(|(o, _)| *o == op) {
        return Some(how.to_string());
    }
    let forms: Vec<String> = zkml_ir::ops::lookup::LookupFn::ACTIVATIONS
        .iter()
        .filter(|f| f.onnx().iter().any(|form| form.op == op))
        .map(|f| format!("`{}`", f.name()))
        .collect();
    (!forms.is_empty()).then(|| format!("a lookup table ({}; activation table)", forms.join(", ")))
}

/// The supported-ops table of `docs/supported-ops.md`, generated from the
/// frontend's tables and the activation table.
pub fn supported_ops_markdown() -> String {
    let mut out = String::from(
        "# Supported ONNX ops\n\n\
         Generated from the code (`zkml_compiler::frontend::ops::supported_ops_markdown`); \
         `tests/tests/op_coverage.rs` fails when this file is stale \
         (regenerate with `UPDATE_DOCS=1 cargo test -p zkml-tests --test op_coverage`).\n\n\
         Opsets: whatever tract-onnx 0.23 parses (ONNX opsets 7 to 23 for most ops). Every op marked \
         *proven* proves and verifies end to end in the uses the last column describes (a model \
         per op in `op_coverage.rs`, its proven outputs checked against tract's f32 run); a use \
         outside them is refused by `zkc compile` naming the node; ops marked *constants only* are accepted where they compute on constants \
         (shape arithmetic, masks), which are folded at compile time, and refused by `zkc compile`, \
         naming the node, where they compute on the input.\n\n\
         | ONNX op | tier | how it is proven |\n|---|---|---|\n",
    );
    for op in supported_onnx_ops() {
        let tier = if CONSTANT_ONLY_ONNX.contains(&op) { "constants only" } else { "proven" };
        let how = proven_as(op).unwrap_or_else(|| "—".to_string());
        out.push_str(&format!("| {op} | {tier} | {how} |\n"));
    }
    out
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
        // Inference-mode dropout is the identity, its mask all true;
        // tract-onnx's op type is private, so it is recognised by name.
        if node.op.name() == "Dropout" && !args.is_empty() {
            return dropout(ctx, node, args);
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

/// `Dropout` in inference mode: the data, and a mask of ones when asked
/// for. Training mode with a nonzero ratio draws random masks: refused.
fn dropout(ctx: &mut Ctx, node: &TypedNode, args: &[ValueId]) -> Result<Vec<ValueId>, FrontendError> {
    let scalar = |i: usize| ctx.konst(node, i).and_then(|t| t.cast_to_scalar::<f32>().ok());
    let ratio = if args.len() > 1 { scalar(1) } else { Some(0.5) };
    let training = if args.len() > 2 { scalar(2).map(|t| t != 0.0) } else { Some(false) };
    match (training, ratio) {
        (Some(false), _) | (Some(true), Some(0.0)) => {}
        _ => {
            return Err(fail(
                node,
                "Dropout in training mode draws a random mask (not provable): export the model in \
                 inference mode",
            ));
        }
    }
    let mut outs = vec![args[0]];
    if node.outputs.len() > 1 {
        let shape = ctx.fact(args[0]).shape.clone();
        let n = shape.iter().product();
        let ones = zkml_ir::Tensor::new(shape, zkml_ir::TensorData::Bool(vec![true; n]))
            .map_err(|e| fail(node, e.to_string()))?;
        outs.push(ctx.graph.add_const(format!("{}.mask", node.name), ones)?);
    }
    Ok(outs)
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
