//! ONNX frontend: tract-onnx does the parsing (all opsets it knows), input
//! shape fixing and shape-arithmetic folding; we map its typed graph into the
//! zkml IR.
//!
//! Pipeline of [`load_onnx`]:
//! 1. decode the protobuf (corrupt or truncated file: [`FrontendError::Corrupt`]);
//! 2. check every node's op type against the supported table (a clear
//!    [`FrontendError::UnsupportedOp`] naming node, op, opset and the list);
//! 3. let tract build the inference model, apply `--input-shape` overrides,
//!    and type it (`into_typed`), which resolves every shape statically;
//! 4. walk the typed graph in evaluation order from the outputs backwards
//!    (dead nodes are dropped); any value tract knows to be constant becomes
//!    a `Const` (this is where `Shape → Gather → Concat → Reshape` chains
//!    vanish); every other node is lowered by the builder registered for its
//!    tract op type in [`ops`].
//!
//! We deliberately stop at tract's *typed* stage, not its decluttered one:
//! decluttering fuses and re-associates ops with tract's own cost model,
//! while the zkml rewrite stage needs the graph as the model wrote it.

pub mod ops;

use crate::FrontendError;
use std::collections::HashMap;
use std::path::Path;
use tract_onnx::pb;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;
use zkml_ir::{Graph, ValueId};

/// Options of the frontend.
#[derive(Debug, Clone)]
pub struct FrontendOptions {
    /// Input shape overrides, by input name.
    pub input_shapes: Vec<(String, Vec<usize>)>,
    /// The most bytes one tensor may take (at 8 bytes an element, as the
    /// executor holds integers): a model or a shape asking for more is an
    /// error naming the tensor, before anything that large is allocated.
    pub max_tensor_bytes: u64,
}

/// Default of [`FrontendOptions::max_tensor_bytes`]: 16 GiB.
pub const DEFAULT_MAX_TENSOR_BYTES: u64 = 16 << 30;

impl Default for FrontendOptions {
    fn default() -> Self {
        FrontendOptions { input_shapes: vec![], max_tensor_bytes: DEFAULT_MAX_TENSOR_BYTES }
    }
}

impl FrontendOptions {
    /// Parses `name=1,3,224,224`.
    pub fn parse_shape(spec: &str) -> Result<(String, Vec<usize>), FrontendError> {
        let bad = || FrontendError::BadShapeSpec(spec.to_string());
        let (name, dims) = spec.split_once('=').ok_or_else(bad)?;
        let dims = dims
            .split(',')
            .map(|d| d.trim().parse::<usize>().ok().filter(|&d| d > 0))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(bad)?;
        if name.is_empty() || dims.is_empty() {
            return Err(bad());
        }
        Ok((name.to_string(), dims))
    }
}

/// The ONNX opset of the default domain.
fn opset(proto: &pb::ModelProto) -> i64 {
    proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .unwrap_or(0)
}

/// Step 2: refuse unsupported op types before tract sees them.
fn check_supported(proto: &pb::ModelProto) -> Result<(), FrontendError> {
    let Some(graph) = &proto.graph else {
        return Ok(());
    };
    let supported = ops::supported_onnx_ops();
    for node in &graph.node {
        let std_domain = node.domain.is_empty() || node.domain == "ai.onnx";
        if !std_domain || !supported.contains(&node.op_type.as_str()) {
            return Err(FrontendError::UnsupportedOp {
                node: node.name.clone(),
                op_type: node.op_type.clone(),
                domain: if std_domain { String::new() } else { format!("{}.", node.domain) },
                opset: opset(proto),
                supported: ops::provable_onnx_ops().join(", "),
            });
        }
    }
    Ok(())
}

/// Loads an ONNX file into the zkml IR (see the module docs).
pub fn load_onnx(path: &Path, opts: &FrontendOptions) -> Result<Graph, FrontendError> {
    load_onnx_noted(path, opts).map(|(g, _)| g)
}

/// [`load_onnx`], also returning the symbolic input dimensions it fixed
/// to 1 (for the caller to tell the user).
pub fn load_onnx_noted(
    path: &Path,
    opts: &FrontendOptions,
) -> Result<(Graph, Vec<AssumedDim>), FrontendError> {
    let (typed, assumed) = load_typed_noted(path, opts)?;
    Ok((guarded(|| lower(&typed))?, assumed))
}

/// A symbolic input dimension (`batch_size`, `N`, unnamed) that no
/// `--input-shape` fixed: it is taken to be 1, as a single inference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumedDim {
    pub input: String,
    pub axis: usize,
    /// The model's name for it (`?` when unnamed).
    pub symbol: String,
}

impl std::fmt::Display for AssumedDim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "input '{}' dimension {} ('{}') is symbolic: taken as 1 (set it with --input-shape {}=…)",
            self.input, self.axis, self.symbol, self.input
        )
    }
}

/// Steps 1-3: the typed tract model (also used by tests as the oracle).
pub fn load_typed(path: &Path, opts: &FrontendOptions) -> Result<TypedModel, FrontendError> {
    load_typed_noted(path, opts).map(|(t, _)| t)
}

/// [`load_typed`] with the symbolic dimensions it fixed (see [`AssumedDim`]).
pub fn load_typed_noted(
    path: &Path,
    opts: &FrontendOptions,
) -> Result<(TypedModel, Vec<AssumedDim>), FrontendError> {
    let p = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|error| FrontendError::Io { path: p.clone(), error })?;
    guarded(|| load_typed_bytes(&p, &bytes, path, opts))
}

/// Runs `f`, turning a panic of tract (it asserts, rather than returns an
/// error, on some malformed models) into [`FrontendError::Tract`].
fn guarded<T>(f: impl FnOnce() -> Result<T, FrontendError>) -> Result<T, FrontendError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
        Err(FrontendError::Tract(format!(
            "the ONNX library failed on this model: {}",
            zkml_ir::panic_message(p.as_ref())
        )))
    })
}

fn load_typed_bytes(
    p: &str,
    bytes: &[u8],
    path: &Path,
    opts: &FrontendOptions,
) -> Result<(TypedModel, Vec<AssumedDim>), FrontendError> {
    let p = p.to_string();
    let mut onnx = tract_onnx::onnx();
    ops::register_onnx(&mut onnx.op_register);
    let proto = onnx
        .proto_model_for_read(&mut &bytes[..])
        .map_err(|e| FrontendError::Corrupt { path: p.clone(), reason: format!("{e:#}") })?;
    if proto.graph.is_none() {
        return Err(FrontendError::Corrupt { path: p, reason: "no graph in the file".into() });
    }
    check_supported(&proto)?;
    let dir = path.parent().and_then(|d| d.to_str());
    let parsed = onnx.parse(&proto, dir).map_err(|e| FrontendError::Tract(format!("{e:#}")))?;
    if !parsed.unresolved_inputs.is_empty() {
        return Err(FrontendError::Tract(format!("unresolved inputs {:?}", parsed.unresolved_inputs)));
    }
    let mut model = parsed.model;
    let names: Vec<String> = model
        .input_outlets()
        .map_err(|e| FrontendError::Tract(e.to_string()))?
        .iter()
        .map(|o| model.node(o.node).name.clone())
        .collect();
    for (name, shape) in &opts.input_shapes {
        let ix = names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| FrontendError::UnknownInput { name: name.clone(), inputs: names.join(", ") })?;
        let old = model.input_fact(ix).map_err(|e| FrontendError::Tract(e.to_string()))?.clone();
        let mut fact = InferenceFact::shape(shape.iter().map(|&d| d as i64).collect::<Vec<_>>());
        if let Some(dt) = old.datum_type.concretize() {
            fact = fact.with_datum_type(dt);
        }
        model.set_input_fact(ix, fact).map_err(|e| FrontendError::Tract(e.to_string()))?;
    }
    let assumed = fix_symbolic_dims(&mut model, &names, opts)?;
    let typed = model.into_typed().map_err(|e| FrontendError::Shapes(format!("{e:#}")))?;
    check_sizes(&typed, opts.max_tensor_bytes)?;
    for (ix, o) in typed.input_outlets().map_err(|e| FrontendError::Tract(e.to_string()))?.iter().enumerate()
    {
        let fact = typed.outlet_fact(*o).map_err(|e| FrontendError::Tract(e.to_string()))?;
        if fact.shape.as_concrete().is_none() {
            return Err(FrontendError::SymbolicInput { name: names[ix].clone(), fact: format!("{fact:?}") });
        }
    }
    Ok((typed, assumed))
}

/// Every value of the typed model fits the budget (see
/// [`FrontendOptions::max_tensor_bytes`]); checked before lowering, which
/// allocates per value (interpolation plans, index maps, constants).
fn check_sizes(typed: &TypedModel, budget: u64) -> Result<(), FrontendError> {
    for node in typed.nodes() {
        for o in &node.outputs {
            let Some(shape) = o.fact.shape.as_concrete() else { continue };
            let elements =
                shape.iter().try_fold(1u128, |a, &d| a.checked_mul(d as u128)).unwrap_or(u128::MAX);
            let bytes = elements.saturating_mul(8);
            if bytes > u128::from(budget) {
                return Err(FrontendError::TooLarge {
                    name: node.name.clone(),
                    shape: shape.to_vec(),
                    bytes,
                    budget,
                });
            }
        }
    }
    Ok(())
}

/// Sets every symbolic dimension of an input that `--input-shape` did not
/// fix to 1; an input of unknown rank cannot be fixed this way and is an
/// error naming it.
fn fix_symbolic_dims(
    model: &mut InferenceModel,
    names: &[String],
    opts: &FrontendOptions,
) -> Result<Vec<AssumedDim>, FrontendError> {
    let tract = |e: TractError| FrontendError::Tract(e.to_string());
    let mut assumed = vec![];
    for (ix, name) in names.iter().enumerate() {
        if opts.input_shapes.iter().any(|(n, _)| n == name) {
            continue;
        }
        let old = model.input_fact(ix).map_err(tract)?.clone();
        if old.shape.is_open() {
            return Err(FrontendError::SymbolicInput {
                name: name.clone(),
                fact: "its rank is not declared".to_string(),
            });
        }
        let mut dims = vec![];
        for (axis, d) in old.shape.dims().enumerate() {
            match d.concretize().and_then(|t| t.to_i64().ok()) {
                Some(v) => dims.push(v),
                None => {
                    let symbol = d.concretize().map_or("?".to_string(), |t| t.to_string());
                    assumed.push(AssumedDim { input: name.clone(), axis, symbol });
                    dims.push(1);
                }
            }
        }
        if assumed.iter().any(|a| &a.input == name) {
            let mut fact = InferenceFact::shape(dims);
            if let Some(dt) = old.datum_type.concretize() {
                fact = fact.with_datum_type(dt);
            }
            model.set_input_fact(ix, fact).map_err(tract)?;
        }
    }
    Ok(assumed)
}

/// Step 4: maps a typed tract model into the IR.
pub fn lower(typed: &TypedModel) -> Result<Graph, FrontendError> {
    let tract_err = |e: TractError| FrontendError::Tract(format!("{e:#}"));
    let outputs = typed.output_outlets().map_err(tract_err)?.to_vec();
    let inputs = typed.input_outlets().map_err(tract_err)?.to_vec();
    // Inputs first, in order, even those no output depends on (eval_order
    // only lists the nodes the outputs need): the plan's inputs are the
    // model's inputs.
    let input_nodes: Vec<usize> = inputs.iter().map(|o| o.node).collect();
    let rest = typed.eval_order().map_err(tract_err)?.into_iter().filter(|id| !input_nodes.contains(id));
    let order: Vec<usize> = input_nodes.iter().copied().chain(rest).collect();
    let mut ctx = ops::Ctx::new(typed);
    let registry = ops::Registry::new();
    let mut values: HashMap<OutletId, ValueId> = HashMap::new();
    for (ix, o) in inputs.iter().enumerate() {
        let node = typed.node(o.node);
        let err = |message: String| FrontendError::Lowering { node: node.name.clone(), message };
        let fact = ops::ir_fact(&node.outputs[0].fact).map_err(err)?;
        let op = zkml_ir::ops::source::Input { index: ix, fact };
        values.insert(*o, ValueId::new(ctx.graph.add_node(&node.name, op, &[])?, 0));
    }
    lower_nodes(&mut ctx, &registry, &order, &mut values)?;
    let mut graph = ctx.graph;
    let mut outs = Vec::new();
    for o in &outputs {
        let v = *values.get(o).ok_or_else(|| FrontendError::Tract(format!("output {o:?} not lowered")))?;
        if let Some(label) = typed.outlet_label(*o) {
            graph.set_value_name(v, label);
        }
        outs.push(v);
    }
    graph.set_outputs(outs);
    rebuild(rebuild(graph, true)?, false)
}

/// Lowers the nodes `order` of `ctx.model` into `ctx.graph`, given the
/// values already bound (the model's sources); records every output's
/// value in `values`. Also the body of an unrolled loop (`ops::scan`).
pub(crate) fn lower_nodes(
    ctx: &mut ops::Ctx,
    registry: &ops::Registry,
    order: &[usize],
    values: &mut HashMap<OutletId, ValueId>,
) -> Result<(), FrontendError> {
    let model = ctx.model;
    for &id in order {
        let node = model.node(id);
        if values.contains_key(&OutletId::new(id, 0)) {
            continue;
        }
        let err = |message: String| FrontendError::Lowering { node: node.name.clone(), message };
        // Constant-valued outputs (weights, folded shape arithmetic).
        if node.outputs.iter().all(|o| o.fact.konst.is_some()) {
            for (slot, o) in node.outputs.iter().enumerate() {
                let t = ops::ir_tensor(o.fact.konst.as_ref().expect("checked above")).map_err(err)?;
                let name = if slot == 0 { node.name.clone() } else { format!("{}:{slot}", node.name) };
                values.insert(OutletId::new(id, slot), ctx.graph.add_const(name, t)?);
            }
            continue;
        }
        let args: Vec<ValueId> = node
            .inputs
            .iter()
            .map(|i| values.get(i).copied().ok_or_else(|| err(format!("input {i:?} not lowered"))))
            .collect::<Result<_, _>>()?;
        let outs = registry.lower(ctx, node, &args)?;
        for (slot, v) in outs.into_iter().enumerate() {
            // Values keep their ONNX tensor names (for tensor dumps and
            // reports a user compares with onnxruntime's).
            if let Some(label) = model.outlet_label(OutletId::new(id, slot))
                && !args.contains(&v)
                && ctx.graph.node(v.node).op.def().name() != "const"
            {
                ctx.graph.set_value_name(v, label);
            }
            values.insert(OutletId::new(id, slot), v);
        }
    }
    Ok(())
}

/// Copies the graph, dropping nodes that no output depends on (tract keeps
/// folded leftovers) and, if `fold`, replacing nodes whose inputs are all
/// constants (tract leaves some reshapes and scalings of weights unfolded)
/// by their value under the IR's reference evaluator. Folding can orphan
/// constants, hence a second, non-folding pass.
fn rebuild(g: Graph, fold: bool) -> Result<Graph, FrontendError> {
    let mut live = vec![false; g.len()];
    let mut stack: Vec<usize> = g.outputs().iter().map(|v| v.node).collect();
    stack.extend(g.inputs().iter().copied()); // inputs stay even if unused
    while let Some(n) = stack.pop() {
        if !std::mem::replace(&mut live[n], true) {
            stack.extend(g.node(n).inputs.iter().map(|v| v.node));
        }
    }
    let mut out = Graph::new();
    let mut remap: HashMap<usize, usize> = HashMap::new();
    for (id, n) in g.nodes() {
        if !live[id] {
            continue;
        }
        let ins: Vec<ValueId> = n.inputs.iter().map(|v| ValueId::new(remap[&v.node], v.slot)).collect();
        let foldable = fold
            && !ins.is_empty()
            && n.outputs.len() == 1
            && ins.iter().all(|v| matches!(out.node(v.node).op, zkml_ir::Op::Const(_)));
        let new = if foldable {
            let args: Vec<zkml_ir::Tensor> = ins
                .iter()
                .map(|v| match &out.node(v.node).op {
                    zkml_ir::Op::Const(c) => (*c.value).clone(),
                    _ => unreachable!("checked foldable"),
                })
                .collect();
            let refs: Vec<&zkml_ir::Tensor> = args.iter().collect();
            let t = n.op.def().eval(&refs).map_err(|e| FrontendError::Lowering {
                node: n.name.clone(),
                message: format!("constant folding: {e}"),
            })?;
            out.add_const(n.name.clone(), t.into_iter().next().expect("one output"))?.node
        } else {
            out.add_node(n.name.clone(), n.op.clone(), &ins)?
        };
        for (slot, v) in n.outputs.iter().enumerate() {
            out.set_value_name(ValueId::new(new, slot), v.name.clone());
        }
        remap.insert(id, new);
    }
    out.set_outputs(g.outputs().iter().map(|v| ValueId::new(remap[&v.node], v.slot)).collect());
    Ok(out)
}
