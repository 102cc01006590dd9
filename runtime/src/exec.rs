//! The executor: runs a plan's graph fast, with exactly the IR's semantics.
//!
//! On a quantized plan every value is an integer tensor (`i64` storage of a
//! `q{bits}@scale` fact) and the run is exact: einsums multiply and add
//! integers without rounding, lookups requantize (`(q·mult + 2^(shift-1)) >>
//! shift`, saturated to the table's domain) and read a table. These are the
//! values the prover proves, so the executor must agree with the IR's naive
//! evaluation ([`zkml_ir::Graph::eval_all`]) bit for bit; `tests/` checks it
//! on every fixture.
//!
//! What differs from the naive evaluation is only speed:
//! * einsums run on the optimised `i64` kernel ([`zkml_kernels::cpu::einsum`],
//!   batched matmul over rayon) instead of the `i128` reference loop. Wrapping
//!   `i64` arithmetic is exact here because the IR's type inference bounds
//!   every einsum result, and every partial sum of it, below 2^62;
//! * each distinct table ([`TableSpec::key`]) is materialised once, shared by
//!   every lookup that uses it, instead of evaluating `f64` libm functions
//!   per element.
//!
//! Invariant kept after every node: each output lies in the bit range its
//! fact declares ([`zkml_ir::check_range`]); a violation (only possible with
//! a hostile or corrupt plan, or an input outside its type) is an error
//! naming the node, never a silent wraparound.

use std::collections::HashMap;
use std::sync::Arc;
use zkml_ir::ops::lookup::{LookupQuant, MAX_ROWS, TableSpec};
use zkml_ir::{DType, Graph, IrError, Op, OpError, Tensor, with_ints};

/// A materialised table: `rows[r]` is `T[r]`.
#[derive(Debug)]
pub struct Table {
    pub spec: TableSpec,
    pub rows: Vec<i64>,
}

impl Table {
    /// Materialised when it has at most [`MAX_ROWS`] rows; wider ones (plain
    /// requantizations to more than 16 bits) are computed per element.
    fn build(spec: TableSpec) -> Table {
        let rows =
            if spec.rows() <= MAX_ROWS { (0..spec.rows()).map(|r| spec.entry(r)).collect() } else { vec![] };
        Table { spec, rows }
    }
    pub fn get(&self, row: usize) -> i64 {
        if self.rows.is_empty() { self.spec.entry(row) } else { self.rows[row] }
    }
}

/// A graph prepared for repeated runs: tables built and shared.
#[derive(Debug)]
pub struct Executor<'g> {
    graph: &'g Graph,
    tables: Vec<Arc<Table>>,
    /// For each node: the index of its table in `tables` (quantized lookups).
    node_table: Vec<Option<usize>>,
}

impl<'g> Executor<'g> {
    pub fn new(graph: &'g Graph) -> Executor<'g> {
        let mut by_key = HashMap::new();
        let mut tables = Vec::new();
        let mut node_table = vec![None; graph.len()];
        for (id, node) in graph.nodes() {
            if let Op::Lookup(l) = &node.op
                && let Some(q) = &l.quant
            {
                let ix = *by_key.entry(q.table.key()).or_insert_with(|| {
                    tables.push(Arc::new(Table::build(q.table)));
                    tables.len() - 1
                });
                node_table[id] = Some(ix);
            }
        }
        Executor { graph, tables, node_table }
    }

    /// The distinct tables, in order of first use.
    /// The graph this executor runs.
    pub fn graph(&self) -> &'g Graph {
        self.graph
    }

    pub fn tables(&self) -> &[Arc<Table>] {
        &self.tables
    }

    /// Number of quantized lookup nodes (each reads one of [`Self::tables`]).
    pub fn lookups(&self) -> usize {
        self.node_table.iter().flatten().count()
    }

    /// Runs the graph; returns every node's outputs, indexed by node id (the
    /// prover's witness).
    pub fn run_all(&self, inputs: &[Tensor]) -> Result<Vec<Vec<Tensor>>, IrError> {
        let g = self.graph;
        if inputs.len() != g.inputs().len() {
            return Err(IrError::InputCount { expected: g.inputs().len(), got: inputs.len() });
        }
        let mut values: Vec<Vec<Tensor>> = Vec::with_capacity(g.len());
        for (id, node) in g.nodes() {
            let node_err = |error: OpError| IrError::Node {
                id,
                name: node.name.clone(),
                op: node.op.to_string(),
                error,
            };
            let out = if let Op::Input(inp) = &node.op {
                let t = &inputs[inp.index];
                let ok = t.shape() == inp.fact.shape && zkml_ir::check_range(t, &inp.fact).is_ok();
                if !ok {
                    return Err(IrError::InputFact {
                        index: inp.index,
                        name: node.name.clone(),
                        expected: inp.fact.to_string(),
                        got: describe(t, &inp.fact),
                    });
                }
                vec![t.clone()]
            } else {
                let args: Vec<&Tensor> = node.inputs.iter().map(|v| &values[v.node][v.slot]).collect();
                let out = self.eval_node(id, &node.op, &args).map_err(node_err)?;
                for (t, v) in out.iter().zip(&node.outputs) {
                    zkml_ir::check_range(t, &v.fact).map_err(node_err)?;
                }
                out
            };
            values.push(out);
        }
        Ok(values)
    }

    /// Runs the graph; returns its outputs.
    pub fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>, IrError> {
        let mut all = self.run_all(inputs)?;
        Ok(self.graph.outputs().iter().map(|v| std::mem::take(&mut all[v.node][v.slot])).collect())
    }

    /// Node `id`'s outputs by `op` (its own, or one computing some of its
    /// rows: see [`crate::cache`]) on `args`.
    pub(crate) fn eval_node(&self, id: usize, op: &Op, args: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        match op {
            Op::Einsum(e) if args.iter().all(|t| t.dtype() == DType::I64) => {
                let spec = e.spec()?;
                let shapes: Vec<&[usize]> = args.iter().map(|t| t.shape()).collect();
                let out_shape = spec.output_shape(&shapes).map_err(|e| OpError::new(e.to_string()))?;
                let out = if let [a, b] = args {
                    // Each operand in its own storage width (a 16-bit weight
                    // is widened as it is multiplied, never copied).
                    with_ints!(a.data(), x => with_ints!(b.data(), y => {
                        zkml_kernels::cpu::einsum2::<i64, _, _>(&spec, &x[..], &y[..], &shapes)
                    }))
                    .flatten()
                    .ok_or_else(|| OpError::new("einsum operands are not integers"))?
                } else {
                    let data = args.iter().map(|t| t.as_i64()).collect::<Result<Vec<_>, _>>()?;
                    let data: Vec<&[i64]> = data.iter().map(|d| &**d).collect();
                    zkml_kernels::cpu::einsum(&spec, &data, &shapes)
                };
                Ok(vec![Tensor::from_i64(out_shape, out)?])
            }
            Op::Lookup(l) if l.quant.is_some() => {
                let (Some(q), Some(t)) = (&l.quant, self.node_table[id]) else {
                    unreachable!("every quantized lookup has a table (built in Executor::new)")
                };
                Ok(vec![lookup(q, &self.tables[t], args[0])?])
            }
            _ => op.eval(args),
        }
    }
}

fn lookup(q: &LookupQuant, table: &Table, x: &Tensor) -> Result<Tensor, OpError> {
    Tensor::from_i64(x.shape(), x.as_i64()?.iter().map(|&v| table.get(q.row(v))).collect())
}

/// Why an input tensor does not match its fact, in words.
fn describe(t: &Tensor, fact: &zkml_ir::Fact) -> String {
    match zkml_ir::check_range(t, fact) {
        Err(e) if t.shape() == fact.shape => e.to_string(),
        _ => t.fact().to_string(),
    }
}
