//! Calibration: the range of every float value over sample inputs.

use super::*;

/// Per-value ranges seen during calibration.
#[derive(Debug, Clone, Default)]
pub struct Calibration {
    /// Smallest and largest finite value of each value.
    range: HashMap<ValueId, (f32, f32)>,
    pub samples: usize,
}

impl Calibration {
    /// Runs `g` (float) on every sample and records each value's range.
    pub fn run(g: &Graph, samples: &[Vec<Tensor>]) -> Result<Calibration, QuantError> {
        if samples.is_empty() {
            return Err(QuantError::Calibration("no calibration samples".into()));
        }
        let mut c = Calibration { range: HashMap::new(), samples: samples.len() };
        for inputs in samples {
            let all = g.eval_all(inputs)?;
            for (id, outs) in all.iter().enumerate() {
                for (slot, t) in outs.iter().enumerate() {
                    // Integers and booleans are ranged too: computed ones
                    // become scale-1 fixed point (see `lower`).
                    let vals: Vec<f32> = match t.data() {
                        TensorData::F32(v) => v.iter().copied().filter(|x| x.is_finite()).collect(),
                        TensorData::Bool(v) => v.iter().map(|&b| f32::from(u8::from(b))).collect(),
                        _ => t.as_i64().map(|v| v.iter().map(|&x| x as f32).collect()).unwrap_or_default(),
                    };
                    let e = c.range.entry(ValueId::new(id, slot)).or_insert((0.0, 0.0));
                    for x in vals {
                        *e = (e.0.min(x), e.1.max(x));
                    }
                }
            }
        }
        Ok(c)
    }
    /// The largest magnitude seen (0 for a value never seen).
    pub fn absmax(&self, v: ValueId) -> f32 {
        let (lo, hi) = self.range(v);
        (-lo).max(hi)
    }
    /// Every range multiplied by `factor`.
    pub fn widened(&self, factor: f32) -> Calibration {
        let range = self.range.iter().map(|(&v, &(lo, hi))| (v, (lo * factor, hi * factor))).collect();
        Calibration { range, samples: self.samples }
    }
    /// `(min, max)` seen, widened to include 0.
    pub fn range(&self, v: ValueId) -> (f32, f32) {
        self.range.get(&v).copied().unwrap_or((0.0, 0.0))
    }
}
