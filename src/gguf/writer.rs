//! A small GGUF (version 3) writer: metadata of every type and F32, F16, Q8_0
//! (or raw, any type) tensors, with data aligned to `general.alignment`.
//! Used by tests to build models and by tools that produce knob's model files.

use std::io::{self, Write};
use std::path::Path;

use super::metadata::{Array, Value};
use super::q8_0::{quantize_row_q8_0, BlockQ8_0, QK8_0};
use super::reader::DEFAULT_ALIGNMENT;
use super::types::GgmlType;
use knob_kernels::{blocks_as_bytes, f32_to_f16};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("tensor {name}: dimensions {dims:?} hold {expected} elements, but {got} were given")]
    ElementCount {
        name: String,
        dims: Vec<u64>,
        expected: u64,
        got: u64,
    },
    #[error("tensor {name}: {ggml_type} data for dimensions {dims:?} is {expected} bytes, but {got} were given")]
    ByteCount {
        name: String,
        dims: Vec<u64>,
        ggml_type: GgmlType,
        expected: u64,
        got: u64,
    },
    #[error("tensor {name}: first dimension {ne0} is not a multiple of the {ggml_type} block size {block}")]
    NotBlockMultiple {
        name: String,
        ne0: u64,
        ggml_type: GgmlType,
        block: u64,
    },
    #[error("alignment {0} is not a power of two")]
    BadAlignment(u32),
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: io::Error,
    },
}

struct PendingTensor {
    name: String,
    dims: Vec<u64>,
    ggml_type: GgmlType,
    data: Vec<u8>,
}

/// Builds a GGUF file in memory.
pub struct GgufWriter {
    alignment: u64,
    metadata: Vec<(String, Value)>,
    tensors: Vec<PendingTensor>,
}

impl Default for GgufWriter {
    fn default() -> Self {
        Self::new()
    }
}

macro_rules! impl_from_scalar {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for Value {
            fn from(x: $t) -> Value { Value::$v(x) }
        }
        impl From<Vec<$t>> for Value {
            fn from(x: Vec<$t>) -> Value { Value::Array(Array::$v(x)) }
        }
    )*};
}
impl_from_scalar!(u8 => U8, i8 => I8, u16 => U16, i16 => I16, u32 => U32, i32 => I32, f32 => F32,
    bool => Bool, String => String, u64 => U64, i64 => I64, f64 => F64);

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<Vec<&str>> for Value {
    fn from(v: Vec<&str>) -> Value {
        Value::Array(Array::String(v.into_iter().map(str::to_string).collect()))
    }
}

impl GgufWriter {
    /// A writer with the default alignment (32).
    pub fn new() -> Self {
        GgufWriter {
            alignment: DEFAULT_ALIGNMENT,
            metadata: Vec::new(),
            tensors: Vec::new(),
        }
    }

    /// Sets `general.alignment` (a power of two).
    pub fn alignment(&mut self, alignment: u32) -> Result<&mut Self, WriteError> {
        if !alignment.is_power_of_two() {
            return Err(WriteError::BadAlignment(alignment));
        }
        self.alignment = u64::from(alignment);
        self.metadata.retain(|(k, _)| k != "general.alignment");
        self.metadata
            .push(("general.alignment".into(), Value::U32(alignment)));
        Ok(self)
    }

    /// Adds (or replaces) a metadata entry.
    pub fn set(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        let value = value.into();
        match self.metadata.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.metadata.push((key.to_string(), value)),
        }
        self
    }

    /// Adds a tensor of F32 values.
    pub fn add_f32(
        &mut self,
        name: &str,
        dims: &[u64],
        values: &[f32],
    ) -> Result<&mut Self, WriteError> {
        check_count(name, dims, values.len())?;
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.add_raw(name, dims, GgmlType::F32, data)
    }

    /// Adds a tensor of F16 values (rounded to nearest even).
    pub fn add_f16(
        &mut self,
        name: &str,
        dims: &[u64],
        values: &[f32],
    ) -> Result<&mut Self, WriteError> {
        check_count(name, dims, values.len())?;
        let data = values
            .iter()
            .flat_map(|&v| f32_to_f16(v).to_le_bytes())
            .collect();
        self.add_raw(name, dims, GgmlType::F16, data)
    }

    /// Adds a tensor quantized to Q8_0 with ggml's reference quantizer (`dims[0]` a multiple of 32).
    pub fn add_q8_0(
        &mut self,
        name: &str,
        dims: &[u64],
        values: &[f32],
    ) -> Result<&mut Self, WriteError> {
        check_count(name, dims, values.len())?;
        let ne0 = dims.first().copied().unwrap_or(1);
        if ne0 % QK8_0 as u64 != 0 {
            return Err(WriteError::NotBlockMultiple {
                name: name.to_string(),
                ne0,
                ggml_type: GgmlType::Q8_0,
                block: QK8_0 as u64,
            });
        }
        let mut blocks = vec![BlockQ8_0::ZERO; values.len() / QK8_0];
        quantize_row_q8_0(values, &mut blocks);
        self.add_raw(
            name,
            dims,
            GgmlType::Q8_0,
            blocks_as_bytes(&blocks).to_vec(),
        )
    }

    /// Adds a tensor of ready Q8_0 blocks (`dims[0]` a multiple of 32).
    pub fn add_q8_0_blocks(
        &mut self,
        name: &str,
        dims: &[u64],
        blocks: &[BlockQ8_0],
    ) -> Result<&mut Self, WriteError> {
        self.add_raw(name, dims, GgmlType::Q8_0, blocks_as_bytes(blocks).to_vec())
    }

    /// Adds a tensor whose data is already encoded as `ggml_type`.
    pub fn add_raw(
        &mut self,
        name: &str,
        dims: &[u64],
        ggml_type: GgmlType,
        data: Vec<u8>,
    ) -> Result<&mut Self, WriteError> {
        let ne0 = dims.first().copied().unwrap_or(1);
        let block = ggml_type.block_size() as u64;
        if ne0 % block != 0 {
            return Err(WriteError::NotBlockMultiple {
                name: name.to_string(),
                ne0,
                ggml_type,
                block,
            });
        }
        let n: u64 = dims.iter().product();
        let expected = n / block * ggml_type.type_size() as u64;
        if expected != data.len() as u64 {
            return Err(WriteError::ByteCount {
                name: name.to_string(),
                dims: dims.to_vec(),
                ggml_type,
                expected,
                got: data.len() as u64,
            });
        }
        self.tensors.push(PendingTensor {
            name: name.to_string(),
            dims: dims.to_vec(),
            ggml_type,
            data,
        });
        Ok(self)
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(b"GGUF");
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());
        for (key, value) in &self.metadata {
            write_str(&mut out, key);
            out.extend_from_slice(&(value.value_type() as u32).to_le_bytes());
            write_value(&mut out, value);
        }
        let mut offset = 0u64;
        let mut offsets = Vec::with_capacity(self.tensors.len());
        for t in &self.tensors {
            write_str(&mut out, &t.name);
            out.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.extend_from_slice(&t.ggml_type.id().to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            offsets.push(offset);
            offset = (offset + t.data.len() as u64).div_ceil(self.alignment) * self.alignment;
        }
        let data_start = (out.len() as u64).div_ceil(self.alignment) * self.alignment;
        out.resize(data_start as usize, 0);
        for (t, off) in self.tensors.iter().zip(offsets) {
            out.resize((data_start + off) as usize, 0);
            out.extend_from_slice(&t.data);
        }
        out
    }

    /// Writes the file to `path`.
    pub fn write_to(&self, path: impl AsRef<Path>) -> Result<(), WriteError> {
        let path = path.as_ref();
        let io_err = |source| WriteError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = std::fs::File::create(path).map_err(io_err)?;
        file.write_all(&self.to_bytes()).map_err(io_err)?;
        file.sync_all().map_err(io_err)
    }
}

fn check_count(name: &str, dims: &[u64], got: usize) -> Result<(), WriteError> {
    let expected: u64 = dims.iter().product();
    if expected != got as u64 {
        return Err(WriteError::ElementCount {
            name: name.to_string(),
            dims: dims.to_vec(),
            expected,
            got: got as u64,
        });
    }
    Ok(())
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::U8(v) => out.push(*v),
        Value::I8(v) => out.push(*v as u8),
        Value::U16(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::I16(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::U32(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::I32(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::F32(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::Bool(v) => out.push(u8::from(*v)),
        Value::String(s) => write_str(out, s),
        Value::U64(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::F64(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::Array(a) => {
            out.extend_from_slice(&(a.element_type() as u32).to_le_bytes());
            out.extend_from_slice(&(a.len() as u64).to_le_bytes());
            for i in 0..a.len() {
                if let Some(v) = a.get(i) {
                    write_value(out, &v);
                }
            }
        }
    }
}
