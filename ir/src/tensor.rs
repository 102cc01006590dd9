//! Dense row-major tensors: the values the reference evaluator computes.

use crate::{DType, Fact, OpError, bail_op};
use std::sync::Arc;

/// Element storage. Quantized values are held as `I64`.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
}

/// A tensor: shape plus data, `data.len() == shape.iter().product()`.
///
/// The data is shared (`Arc`) and never mutated in place, so a clone is
/// cheap: the executor's value of a constant node is the plan's own
/// storage, not a copy of the weights, and reshapes share their input's
/// data.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Arc<TensorData>,
}

/// Applies a generic expression to the vector inside a [`TensorData`],
/// rebuilding the same variant: `map_data!(data, v => expr)`.
#[macro_export]
macro_rules! map_data {
    ($data:expr, $v:ident => $e:expr) => {
        match $data {
            $crate::TensorData::F32($v) => $crate::TensorData::F32($e),
            $crate::TensorData::I64($v) => $crate::TensorData::I64($e),
            $crate::TensorData::Bool($v) => $crate::TensorData::Bool($e),
        }
    };
}

impl TensorData {
    pub fn len(&self) -> usize {
        match self {
            TensorData::F32(v) => v.len(),
            TensorData::I64(v) => v.len(),
            TensorData::Bool(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The storage type; quantized facts also store as `I64`.
    pub fn dtype(&self) -> DType {
        match self {
            TensorData::F32(_) => DType::F32,
            TensorData::I64(_) => DType::I64,
            TensorData::Bool(_) => DType::Bool,
        }
    }
}

impl Tensor {
    pub fn new(shape: impl Into<Vec<usize>>, data: TensorData) -> Result<Self, OpError> {
        let shape = shape.into();
        let n: usize = shape.iter().product();
        if n != data.len() {
            bail_op!("tensor of shape {shape:?} needs {n} elements, got {}", data.len());
        }
        Ok(Tensor { shape, data: Arc::new(data) })
    }
    pub fn from_f32(shape: impl Into<Vec<usize>>, v: Vec<f32>) -> Result<Self, OpError> {
        Tensor::new(shape, TensorData::F32(v))
    }
    pub fn from_i64(shape: impl Into<Vec<usize>>, v: Vec<i64>) -> Result<Self, OpError> {
        Tensor::new(shape, TensorData::I64(v))
    }
    pub fn scalar_f32(x: f32) -> Self {
        Tensor { shape: vec![], data: Arc::new(TensorData::F32(vec![x])) }
    }
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    pub fn data(&self) -> &TensorData {
        &self.data
    }
    /// The data, moved out when this tensor is its only owner, else copied.
    pub fn into_data(self) -> TensorData {
        Arc::try_unwrap(self.data).unwrap_or_else(|shared| (*shared).clone())
    }
    pub fn len(&self) -> usize {
        self.data.len()
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }
    pub fn fact(&self) -> Fact {
        Fact::new(self.dtype(), self.shape.clone())
    }
    pub fn as_f32(&self) -> Result<&[f32], OpError> {
        match &*self.data {
            TensorData::F32(v) => Ok(v),
            other => bail_op!("expected f32 data, got {}", other.dtype()),
        }
    }
    pub fn as_i64(&self) -> Result<&[i64], OpError> {
        match &*self.data {
            TensorData::I64(v) => Ok(v),
            other => bail_op!("expected i64 data, got {}", other.dtype()),
        }
    }
    pub fn as_bool(&self) -> Result<&[bool], OpError> {
        match &*self.data {
            TensorData::Bool(v) => Ok(v),
            other => bail_op!("expected bool data, got {}", other.dtype()),
        }
    }
    /// Same data (shared, not copied), new shape of the same element count.
    pub fn reshaped(&self, shape: Vec<usize>) -> Result<Tensor, OpError> {
        let n: usize = shape.iter().product();
        if n != self.data.len() {
            bail_op!("tensor of shape {shape:?} needs {n} elements, got {}", self.data.len());
        }
        Ok(Tensor { shape, data: self.data.clone() })
    }

    /// Little-endian bytes of the data (bool as one byte), the plan's blob
    /// encoding.
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match &*self.data {
            TensorData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::Bool(v) => v.iter().map(|&b| b as u8).collect(),
        }
    }

    /// Inverse of [`Tensor::to_le_bytes`] for a given fact.
    pub fn from_le_bytes(fact: &Fact, bytes: &[u8]) -> Result<Tensor, OpError> {
        let Some(n) = fact.checked_len() else { bail_op!("{fact} has too many elements") };
        let width = match fact.dtype {
            DType::F32 => 4,
            DType::I64 | DType::Q(_) => 8,
            DType::Bool => 1,
        };
        if n.checked_mul(width) != Some(bytes.len()) {
            bail_op!("{fact} does not match {} bytes", bytes.len());
        }
        let data = match fact.dtype {
            DType::F32 => TensorData::F32(
                bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
            ),
            DType::I64 | DType::Q(_) => TensorData::I64(
                bytes
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().expect("chunks_exact(8)")))
                    .collect(),
            ),
            DType::Bool => {
                if let Some(b) = bytes.iter().find(|&&b| b > 1) {
                    bail_op!("bool byte {b} is neither 0 nor 1");
                }
                TensorData::Bool(bytes.iter().map(|&b| b == 1).collect())
            }
        };
        Tensor::new(fact.shape.clone(), data)
    }
}

/// Placeholder value of a constant whose data has not been read yet: serde
/// skips constant data in plan headers (it lives in the raw blob), and needs
/// a default to build the op before the plan loader fills it in.
impl Default for Tensor {
    fn default() -> Self {
        Tensor::scalar_f32(0.0)
    }
}
