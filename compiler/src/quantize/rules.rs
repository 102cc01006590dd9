//! The per-op quantization rules: each float node becomes its fixed-point
//! form (exact where the result fits 62 bits, requantized where it must).

use super::*;

/// Quantizes the rewritten float graph `g` (see the module docs).
pub fn quantize(g: &Graph, cal: &Calibration, opts: &QuantOptions) -> Result<Quantized, QuantError> {
    opts.check()?;
    if let Some((id, name, op)) = non_core(g).into_iter().next() {
        return Err(QuantError::NotCore { id, name, op });
    }
    let cal = &cal.widened(opts.headroom);
    let indices = index_values(g);
    let mut q = Quantizer {
        g,
        cal,
        opts: *opts,
        out: Graph::new(),
        map: HashMap::new(),
        requants: HashMap::new(),
        indices,
        topk_cache: HashMap::new(),
    };
    for (id, node) in g.nodes() {
        q.node(id, node).map_err(|e| match e {
            Step::Ir(e) => QuantError::Ir(e),
            Step::Msg(msg) => QuantError::Node { id, name: node.name.clone(), op: node.op.to_string(), msg },
        })?;
    }
    let mut outs = Vec::new();
    for &o in g.outputs() {
        let v = match q.map.get(&o).cloned() {
            // A constant integer or boolean output (a shape): scale 1.
            Some(Val::Const(t)) if t.dtype() != DType::F32 => q.scale_one_const(&q.name(o), &t)?,
            _ => q.value(o)?,
        };
        // An integer output (an argmax index, a count) is exact: narrowing
        // it to the calibrated range would round indices past `2^(bits−1)`.
        let integer = g.fact(o).is_some_and(|f| f.dtype != DType::F32);
        let mut v = if integer { v } else { q.narrow(v, o, &format!("{}.out", q.name(o)))? };
        // An output that is an input or a constant (an identity model, a
        // cast that changes nothing) is copied by a plain requantization to
        // its own type: the proof then shows that the output is that value,
        // and every graph has something to prove.
        if matches!(q.out.node(v.node).op, Op::Input(_) | Op::Const(_))
            && let Some(t) = q.qtype(v)
        {
            v = q.requant_new(v, t, &format!("{}.copy", q.name(o)))?;
        }
        if let Some(val) = g.value(o) {
            q.out.set_value_name(v, val.name.clone());
        }
        outs.push(v);
    }
    q.out.set_outputs(outs);
    let mut values: Vec<(ValueId, ValueId)> =
        q.map.iter().filter_map(|(&o, v)| if let Val::Q(n) = v { Some((o, *n)) } else { None }).collect();
    values.sort();
    Ok(Quantized { graph: q.out, values })
}

/// A value of the new graph, or a constant still in float (quantized where
/// it is used, because the right type depends on the use).
#[derive(Debug, Clone)]
pub(super) enum Val {
    Q(ValueId),
    Const(Tensor),
}

pub(super) struct Quantizer<'a> {
    pub(super) g: &'a Graph,
    cal: &'a Calibration,
    pub(super) opts: QuantOptions,
    pub(super) out: Graph,
    pub(super) map: HashMap<ValueId, Val>,
    /// Requantizations already made: (value, bits, scale bits) → result.
    requants: HashMap<(ValueId, u8, u32), ValueId>,
    /// Values that index a gather (directly or through data movement):
    /// integer ids, which keep their plain integer type.
    indices: std::collections::HashSet<ValueId>,
    /// `TopK` rounds already lowered, by (input, axis, k, largest): values
    /// and indices.
    pub(super) topk_cache: HashMap<(ValueId, usize, usize, bool), (ValueId, ValueId)>,
}

/// The values of `g` that reach a gather's index operand through data
/// movement only.
fn index_values(g: &Graph) -> std::collections::HashSet<ValueId> {
    let mut marked = std::collections::HashSet::new();
    let nodes: Vec<_> = g.nodes().collect();
    for (id, node) in nodes.into_iter().rev() {
        match &node.op {
            Op::Gather(_) => {
                marked.insert(node.inputs[1]);
            }
            Op::Reshape(_)
            | Op::Transpose(_)
            | Op::Slice(_)
            | Op::Expand(_)
            | Op::Concat(_)
            | Op::Split(_)
                if node.outputs.iter().enumerate().any(|(s, _)| marked.contains(&ValueId::new(id, s))) =>
            {
                marked.extend(node.inputs.iter().copied());
            }
            _ => {}
        }
    }
    marked
}

impl Quantizer<'_> {
    pub(super) fn name(&self, v: ValueId) -> String {
        self.g.node(v.node).name.clone()
    }
    pub(super) fn qtype(&self, v: ValueId) -> Option<QType> {
        self.out.fact(v).and_then(|f| f.dtype.q())
    }

    /// The new-graph value of an old value, materialising constants as
    /// activations-width tensors (for uses where no better type is known).
    pub(super) fn value(&mut self, old: ValueId) -> Result<ValueId, QuantError> {
        match self.map.get(&old).cloned() {
            Some(Val::Q(v)) => Ok(v),
            Some(Val::Const(t)) => {
                let name = self.name(old);
                self.add_const(&name, &t, self.opts.bits)
            }
            None => Err(QuantError::Form(format!("value {old} used before definition"))),
        }
    }

    /// A quantized constant of `bits` bits (exact `{-1,0,1}·m` form when possible).
    pub(super) fn add_const(&mut self, name: &str, t: &Tensor, bits: u8) -> Result<ValueId, QuantError> {
        let (ints, qt) = match t.data() {
            TensorData::F32(v) => quantize_tensor(v, bits),
            _ => return Ok(self.out.add_const(name, t.clone())?),
        };
        let c = Const::quantized(Tensor::from_i64(t.shape(), ints).map_err(op_err)?, qt).map_err(op_err)?;
        Ok(ValueId::new(self.out.add_node(name, c, &[])?, 0))
    }

    /// A constant at a given scale (rounded), as wide as its values need.
    pub(super) fn add_const_at(&mut self, name: &str, t: &Tensor, scale: f32) -> Result<ValueId, QuantError> {
        let TensorData::F32(v) = t.data() else { return Ok(self.out.add_const(name, t.clone())?) };
        let ints: Vec<i64> = v.iter().map(|x| (*x as f64 / scale as f64).round() as i64).collect();
        let m = ints.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0);
        let bits = QType::bits_for(m as u128).max(2);
        if bits > 62 {
            return Err(QuantError::Form(format!(
                "constant '{name}' does not fit 62 bits at scale {scale:e}"
            )));
        }
        let qt = QType::new(bits as u8, scale);
        let c = Const::quantized(Tensor::from_i64(t.shape(), ints).map_err(op_err)?, qt).map_err(op_err)?;
        Ok(ValueId::new(self.out.add_node(name, c, &[])?, 0))
    }

    pub(super) fn add(
        &mut self,
        name: &str,
        op: impl Into<Op>,
        inputs: &[ValueId],
    ) -> Result<ValueId, QuantError> {
        Ok(ValueId::new(self.out.add_node(name, op, inputs)?, 0))
    }

    /// A constant addend of `x` (new value of `old`), rounded to `x`'s
    /// scale; `x` is first narrowed to `wide_bits` if the sum would not fit.
    pub(super) fn with_const_addend(
        &mut self,
        x: ValueId,
        old: ValueId,
        t: &Tensor,
        name: &str,
    ) -> Result<(ValueId, ValueId), QuantError> {
        let scale = |q: &Self, v| {
            q.qtype(v)
                .map(|q| q.scale)
                .ok_or_else(|| QuantError::Form(format!("{name}: operand is not quantized")))
        };
        let k = self.add_const_at(&format!("{name}.k"), t, scale(self, x)?)?;
        if self.fits(&Op::from(Binary { op: BinaryOp::Add }), &[x, k]) {
            return Ok((x, k));
        }
        let x = self.narrow_to(x, old, self.opts.wide_bits, &format!("{name}.in"))?;
        let k = self.add_const_at(&format!("{name}.k"), t, scale(self, x)?)?;
        Ok((x, k))
    }

    /// An einsum with per-tensor weights, exact unless it must narrow (see [`Self::fit`]).
    fn einsum(
        &mut self,
        e: &zkml_ir::ops::einsum::Einsum,
        node: &zkml_ir::Node,
        name: &str,
    ) -> Result<ValueId, QuantError> {
        let (mut args, mut olds) = (Vec::new(), Vec::new());
        for &a in &node.inputs {
            match self.map.get(&a).cloned() {
                Some(Val::Const(t)) => {
                    args.push(self.add_const(&self.name(a), &t, self.opts.weight_bits)?);
                    olds.push(None);
                }
                _ => {
                    args.push(self.value(a)?);
                    olds.push(Some(a));
                }
            }
        }
        self.fit(&Op::from(e.clone()), &mut args, &olds, name)?;
        self.add(name, e.clone(), &args)
    }

    /// For a two-operand einsum with one constant weight: the weight's
    /// operand index and the axis of its output channel (the one letter it
    /// shares with the output and not with the activation).
    fn per_channel_form(
        &self,
        e: &zkml_ir::ops::einsum::Einsum,
        node: &zkml_ir::Node,
    ) -> Option<(usize, usize)> {
        let spec = e.spec().ok()?;
        if node.inputs.len() != 2 {
            return None;
        }
        let is_const = |i: usize| matches!(self.map.get(&node.inputs[i]), Some(Val::Const(_)));
        let ci = match (is_const(0), is_const(1)) {
            (true, false) => 0,
            (false, true) => 1,
            _ => return None,
        };
        let (w, x) = (&spec.inputs[ci], &spec.inputs[1 - ci]);
        let channels: Vec<usize> =
            (0..w.len()).filter(|&i| spec.output.contains(&w[i]) && !x.contains(&w[i])).collect();
        match channels.as_slice() {
            [axis] => Some((ci, *axis)),
            _ => None,
        }
    }

    /// `x · W` with per-output-channel weight scales, as one exact einsum of
    /// three operands: `W[…, n, …] ≈ Q[…, n, …] · C[n] · σ`, `Q` quantized
    /// per channel (`weight_bits`), `C` the channel scales quantized per
    /// tensor (`weight_bits`, step `σ`). Every fact stays per tensor.
    fn per_channel_einsum(
        &mut self,
        e: &zkml_ir::ops::einsum::Einsum,
        node: &zkml_ir::Node,
        ci: usize,
        axis: usize,
        name: &str,
    ) -> Result<ValueId, QuantError> {
        let spec = e.spec().map_err(op_err)?;
        let (wid, xid) = (node.inputs[ci], node.inputs[1 - ci]);
        let Some(Val::Const(w)) = self.map.get(&wid).cloned() else {
            unreachable!("per_channel_form checked it")
        };
        let data = w.as_f32().map_err(op_err)?;
        let shape = w.shape().to_vec();
        let (n, inner): (usize, usize) = (shape[axis], shape[axis + 1..].iter().product());
        let max_int = QType::new(self.opts.weight_bits, 1.0).max_abs() as f32;
        let mut absmax = vec![0f32; n];
        for (i, &v) in data.iter().enumerate() {
            let c = (i / inner) % n;
            absmax[c] = absmax[c].max(v.abs());
        }
        let scales: Vec<f32> =
            absmax.iter().map(|&m| if m > 0.0 { m / max_int } else { 1.0 / max_int }).collect();
        let q: Vec<i64> =
            data.iter().enumerate().map(|(i, &v)| (v / scales[(i / inner) % n]).round() as i64).collect();
        let qc = Const::quantized(
            Tensor::from_i64(shape.clone(), q).map_err(op_err)?,
            QType::new(self.opts.weight_bits, 1.0),
        )
        .map_err(op_err)?;
        let qv = ValueId::new(self.out.add_node(format!("{name}.weight"), qc, &[])?, 0);
        let cv = self.add_const(
            &format!("{name}.channel_scale"),
            &Tensor::from_f32(vec![n], scales).map_err(op_err)?,
            self.opts.weight_bits,
        )?;
        let x = self.value(xid)?;
        let c = spec.inputs[ci][axis];
        let term = |t: &[char]| t.iter().collect::<String>();
        let eq = format!("{},{},{c}->{}", term(&spec.inputs[0]), term(&spec.inputs[1]), term(&spec.output));
        let op = zkml_ir::ops::einsum::Einsum::new(eq).map_err(op_err)?;
        let mut args = if ci == 0 { vec![qv, x, cv] } else { vec![x, qv, cv] };
        let olds = if ci == 0 { [None, Some(xid), None] } else { [Some(xid), None, None] };
        self.fit(&Op::from(op.clone()), &mut args, &olds, name)?;
        self.add(name, op, &args)
    }

    /// Keeps `op` exact on its operands as they are when the result fits 62
    /// bits (a mean of squares keeps small rows' precision); else narrows
    /// the non-constant ones (`olds[i]` = their float value) to
    /// `wide_bits`, then to `bits`.
    fn fit(
        &mut self,
        op: &Op,
        args: &mut [ValueId],
        olds: &[Option<ValueId>],
        name: &str,
    ) -> Result<(), QuantError> {
        for bits in [self.opts.wide_bits, self.opts.bits] {
            if self.fits(op, args) {
                break;
            }
            for (i, old) in olds.iter().enumerate() {
                if let Some(old) = *old {
                    args[i] = self.narrow_to(args[i], old, bits, &format!("{name}.in{i}"))?;
                }
            }
        }
        Ok(())
    }

    /// Whether `op` on `args` type-checks, i.e. its exact result fits 62 bits.
    fn fits(&self, op: &Op, args: &[ValueId]) -> bool {
        let facts: Option<Vec<&Fact>> = args.iter().map(|&a| self.out.fact(a)).collect();
        facts.is_some_and(|f| op.def().infer(&f).is_ok())
    }

    /// Requantizes `v` (the new value of old value `old`) to `bits` bits
    /// at the scale its calibrated range needs, if it is wider.
    fn narrow(&mut self, v: ValueId, old: ValueId, name: &str) -> Result<ValueId, QuantError> {
        self.narrow_to(v, old, self.opts.bits, name)
    }

    /// [`Self::narrow`] to `bits` bits.
    pub(super) fn narrow_to(
        &mut self,
        v: ValueId,
        old: ValueId,
        bits: u8,
        name: &str,
    ) -> Result<ValueId, QuantError> {
        match self.qtype(v) {
            Some(q) if q.bits > bits => {
                // A power-of-two multiple of the current scale, just coarse
                // enough for the calibrated range: the new scale stays an
                // integer ratio of its neighbours', so later additions with
                // them align exactly instead of through another table.
                let want = scale_for(self.cal.absmax(old), bits) as f64;
                let k = (want / q.scale as f64).log2().ceil().max(0.0) as i32;
                let target = QType::new(bits, (q.scale as f64 * 2f64.powi(k)) as f32);
                self.requant(v, target, name)
            }
            _ => Ok(v),
        }
    }

    /// An identity lookup from `v` to type `target`.
    fn requant(&mut self, v: ValueId, target: QType, name: &str) -> Result<ValueId, QuantError> {
        let key = (v, target.bits, target.scale.to_bits());
        if let Some(&r) = self.requants.get(&key) {
            return Ok(r);
        }
        let r = self.requant_new(v, target, name)?;
        self.requants.insert(key, r);
        Ok(r)
    }

    fn requant_new(&mut self, v: ValueId, target: QType, name: &str) -> Result<ValueId, QuantError> {
        let input = self.qtype(v).ok_or_else(|| QuantError::Form(format!("{name}: not quantized")))?;
        let requant =
            Requant::approximating(input.scale as f64 / target.scale as f64, input.bits).map_err(op_err)?;
        let table = TableSpec { func: LookupFn::Identity, domain: Domain::Linear(target), out: target };
        let op = Lookup { func: LookupFn::Identity, quant: Some(LookupQuant { input, requant, table }) };
        self.add(name, op, &[v])
    }

    /// Brings two quantized values to one scale: exactly when the ratio of
    /// scales is an integer (multiply the coarser by it), else by
    /// requantizing the finer to the coarser.
    pub(super) fn align(
        &mut self,
        (a, old_a): (ValueId, ValueId),
        (b, old_b): (ValueId, ValueId),
        name: &str,
    ) -> Result<(ValueId, ValueId), QuantError> {
        let (qa, qb) = (self.qtype(a), self.qtype(b));
        let (Some(qa), Some(qb)) = (qa, qb) else { return Ok((a, b)) };
        if same_scale(qa.scale, qb.scale) {
            return Ok((a, b));
        }
        let (coarse, fine, swap) = if qa.scale > qb.scale { (a, b, false) } else { (b, a, true) };
        let (qc, qf) = if swap { (qb, qa) } else { (qa, qb) };
        // Both operands must fit the common type when it is a table domain.
        let absmax = self.cal.absmax(old_a).max(self.cal.absmax(old_b)) as f64;
        let ratio = qc.scale as f64 / qf.scale as f64;
        let r = ratio.round();
        let (c2, f2) = if (ratio - r).abs() <= 1e-6 * ratio && r <= (1u64 << 20) as f64 {
            // coarse · r at scale coarse/r = fine: exact.
            let k = Tensor::from_i64(Vec::<usize>::new(), vec![r as i64]).map_err(op_err)?;
            let kq = QType::new(QType::bits_for(r as u128) as u8, (1.0 / r) as f32);
            let kc = Const::quantized(k, kq).map_err(op_err)?;
            let kv = ValueId::new(self.out.add_node(format!("{name}.align"), kc, &[])?, 0);
            let scaled = self.add(&format!("{name}.align"), Binary { op: BinaryOp::Mul }, &[coarse, kv])?;
            // The product's scale is coarse/r up to f32 rounding; pin it to
            // the fine one so the operands compare equal.
            (scaled, fine)
        } else {
            // The fine operand goes to the coarse scale, or to a power-of-two
            // multiple of it if either operand's calibrated range would not
            // fit a table (2^16 rows); then the coarse one is shifted there
            // too (else it would saturate).
            let d = self.opts.domain_bits;
            let wide = qa.bits.max(qb.bits).min(self.opts.wide_bits);
            if wide > d {
                // Both wider than a table domain (a residual stream): both go
                // to a `wide`-bit type fitted to their ranges, rather than
                // to the coarse operand's scale (which would drop the fine
                // one's extra bits, e.g. a 16-bit embedding's scale imposed
                // on the whole 24-bit residual stream).
                let target = QType::new(wide, scale_for(absmax as f32, wide));
                let f2 = self.requant(fine, target, &format!("{name}.align"))?;
                let c2 = self.requant(coarse, target, &format!("{name}.align"))?;
                (c2, f2)
            } else {
                let room = QType::new(d, 1.0).max_abs() as f64 * qc.scale as f64;
                let k = (absmax / room).log2().ceil().max(0.0) as i32;
                let target = QType::new(d, (qc.scale as f64 * 2f64.powi(k)) as f32);
                let f2 = self.requant(fine, target, &format!("{name}.align"))?;
                let c2 = if k > 0 { self.requant(coarse, target, &format!("{name}.align"))? } else { coarse };
                (c2, f2)
            }
        };
        Ok(if swap { (f2, c2) } else { (c2, f2) })
    }

    fn node(&mut self, id: usize, node: &zkml_ir::Node) -> Result<(), Step> {
        let old = ValueId::new(id, 0);
        let name = node.name.clone();
        // Constant subgraphs (a reshaped bias, a transposed weight) are
        // folded in float, so that their use decides their type.
        let consts: Option<Vec<Tensor>> = node
            .inputs
            .iter()
            .map(|a| match self.map.get(a) {
                Some(Val::Const(t)) => Some(t.clone()),
                _ => None,
            })
            .collect();
        if let Some(ts) = consts.filter(|_| !node.inputs.is_empty()) {
            let refs: Vec<&Tensor> = ts.iter().collect();
            let mut out = node.op.def().eval(&refs).map_err(|e| Step::Msg(e.to_string()))?;
            self.map.insert(old, Val::Const(out.remove(0)));
            return Ok(());
        }
        let v = match &node.op {
            Op::Input(inp) => {
                let shape = inp.fact.shape.clone();
                let fact = match inp.fact.dtype {
                    DType::F32 => Fact::new(
                        DType::Q(QType::new(self.opts.bits, scale_for(self.cal.absmax(old), self.opts.bits))),
                        shape,
                    ),
                    // Integers used as numbers, and booleans: scale 1 (see `lower`).
                    DType::Bool => Fact::new(DType::Q(lower::bool_type()), shape),
                    DType::I64 if !self.indices.contains(&old) => {
                        let m = self.cal.absmax(old).ceil().max(1.0) as u128;
                        Fact::new(DType::Q(QType::new(QType::bits_for(m) as u8, 1.0)), shape)
                    }
                    _ => inp.fact.clone(),
                };
                Val::Q(self.add(&name, Input { index: inp.index, fact }, &[])?)
            }
            Op::Const(c) => Val::Const((*c.value).clone()),
            Op::Einsum(e) => Val::Q(match self.per_channel_form(e, node).filter(|_| self.opts.per_channel) {
                Some((ci, axis)) => self.per_channel_einsum(e, node, ci, axis, &name)?,
                None => self.einsum(e, node, &name)?,
            }),
            Op::Binary(b) if matches!(b.op, BinaryOp::Max | BinaryOp::Min) => {
                Val::Q(self.max_min(b.op, node, &name)?)
            }
            Op::Binary(b) => self.binary(b.op, node, &name)?,
            Op::Compare(c) => Val::Q(self.compare(c.op, node, &name)?),
            Op::Logic(l) => Val::Q(self.logic(l.op, node, &name)?),
            Op::Arg(a) => Val::Q(self.arg(a, node, &name)?),
            Op::TopK(t) => Val::Q(self.topk(t, node, &name)?),
            Op::QuantizeLinear(ql) => Val::Q(self.quantize_linear(ql, node, &name)?),
            Op::Where(_) => Val::Q(self.select(node, &name)?),
            Op::Cast(c) => self.cast(c, node, &name)?,
            Op::Lookup(l) => {
                let mut x = self.value(node.inputs[0])?;
                let input = self.qtype(x).ok_or_else(|| Step::Msg("lookup input is not quantized".into()))?;
                let range = self.cal.range(node.inputs[0]);
                let log = wants_log_domain(l.func, range);
                if !log && u32::from(input.bits) + Requant::MULT_BITS > 62 {
                    // Keep the full multiplier precision: a power-of-two
                    // narrowing to `wide_bits` first (exact scale ratio).
                    x = self.narrow_to(x, node.inputs[0], self.opts.wide_bits, &format!("{name}.in"))?;
                }
                let input = self.qtype(x).ok_or_else(|| Step::Msg("lookup input is not quantized".into()))?;
                let d = self.opts.domain_bits;
                let out_for = |bits: u8| QType::new(bits, scale_for(self.cal.absmax(old), bits));
                let mut out = out_for(self.opts.bits);
                let (requant, domain) = match log_domain(input, d).filter(|_| log) {
                    Some(log) => {
                        // Outputs span the inputs' dynamic range too (the
                        // rsqrt of a "massive activation" token's variance
                        // is 10^3 below the typical one): `wide_bits` wide.
                        out = out_for(self.opts.wide_bits);
                        (Requant::IDENTITY, Domain::Log(log))
                    }
                    None => {
                        let reach = table_domain_absmax(l.func, range, self.opts.bits);
                        let domain = QType::new(d, scale_for(reach, d));
                        let requant =
                            Requant::approximating(input.scale as f64 / domain.scale as f64, input.bits)
                                .map_err(|e| Step::Msg(e.to_string()))?;
                        if l.func == LookupFn::Relu && d == out.bits {
                            // `max(y, 0)` at the domain's own scale is exact
                            // (no information is lost: the output can only
                            // take the domain's values), and the prover then
                            // needs no table, only range checks.
                            out = domain;
                        }
                        (requant, Domain::Linear(domain))
                    }
                };
                let table = TableSpec { func: l.func, domain, out };
                let op = Lookup { func: l.func, quant: Some(LookupQuant { input, requant, table }) };
                Val::Q(self.add(&name, op, &[x])?)
            }
            Op::Concat(c) => {
                let mut args: Vec<ValueId> =
                    node.inputs.iter().map(|&a| self.value(a)).collect::<Result<_, _>>()?;
                let olds = &node.inputs;
                for i in 1..args.len() {
                    let (a0, ai) = self.align((args[0], olds[0]), (args[i], olds[i]), &name)?;
                    args[0] = a0;
                    args[i] = ai;
                }
                // A later alignment may have rescaled args[0]: align all again to it.
                for i in 1..args.len() {
                    let (_, ai) = self.align((args[0], olds[0]), (args[i], olds[i]), &name)?;
                    args[i] = ai;
                }
                // Wide operands align pairwise to a type fitted to each pair's
                // range: when that leaves scales apart, every operand goes to
                // one type fitted to all of them.
                let types: Vec<Option<QType>> = args.iter().map(|&a| self.qtype(a)).collect();
                if types.iter().any(|t| t.map(|t| t.scale) != types[0].map(|t| t.scale)) {
                    let bits = types.iter().flatten().map(|t| t.bits).max().unwrap_or(self.opts.bits);
                    let bits = bits.min(self.opts.wide_bits);
                    let absmax = olds.iter().map(|&o| self.cal.absmax(o)).fold(0f32, f32::max);
                    let target = QType::new(bits, scale_for(absmax, bits));
                    for a in args.iter_mut() {
                        if self.qtype(*a).map(|t| t.scale) != Some(target.scale) {
                            *a = self.requant(*a, target, &format!("{name}.align"))?;
                        }
                    }
                }
                Val::Q(self.add(&name, c.clone(), &args)?)
            }
            Op::Gather(gop) => {
                let data = match self.map.get(&node.inputs[0]).cloned() {
                    Some(Val::Const(t)) => self.add_const(&self.name(node.inputs[0]), &t, self.opts.bits)?,
                    _ => self.value(node.inputs[0])?,
                };
                let idx = self.value(node.inputs[1])?;
                Val::Q(self.add(&name, gop.clone(), &[data, idx])?)
            }
            Op::Pad(p) if p.value != 0.0 => Val::Q(self.pad_with(p, node, &name)?),
            op => {
                // Layout ops and max reductions: same integers, same type.
                let args: Vec<ValueId> =
                    node.inputs.iter().map(|&a| self.value(a)).collect::<Result<_, _>>()?;
                Val::Q(self.add(&name, op.clone(), &args)?)
            }
        };
        self.map.insert(old, v);
        Ok(())
    }

    fn binary(&mut self, op: BinaryOp, node: &zkml_ir::Node, name: &str) -> Result<Val, Step> {
        let (a, b) = (node.inputs[0], node.inputs[1]);
        let (ca, cb) = (self.map.get(&a).cloned(), self.map.get(&b).cloned());
        if let (Some(Val::Const(_)), Some(Val::Const(_))) = (&ca, &cb) {
            return Err(Step::Msg("an op of two constants should have been folded".into()));
        }
        let bin = Binary { op };
        let v = match op {
            BinaryOp::Mul => {
                // Constant factor: exact {-1,0,1}·m form when it has one magnitude.
                let (w, c) = match (&ca, &cb) {
                    (_, Some(Val::Const(t))) => (a, Some(t.clone())),
                    (Some(Val::Const(t)), _) => (b, Some(t.clone())),
                    _ => (a, None),
                };
                match c {
                    Some(t) => {
                        let x = self.value(w)?;
                        let k = self.add_const(&format!("{name}.k"), &t, self.opts.weight_bits)?;
                        let (mut args, olds) =
                            if w == a { ([x, k], [Some(w), None]) } else { ([k, x], [None, Some(w)]) };
                        self.fit(&Op::from(bin.clone()), &mut args, &olds, name)?;
                        self.add(name, bin, &args)?
                    }
                    None => {
                        let mut args = [self.value(a)?, self.value(b)?];
                        self.fit(&Op::from(bin.clone()), &mut args, &[Some(a), Some(b)], name)?;
                        self.add(name, bin, &args)?
                    }
                }
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Max | BinaryOp::Min => match (&ca, &cb) {
                (_, Some(Val::Const(t))) => {
                    let x = self.value(a)?;
                    let (x, k) = self.with_const_addend(x, a, t, name)?;
                    self.add(name, bin, &[x, k])?
                }
                (Some(Val::Const(t)), _) => {
                    let y = self.value(b)?;
                    let (y, k) = self.with_const_addend(y, b, t, name)?;
                    self.add(name, bin, &[k, y])?
                }
                _ => {
                    let (mut x, mut y) = (self.value(a)?, self.value(b)?);
                    if op == BinaryOp::Add {
                        // A residual stream, added to at every layer, would
                        // otherwise gain bits per layer (exact alignment
                        // multiplies the coarser operand up). Differences
                        // stay exact: `x - max(x)` and `x - mean(x)` go
                        // straight into a table or a square, and a masked
                        // softmax's scores have a range no narrow type fits.
                        let w = self.opts.wide_bits;
                        x = self.narrow_to(x, a, w, &format!("{name}.in0"))?;
                        y = self.narrow_to(y, b, w, &format!("{name}.in1"))?;
                    }
                    let (mut x2, mut y2) = self.align((x, a), (y, b), name)?;
                    if !self.fits(&Op::from(bin.clone()), &[x2, y2]) {
                        let w = self.opts.wide_bits;
                        x = self.narrow_to(x, a, w, &format!("{name}.in0"))?;
                        y = self.narrow_to(y, b, w, &format!("{name}.in1"))?;
                        (x2, y2) = self.align((x, a), (y, b), name)?;
                    }
                    self.add(name, bin, &[x2, y2])?
                }
            },
            other => return Err(Step::Msg(format!("{other:?} is not part of the provable core"))),
        };
        Ok(Val::Q(v))
    }
}

pub(super) fn op_err(e: zkml_ir::OpError) -> QuantError {
    QuantError::Form(e.to_string())
}
