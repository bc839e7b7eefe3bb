//! [`ModelSource`] over the GGUF reader: Q8_0 tensors stay in the mapped file
//! (zero-copy), other quantized types are re-quantized to Q8_0 at load, float
//! types are converted to f32.
use std::sync::Arc;

use knob_kernels::BlockQ8_0;

use super::{ModelError, ModelSource, QBlocks, TensorData};
use crate::gguf::{GgmlType, Gguf};

/// A GGUF file as a model source. Cheap to clone (the file is shared).
#[derive(Clone)]
pub struct GgufSource {
    pub file: Arc<Gguf>,
}

impl GgufSource {
    pub fn new(file: Gguf) -> Self {
        Self {
            file: Arc::new(file),
        }
    }
}

/// Q8_0 blocks that live in the mapped file: `len` bytes at byte `start`.
struct MappedBlocks {
    file: Arc<Gguf>,
    start: usize,
    len: usize,
}

impl QBlocks for MappedBlocks {
    fn blocks(&self) -> &[BlockQ8_0] {
        // Checked once in `tensor` (length a multiple of 34, inside the file);
        // kernels' blocks are byte-aligned, so the cast cannot fail here.
        knob_kernels::blocks_from_bytes(&self.file.bytes()[self.start..self.start + self.len])
            .unwrap_or(&[])
    }
}

impl ModelSource for GgufSource {
    fn meta_str(&self, key: &str) -> Option<String> {
        self.file
            .metadata()
            .get_str_opt(key)
            .ok()
            .flatten()
            .map(str::to_string)
    }
    fn meta_u32(&self, key: &str) -> Option<u32> {
        self.file.metadata().get_u32_opt(key).ok().flatten()
    }
    fn meta_f32(&self, key: &str) -> Option<f32> {
        self.file.metadata().get_f32_opt(key).ok().flatten()
    }
    fn tensor_dims(&self, name: &str) -> Option<Vec<usize>> {
        let t = self.file.tensor(name).ok()?;
        t.dims.iter().map(|&d| usize::try_from(d).ok()).collect()
    }
    fn tensor(&self, name: &str) -> Result<TensorData, ModelError> {
        let err = |e: crate::gguf::GgufError| ModelError::Tensor {
            name: name.to_string(),
            why: e.to_string(),
        };
        let t = self.file.tensor(name).map_err(err)?;
        match t.ggml_type {
            GgmlType::F32 | GgmlType::F16 | GgmlType::Bf16 => {
                let owned = t.to_f32().map_err(err)?.into_owned();
                self.file.release(t.bytes);
                Ok(TensorData::F32(owned))
            }
            GgmlType::Q8_0 => {
                if knob_kernels::blocks_from_bytes(t.bytes).is_err() {
                    return Err(ModelError::Tensor {
                        name: name.into(),
                        why: "Q8_0 data is not whole blocks".into(),
                    });
                }
                let start = t.bytes.as_ptr() as usize - self.file.bytes().as_ptr() as usize;
                Ok(TensorData::Q8(Arc::new(MappedBlocks {
                    file: self.file.clone(),
                    start,
                    len: t.bytes.len(),
                })))
            }
            _ => {
                // Re-quantized by the reader with ggml's reference quantizer.
                let owned: Vec<BlockQ8_0> = t.to_q8_0().map_err(err)?.into_owned();
                // The source bytes are not read again: without this a Q4 file
                // stays resident next to its Q8_0 copy (+70% peak memory).
                self.file.release(t.bytes);
                Ok(TensorData::Q8(Arc::new(owned)))
            }
        }
    }
}
