//! Integers, booleans, comparisons, logic, selection, casts, `max`/`min`,
//! `argmax`/`argmin`, `TopK`, padding with a value and ONNX's linear
//! quantization (`QuantizeLinear`): ops outside the
//! provable core that the quantizer lowers into it, exactly, once every
//! value has a fixed-point type.
//!
//! **Integers and booleans are fixed point with scale 1.** A computed
//! integer or boolean value (an `int64` attention mask, a comparison's
//! result) is a quantized value `q · 1`; a boolean is `0` or `1`. Casts
//! between them and floats change no integer: `cast(to f32)` of a scale-1
//! value is the value itself.
//!
//! **A comparison is exact on the quantized grid.** Both sides are brought
//! to one scale `s` exactly (an integer ratio, see `align`) and
//! subtracted: `d = a − b` in units of `s`, an integer, so `a > b ⇔ d ≥ 1`.
//! The step `[d > 0]` is one range-checked lookup without a table: a ReLU
//! whose requantization multiplies by 1 into a 2-bit domain `{−1, 0, 1}`
//! (scale 1). The domain saturates (proven: the overflow columns show
//! `y = clamp(d, −1, 1)`), and the ReLU keeps `max(sign d, 0) = [d > 0]`,
//! whatever `s` is. The same domain without the ReLU gives `sign d`.
//! Then `a ≥ b = 1 − [b − a > 0]`, `a = b ⇔ 1 − (sign d)² = 1`. A
//! constant side `t` is not rounded to the grid but to the integer that
//! keeps the comparison's answer for every grid value: `x > t ⇔ x_q >
//! ⌊t/s⌋`, `x ≥ t ⇔ x_q ≥ ⌈t/s⌉` (and for `=`, the nearest).
//!
//! **Logic and selection are polynomials on 0/1 values**: `¬a = 1 − a`,
//! `a ∧ b = a·b`, `a ∨ b = a + b − a·b`, `a ⊕ b = (a − b)²`,
//! `where(c, x, y) = y + c·(x − y)` (`x`, `y` at one scale; `c` has scale
//! 1, so the product keeps their scale exactly).
//!
//! **`max(a, b) = b + relu(a − b)`, `min(a, b) = a − relu(a − b)`**, the
//! ReLU at the difference's own type (requantization by 1): exact, range
//! checks only.
//!
//! **`QuantizeLinear` is one requantization into a saturating integer
//! domain**: `round(x / scale)` of `x = q · s` is `q` requantized by `s /
//! scale` (round half up) into a scale-1 domain `±D` just wide enough for
//! `[lo − zp, hi − zp]`; then `+ zp`, and `lo + relu(y − lo)`,
//! `hi − relu(hi − y)` where the domain reaches past the type. Integer
//! in, integer out: `QLinearMatMul`'s accumulator is exact and only its
//! final rounding is a requantization, as the model wrote it. The rounding
//! differs from ONNX's (half to even) only on exact ties.
//!
//! **`argmax` is a max reduction, a step per entry and a max of pushed
//! indices** (see `max_and_index`), on the values narrowed to 24 bits
//! (a logit is a 59-bit accumulator) and with wide axes reduced in stages
//! of at most 64 entries (a vocabulary of 49,152 as 64 · 64 · 12); `TopK` is `k` rounds of it, each found
//! entry pushed below every value of the type before the next round.

use super::rules::{Quantizer, Val, op_err};
use super::*;
use zkml_ir::ops::logic::{CompareOp, LogicOp};
use zkml_ir::ops::quant::QuantizeLinear;
use zkml_ir::ops::unary::Cast;

/// Width at which `argmax` compares wider values (the residual stream's).
const ARG_BITS: u8 = 24;

/// Most entries one `reduce_max` of an argmax compares (see
/// `staged_max`).
const MAX_WINDOW: usize = 64;

/// Whether the quantizer lowers `op` into the provable core (on any types);
/// with its proving cost in the rewrite stage's units for `n` output
/// elements (see `crate::rewrite::cost`): a comparison is a subtraction and
/// a step lookup, a selection two subtractions, a product and a sum.
pub fn lowered_cost(op: &Op, n: f64) -> Option<f64> {
    Some(match op {
        Op::Compare(c) if c.op == CompareOp::Eq => 18.0 * n,
        Op::Compare(_) => 14.0 * n,
        Op::Logic(_) => 5.0 * n,
        Op::Where(_) => 7.0 * n,
        Op::Cast(_) => 0.0,
        // A max reduction, a step per entry, a second max reduction.
        Op::Arg(_) => 60.0 * n,
        Op::TopK(t) => 60.0 * n * t.k as f64,
        Op::Binary(b) if matches!(b.op, BinaryOp::Max | BinaryOp::Min) => 14.0 * n,
        // A requantization, an addition, up to two ReLUs.
        Op::QuantizeLinear(_) => 30.0 * n,
        _ => return None,
    })
}

/// The float form of a constant of any element type (booleans are 0/1).
pub(super) fn float_tensor(t: &Tensor) -> Result<Tensor, QuantError> {
    match t.data() {
        TensorData::F32(_) => Ok(t.clone()),
        _ => Ok(zkml_ir::OpDef::eval(&Cast { to: DType::F32 }, &[t]).map_err(op_err)?.remove(0)),
    }
}

/// How a constant compared with a grid value is rounded onto the grid so
/// that the comparison keeps its answer (see the module docs).
#[derive(Debug, Clone, Copy)]
enum Round {
    Floor,
    Ceil,
    Nearest,
}

impl Round {
    fn apply(self, r: f64) -> f64 {
        match self {
            Round::Floor => r.floor(),
            Round::Ceil => r.ceil(),
            Round::Nearest => r.round(),
        }
    }
}

/// A comparison `x ⋈ t` with `x` on the left: the same test with sides
/// swapped when the constant is on the left.
fn swapped(op: CompareOp) -> CompareOp {
    match op {
        CompareOp::Lt => CompareOp::Gt,
        CompareOp::Gt => CompareOp::Lt,
        CompareOp::Le => CompareOp::Ge,
        CompareOp::Ge => CompareOp::Le,
        CompareOp::Eq => CompareOp::Eq,
    }
}

/// The boolean type: integers `{−1, 0, 1}` of scale 1 (only 0 and 1 occur).
pub(super) fn bool_type() -> QType {
    QType::new(2, 1.0)
}

impl Quantizer<'_> {
    /// The quantized value of old value `v`; an error naming it when it has
    /// no fixed-point type (integer ids used as numbers).
    fn q_value(&mut self, v: ValueId, what: &str) -> Result<ValueId, QuantError> {
        let q = self.value(v)?;
        match self.out.fact(q).map(|f| f.dtype) {
            Some(DType::Q(_)) => Ok(q),
            Some(d) => Err(QuantError::Form(format!(
                "{what}: value '{}' is {d} (integer ids used both to index a table and as numbers)",
                self.name(v)
            ))),
            None => Err(QuantError::Form(format!("{what}: value '{}' has no type", self.name(v)))),
        }
    }

    /// A constant of integers `ints` at scale `scale`, as wide as they need.
    fn int_const(
        &mut self,
        name: &str,
        shape: &[usize],
        ints: Vec<i64>,
        scale: f32,
    ) -> Result<ValueId, QuantError> {
        let m = ints.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0);
        let qt = QType::new((QType::bits_for(u128::from(m)) as u8).max(2), scale);
        let c =
            Const::quantized(Tensor::from_i64(shape.to_vec(), ints).map_err(op_err)?, qt).map_err(op_err)?;
        Ok(ValueId::new(self.out.add_node(name, c, &[])?, 0))
    }

    /// An integer or boolean constant as scale-1 fixed point.
    pub(super) fn scale_one_const(&mut self, name: &str, t: &Tensor) -> Result<ValueId, QuantError> {
        let ints = match t.data() {
            TensorData::Bool(v) => v.iter().map(|&b| i64::from(b)).collect(),
            TensorData::F32(v) => v.iter().map(|&x| x.round() as i64).collect(),
            _ => t.as_i64().map_err(op_err)?.to_vec(),
        };
        self.int_const(name, t.shape(), ints, 1.0)
    }

    /// The scalar `1` as a boolean.
    fn one(&mut self, name: &str) -> Result<ValueId, QuantError> {
        self.int_const(&format!("{name}.one"), &[], vec![1], 1.0)
    }

    fn bin(&mut self, op: BinaryOp, a: ValueId, b: ValueId, name: &str) -> Result<ValueId, QuantError> {
        self.add(name, Binary { op }, &[a, b])
    }

    /// `clamp(d, −1, 1)` (identity) or `[d > 0]` (ReLU) of a quantized
    /// value, whatever its scale: a requantization by 1 into the saturating
    /// boolean domain (see the module docs).
    fn sign_domain(&mut self, d: ValueId, func: LookupFn, name: &str) -> Result<ValueId, QuantError> {
        let input = self.qtype(d).ok_or_else(|| QuantError::Form(format!("{name}: not quantized")))?;
        let t = bool_type();
        let table = TableSpec { func, domain: Domain::Linear(t), out: t };
        let op = Lookup { func, quant: Some(LookupQuant { input, requant: Requant::IDENTITY, table }) };
        self.add(name, op, &[d])
    }

    /// `relu(d)` at `d`'s own type: range checks, no table, exact.
    fn relu_exact(&mut self, d: ValueId, name: &str) -> Result<ValueId, QuantError> {
        let input = self.qtype(d).ok_or_else(|| QuantError::Form(format!("{name}: not quantized")))?;
        let table = TableSpec { func: LookupFn::Relu, domain: Domain::Linear(input), out: input };
        let op = Lookup {
            func: LookupFn::Relu,
            quant: Some(LookupQuant { input, requant: Requant::IDENTITY, table }),
        };
        self.add(name, op, &[d])
    }

    /// Old values `a`, `b` as quantized values at one scale, for an op that
    /// compares or selects; a constant side is put on the other side's grid
    /// with `round` (clamped just past that side's range, which keeps every
    /// comparison's answer and keeps the constant narrow).
    fn on_one_grid(
        &mut self,
        a: ValueId,
        b: ValueId,
        round: [Round; 2],
        name: &str,
    ) -> Result<(ValueId, ValueId), QuantError> {
        let (ca, cb) = (self.map.get(&a).cloned(), self.map.get(&b).cloned());
        let konst = |q: &mut Self, x: ValueId, t: &Tensor, r: Round| -> Result<ValueId, QuantError> {
            let qt = q.qtype(x).ok_or_else(|| QuantError::Form(format!("{name}: not quantized")))?;
            let f = float_tensor(t)?;
            let lim = qt.max_abs() as f64 + 1.0;
            let ints: Vec<i64> = f
                .as_f32()
                .map_err(op_err)?
                .iter()
                .map(|&v| r.apply(v as f64 / qt.scale as f64).clamp(-lim, lim) as i64)
                .collect();
            q.int_const(&format!("{name}.k"), t.shape(), ints, qt.scale)
        };
        match (ca, cb) {
            (_, Some(Val::Const(t))) => {
                let x = self.q_value(a, name)?;
                let k = konst(self, x, &t, round[1])?;
                Ok((x, k))
            }
            (Some(Val::Const(t)), _) => {
                let y = self.q_value(b, name)?;
                let k = konst(self, y, &t, round[0])?;
                Ok((k, y))
            }
            _ => {
                let (x, y) = (self.q_value(a, name)?, self.q_value(b, name)?);
                self.align((x, a), (y, b), name)
            }
        }
    }

    /// `a ⋈ b` as a 0/1 value of scale 1 (see the module docs).
    pub(super) fn compare(
        &mut self,
        op: CompareOp,
        node: &zkml_ir::Node,
        name: &str,
    ) -> Result<ValueId, QuantError> {
        let (a, b) = (node.inputs[0], node.inputs[1]);
        // The rounding of a constant right-hand side `t` for `x ⋈ t`; a
        // constant on the left is the mirrored test.
        let right = |op| match op {
            CompareOp::Gt | CompareOp::Le => Round::Floor,
            CompareOp::Lt | CompareOp::Ge => Round::Ceil,
            CompareOp::Eq => Round::Nearest,
        };
        let (x, y) = self.on_one_grid(a, b, [right(swapped(op)), right(op)], name)?;
        let step = |q: &mut Self, p: ValueId, m: ValueId| -> Result<ValueId, QuantError> {
            let d = q.bin(BinaryOp::Sub, p, m, &format!("{name}.diff"))?;
            q.sign_domain(d, LookupFn::Relu, &format!("{name}.step"))
        };
        let not = |q: &mut Self, v: ValueId| -> Result<ValueId, QuantError> {
            let one = q.one(name)?;
            q.bin(BinaryOp::Sub, one, v, name)
        };
        match op {
            CompareOp::Gt => step(self, x, y),
            CompareOp::Lt => step(self, y, x),
            CompareOp::Ge => {
                let s = step(self, y, x)?;
                not(self, s)
            }
            CompareOp::Le => {
                let s = step(self, x, y)?;
                not(self, s)
            }
            CompareOp::Eq => {
                let d = self.bin(BinaryOp::Sub, x, y, &format!("{name}.diff"))?;
                let s = self.sign_domain(d, LookupFn::Identity, &format!("{name}.sign"))?;
                let s2 = self.bin(BinaryOp::Mul, s, s, &format!("{name}.nonzero"))?;
                not(self, s2)
            }
        }
    }

    /// A boolean operand: a computed 0/1 value, or a constant as exact 0/1.
    fn boolean(&mut self, v: ValueId, name: &str) -> Result<ValueId, QuantError> {
        match self.map.get(&v).cloned() {
            Some(Val::Const(t)) => {
                let f = float_tensor(&t)?;
                let ints = f.as_f32().map_err(op_err)?.iter().map(|&x| i64::from(x != 0.0)).collect();
                self.int_const(&format!("{name}.k"), t.shape(), ints, 1.0)
            }
            _ => self.q_value(v, name),
        }
    }

    /// `¬a`, `a ∧ b`, `a ∨ b`, `a ⊕ b` on 0/1 values.
    pub(super) fn logic(
        &mut self,
        op: LogicOp,
        node: &zkml_ir::Node,
        name: &str,
    ) -> Result<ValueId, QuantError> {
        let a = self.boolean(node.inputs[0], name)?;
        if op == LogicOp::Not {
            let one = self.one(name)?;
            return self.bin(BinaryOp::Sub, one, a, name);
        }
        let b = self.boolean(node.inputs[1], name)?;
        match op {
            LogicOp::And => self.bin(BinaryOp::Mul, a, b, name),
            LogicOp::Or => {
                let s = self.bin(BinaryOp::Add, a, b, &format!("{name}.sum"))?;
                let p = self.bin(BinaryOp::Mul, a, b, &format!("{name}.both"))?;
                self.bin(BinaryOp::Sub, s, p, name)
            }
            _ => {
                let d = self.bin(BinaryOp::Sub, a, b, &format!("{name}.diff"))?;
                self.bin(BinaryOp::Mul, d, d, name)
            }
        }
    }

    /// `where(c, x, y) = y + c·(x − y)`.
    pub(super) fn select(&mut self, node: &zkml_ir::Node, name: &str) -> Result<ValueId, QuantError> {
        let (c, x, y) = (node.inputs[0], node.inputs[1], node.inputs[2]);
        let cv = self.boolean(c, name)?;
        if let (Some(Val::Const(tx)), Some(Val::Const(ty))) =
            (self.map.get(&x).cloned(), self.map.get(&y).cloned())
        {
            // Constant integer branches: scale 1, exact.
            if tx.dtype() != DType::F32 && ty.dtype() != DType::F32 {
                let (kx, ky) = (
                    self.scale_one_const(&format!("{name}.x"), &tx)?,
                    self.scale_one_const(&format!("{name}.y"), &ty)?,
                );
                let d = self.bin(BinaryOp::Sub, kx, ky, &format!("{name}.delta"))?;
                let p = self.bin(BinaryOp::Mul, cv, d, &format!("{name}.pick"))?;
                return self.bin(BinaryOp::Add, ky, p, name);
            }
            // Constant branches (a tree's leaves): `y` and the folded
            // difference on one grid fitted to both, so the sum is exact.
            let (fx, fy) = (float_tensor(&tx)?, float_tensor(&ty)?);
            let diff = Binary { op: BinaryOp::Sub };
            let d = zkml_ir::OpDef::eval(&diff, &[&fx, &fy]).map_err(op_err)?.remove(0);
            let absmax = [&d, &fy]
                .iter()
                .flat_map(|t| t.as_f32().map(|v| v.to_vec()).unwrap_or_default())
                .fold(0f32, |m, v| m.max(v.abs()));
            let scale = super::scale_for(absmax, self.opts.weight_bits);
            let k = self.add_const_at(&format!("{name}.delta"), &d, scale)?;
            let yk = self.add_const_at(&format!("{name}.y"), &fy, scale)?;
            let p = self.bin(BinaryOp::Mul, cv, k, &format!("{name}.pick"))?;
            return self.bin(BinaryOp::Add, yk, p, name);
        }
        let nearest = [Round::Nearest; 2];
        let (xv, yv) = self.on_one_grid(x, y, nearest, name)?;
        let d = self.bin(BinaryOp::Sub, xv, yv, &format!("{name}.diff"))?;
        let p = self.bin(BinaryOp::Mul, cv, d, &format!("{name}.pick"))?;
        self.bin(BinaryOp::Add, yv, p, name)
    }

    /// `max(a, b) = b + relu(a − b)`, `min(a, b) = a − relu(a − b)`.
    pub(super) fn max_min(
        &mut self,
        op: BinaryOp,
        node: &zkml_ir::Node,
        name: &str,
    ) -> Result<ValueId, QuantError> {
        let nearest = [Round::Nearest; 2];
        let (a, b) = self.on_one_grid(node.inputs[0], node.inputs[1], nearest, name)?;
        let d = self.bin(BinaryOp::Sub, a, b, &format!("{name}.diff"))?;
        let r = self.relu_exact(d, &format!("{name}.relu"))?;
        match op {
            BinaryOp::Max => self.bin(BinaryOp::Add, b, r, name),
            _ => self.bin(BinaryOp::Sub, a, r, name),
        }
    }

    /// `pad(x, v) = pad(x − v, 0) + v`, `v` rounded to `x`'s grid: data
    /// movement stays zero padding.
    pub(super) fn pad_with(
        &mut self,
        p: &zkml_ir::ops::layout::Pad,
        node: &zkml_ir::Node,
        name: &str,
    ) -> Result<ValueId, QuantError> {
        let x = self.q_value(node.inputs[0], name)?;
        let qt = self.qtype(x).ok_or_else(|| QuantError::Form(format!("{name}: not quantized")))?;
        let v = (f64::from(p.value) / f64::from(qt.scale)).round() as i64;
        let k = self.int_const(&format!("{name}.value"), &[], vec![v], qt.scale)?;
        let shifted = self.bin(BinaryOp::Sub, x, k, &format!("{name}.shifted"))?;
        let zero = zkml_ir::ops::layout::Pad { value: 0.0, ..p.clone() };
        let padded = self.add(&format!("{name}.zero"), zero, &[shifted])?;
        self.bin(BinaryOp::Add, padded, k, name)
    }

    /// The maximum of `x` along `axis` (kept, size 1) and the first index
    /// reaching it, exactly: `m = max x` (a max reduction), the step
    /// `s_i = [m − x_i > 0]`, then the first index is `min_i (i + n·s_i)`,
    /// computed as `−max_i (−i − n·s_i)`, and the last is `max_i (i − n·s_i)`:
    /// indices of a maximum stay below `n`, the others are pushed past them.
    fn max_and_index(
        &mut self,
        x: ValueId,
        axis: usize,
        last: bool,
        name: &str,
    ) -> Result<(ValueId, ValueId), QuantError> {
        let shape = self.out.fact(x).map(|f| f.shape.clone()).unwrap_or_default();
        let n = shape[axis];
        let m = self.staged_max(x, axis, &format!("{name}.max"))?;
        let d = self.bin(BinaryOp::Sub, m, x, &format!("{name}.gap"))?;
        let s = self.sign_domain(d, LookupFn::Relu, &format!("{name}.below"))?;
        let sign = if last { 1 } else { -1 };
        let iota = self.positions(&shape, axis, sign, name)?;
        let push = self.int_const(&format!("{name}.push"), &[], vec![-(n as i64)], 1.0)?;
        let pushed = self.bin(BinaryOp::Mul, s, push, &format!("{name}.pushed"))?;
        let key = self.bin(BinaryOp::Add, iota, pushed, &format!("{name}.key"))?;
        let best = self.staged_max(key, axis, &format!("{name}.best"))?;
        if last {
            return Ok((m, best));
        }
        let zero = self.int_const(&format!("{name}.zero"), &[], vec![0], 1.0)?;
        Ok((m, self.bin(BinaryOp::Sub, zero, best, &format!("{name}.first"))?))
    }

    /// The maximum of `x` along `axis` (kept, size 1), in stages of at
    /// most [`MAX_WINDOW`] entries while the axis length has such a factor
    /// (`[…, n, …] → […, n/f, f, …]`, max over the `f` axis): the max of
    /// maxima is the max, and the prover's argument for one window has
    /// degree `window + 1` (a vocabulary-wide window would not fit in
    /// memory).
    fn staged_max(&mut self, x: ValueId, axis: usize, name: &str) -> Result<ValueId, QuantError> {
        use zkml_ir::ops::layout::Reshape;
        use zkml_ir::ops::reduce::{Reduce, ReduceOp};
        let mut shape = self.out.fact(x).map(|f| f.shape.clone()).unwrap_or_default();
        let (mut cur, mut stage) = (x, 0);
        while shape[axis] > MAX_WINDOW {
            let n = shape[axis];
            let Some(f) = (2..=MAX_WINDOW).rev().find(|&f| n.is_multiple_of(f)) else { break };
            let mut split = shape.clone();
            split[axis] = n / f;
            split.insert(axis + 1, f);
            let r = self.add(&format!("{name}.split{stage}"), Reshape { shape: split }, &[cur])?;
            let max = Reduce { op: ReduceOp::Max, axes: vec![axis + 1], keepdims: false };
            cur = self.add(&format!("{name}.stage{stage}"), max, &[r])?;
            shape[axis] = n / f;
            stage += 1;
        }
        self.add(name, Reduce { op: ReduceOp::Max, axes: vec![axis], keepdims: true }, &[cur])
    }

    /// `sign · i` along `axis` of `shape` (the others size 1), scale 1.
    fn positions(
        &mut self,
        shape: &[usize],
        axis: usize,
        sign: i64,
        name: &str,
    ) -> Result<ValueId, QuantError> {
        let mut s = vec![1; shape.len()];
        s[axis] = shape[axis];
        self.int_const(&format!("{name}.index"), &s, (0..shape[axis] as i64).map(|i| sign * i).collect(), 1.0)
    }

    /// `x` negated (for the smallest entries), exactly.
    fn negated(&mut self, x: ValueId, name: &str) -> Result<ValueId, QuantError> {
        let minus = self.int_const(&format!("{name}.minus"), &[], vec![-1], 1.0)?;
        self.bin(BinaryOp::Mul, x, minus, &format!("{name}.neg"))
    }

    /// `argmax` (`argmin`: of `−x`) along an axis, as [`Self::max_and_index`].
    pub(super) fn arg(
        &mut self,
        a: &zkml_ir::ops::reduce::Arg,
        node: &zkml_ir::Node,
        name: &str,
    ) -> Result<ValueId, QuantError> {
        let mut x = self.q_value(node.inputs[0], name)?;
        // An accumulator (a logit is a 59-bit dot product) is compared at
        // `ARG_BITS`: every comparison then range-checks 25 bits, not 60;
        // values within one step of that grid (2^-23 of the calibrated
        // range) tie, and ties go to the lowest index.
        x = self.narrow_to(x, node.inputs[0], ARG_BITS, &format!("{name}.narrow"))?;
        let shape = self.out.fact(x).map(|f| f.shape.clone()).unwrap_or_default();
        if a.min {
            x = self.negated(x, name)?;
        }
        let (_, idx) = self.max_and_index(x, a.axis, a.last, name)?;
        let mut out = shape.clone();
        if a.keepdims {
            // The node's value: a relabelling keeps its name on the last op.
            return self.add(
                name,
                zkml_ir::ops::layout::Reshape {
                    shape: {
                        out[a.axis] = 1;
                        out
                    },
                },
                &[idx],
            );
        }
        out.remove(a.axis);
        self.add(name, zkml_ir::ops::layout::Reshape { shape: out }, &[idx])
    }

    /// `TopK`: `k` rounds of [`Self::max_and_index`]; after each, the entry
    /// found is pushed below every entry of the type (`x − [i = idx]·(2M +
    /// 1)`, `M` the type's largest magnitude), so the next round finds the
    /// next one. Values and indices come from the same rounds (computed
    /// once for both outputs), in order: the order is proven with them.
    pub(super) fn topk(
        &mut self,
        t: &zkml_ir::ops::reduce::TopK,
        node: &zkml_ir::Node,
        name: &str,
    ) -> Result<ValueId, QuantError> {
        let key = (node.inputs[0], t.axis, t.k, t.largest);
        let (values, indices) = match self.topk_cache.get(&key) {
            Some(&found) => found,
            None => {
                let found = self.topk_rounds(t, node.inputs[0], name)?;
                self.topk_cache.insert(key, found);
                found
            }
        };
        Ok(if t.indices { indices } else { values })
    }

    fn topk_rounds(
        &mut self,
        t: &zkml_ir::ops::reduce::TopK,
        input: ValueId,
        name: &str,
    ) -> Result<(ValueId, ValueId), QuantError> {
        let mut cur = self.q_value(input, name)?;
        let shape = self.out.fact(cur).map(|f| f.shape.clone()).unwrap_or_default();
        let qt = self.qtype(cur).ok_or_else(|| QuantError::Form(format!("{name}: not quantized")))?;
        if !t.largest {
            cur = self.negated(cur, name)?;
        }
        let (mut vals, mut idxs) = (vec![], vec![]);
        let pos = self.positions(&shape, t.axis, 1, &format!("{name}.rank"))?;
        let push = self.int_const(&format!("{name}.below_all"), &[], vec![2 * qt.max_abs() + 1], qt.scale)?;
        for j in 0..t.k {
            let step = format!("{name}.r{j}");
            let (m, idx) = self.max_and_index(cur, t.axis, false, &step)?;
            vals.push(if t.largest { m } else { self.negated(m, &step)? });
            idxs.push(idx);
            if j + 1 < t.k {
                let d = self.bin(BinaryOp::Sub, pos, idx, &format!("{step}.offset"))?;
                let s = self.sign_domain(d, LookupFn::Identity, &format!("{step}.sign"))?;
                let miss = self.bin(BinaryOp::Mul, s, s, &format!("{step}.miss"))?;
                let one = self.one(&step)?;
                let hit = self.bin(BinaryOp::Sub, one, miss, &format!("{step}.hit"))?;
                let down = self.bin(BinaryOp::Mul, hit, push, &format!("{step}.down"))?;
                cur = self.bin(BinaryOp::Sub, cur, down, &format!("{step}.rest"))?;
            }
        }
        let cat = zkml_ir::ops::layout::Concat { axis: t.axis };
        let values = if vals.len() == 1 { vals[0] } else { self.add(name, cat.clone(), &vals)? };
        let indices =
            if idxs.len() == 1 { idxs[0] } else { self.add(&format!("{name}.indices"), cat, &idxs)? };
        Ok((values, indices))
    }

    /// `QuantizeLinear` (see the module docs).
    pub(super) fn quantize_linear(
        &mut self,
        ql: &QuantizeLinear,
        node: &zkml_ir::Node,
        name: &str,
    ) -> Result<ValueId, QuantError> {
        let x = self.q_value(node.inputs[0], name)?;
        let input = self.qtype(x).ok_or_else(|| QuantError::Form(format!("{name}: not quantized")))?;
        let (lo, hi, zp) = (ql.lo, ql.hi, ql.zero_point);
        let reach = (lo - zp).unsigned_abs().max((hi - zp).unsigned_abs()).max(1);
        let domain = QType::new(QType::bits_for(u128::from(reach)) as u8, 1.0);
        let requant =
            Requant::approximating(input.scale as f64 / ql.scale as f64, input.bits).map_err(op_err)?;
        let table = TableSpec { func: LookupFn::Identity, domain: Domain::Linear(domain), out: domain };
        let op = Lookup { func: LookupFn::Identity, quant: Some(LookupQuant { input, requant, table }) };
        let mut y = self.add(&format!("{name}.round"), op, &[x])?;
        let d = domain.max_abs();
        if zp != 0 {
            let k = self.int_const(&format!("{name}.zero_point"), &[], vec![zp], 1.0)?;
            y = self.bin(BinaryOp::Add, y, k, &format!("{name}.shift"))?;
        }
        if zp - d < lo {
            let k = self.int_const(&format!("{name}.lo"), &[], vec![lo], 1.0)?;
            let over = self.bin(BinaryOp::Sub, y, k, &format!("{name}.above_lo"))?;
            let r = self.relu_exact(over, &format!("{name}.relu_lo"))?;
            y = self.bin(BinaryOp::Add, r, k, &format!("{name}.clamp_lo"))?;
        }
        if zp + d > hi {
            let k = self.int_const(&format!("{name}.hi"), &[], vec![hi], 1.0)?;
            let under = self.bin(BinaryOp::Sub, k, y, &format!("{name}.below_hi"))?;
            let r = self.relu_exact(under, &format!("{name}.relu_hi"))?;
            y = self.bin(BinaryOp::Sub, k, r, &format!("{name}.clamp_hi"))?;
        }
        Ok(y)
    }

    /// A cast: integers and booleans are already scale-1 values and floats
    /// keep their type; to bool is `x ≠ 0 = (sign x)²`.
    pub(super) fn cast(&mut self, c: &Cast, node: &zkml_ir::Node, name: &str) -> Result<Val, QuantError> {
        let x = node.inputs[0];
        let from = self.g.fact(x).map(|f| f.dtype);
        let v = self.q_value(x, name)?;
        let scale_one = self.qtype(v).is_some_and(|q| q.scale == 1.0);
        match (from, c.to) {
            (_, DType::Bool) => {
                let s = self.sign_domain(v, LookupFn::Identity, &format!("{name}.sign"))?;
                Ok(Val::Q(self.bin(BinaryOp::Mul, s, s, name)?))
            }
            (_, DType::F32) => Ok(Val::Q(v)),
            (_, DType::I64) if scale_one => Ok(Val::Q(v)),
            (from, to) => Err(QuantError::Form(format!(
                "a cast of a fractional {} value to {to} (truncation) is not quantized",
                from.map_or("unknown".to_string(), |d| d.to_string())
            ))),
        }
    }
}
