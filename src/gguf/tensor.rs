//! A tensor borrowed from a GGUF file, and its conversion to f32 values and Q8_0 blocks.

use std::borrow::Cow;

use super::dequant::dequantize;
use super::error::{GgufError, Result};
use super::q8_0::{blocks_from_bytes, quantize_row_q8_0, BlockQ8_0, QK8_0};
use super::types::GgmlType;

/// A tensor as stored: its data is a slice of the file.
#[derive(Debug, Clone, Copy)]
pub struct TensorRef<'a> {
    pub name: &'a str,
    /// Dimensions, fastest-varying first (ggml's `ne`): a matrix of `n` rows of
    /// `k` columns is `[k, n]`.
    pub dims: &'a [u64],
    pub ggml_type: GgmlType,
    /// The raw data, `n_elements / block_size * type_size` bytes.
    pub bytes: &'a [u8],
}

/// Elements converted per step, so conversions never hold a whole tensor twice as f32.
const CHUNK_ELEMENTS: usize = 32 * 256 * 16;

impl<'a> TensorRef<'a> {
    pub fn n_elements(&self) -> usize {
        self.dims.iter().product::<u64>() as usize
    }

    /// Length of one row (`dims[0]`), 1 for a scalar.
    pub fn row_len(&self) -> usize {
        self.dims.first().copied().unwrap_or(1) as usize
    }

    /// Number of rows: the product of all dimensions but the first.
    pub fn n_rows(&self) -> usize {
        self.dims.iter().skip(1).product::<u64>() as usize
    }

    fn unsupported(&self) -> GgufError {
        GgufError::UnsupportedType {
            name: self.name.to_string(),
            ggml_type: self.ggml_type,
        }
    }

    /// The values as f32: borrowed when the data is F32 (and 4-aligned, which it
    /// is in any file whose alignment is at least 4), converted otherwise.
    pub fn to_f32(&self) -> Result<Cow<'a, [f32]>> {
        if !self.ggml_type.is_supported() {
            return Err(self.unsupported());
        }
        if self.ggml_type == GgmlType::F32 {
            if let Ok(v) = bytemuck::try_cast_slice(self.bytes) {
                return Ok(Cow::Borrowed(v));
            }
        }
        let mut out = vec![0.0f32; self.n_elements()];
        let converted = dequantize(self.ggml_type, self.bytes, &mut out);
        debug_assert!(converted);
        Ok(Cow::Owned(out))
    }

    /// The values as Q8_0 blocks (32 consecutive elements of a row per block):
    /// borrowed (zero-copy) when the data is Q8_0, otherwise dequantized to f32 and
    /// quantized with ggml's reference Q8_0 quantizer, as `llama-quantize
    /// --allow-requantize ... Q8_0` does. Needs rows of a multiple of 32.
    pub fn to_q8_0(&self) -> Result<Cow<'a, [BlockQ8_0]>> {
        if !self.ggml_type.is_supported() {
            return Err(self.unsupported());
        }
        if self.ggml_type == GgmlType::Q8_0 {
            // The reader checked the size is whole blocks; the blocks are byte-aligned.
            let blocks = blocks_from_bytes(self.bytes).map_err(|_| self.unsupported())?;
            return Ok(Cow::Borrowed(blocks));
        }
        if !self.row_len().is_multiple_of(QK8_0) {
            return Err(GgufError::RowNotQ8Multiple {
                name: self.name.to_string(),
                ggml_type: self.ggml_type,
                ne0: self.row_len() as u64,
            });
        }
        let n = self.n_elements();
        let mut out = vec![BlockQ8_0::ZERO; n / QK8_0];
        let block_bytes = self.ggml_type.type_size();
        let block_elems = self.ggml_type.block_size();
        // CHUNK_ELEMENTS is a multiple of every block size (1, 32 and 256).
        let mut f32s = vec![0.0f32; CHUNK_ELEMENTS.min(n)];
        for (i, out_chunk) in out.chunks_mut(CHUNK_ELEMENTS / QK8_0).enumerate() {
            let elems = out_chunk.len() * QK8_0;
            let start = i * CHUNK_ELEMENTS / block_elems * block_bytes;
            let bytes = &self.bytes[start..start + elems / block_elems * block_bytes];
            let converted = dequantize(self.ggml_type, bytes, &mut f32s[..elems]);
            debug_assert!(converted);
            quantize_row_q8_0(&f32s[..elems], out_chunk);
        }
        Ok(Cow::Owned(out))
    }
}
