//! Dense row-major tensors: the values the reference evaluator computes.

use crate::{DType, Fact, OpError, bail_op};
use std::borrow::Cow;
use std::sync::Arc;

/// Element storage. Integers (quantized values, token ids) are `I64` while
/// computed; constants read from a plan keep the narrowest width their
/// quantized type allows (`I8`/`I16`/`I32`): a model's weights are its
/// memory, and a 16-bit weight held as `i64` costs four times its f32 bytes.
/// Every integer variant has the storage type [`DType::I64`]: the width is a
/// representation, not part of the value's type, and [`Tensor::as_i64`]
/// widens on read.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
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
            $crate::TensorData::I8($v) => $crate::TensorData::I8($e),
            $crate::TensorData::I16($v) => $crate::TensorData::I16($e),
            $crate::TensorData::I32($v) => $crate::TensorData::I32($e),
        }
    };
}

/// Applies a generic expression to the integer vector inside a
/// [`TensorData`] of any width: `with_ints!(data, v => expr)`, `None` for
/// float and bool data.
#[macro_export]
macro_rules! with_ints {
    ($data:expr, $v:ident => $e:expr) => {
        match $data {
            // `i64::from(x)` in `$e` is the identity on the I64 arm.
            $crate::TensorData::I64($v) => Some({
                #[allow(clippy::useless_conversion)]
                let r = $e;
                r
            }),
            $crate::TensorData::I8($v) => Some($e),
            $crate::TensorData::I16($v) => Some($e),
            $crate::TensorData::I32($v) => Some($e),
            $crate::TensorData::F32(_) | $crate::TensorData::Bool(_) => None,
        }
    };
}

impl TensorData {
    pub fn len(&self) -> usize {
        match self {
            TensorData::F32(v) => v.len(),
            TensorData::I64(v) => v.len(),
            TensorData::Bool(v) => v.len(),
            TensorData::I8(v) => v.len(),
            TensorData::I16(v) => v.len(),
            TensorData::I32(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The storage type; quantized facts also store as `I64`.
    pub fn dtype(&self) -> DType {
        match self {
            TensorData::F32(_) => DType::F32,
            TensorData::I64(_) | TensorData::I8(_) | TensorData::I16(_) | TensorData::I32(_) => DType::I64,
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
    /// The integers, borrowed when stored as `i64`, else widened (a copy).
    pub fn as_i64(&self) -> Result<Cow<'_, [i64]>, OpError> {
        match &*self.data {
            TensorData::I64(v) => Ok(Cow::Borrowed(v)),
            other => match with_ints!(other, v => v.iter().map(|&x| i64::from(x)).collect()) {
                Some(w) => Ok(Cow::Owned(w)),
                None => bail_op!("expected i64 data, got {}", other.dtype()),
            },
        }
    }
    /// This tensor with integers stored as `i64` (shared, not copied, when
    /// they already are): for code that matches on [`TensorData::I64`].
    pub fn widened(&self) -> Tensor {
        match &*self.data {
            TensorData::I8(_) | TensorData::I16(_) | TensorData::I32(_) => Tensor {
                shape: self.shape.clone(),
                data: Arc::new(TensorData::I64(self.as_i64().expect("integer data").into_owned())),
            },
            _ => self.clone(),
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

    /// Little-endian bytes of the data (bool as one byte, integers as `i64`
    /// whatever their storage): the canonical encoding constants' digests
    /// hash.
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match &*self.data {
            TensorData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::Bool(v) => v.iter().map(|&b| b as u8).collect(),
            other => with_ints!(other, v => v.iter().flat_map(|&x| i64::from(x).to_le_bytes()).collect())
                .unwrap_or_default(),
        }
    }

    /// Bytes per element in a plan's blob for values of `fact`: quantized
    /// integers at the narrowest width of their bit range (1, 2, 4 or 8).
    pub fn blob_width(fact: &Fact) -> usize {
        match fact.dtype {
            DType::F32 => 4,
            DType::I64 => 8,
            DType::Q(q) => match q.bits {
                0..=8 => 1,
                9..=16 => 2,
                17..=32 => 4,
                _ => 8,
            },
            DType::Bool => 1,
        }
    }

    /// The plan's blob encoding of this tensor as a value of `fact`:
    /// little-endian, [`Tensor::blob_width`] bytes per element. Fails when a
    /// value does not fit its fact's width.
    pub fn to_blob_bytes(&self, fact: &Fact) -> Result<Vec<u8>, OpError> {
        let w = Tensor::blob_width(fact);
        match (&*self.data, w) {
            (TensorData::F32(_) | TensorData::Bool(_), _) | (_, 8) => Ok(self.to_le_bytes()),
            (data, _) => {
                let ints = with_ints!(data, v => v.iter().map(|&x| i64::from(x)).collect::<Vec<i64>>())
                    .unwrap_or_default();
                let (lo, hi) = (-(1i64 << (8 * w - 1)), (1i64 << (8 * w - 1)) - 1);
                if let Some(x) = ints.iter().find(|&&x| x < lo || x > hi) {
                    bail_op!("value {x} does not fit the {w}-byte storage of {fact}");
                }
                Ok(ints.iter().flat_map(|&x| x.to_le_bytes()[..w].to_vec()).collect())
            }
        }
    }

    /// Inverse of [`Tensor::to_blob_bytes`] for a given fact: integers come
    /// back in the storage of their blob width.
    pub fn from_blob_bytes(fact: &Fact, bytes: &[u8]) -> Result<Tensor, OpError> {
        let Some(n) = fact.checked_len() else { bail_op!("{fact} has too many elements") };
        let width = Tensor::blob_width(fact);
        if n.checked_mul(width) != Some(bytes.len()) {
            bail_op!("{fact} does not match {} bytes", bytes.len());
        }
        fn le<const N: usize>(c: &[u8]) -> [u8; N] {
            c.try_into().expect("chunks_exact(N)")
        }
        let data = match (fact.dtype, width) {
            (DType::F32, _) => {
                TensorData::F32(bytes.chunks_exact(4).map(|c| f32::from_le_bytes(le(c))).collect())
            }
            (DType::Bool, _) => {
                if let Some(b) = bytes.iter().find(|&&b| b > 1) {
                    bail_op!("bool byte {b} is neither 0 nor 1");
                }
                TensorData::Bool(bytes.iter().map(|&b| b == 1).collect())
            }
            (_, 1) => TensorData::I8(bytes.iter().map(|&b| b as i8).collect()),
            (_, 2) => TensorData::I16(bytes.chunks_exact(2).map(|c| i16::from_le_bytes(le(c))).collect()),
            (_, 4) => TensorData::I32(bytes.chunks_exact(4).map(|c| i32::from_le_bytes(le(c))).collect()),
            _ => TensorData::I64(bytes.chunks_exact(8).map(|c| i64::from_le_bytes(le(c))).collect()),
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
