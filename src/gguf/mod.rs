//! GGUF model files: a defensive, memory-mapped reader (versions 2 and 3),
//! typed metadata access, tensor access with conversion to f32 and Q8_0, and
//! a small writer.
//!
//! ```no_run
//! # fn main() -> Result<(), knob::gguf::GgufError> {
//! let gguf = knob::gguf::Gguf::open("model.gguf")?;
//! let n_layer = gguf.metadata().get_u32("llama.block_count")?;
//! let wq = gguf.tensor_q8_0("blk.0.attn_q.weight")?; // borrowed when the file is Q8_0
//! # Ok(()) }
//! ```

#[cfg(target_endian = "big")]
compile_error!(
    "the GGUF reader views little-endian tensor data in place and needs a little-endian target"
);

mod dequant;
mod error;
mod metadata;
mod mmap;
mod q8_0;
mod reader;
mod tensor;
mod types;
pub mod writer;

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

pub use error::{GgufError, Result};
pub use knob_kernels::{bf16_to_f32, f16_to_f32, f32_to_f16};
pub use metadata::{Array, Metadata, Value, ValueType};
pub use q8_0::{
    blocks_from_bytes, dequantize_row_q8_0, quantize_row_q8_0, BlockQ8_0, Q8_0_BLOCK_BYTES, QK8_0,
};
pub use reader::{
    TensorInfo, DEFAULT_ALIGNMENT, MAX_ARRAY_LEN, MAX_DIMS, MAX_KV_COUNT, MAX_STRING_LEN,
    MAX_TENSOR_COUNT, MAX_TENSOR_NAME,
};
pub use tensor::TensorRef;
pub use types::{GgmlType, QK_K};

/// Where the file's bytes live.
enum Storage {
    Mmap(mmap::Mmap),
    Static(&'static [u8]),
    /// A copy in u64s, so that the data is 8-aligned; the second field is the byte length.
    Owned(Vec<u64>, usize),
}

/// An opened, validated GGUF file. Tensor data is borrowed from it.
pub struct Gguf {
    storage: Storage,
    header: reader::Header,
    index: HashMap<String, usize>,
}

impl std::fmt::Debug for Gguf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gguf")
            .field("version", &self.header.version)
            .field("metadata_entries", &self.header.metadata.len())
            .field("tensors", &self.header.tensors.len())
            .field("bytes", &self.bytes().len())
            .finish()
    }
}

/// Tensor data is viewed in place as f32 and Q8_0 blocks, which needs the
/// file's first byte at an address that is a multiple of this.
const STORAGE_ALIGN: usize = 8;

impl Gguf {
    /// Memory-maps and validates the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Gguf> {
        let path = path.as_ref();
        let io_err = |source| GgufError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        let map = mmap::map_readonly(&file).map_err(io_err)?;
        Self::from_storage(Storage::Mmap(map))
    }

    /// Reads a file embedded in the binary (`include_bytes!`). The bytes are
    /// used in place when they are 8-aligned and copied once otherwise
    /// (`include_bytes!` only guarantees alignment 1).
    pub fn from_static(bytes: &'static [u8]) -> Result<Gguf> {
        if (bytes.as_ptr() as usize).is_multiple_of(STORAGE_ALIGN) {
            Self::from_storage(Storage::Static(bytes))
        } else {
            Self::from_bytes(bytes)
        }
    }

    /// Reads a file from a byte slice, copying it into an aligned buffer.
    pub fn from_bytes(bytes: &[u8]) -> Result<Gguf> {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        Self::from_storage(Storage::Owned(words, bytes.len()))
    }

    fn from_storage(storage: Storage) -> Result<Gguf> {
        let header = reader::parse_header(storage_bytes(&storage))?;
        let index = header
            .tensors
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Ok(Gguf {
            storage,
            header,
            index,
        })
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        storage_bytes(&self.storage)
    }

    /// Lets the OS drop the resident pages behind `part` (a slice of
    /// [`Gguf::bytes`], e.g. a tensor that was copied into owned memory).
    /// Only file mappings release anything; the bytes stay readable.
    pub fn release(&self, part: &[u8]) {
        if let Storage::Mmap(m) = &self.storage {
            let base = m.as_ptr() as usize;
            let at = part.as_ptr() as usize;
            if at >= base && at + part.len() <= base + m.len() {
                mmap::release_pages(m, at - base, part.len());
            }
        }
    }

    /// GGUF version (2 or 3).
    pub fn version(&self) -> u32 {
        self.header.version
    }

    pub fn metadata(&self) -> &Metadata {
        &self.header.metadata
    }

    /// `general.architecture`.
    pub fn architecture(&self) -> Result<&str> {
        self.metadata().get_str("general.architecture")
    }

    /// Alignment of tensor data (`general.alignment`, 32 by default).
    pub fn alignment(&self) -> u64 {
        self.header.alignment
    }

    /// Absolute offset of the data section.
    pub fn data_start(&self) -> u64 {
        self.header.data_start
    }

    /// Tensor infos in file order.
    pub fn tensor_infos(&self) -> &[TensorInfo] {
        &self.header.tensors
    }

    /// All tensors in file order.
    pub fn tensors(&self) -> impl Iterator<Item = TensorRef<'_>> {
        self.header.tensors.iter().map(|info| self.tensor_ref(info))
    }

    pub fn has_tensor(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// The tensor `name`, with its data borrowed from the file.
    pub fn tensor(&self, name: &str) -> Result<TensorRef<'_>> {
        let i = self
            .index
            .get(name)
            .ok_or_else(|| GgufError::MissingTensor {
                name: name.to_string(),
            })?;
        Ok(self.tensor_ref(&self.header.tensors[*i]))
    }

    fn tensor_ref<'a>(&'a self, info: &'a TensorInfo) -> TensorRef<'a> {
        // parse_header checked offset + n_bytes <= file length - data_start;
        // only empty tensors can fall back to the empty slice.
        let start = self.header.data_start.saturating_add(info.offset);
        let end = start.saturating_add(info.n_bytes);
        let bytes = usize::try_from(start)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(s, e)| self.bytes().get(s..e))
            .unwrap_or(&[]);
        TensorRef {
            name: &info.name,
            dims: &info.dims,
            ggml_type: info.ggml_type,
            bytes,
        }
    }

    /// The tensor `name` as f32 values: borrowed for F32 data, converted otherwise.
    pub fn tensor_f32(&self, name: &str) -> Result<std::borrow::Cow<'_, [f32]>> {
        self.tensor(name)?.to_f32()
    }

    /// The tensor `name` as Q8_0 blocks: borrowed for Q8_0 data, (de)quantized otherwise.
    pub fn tensor_q8_0(&self, name: &str) -> Result<std::borrow::Cow<'_, [BlockQ8_0]>> {
        self.tensor(name)?.to_q8_0()
    }
}

fn storage_bytes(storage: &Storage) -> &[u8] {
    match storage {
        Storage::Mmap(m) => m,
        Storage::Static(b) => b,
        Storage::Owned(words, len) => &bytemuck::cast_slice::<u64, u8>(words)[..*len],
    }
}

#[cfg(test)]
mod tests;
