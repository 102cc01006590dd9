//! ONNX `Attention` (opset 23) and `RotaryEmbedding`.
//!
//! `Attention` is parsed into [`OnnxAttention`], a tract expansion that
//! wires it out of ops the other families lower: per KV head group `g`
//! (grouped-query attention: query head `h` reads KV head `h / r`, `r =
//! q_heads / kv_heads`),
//!
//! ```text
//! scores[b,g,r,q,k] = scale · Σ_d Q[b,g·r+r',q,d] · K[b,g,k,d]        (einsum)
//! scores            = softcap · tanh(scores / softcap)                (softcap > 0)
//! scores            = scores + mask | where(mask, scores, −∞)          (float | boolean mask)
//! scores            = scores + causal                                 (0 / −∞ above the diagonal,
//!                                                                       offset by the past length)
//! Y[b,g·r+r',q,v]   = Σ_k softmax_k(scores)[b,g,r,q,k] · V[b,g,k,v]   (einsum)
//! ```
//!
//! 3-D inputs `[batch, seq, heads·size]` are split into heads first (the
//! `q_num_heads`/`kv_num_heads` attributes) and `Y` merged back; a past
//! key/value is concatenated before the new one along the sequence (and
//! returned as `present_key`/`present_value`). The rewrite stage turns the
//! `−∞` masks into a 0/1 factor after the exponential, so no infinity is
//! ever quantized. `qk_matmul_output` is the scores at the stage its mode
//! names; `nonpad_kv_seqlen` is refused.
//!
//! `RotaryEmbedding` is tract's own expansion (gathers of the cos/sin
//! caches by position, slices, products, a concatenation): lowered by the
//! other families.

use crate::frontend::ops::Registry;
use tract_onnx::model::{OnnxOpRegister, ParsingContext};
use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::TypedConcat;
use tract_onnx::tract_core::ops::change_axes::{AxisOp, wire_with_rank_broadcast};
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::logic::Iff;
use tract_onnx::tract_core::ops::math::{add, mul, tanh};
use tract_onnx::tract_core::ops::nn::{Softmax, SoftmaxKind};
use tract_onnx::tract_hir::internal::*;

pub(super) const ONNX: &[&str] = &["Attention", "RotaryEmbedding"];

/// Nothing to register: the expansion's parts are other families' ops.
pub(super) fn register(_: &mut Registry) {}

/// Parses ONNX `Attention` into [`OnnxAttention`].
pub fn register_onnx(ops: &mut OnnxOpRegister) {
    ops.insert("Attention", parse);
}

fn parse(_: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let present = |i: usize| node.input.get(i).is_some_and(|s| !s.is_empty());
    if present(6) {
        bail!("Attention node {:?}: the nonpad_kv_seqlen input is not supported", node.name);
    }
    let heads = |name: &str| -> TractResult<Option<usize>> {
        match node.get_attr_opt::<i64>(name)? {
            Some(h) if h < 1 => bail!("Attention node {:?}: {name} = {h} must be positive", node.name),
            h => Ok(h.map(|h| h as usize)),
        }
    };
    let op = OnnxAttention {
        q_heads: heads("q_num_heads")?,
        kv_heads: heads("kv_num_heads")?,
        causal: node.get_attr_opt::<i64>("is_causal")?.unwrap_or(0) != 0,
        scale: node.get_attr_opt::<f32>("scale")?,
        softcap: node.get_attr_opt::<f32>("softcap")?.unwrap_or(0.0),
        mask: present(3),
        past: present(4) && present(5),
        extra: [1, 2, 3].map(|i| node.output.get(i).is_some_and(|s| !s.is_empty())),
        qk_mode: node.get_attr_opt::<i64>("qk_matmul_output_mode")?.unwrap_or(0),
    };
    if !(0..=3).contains(&op.qk_mode) {
        bail!("Attention node {:?}: qk_matmul_output_mode {} is not 0..=3", node.name, op.qk_mode);
    }
    if present(4) != present(5) {
        bail!("Attention node {:?}: past_key and past_value come together", node.name);
    }
    Ok((expand(op), vec![]))
}

/// ONNX `Attention` (see the module docs).
#[derive(Debug, Clone)]
pub struct OnnxAttention {
    q_heads: Option<usize>,
    kv_heads: Option<usize>,
    causal: bool,
    scale: Option<f32>,
    softcap: f32,
    mask: bool,
    past: bool,
    /// Which of `present_key`, `present_value` and `qk_matmul_output` the
    /// node asks for (tract drops the unnamed ones, so these follow `Y`).
    extra: [bool; 3],
    /// Which scores `qk_matmul_output` holds: 0 and 1 scaled (and
    /// softcapped), 2 also masked, 3 the softmax.
    qk_mode: i64,
}

/// `[b, s, h·d] → [b, h, s, d]`.
fn split_heads(prefix: &str, m: &mut TypedModel, x: OutletId, heads: usize) -> TractResult<OutletId> {
    let fact = m.outlet_fact(x)?;
    ensure!(fact.rank() == 3, "3-D attention needs 3-D query, key and value, got rank {}", fact.rank());
    let hidden = fact.shape[2].to_usize()?;
    ensure!(hidden % heads == 0, "hidden size {hidden} is not a multiple of {heads} heads");
    let split = AxisOp::Reshape(2, tvec![hidden.to_dim()], tvec![heads.to_dim(), (hidden / heads).to_dim()]);
    let x = m.wire_node(format!("{prefix}.split"), split, &[x])?[0];
    Ok(m.wire_node(format!("{prefix}.heads"), AxisOp::Move(2, 1), &[x])?[0])
}

fn scalar(prefix: &str, m: &mut TypedModel, v: f32) -> TractResult<OutletId> {
    m.add_const(prefix, tensor0(v))
}

impl Expansion for OnnxAttention {
    fn name(&self) -> StaticName {
        "Attention".into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(1 + self.extra.iter().filter(|&&e| e).count())
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 3 + self.mask as usize + 2 * self.past as usize)?;
        check_output_arity(outputs, 1 + self.extra.iter().filter(|&&e| e).count())?;
        s.equals(&inputs[0].rank, &outputs[0].rank)?;
        for o in outputs {
            s.equals(&inputs[0].datum_type, &o.datum_type)?;
        }
        for o in outputs.iter().skip(1) {
            s.equals(&o.rank, 4)?;
        }
        Ok(())
    }

    fn wire(&self, prefix: &str, m: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let (mut q, mut k, mut v) = (inputs[0], inputs[1], inputs[2]);
        let three_d = m.outlet_fact(q)?.rank() == 3;
        if three_d {
            let (Some(qh), Some(kvh)) = (self.q_heads, self.kv_heads) else {
                bail!("3-D attention inputs need the q_num_heads and kv_num_heads attributes");
            };
            q = split_heads(&format!("{prefix}.q"), m, q, qh)?;
            k = split_heads(&format!("{prefix}.k"), m, k, kvh)?;
            v = split_heads(&format!("{prefix}.v"), m, v, kvh)?;
        }
        let mut past_len = 0;
        if self.past {
            let at = 3 + self.mask as usize;
            let past = m.outlet_fact(inputs[at])?;
            ensure!(past.rank() == 4, "past_key must be 4-D, got rank {}", past.rank());
            past_len = past.shape[2].to_usize()?;
            k = m.wire_node(format!("{prefix}.present_key"), TypedConcat::new(2), &[inputs[at], k])?[0];
            v = m.wire_node(format!("{prefix}.present_value"), TypedConcat::new(2), &[inputs[at + 1], v])?[0];
        }
        let dims = |m: &TypedModel, x: OutletId| -> TractResult<Vec<usize>> {
            m.outlet_fact(x)?.shape.iter().map(|d| Ok(d.to_usize()?)).collect()
        };
        let (qs, ks) = (dims(m, q)?, dims(m, k)?);
        ensure!(qs.len() == 4 && ks.len() == 4, "attention inputs must be 3-D or 4-D");
        let (qh, kvh, sq, skv, d) = (qs[1], ks[1], qs[2], ks[2], qs[3]);
        ensure!(kvh > 0 && qh % kvh == 0, "{qh} query heads are not a multiple of {kvh} key/value heads");
        let r = qh / kvh;
        let group = |h: usize| AxisOp::Reshape(1, tvec![h.to_dim()], tvec![kvh.to_dim(), r.to_dim()]);
        let qg = m.wire_node(format!("{prefix}.q_groups"), group(qh), &[q])?[0];
        let dt = m.outlet_fact(q)?.datum_type;
        let qk: AxesMapping = "bgrqd,bgkd->bgrqk".parse()?;
        let mut s = m.wire_node(format!("{prefix}.scores"), EinSum::new(qk, dt), &[qg, k])?[0];
        let scale = self.scale.unwrap_or(1.0 / (d as f32).sqrt());
        let c = scalar(&format!("{prefix}.scale"), m, scale)?;
        s = wire_with_rank_broadcast(format!("{prefix}.scaled"), m, mul(), &[s, c])?[0];
        if self.softcap > 0.0 {
            let inv = scalar(&format!("{prefix}.softcap_inv"), m, 1.0 / self.softcap)?;
            s = wire_with_rank_broadcast(format!("{prefix}.softcap_in"), m, mul(), &[s, inv])?[0];
            s = m.wire_node(format!("{prefix}.softcap_tanh"), tanh(), &[s])?[0];
            let cap = scalar(&format!("{prefix}.softcap"), m, self.softcap)?;
            s = wire_with_rank_broadcast(format!("{prefix}.softcapped"), m, mul(), &[s, cap])?[0];
        }
        let mut qk = s;
        if self.mask {
            let mut mask = inputs[3];
            let mf = m.outlet_fact(mask)?.clone();
            ensure!(
                mf.shape.last().and_then(|d| d.to_usize().ok()) == Some(skv),
                "an attention mask shorter than the key sequence ({skv}) is not supported"
            );
            for r in mf.rank()..4 {
                mask = m.wire_node(format!("{prefix}.mask_rank{r}"), AxisOp::Add(0), &[mask])?[0];
            }
            // The mask's head axis joins the query-head grouping.
            let heads = m.outlet_fact(mask)?.shape[1].to_usize()?;
            mask = if heads == qh && qh > 1 {
                m.wire_node(format!("{prefix}.mask_groups"), group(qh), &[mask])?[0]
            } else {
                m.wire_node(format!("{prefix}.mask_groups"), AxisOp::Add(1), &[mask])?[0]
            };
            s = if mf.datum_type == bool::datum_type() {
                let ninf = scalar(&format!("{prefix}.masked"), m, f32::NEG_INFINITY)?;
                wire_with_rank_broadcast(format!("{prefix}.mask"), m, Iff, &[mask, s, ninf])?[0]
            } else {
                wire_with_rank_broadcast(format!("{prefix}.mask"), m, add(), &[s, mask])?[0]
            };
        }
        if self.causal {
            let bias: Vec<f32> = (0..sq)
                .flat_map(|i| (0..skv).map(move |j| if j > past_len + i { f32::NEG_INFINITY } else { 0.0 }))
                .collect();
            let c = m.add_const(format!("{prefix}.causal"), tensor1(&bias).into_shape(&[sq, skv])?)?;
            s = wire_with_rank_broadcast(format!("{prefix}.causal_mask"), m, add(), &[s, c])?[0];
        }
        if self.qk_mode == 2 {
            qk = s;
        }
        let p =
            m.wire_node(format!("{prefix}.probs"), Softmax::new(tvec![4], None, SoftmaxKind::Softmax), &[s])?
                [0];
        let pv: AxesMapping = "bgrqk,bgkv->bgrqv".parse()?;
        let y = m.wire_node(format!("{prefix}.weighted"), EinSum::new(pv, dt), &[p, v])?[0];
        let dv = dims(m, v)?[3];
        let merge = AxisOp::Reshape(1, tvec![kvh.to_dim(), r.to_dim()], tvec![qh.to_dim()]);
        let mut y = m.wire_node(format!("{prefix}.heads"), merge.clone(), &[y])?[0];
        if self.qk_mode == 3 {
            qk = p;
        }
        if three_d {
            y = m.wire_node(format!("{prefix}.seq_first"), AxisOp::Move(1, 2), &[y])?[0];
            let flat = AxisOp::Reshape(2, tvec![qh.to_dim(), dv.to_dim()], tvec![(qh * dv).to_dim()]);
            y = m.wire_node(format!("{prefix}.merge"), flat, &[y])?[0];
        }
        let mut outs = tvec![y];
        for (wanted, o) in self.extra.iter().zip([Some(k), Some(v), None]) {
            if *wanted {
                outs.push(match o {
                    Some(o) => o,
                    None => m.wire_node(format!("{prefix}.qk_matmul_output"), merge.clone(), &[qk])?[0],
                });
            }
        }
        Ok(outs)
    }
}
