//! `zkc compile --report accuracy`: how far the quantized model is from the
//! float one, per layer (every einsum and lookup) and at the outputs.

use crate::pipeline::Compiled;
use std::fmt::Write;
use zkml_ir::{DType, Graph, IrError, Op, Tensor, TensorData};

/// Largest |quantized - float| over the largest |float|, per value of
/// interest, worst over `samples`.
pub fn accuracy(c: &Compiled, samples: &[Vec<Tensor>]) -> Result<String, IrError> {
    accuracy_with(c, samples, |g, inputs| g.eval_all(inputs))
}

/// [`accuracy`] with another evaluator of the quantized graph (the
/// runtime's executor, for models too big for the naive one).
pub fn accuracy_with(
    c: &Compiled,
    samples: &[Vec<Tensor>],
    eval_quantized: impl Fn(&Graph, &[Tensor]) -> Result<Vec<Vec<Tensor>>, IrError>,
) -> Result<String, IrError> {
    let fg = &c.rewritten;
    let qg = &c.quantized.graph;
    let mut worst: Vec<f64> = vec![0.0; c.quantized.values.len()];
    for inputs in samples {
        let fv = fg.eval_all(inputs)?;
        let qin = quantize_inputs(qg, inputs);
        let qv = eval_quantized(qg, &qin)?;
        for (i, (o, n)) in c.quantized.values.iter().enumerate() {
            let (f, q) = (&fv[o.node][o.slot], &qv[n.node][n.slot]);
            if let Some(e) = rel_error(f, q, qg.fact(*n).map(|f| f.dtype)) {
                worst[i] = worst[i].max(e);
            }
        }
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "accuracy of the quantized model vs float ({} samples): max |q - f| / max |f|",
        samples.len()
    );
    for (i, (o, _)) in c.quantized.values.iter().enumerate() {
        let node = fg.node(o.node);
        let layer = matches!(node.op, Op::Einsum(_) | Op::Lookup(_)) || fg.outputs().contains(o);
        if layer {
            let _ =
                writeln!(s, "  {:>10.3e}  %{} {} ({})", worst[i], o.node, node.name, node.op.def().name());
        }
    }
    // Where error enters: the values whose error most exceeds their
    // inputs' (a node that adds error rather than passing it on).
    let err: std::collections::HashMap<zkml_ir::ValueId, f64> =
        c.quantized.values.iter().zip(&worst).map(|((o, _), &e)| (*o, e)).collect();
    let mut jumps: Vec<(f64, f64, zkml_ir::ValueId)> = err
        .iter()
        .map(|(&o, &e)| {
            let inputs =
                fg.node(o.node).inputs.iter().filter_map(|i| err.get(i)).fold(0f64, |m, &x| m.max(x));
            (e - inputs, inputs, o)
        })
        .filter(|(j, _, _)| *j > 0.0)
        .collect();
    jumps.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.cmp(&b.2)));
    if !jumps.is_empty() {
        let _ = writeln!(s, "where error enters (error of the value vs the largest of its inputs'):");
    }
    for (_, from, o) in jumps.iter().take(3) {
        let node = fg.node(o.node);
        let _ = writeln!(
            s,
            "  %{} {} ({}): {:.3e} -> {:.3e}",
            o.node,
            node.name,
            node.op.def().name(),
            from,
            err[o]
        );
    }
    Ok(s)
}

/// Quantizes float inputs to the graph's input types (round to nearest, saturate).
pub fn quantize_inputs(g: &Graph, inputs: &[Tensor]) -> Vec<Tensor> {
    g.input_facts()
        .iter()
        .zip(inputs)
        .map(|(f, t)| match (f.dtype, t.data()) {
            (DType::Q(q), TensorData::F32(v)) => {
                let ints = v.iter().map(|&x| q.quantize(x as f64)).collect();
                Tensor::from_i64(t.shape(), ints).unwrap_or_else(|_| t.clone())
            }
            // Integers and booleans given for a scale-1 input.
            (DType::Q(q), TensorData::Bool(v)) => {
                let ints = v.iter().map(|&x| q.quantize(f64::from(u8::from(x)))).collect();
                Tensor::from_i64(t.shape(), ints).unwrap_or_else(|_| t.clone())
            }
            (DType::Q(q), _) => match t.as_i64() {
                Ok(v) => {
                    let ints = v.iter().map(|&x| q.quantize(x as f64)).collect();
                    Tensor::from_i64(t.shape(), ints).unwrap_or_else(|_| t.clone())
                }
                Err(_) => t.clone(),
            },
            _ => t.clone(),
        })
        .collect()
}

fn rel_error(f: &Tensor, q: &Tensor, dt: Option<DType>) -> Option<f64> {
    let (TensorData::F32(fv), TensorData::I64(qv), Some(DType::Q(qt))) = (f.data(), q.data(), dt) else {
        return None;
    };
    let scale = fv.iter().fold(1e-12f64, |m, x| m.max(x.abs() as f64));
    let err = fv.iter().zip(qv).fold(0f64, |m, (x, y)| m.max((qt.dequantize(*y) - *x as f64).abs()));
    Some(err / scale)
}
