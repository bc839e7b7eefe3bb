//! Parsing and validation of the GGUF header: metadata and tensor infos.
//! Works on the whole file as a byte slice; every read is bounds-checked.

use std::collections::HashMap;

use super::error::{GgufError, Result};
use super::metadata::{Array, Metadata, Value, ValueType};
use super::types::GgmlType;

/// "GGUF" read as a little-endian u32.
pub const GGUF_MAGIC: [u8; 4] = *b"GGUF";
/// Alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Longest string (key, value or array element), in bytes.
pub const MAX_STRING_LEN: u64 = 256 << 20;
/// Most elements in one metadata array.
pub const MAX_ARRAY_LEN: u64 = 1 << 26;
/// Most metadata entries.
pub const MAX_KV_COUNT: u64 = 1 << 20;
/// Most tensors.
pub const MAX_TENSOR_COUNT: u64 = 1 << 20;
/// Most tensor dimensions (ggml's GGML_MAX_DIMS).
pub const MAX_DIMS: u32 = 4;
/// Longest tensor name, in bytes (ggml's GGML_MAX_NAME is 64 including the NUL).
pub const MAX_TENSOR_NAME: u64 = 63;
/// Largest `general.alignment` accepted.
pub const MAX_ALIGNMENT: u64 = 1 << 30;

/// Where and how a tensor is stored, after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// Dimensions, fastest-varying first (ggml's `ne`).
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
    /// Offset of the data from the start of the data section (a multiple of the alignment).
    pub offset: u64,
    /// Number of elements: the product of `dims`.
    pub n_elements: u64,
    /// Bytes of data.
    pub n_bytes: u64,
}

/// The parsed header of a GGUF file.
#[derive(Debug, Clone)]
pub struct Header {
    pub version: u32,
    pub metadata: Metadata,
    pub tensors: Vec<TensorInfo>,
    pub alignment: u64,
    /// Absolute offset of the data section.
    pub data_start: u64,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64, field: &dyn Fn() -> String) -> Result<&'a [u8]> {
        let available = (self.bytes.len() - self.pos) as u64;
        if n > available {
            return Err(GgufError::Truncated {
                field: field(),
                offset: self.pos as u64,
                needed: n,
                available,
            });
        }
        let start = self.pos;
        self.pos += n as usize;
        Ok(&self.bytes[start..self.pos])
    }

    fn array<const N: usize>(&mut self, field: &dyn Fn() -> String) -> Result<[u8; N]> {
        let b = self.take(N as u64, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    fn u32(&mut self, field: &dyn Fn() -> String) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    fn u64(&mut self, field: &dyn Fn() -> String) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// A count or length, checked against `limit` and against the bytes left
    /// (each element taking at least `min_size` bytes), before anything is allocated.
    fn count(&mut self, field: &dyn Fn() -> String, limit: u64, min_size: u64) -> Result<u64> {
        let offset = self.pos as u64;
        let n = self.u64(field)?;
        if n > limit {
            return Err(GgufError::TooLarge {
                field: field(),
                offset,
                value: n,
                limit,
            });
        }
        let available = (self.bytes.len() - self.pos) as u64;
        let needed = n.saturating_mul(min_size);
        if needed > available {
            return Err(GgufError::Truncated {
                field: field(),
                offset: self.pos as u64,
                needed,
                available,
            });
        }
        Ok(n)
    }

    fn string(&mut self, field: &dyn Fn() -> String, limit: u64) -> Result<String> {
        let len = self.count(&|| format!("length of {}", field()), limit, 1)?;
        let offset = self.pos as u64;
        let b = self.take(len, field)?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => Err(GgufError::BadUtf8 {
                field: field(),
                offset,
                len,
            }),
        }
    }

    fn value_type(&mut self, field: &dyn Fn() -> String) -> Result<ValueType> {
        let offset = self.pos as u64;
        let id = self.u32(&|| format!("type of {}", field()))?;
        ValueType::from_id(id).ok_or_else(|| GgufError::BadValueType {
            field: field(),
            offset,
            id,
        })
    }

    fn bool(&mut self, field: &dyn Fn() -> String) -> Result<bool> {
        let offset = self.pos as u64;
        match self.array::<1>(field)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(GgufError::BadBool {
                field: field(),
                offset,
                value,
            }),
        }
    }

    fn value(&mut self, t: ValueType, field: &dyn Fn() -> String) -> Result<Value> {
        Ok(match t {
            ValueType::U8 => Value::U8(self.array::<1>(field)?[0]),
            ValueType::I8 => Value::I8(self.array::<1>(field)?[0] as i8),
            ValueType::U16 => Value::U16(u16::from_le_bytes(self.array(field)?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(self.array(field)?)),
            ValueType::U32 => Value::U32(self.u32(field)?),
            ValueType::I32 => Value::I32(i32::from_le_bytes(self.array(field)?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(self.array(field)?)),
            ValueType::Bool => Value::Bool(self.bool(field)?),
            ValueType::String => Value::String(self.string(field, MAX_STRING_LEN)?),
            ValueType::U64 => Value::U64(self.u64(field)?),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.array(field)?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.array(field)?)),
            ValueType::Array => Value::Array(self.array_value(field)?),
        })
    }

    fn array_value(&mut self, field: &dyn Fn() -> String) -> Result<Array> {
        let offset = self.pos as u64;
        let et = self.value_type(&|| format!("element type of {}", field()))?;
        if et == ValueType::Array {
            return Err(GgufError::NestedArray {
                field: field(),
                offset,
            });
        }
        let n = self.count(
            &|| format!("element count of {}", field()),
            MAX_ARRAY_LEN,
            et.min_size(),
        )? as usize;
        let elem = |i: usize| move || format!("element {i} of {}", field());
        macro_rules! fixed {
            ($variant:ident, $t:ty) => {{
                let b = self.take((n * std::mem::size_of::<$t>()) as u64, field)?;
                Array::$variant(
                    b.chunks_exact(std::mem::size_of::<$t>())
                        .map(|c| <$t>::from_le_bytes(c.try_into().expect("chunk size")))
                        .collect(),
                )
            }};
        }
        Ok(match et {
            ValueType::U8 => Array::U8(self.take(n as u64, field)?.to_vec()),
            ValueType::I8 => Array::I8(
                self.take(n as u64, field)?
                    .iter()
                    .map(|&b| b as i8)
                    .collect(),
            ),
            ValueType::U16 => fixed!(U16, u16),
            ValueType::I16 => fixed!(I16, i16),
            ValueType::U32 => fixed!(U32, u32),
            ValueType::I32 => fixed!(I32, i32),
            ValueType::F32 => fixed!(F32, f32),
            ValueType::U64 => fixed!(U64, u64),
            ValueType::I64 => fixed!(I64, i64),
            ValueType::F64 => fixed!(F64, f64),
            ValueType::Bool => {
                let mut v = Vec::with_capacity(n);
                for i in 0..n {
                    v.push(self.bool(&elem(i))?);
                }
                Array::Bool(v)
            }
            ValueType::String => {
                let mut v = Vec::with_capacity(n);
                for i in 0..n {
                    v.push(self.string(&elem(i), MAX_STRING_LEN)?);
                }
                Array::String(v)
            }
            ValueType::Array => unreachable!("nested arrays were rejected above"),
        })
    }
}

/// Parses and validates the header of the GGUF file `bytes`: everything except
/// the tensor data itself, whose bounds are checked against the file length.
pub fn parse_header(bytes: &[u8]) -> Result<Header> {
    let mut c = Cursor { bytes, pos: 0 };
    let magic = c.array::<4>(&|| "magic".into())?;
    if magic != GGUF_MAGIC {
        return Err(GgufError::BadMagic {
            found: String::from_utf8_lossy(&magic).escape_debug().to_string(),
        });
    }
    let version = c.u32(&|| "version".into())?;
    if version != 2 && version != 3 {
        return Err(GgufError::Version { version });
    }
    // Each tensor info takes at least 8 (name length) + 4 + 4 + 8 bytes;
    // each metadata entry at least 8 (key length) + 4 + 1.
    let n_tensors = c.count(&|| "tensor count".into(), MAX_TENSOR_COUNT, 0)?;
    let n_kv = c.count(&|| "metadata count".into(), MAX_KV_COUNT, 13)?;

    let mut metadata = Metadata::default();
    for i in 0..n_kv {
        let offset = c.pos as u64;
        let key = c.string(&|| format!("key of metadata entry {i}"), MAX_STRING_LEN)?;
        let field = || format!("value of metadata key {key:?}");
        let t = c.value_type(&field)?;
        let value = c.value(t, &field)?;
        if !metadata.insert(key.clone(), value) {
            return Err(GgufError::DuplicateKey { key, offset });
        }
    }

    let alignment = match metadata.get("general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some(Value::U32(a)) => {
            let a = u64::from(*a);
            if !a.is_power_of_two() || a > MAX_ALIGNMENT {
                return Err(GgufError::BadAlignment { value: a });
            }
            a
        }
        Some(v) => {
            return Err(GgufError::WrongType {
                key: "general.alignment".into(),
                found: v.type_name(),
                expected: "u32",
            })
        }
    };

    // The count check above used 0 bytes per tensor; check it now that the metadata is read.
    let available = (bytes.len() - c.pos) as u64;
    if n_tensors.saturating_mul(24) > available {
        return Err(GgufError::Truncated {
            field: "tensor infos".into(),
            offset: c.pos as u64,
            needed: n_tensors.saturating_mul(24),
            available,
        });
    }
    let mut tensors = Vec::with_capacity(n_tensors as usize);
    let mut names: HashMap<String, ()> = HashMap::with_capacity(n_tensors as usize);
    for i in 0..n_tensors {
        let info_offset = c.pos as u64;
        let name = c.string(&|| format!("name of tensor {i}"), MAX_TENSOR_NAME)?;
        let field = |what: &str| format!("{what} of tensor {name:?}");
        let dims_at = c.pos as u64;
        let n_dims = c.u32(&|| field("dimension count"))?;
        if n_dims > MAX_DIMS {
            return Err(GgufError::TooManyDims {
                name,
                offset: dims_at,
                n_dims,
                max: MAX_DIMS,
            });
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for d in 0..n_dims {
            dims.push(c.u64(&|| field(&format!("dimension {d}")))?);
        }
        let type_at = c.pos as u64;
        let type_id = c.u32(&|| field("type"))?;
        let offset_at = c.pos as u64;
        let offset = c.u64(&|| field("data offset"))?;
        let Some(ggml_type) = GgmlType::from_id(type_id) else {
            return Err(GgufError::UnknownTensorType {
                name,
                offset: type_at,
                id: type_id,
            });
        };
        // ggml stores dimensions as int64: each and their product must fit.
        let n_elements = dims
            .iter()
            .try_fold(1u64, |acc, &d| {
                if d > i64::MAX as u64 {
                    None
                } else {
                    acc.checked_mul(d)
                }
            })
            .filter(|&n| n <= i64::MAX as u64);
        let Some(n_elements) = n_elements else {
            return Err(GgufError::DimsOverflow {
                name,
                offset: dims_at + 4,
                dims,
            });
        };
        let block = ggml_type.block_size() as u64;
        let ne0 = dims.first().copied().unwrap_or(1);
        if ne0 % block != 0 {
            return Err(GgufError::NotBlockMultiple {
                name,
                ne0,
                ggml_type,
                block,
            });
        }
        let Some(n_bytes) = (n_elements / block).checked_mul(ggml_type.type_size() as u64) else {
            return Err(GgufError::DimsOverflow {
                name,
                offset: dims_at + 4,
                dims,
            });
        };
        if offset % alignment != 0 {
            return Err(GgufError::MisalignedOffset {
                name,
                offset,
                at: offset_at,
                alignment,
            });
        }
        if names.insert(name.clone(), ()).is_some() {
            return Err(GgufError::DuplicateTensor {
                name,
                offset: info_offset,
            });
        }
        tensors.push(TensorInfo {
            name,
            dims,
            ggml_type,
            offset,
            n_elements,
            n_bytes,
        });
    }

    let data_start = (c.pos as u64).div_ceil(alignment) * alignment;
    let size = (bytes.len() as u64).saturating_sub(data_start);
    for t in &tensors {
        let end = t.offset.checked_add(t.n_bytes);
        if end.is_none_or(|end| end > size) {
            return Err(GgufError::OutOfBounds {
                name: t.name.clone(),
                start: t.offset,
                end: end.unwrap_or(u64::MAX),
                data_start,
                size,
            });
        }
    }
    Ok(Header {
        version,
        metadata,
        tensors,
        alignment,
        data_start,
    })
}
