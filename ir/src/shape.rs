//! Shape arithmetic shared by the ops: numpy broadcasting and index maps.

use crate::{OpError, bail_op};

/// Numpy/ONNX multidirectional broadcasting: shapes are right-aligned, and
/// each pair of dims must be equal or contain a 1.
pub fn broadcast_shapes(shapes: &[&[usize]]) -> Result<Vec<usize>, OpError> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1usize; rank];
    for s in shapes {
        let off = rank - s.len();
        for (i, &d) in s.iter().enumerate() {
            let o = &mut out[off + i];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                bail_op!("shapes {shapes:?} do not broadcast (axis {}: {} vs {d})", off + i, *o);
            }
        }
    }
    Ok(out)
}

/// Strides of `shape` as seen from a broadcast `out_shape`: 0 on the
/// broadcast axes, so that `Σ idx_a · stride_a` is the source offset.
pub fn broadcast_strides(shape: &[usize], out_shape: &[usize]) -> Vec<usize> {
    let own = zkml_kernels::strides(shape);
    let off = out_shape.len() - shape.len();
    (0..out_shape.len()).map(|a| if a < off || shape[a - off] == 1 { 0 } else { own[a - off] }).collect()
}

/// For every element of `out_shape` (row-major), the source offsets into each
/// of the broadcast operands `shapes`.
pub fn broadcast_offsets(shapes: &[&[usize]], out_shape: &[usize]) -> Vec<Vec<usize>> {
    let strides: Vec<Vec<usize>> = shapes.iter().map(|s| broadcast_strides(s, out_shape)).collect();
    let n: usize = out_shape.iter().product();
    let mut offsets = vec![Vec::with_capacity(n); shapes.len()];
    let mut idx = vec![0usize; out_shape.len()];
    for _ in 0..n {
        for (o, st) in offsets.iter_mut().zip(&strides) {
            o.push(idx.iter().zip(st).map(|(i, s)| i * s).sum());
        }
        for a in (0..idx.len()).rev() {
            idx[a] += 1;
            if idx[a] < out_shape[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    offsets
}

/// Normalises a possibly negative axis against `rank`.
pub fn normalize_axis(axis: i64, rank: usize) -> Result<usize, OpError> {
    let r = rank as i64;
    if axis < -r || axis >= r {
        bail_op!("axis {axis} out of range for rank {rank}");
    }
    Ok(if axis < 0 { (axis + r) as usize } else { axis as usize })
}

/// Checks that `inputs` has exactly `n` entries.
pub fn expect_inputs<T>(inputs: &[T], n: usize) -> Result<(), OpError> {
    if inputs.len() != n {
        bail_op!("expects {n} inputs, got {}", inputs.len());
    }
    Ok(())
}
