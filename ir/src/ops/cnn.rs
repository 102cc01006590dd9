//! Convolution and pooling over `[N, C, spatial…]` tensors (any number of
//! spatial axes). Padding is explicit `(before, after)` per spatial axis; the
//! frontend resolves ONNX `auto_pad` into it.

use super::{OpDef, expect_f32, list};
use crate::{Fact, OpError, Tensor, bail_op};
use serde::{Deserialize, Serialize};

/// The sliding-window geometry shared by conv and pools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub kernel: Vec<usize>,
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    pub pads: Vec<(usize, usize)>,
    /// Round the output size up (ONNX `ceil_mode`); a window must still start
    /// inside the input or its leading padding.
    pub ceil_mode: bool,
}

impl Window {
    fn check(&self, spatial: &[usize]) -> Result<(), OpError> {
        let r = spatial.len();
        let lens = [self.kernel.len(), self.strides.len(), self.dilations.len(), self.pads.len()];
        if lens.iter().any(|&l| l != r) {
            bail_op!("window {self:?} does not match {r} spatial axes");
        }
        if self.strides.contains(&0) || self.dilations.contains(&0) || self.kernel.contains(&0) {
            bail_op!("zero kernel size, stride or dilation in {self:?}");
        }
        let huge = |v: usize| v > 1 << 32;
        let attrs = [&self.kernel, &self.strides, &self.dilations];
        if attrs.iter().any(|v| v.iter().copied().any(huge))
            || self.pads.iter().any(|&(a, b)| huge(a) || huge(b))
        {
            bail_op!("window attribute out of range in {self:?}");
        }
        for (a, &d) in spatial.iter().enumerate() {
            // Saturating: attributes may come from an untrusted plan.
            let span = self.dilations[a].saturating_mul(self.kernel[a] - 1).saturating_add(1);
            if d.saturating_add(self.pads[a].0).saturating_add(self.pads[a].1) < span || span > 1 << 32 {
                bail_op!("kernel span {span} exceeds padded input {} on spatial axis {a}", spatial[a]);
            }
        }
        Ok(())
    }

    /// Output spatial dims.
    pub fn output(&self, spatial: &[usize]) -> Vec<usize> {
        (0..spatial.len())
            .map(|a| {
                let padded = spatial[a] + self.pads[a].0 + self.pads[a].1;
                let span = self.dilations[a] * (self.kernel[a] - 1) + 1;
                let s = self.strides[a];
                let mut n = (padded - span) / s + 1;
                if self.ceil_mode && !(padded - span).is_multiple_of(s) {
                    n += 1;
                    if (n - 1) * s >= spatial[a] + self.pads[a].0 {
                        n -= 1;
                    }
                }
                n
            })
            .collect()
    }

    fn attrs(&self) -> Vec<(&'static str, String)> {
        let p: Vec<String> = self.pads.iter().map(|(a, b)| format!("{a}:{b}")).collect();
        let mut a = vec![
            ("kernel", list(&self.kernel)),
            ("strides", list(&self.strides)),
            ("pads", format!("[{}]", p.join(","))),
        ];
        if self.dilations.iter().any(|&d| d != 1) {
            a.push(("dilations", list(&self.dilations)));
        }
        if self.ceil_mode {
            a.push(("ceil_mode", "true".into()));
        }
        a
    }

    /// For each output position (row-major) and kernel position (row-major),
    /// the input spatial offset, or `None` where the window is in padding
    /// (`Some(None)`) or past the padded input (outer `None`, only in
    /// ceil mode).
    fn taps(&self, spatial: &[usize]) -> Vec<Vec<Tap>> {
        let out = self.output(spatial);
        let strides = zkml_kernels::strides(spatial);
        let odo = |dims: &[usize]| -> Vec<Vec<usize>> {
            let n: usize = dims.iter().product();
            let mut v = Vec::with_capacity(n);
            let mut idx = vec![0usize; dims.len()];
            for _ in 0..n {
                v.push(idx.clone());
                for a in (0..idx.len()).rev() {
                    idx[a] += 1;
                    if idx[a] < dims[a] {
                        break;
                    }
                    idx[a] = 0;
                }
            }
            v
        };
        let kpos = odo(&self.kernel);
        odo(&out)
            .into_iter()
            .map(|o| {
                kpos.iter()
                    .map(|k| {
                        let mut off = 0usize;
                        let mut tap = Tap::Input(0);
                        for a in 0..spatial.len() {
                            let p = (o[a] * self.strides[a] + k[a] * self.dilations[a]) as i64
                                - self.pads[a].0 as i64;
                            if p >= (spatial[a] + self.pads[a].1) as i64 {
                                tap = Tap::Beyond;
                            } else if (p < 0 || p >= spatial[a] as i64) && tap != Tap::Beyond {
                                tap = Tap::Pad;
                            } else if p >= 0 {
                                off += p as usize * strides[a];
                            }
                        }
                        if let Tap::Input(_) = tap { Tap::Input(off) } else { tap }
                    })
                    .collect()
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tap {
    Input(usize),
    Pad,
    Beyond,
}

fn check_nc(f: &Fact, w: &Window) -> Result<(), OpError> {
    if f.rank() < 3 {
        bail_op!("expects [N, C, spatial…], got {f}");
    }
    w.check(&f.shape[2..])
}

/// Convolution (cross-correlation, as ONNX): inputs `x: [N, C, S…]`,
/// `w: [O, C/group, K…]`, optional `bias: [O]`; output `[N, O, S'…]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conv {
    pub window: Window,
    pub group: usize,
}

impl OpDef for Conv {
    fn name(&self) -> &'static str {
        "conv"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        let mut a = self.window.attrs();
        if self.group != 1 {
            a.push(("group", self.group.to_string()));
        }
        a
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        if !(2..=3).contains(&inputs.len()) {
            bail_op!("conv expects 2 or 3 inputs, got {}", inputs.len());
        }
        expect_f32(inputs, "conv")?;
        let (x, w) = (inputs[0], inputs[1]);
        check_nc(x, &self.window)?;
        let (c, o, g) = (x.shape[1], w.shape[0], self.group);
        if g == 0 || c % g != 0 || o % g != 0 || w.rank() != x.rank() || w.shape[1] != c / g {
            bail_op!("weight {w} does not fit input {x} with group {g}");
        }
        if w.shape[2..] != self.window.kernel[..] {
            bail_op!("weight {w} kernel differs from attribute {:?}", self.window.kernel);
        }
        if let Some(b) = inputs.get(2).filter(|b| b.shape != [o]) {
            bail_op!("bias {b} must be [{o}]");
        }
        let mut shape = vec![x.shape[0], o];
        shape.extend(self.window.output(&x.shape[2..]));
        Ok(vec![Fact::f32(shape)])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let out_fact = self
            .infer(&inputs.iter().map(|t| t.fact()).collect::<Vec<_>>().iter().collect::<Vec<_>>())?
            .remove(0);
        let (x, w) = (inputs[0].as_f32()?, inputs[1].as_f32()?);
        let xs = inputs[0].shape();
        let (n, c, o, g) = (xs[0], xs[1], inputs[1].shape()[0], self.group);
        let (cg, og) = (c / g, o / g);
        let spatial: usize = xs[2..].iter().product();
        let taps = self.window.taps(&xs[2..]);
        let p = taps.len();
        let k: usize = self.window.kernel.iter().product();
        let mut out = vec![0f32; n * o * p];
        // im2col: patches[(ci·K + kk), pos] then one matrix product per group.
        for ni in 0..n {
            for gi in 0..g {
                let mut patches = vec![0f32; cg * k * p];
                for ci in 0..cg {
                    let plane = &x[((ni * c) + gi * cg + ci) * spatial..][..spatial];
                    for (pos, row) in taps.iter().enumerate() {
                        for (kk, tap) in row.iter().enumerate() {
                            if let Tap::Input(off) = tap {
                                patches[(ci * k + kk) * p + pos] = plane[*off];
                            }
                        }
                    }
                }
                let wg = &w[gi * og * cg * k..(gi + 1) * og * cg * k];
                let y = zkml_kernels::cpu::matmul(wg, &patches, 1, og, cg * k, p);
                out[(ni * o + gi * og) * p..][..og * p].copy_from_slice(&y);
            }
        }
        if let Some(b) = inputs.get(2) {
            let b = b.as_f32()?;
            for (i, v) in out.iter_mut().enumerate() {
                *v += b[(i / p) % o];
            }
        }
        Ok(vec![Tensor::from_f32(out_fact.shape, out)?])
    }
}

fn pool_infer(w: &Window, inputs: &[&Fact], name: &str) -> Result<Vec<Fact>, OpError> {
    crate::shape::expect_inputs(inputs, 1)?;
    expect_f32(inputs, name)?;
    check_nc(inputs[0], w)?;
    let x = inputs[0];
    let mut shape = x.shape[..2].to_vec();
    shape.extend(w.output(&x.shape[2..]));
    Ok(vec![Fact::f32(shape)])
}

/// Applies `f` to the taps of every window of every `[n, c]` plane.
fn pool_eval(w: &Window, x: &Tensor, f: impl Fn(&[f32], &[Tap]) -> f32) -> Result<Tensor, OpError> {
    let xs = x.shape();
    let spatial: usize = xs[2..].iter().product();
    let taps = w.taps(&xs[2..]);
    let data = x.as_f32()?;
    let mut out = Vec::with_capacity(xs[0] * xs[1] * taps.len());
    if spatial > 0 {
        for plane in data.chunks(spatial) {
            out.extend(taps.iter().map(|row| f(plane, row)));
        }
    }
    let mut shape = xs[..2].to_vec();
    shape.extend(w.output(&xs[2..]));
    Tensor::from_f32(shape, out)
}

/// Max over each window; padding never wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaxPool {
    pub window: Window,
}

impl OpDef for MaxPool {
    fn name(&self) -> &'static str {
        "max_pool"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        self.window.attrs()
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        pool_infer(&self.window, inputs, "max_pool")
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let t = pool_eval(&self.window, inputs[0], |plane, taps| {
            taps.iter()
                .filter_map(|t| if let Tap::Input(o) = t { Some(plane[*o]) } else { None })
                .fold(f32::NEG_INFINITY, f32::max)
        })?;
        Ok(vec![t])
    }
}

/// Mean over each window; the divisor counts padding cells iff
/// `count_include_pad` (never cells past the padded input, in ceil mode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AveragePool {
    pub window: Window,
    pub count_include_pad: bool,
}

impl OpDef for AveragePool {
    fn name(&self) -> &'static str {
        "average_pool"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        let mut a = self.window.attrs();
        a.push(("count_include_pad", self.count_include_pad.to_string()));
        a
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        pool_infer(&self.window, inputs, "average_pool")
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let t = pool_eval(&self.window, inputs[0], |plane, taps| {
            let (mut sum, mut count) = (0f64, 0usize);
            for t in taps {
                match t {
                    Tap::Input(o) => {
                        sum += plane[*o] as f64;
                        count += 1;
                    }
                    Tap::Pad if self.count_include_pad => count += 1,
                    _ => {}
                }
            }
            (sum / count.max(1) as f64) as f32
        })?;
        Ok(vec![t])
    }
}

/// The patches of a sliding window as a tensor: `x: [N, C, S…]` becomes
/// `[N, C, K…, S'…]` with `out[n, c, k…, s'…] = x[n, c, s'·stride + k·dilation
/// - pad_before]`, zero where the window lies in padding.
///
/// This is how convolution and pooling reach the provable core: a conv is
/// `einsum("nckl…uv…,ockl…->nouv…", im2col(x), w)`, a pool a reduction of
/// the `K…` axes. Im2col is a fixed 0/1 selection matrix applied to `x`: a
/// linear map whose entries the verifier can compute itself, so it needs no
/// commitment of its own. Works on f32 and quantized data alike (zero is
/// zero at every scale).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Im2Col {
    pub window: Window,
}

impl OpDef for Im2Col {
    fn name(&self) -> &'static str {
        "im2col"
    }
    fn attrs(&self) -> Vec<(&'static str, String)> {
        self.window.attrs()
    }
    fn infer(&self, inputs: &[&Fact]) -> Result<Vec<Fact>, OpError> {
        crate::shape::expect_inputs(inputs, 1)?;
        let x = inputs[0];
        if !matches!(x.dtype, crate::DType::F32 | crate::DType::Q(_)) {
            bail_op!("im2col expects f32 or quantized data, got {}", x.dtype);
        }
        check_nc(x, &self.window)?;
        let mut shape = x.shape[..2].to_vec();
        shape.extend(&self.window.kernel);
        shape.extend(self.window.output(&x.shape[2..]));
        Ok(vec![Fact::new(x.dtype, shape)])
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OpError> {
        let x = inputs[0];
        let xs = x.shape();
        let spatial: usize = xs[2..].iter().product();
        let taps = self.window.taps(&xs[2..]);
        let k = self.window.kernel.iter().product::<usize>();
        fn gather<T: Copy + Default>(data: &[T], spatial: usize, taps: &[Vec<Tap>], k: usize) -> Vec<T> {
            let p = taps.len();
            let mut out = Vec::with_capacity(data.len() / spatial.max(1) * k * p);
            for plane in data.chunks(spatial.max(1)) {
                for kk in 0..k {
                    out.extend(taps.iter().map(|row| match row[kk] {
                        Tap::Input(o) => plane[o],
                        _ => T::default(),
                    }));
                }
            }
            out
        }
        let data = match x.data() {
            crate::TensorData::F32(v) => crate::TensorData::F32(gather(v, spatial, &taps, k)),
            crate::TensorData::Bool(_) => bail_op!("im2col of bool data"),
            _ => crate::TensorData::I64(gather(&x.as_i64()?, spatial, &taps, k)),
        };
        let mut shape = xs[..2].to_vec();
        shape.extend(&self.window.kernel);
        shape.extend(self.window.output(&xs[2..]));
        Ok(vec![Tensor::new(shape, data)?])
    }
}
