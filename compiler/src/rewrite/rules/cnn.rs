//! Convolution and pooling through im2col: `im2col(x)` lays every window
//! out along new kernel axes (a fixed selection, linear in `x`), after which
//! a convolution is one einsum with the weights, an average pool one einsum
//! with a `1/K` vector, and a max pool a max reduction over the kernel axes.

use super::super::lang::{EGraph, add_const, add_op, fact, op_of};
use super::{Compute, Rule, rule, var};
use egg::{Id, Subst};
use zkml_ir::ops::binary::{Binary, BinaryOp};
use zkml_ir::ops::cnn::{Im2Col, Window};
use zkml_ir::ops::einsum::Einsum;
use zkml_ir::ops::layout::Reshape;
use zkml_ir::ops::reduce::{Reduce, ReduceOp};
use zkml_ir::{Op, OpDef, Tensor};

pub(super) fn rules() -> Vec<Rule> {
    vec![
        rule!("conv-im2col-einsum", "a convolution is an einsum over the window patches";
            "(conv ?k ?x ?w)" => { Compute(|eg, _, s| conv(eg, s, None)) }),
        rule!("conv-bias-im2col-einsum", "a convolution is an einsum over the window patches, plus the bias";
            "(conv ?k ?x ?w ?b)" => { Compute(|eg, _, s| conv(eg, s, Some(var(s, "?b")))) }),
        rule!("max-pool-im2col", "a max pool is a max over the window axes";
            "(max_pool ?k ?x)" => { Compute(max_pool) }),
        rule!("average-pool-im2col", "an average pool is an einsum with a 1/K vector";
            "(average_pool ?k ?x)" => { Compute(average_pool) }),
    ]
}

/// Letters for an im2col view of rank `2 + 2r`: `n c`, kernel `k…`, output `s…`
/// (`r ≤ 4`), and `o` for output channels.
fn letters(r: usize) -> Option<(String, String)> {
    if r > 4 {
        return None;
    }
    let k: String = ['p', 'q', 'r', 's'][..r].iter().collect();
    let sp: String = ['w', 'x', 'y', 'z'][..r].iter().collect();
    Some((k, sp))
}

fn im2col(eg: &mut EGraph, window: Window, x: Id) -> Id {
    add_op(eg, Op::from(Im2Col { window }), &[x])
}

fn conv(eg: &mut EGraph, s: &Subst, bias: Option<Id>) -> Option<Id> {
    let Op::Conv(c) = op_of(eg, var(s, "?k"))? else { return None };
    let (x, w) = (var(s, "?x"), var(s, "?w"));
    let r = c.window.kernel.len();
    let (k, sp) = letters(r)?;
    let patches = im2col(eg, c.window.clone(), x);
    let mut y = if c.group == 1 {
        let eq = format!("nc{k}{sp},oc{k}->no{sp}");
        add_op(eg, Op::from(Einsum::new(eq).ok()?), &[patches, w])
    } else {
        // Grouped (depthwise when g = C): channels split into g groups,
        // `[n, g, C/g, k…, s…]` against weights `[g, O/g, C/g, k…]`, one
        // einsum with the group as a batch axis; reshapes are relabellings.
        let g = c.group;
        let ps = fact(eg, patches)?.shape.clone();
        let ws = fact(eg, w)?.shape.clone();
        let (cin, o) = (ps[1], ws[0]);
        if g == 0 || !cin.is_multiple_of(g) || !o.is_multiple_of(g) || ws[1] * g != cin {
            return None;
        }
        let mut pshape = vec![ps[0], g, cin / g];
        pshape.extend(&ps[2..]);
        let mut wshape = vec![g, o / g, ws[1]];
        wshape.extend(&ws[2..]);
        let pg = add_op(eg, Op::from(Reshape { shape: pshape }), &[patches]);
        let wg = add_op(eg, Op::from(Reshape { shape: wshape }), &[w]);
        let eq = format!("ngc{k}{sp},goc{k}->ngo{sp}");
        let yg = add_op(eg, Op::from(Einsum::new(eq).ok()?), &[pg, wg]);
        let ys = fact(eg, yg)?.shape.clone();
        let mut shape = vec![ys[0], o];
        shape.extend(&ys[3..]);
        add_op(eg, Op::from(Reshape { shape }), &[yg])
    };
    if let Some(b) = bias {
        // bias [O] → [O, 1, …] so that it broadcasts over the spatial axes.
        let o = fact(eg, b)?.shape.clone();
        let mut shape = o;
        shape.extend(std::iter::repeat_n(1, r));
        let bb = add_op(eg, Op::from(Reshape { shape }), &[b]);
        y = add_op(eg, Op::from(Binary { op: BinaryOp::Add }), &[y, bb]);
    }
    Some(y)
}

fn max_pool(eg: &mut EGraph, _: Id, s: &Subst) -> Option<Id> {
    let Op::MaxPool(p) = op_of(eg, var(s, "?k"))? else { return None };
    let (x, window) = edge_padded(eg, var(s, "?x"), &p.window)?;
    let r = window.kernel.len();
    let patches = im2col(eg, window, x);
    let axes: Vec<usize> = (2..2 + r).collect();
    Some(add_op(eg, Op::from(Reduce { op: ReduceOp::Max, axes, keepdims: false }), &[patches]))
}

/// A max pool's padding (and `ceil_mode`'s overhang) as copies of the edge
/// cells instead of −∞: with contiguous windows (dilation 1 on every padded
/// axis) a window that covers a copy also covers the cell copied, so the
/// maximum is unchanged, and the copies are data movement (slices and a
/// concatenation) where −∞ has no fixed-point form. Returns the padded
/// input and the window without padding.
fn edge_padded(eg: &mut EGraph, x: Id, w: &Window) -> Option<(Id, Window)> {
    use zkml_ir::ops::layout::{Concat, Slice};
    let shape = fact(eg, x)?.shape.clone();
    let spatial = shape.get(2..)?.to_vec();
    let out = w.output(&spatial);
    let mut x = x;
    for a in 0..spatial.len() {
        let span = w.dilations[a] * (w.kernel[a] - 1) + 1;
        let needed = (out[a] - 1) * w.strides[a] + span;
        let begin = w.pads[a].0;
        let end = needed.saturating_sub(spatial[a] + begin);
        if begin == 0 && end == 0 {
            continue;
        }
        if w.dilations[a] != 1 || begin >= w.kernel[a] || end >= w.kernel[a] {
            return None;
        }
        let axis = 2 + a;
        let n = spatial[a] as i64;
        let first = add_op(eg, Op::from(Slice { axis, start: 0, end: 1, step: 1 }), &[x]);
        let last = add_op(eg, Op::from(Slice { axis, start: n - 1, end: n, step: 1 }), &[x]);
        let mut parts = vec![first; begin];
        parts.push(x);
        parts.extend(std::iter::repeat_n(last, end));
        x = add_op(eg, Op::from(Concat { axis }), &parts);
    }
    let window = Window { pads: vec![(0, 0); spatial.len()], ceil_mode: false, ..w.clone() };
    Some((x, window))
}

fn average_pool(eg: &mut EGraph, _: Id, s: &Subst) -> Option<Id> {
    let Op::AveragePool(p) = op_of(eg, var(s, "?k"))? else { return None };
    let padded = p.window.pads.iter().any(|&(a, b)| a != 0 || b != 0);
    if p.window.ceil_mode {
        return None;
    }
    let x = var(s, "?x");
    let r = p.window.kernel.len();
    let (k, sp) = letters(r)?;
    let n: usize = p.window.kernel.iter().product();
    let patches = im2col(eg, p.window.clone(), x);
    let eq = Op::from(Einsum::new(format!("nc{k}{sp},{k}->nc{sp}")).ok()?);
    if !padded || p.count_include_pad {
        let v = add_const(eg, Tensor::from_f32(p.window.kernel.clone(), vec![1.0 / n as f32; n]).ok()?);
        return Some(add_op(eg, eq, &[patches, v]));
    }
    // Padding not counted: sum, then divide by each window's count of real
    // cells (a constant map, computed here by pooling a tensor of ones).
    let xs = fact(eg, x)?.shape.clone();
    let mut plane = vec![1, 1];
    plane.extend(&xs[2..]);
    let ones = Tensor::from_f32(plane.clone(), vec![1.0; plane.iter().product()]).ok()?;
    let cells = Im2Col { window: p.window.clone() }.eval(&[&ones]).ok()?.pop()?;
    let cols = cells.as_f32().ok()?;
    let positions = cols.len() / n;
    let inv: Vec<f32> =
        (0..positions).map(|i| 1.0 / (0..n).map(|j| cols[j * positions + i]).sum::<f32>().max(1.0)).collect();
    let mut oshape = vec![1, 1];
    oshape.extend(p.window.output(&xs[2..]));
    let inv = add_const(eg, Tensor::from_f32(oshape, inv).ok()?);
    let ones_k = add_const(eg, Tensor::from_f32(p.window.kernel.clone(), vec![1.0; n]).ok()?);
    let sum = add_op(eg, eq, &[patches, ones_k]);
    Some(add_op(eg, Op::from(Binary { op: BinaryOp::Mul }), &[sum, inv]))
}
