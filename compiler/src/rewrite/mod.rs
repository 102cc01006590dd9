//! The rewrite stage: the frontend's float graph in, the provable core out.
//!
//! The graph is imported into an egg e-graph ([`lang`]), saturated with the
//! rules of [`rules`] (data: one `rewrite!` list per op family, each rule
//! with a name and a reason), and the cheapest equivalent graph is extracted
//! with the proving-cost model of [`cost`]. What comes out uses only
//! `einsum`, `lookup`, `add`/`sub`/`mul`, max reductions and layout ops (the
//! ops the prover knows); anything else left in it is reported by
//! [`check_core`].
//!
//! Invariants:
//! * every rule is an equality of values of the same fact (unions with a
//!   fact mismatch are refused and fail the stage);
//! * the extracted graph evaluates (in f32) to the input graph's values up
//!   to float rounding: tested per rule and per fixture.

pub mod cost;
pub mod extract;
pub mod lang;
pub mod rules;

use cost::{UNPROVABLE, op_cost};
use egg::{Id, Runner, StopReason};
use lang::{EGraph, ZkAnalysis, ZkLang, add_const_op, add_op, resolve};
use std::collections::HashMap;
use std::time::Duration;
use zkml_ir::ops::layout::Slice;
use zkml_ir::{Graph, Op, ValueId};

/// Errors of the rewrite stage.
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    #[error("rewrite rules produced ill-typed equalities (a bug in a rule): {0}")]
    IllTyped(String),
    #[error("rebuilding the graph after rewriting: {0}")]
    Rebuild(#[from] zkml_ir::IrError),
    #[error("the e-graph lost a value during extraction (class {0})")]
    Lost(usize),
    #[error("extraction chose a cycle through e-class {0} (a bug in the extractor)")]
    Cycle(usize),
}

/// Runner limits (egg's defaults are for exploration, not a compiler).
#[derive(Debug, Clone)]
pub struct RewriteOptions {
    pub iter_limit: usize,
    pub node_limit: usize,
    pub time_limit: Duration,
}

impl Default for RewriteOptions {
    fn default() -> Self {
        RewriteOptions { iter_limit: 40, node_limit: 200_000, time_limit: Duration::from_secs(30) }
    }
}

/// What happened during rewriting.
#[derive(Debug, Clone)]
pub struct RewriteReport {
    pub stop_reason: String,
    pub iterations: usize,
    pub egraph_nodes: usize,
    pub egraph_classes: usize,
    /// Rule name → times it changed the e-graph.
    pub applied: Vec<(String, usize)>,
    pub cost_before: f64,
    pub cost_after: f64,
}

/// Rewrites `g` into the provable core (see the module docs).
pub fn rewrite(g: &Graph, opts: &RewriteOptions) -> Result<(Graph, RewriteReport), RewriteError> {
    rewrite_with(g, opts, &rules::all())
}

/// [`rewrite`] with a chosen rule set (tests run rules one at a time).
pub fn rewrite_with(
    g: &Graph,
    opts: &RewriteOptions,
    rules: &[rules::Rule],
) -> Result<(Graph, RewriteReport), RewriteError> {
    let (eg, imported) = import(g);
    let roots: Vec<Id> = g.outputs().iter().map(|v| imported.ids[v]).collect();
    let cost_before = graph_cost(g);
    let rws: Vec<_> = rules.iter().map(|r| &r.rewrite).collect();
    let runner = Runner::<ZkLang, ZkAnalysis, ()>::new(ZkAnalysis::default())
        .with_egraph(eg)
        .with_iter_limit(opts.iter_limit)
        .with_node_limit(opts.node_limit)
        .with_time_limit(opts.time_limit)
        .run(rws);
    let stop_reason = match &runner.stop_reason {
        Some(StopReason::Saturated) => "saturated".to_string(),
        Some(StopReason::IterationLimit(n)) => format!("iteration limit ({n})"),
        Some(StopReason::NodeLimit(n)) => format!("node limit ({n})"),
        Some(StopReason::TimeLimit(t)) => format!("time limit ({t:.1} s)"),
        Some(StopReason::Other(s)) => s.clone(),
        None => "unknown".to_string(),
    };
    tracing::info!(stop_reason, iterations = runner.iterations.len(), "e-graph rewriting stopped");
    if !runner.egraph.analysis.refused.is_empty() {
        return Err(RewriteError::IllTyped(runner.egraph.analysis.refused.join("; ")));
    }
    let mut applied: HashMap<String, usize> = HashMap::new();
    for it in &runner.iterations {
        for (name, n) in &it.applied {
            *applied.entry(name.to_string()).or_default() += n;
        }
    }
    let mut applied: Vec<(String, usize)> = applied.into_iter().collect();
    applied.sort();
    let out = extract(&runner.egraph, g, &imported, &roots)?;
    let report = RewriteReport {
        stop_reason,
        iterations: runner.iterations.len(),
        egraph_nodes: runner.egraph.total_size(),
        egraph_classes: runner.egraph.number_of_classes(),
        applied,
        cost_before,
        cost_after: graph_cost(&out),
    };
    Ok((out, report))
}

/// Node ids of the e-graph for every IR value, and the names to give back.
struct Imported {
    ids: HashMap<ValueId, Id>,
    names: HashMap<Id, String>,
}

/// Builds the e-graph of `g` (multi-output nodes become one slice per output).
fn import(g: &Graph) -> (EGraph, Imported) {
    let mut eg = EGraph::new(ZkAnalysis::default());
    let mut imp = Imported { ids: HashMap::new(), names: HashMap::new() };
    for (id, node) in g.nodes() {
        let args: Vec<Id> = node.inputs.iter().map(|v| imp.ids[v]).collect();
        let outs: Vec<Id> = match &node.op {
            Op::Const(c) => vec![add_const_op(&mut eg, c.clone())],
            Op::Split(s) => {
                let mut start = 0i64;
                s.sizes
                    .iter()
                    .map(|&n| {
                        let end = start + n as i64;
                        let op = Slice { axis: s.axis, start, end, step: 1 };
                        start = end;
                        add_op(&mut eg, Op::from(op), &args)
                    })
                    .collect()
            }
            op => vec![add_op(&mut eg, op.clone(), &args)],
        };
        for (slot, e) in outs.into_iter().enumerate() {
            imp.ids.insert(ValueId::new(id, slot), e);
            let name = node.outputs[slot].name.clone();
            imp.names.entry(e).or_insert(name);
        }
    }
    eg.rebuild();
    (eg, imp)
}

/// Extracts the cheapest graph computing `roots`, inputs first (in order),
/// then every needed node in dependency order.
fn extract(eg: &EGraph, g: &Graph, imp: &Imported, roots: &[Id]) -> Result<Graph, RewriteError> {
    let chosen = extract::choose(eg);
    let names: HashMap<Id, &String> = imp.names.iter().map(|(&id, n)| (eg.find(id), n)).collect();
    let mut out = Graph::new();
    let mut done: HashMap<Id, ValueId> = HashMap::new();
    for &i in g.inputs() {
        let node = g.node(i);
        let v = ValueId::new(out.add_node(node.name.clone(), node.op.clone(), &[])?, 0);
        done.insert(eg.find(imp.ids[&ValueId::new(i, 0)]), v);
    }
    // Iterative post-order: real models are thousands of nodes deep.
    let mut stack: Vec<(Id, bool)> = roots.iter().rev().map(|&r| (eg.find(r), false)).collect();
    let mut open = std::collections::HashSet::new();
    while let Some((id, expanded)) = stack.pop() {
        let id = eg.find(id);
        if done.contains_key(&id) {
            continue;
        }
        let lost = || RewriteError::Lost(usize::from(id));
        let enode = chosen.get(&id).ok_or_else(lost)?;
        let Some((op, args)) = resolve(eg, enode) else { return Err(lost()) };
        let args: Vec<Id> = args.iter().map(|&a| eg.find(a)).collect();
        if !expanded {
            if !open.insert(id) {
                return Err(RewriteError::Cycle(usize::from(id)));
            }
            stack.push((id, true));
            stack.extend(args.iter().rev().filter(|a| !done.contains_key(a)).map(|&a| (a, false)));
            continue;
        }
        open.remove(&id);
        let inputs: Vec<ValueId> = args
            .iter()
            .map(|a| done.get(a).copied().ok_or(RewriteError::Lost(usize::from(*a))))
            .collect::<Result<_, _>>()?;
        let name = match names.get(&id) {
            Some(n) => (*n).clone(),
            None => {
                let base = args.first().and_then(|a| names.get(a)).map_or("rewrite", |n| n.as_str());
                format!("{base}.{}", op.def().name())
            }
        };
        let v = ValueId::new(out.add_node(name, op, &inputs)?, 0);
        done.insert(id, v);
    }
    let outs: Vec<ValueId> = roots.iter().map(|r| done[&eg.find(*r)]).collect();
    for (o, orig) in outs.iter().zip(g.outputs()) {
        if let Some(v) = g.value(*orig) {
            out.set_value_name(*o, v.name.clone());
        }
    }
    out.set_outputs(outs);
    Ok(out)
}

/// Proving cost of a whole graph under the extraction cost model.
pub fn graph_cost(g: &Graph) -> f64 {
    g.nodes()
        .map(|(_, n)| {
            let facts: Vec<&zkml_ir::Fact> = n.inputs.iter().filter_map(|&v| g.fact(v)).collect();
            let out = n.outputs.first().map_or(0, |o| o.fact.len()) as f64;
            let in_len = facts.iter().map(|f| f.len() as f64).sum();
            let terms = cost::einsum_terms(&n.op, &facts).unwrap_or(0.0);
            op_cost(&n.op, out, in_len, terms)
        })
        .sum()
}

/// Nodes of `g` outside the provable core: `(node id, node name, op)`.
pub fn non_core(g: &Graph) -> Vec<(usize, String, String)> {
    g.nodes()
        .filter(|(_, n)| op_cost(&n.op, 1.0, 1.0, 1.0) >= UNPROVABLE)
        .map(|(id, n)| (id, n.name.clone(), n.op.to_string()))
        .collect()
}
