//! Q8_0 blocks: the kernels' block type, plus a copy for misaligned storage.

pub use knob_kernels::{
    blocks_from_bytes, dequantize_row_q8_0, quantize_row_q8_0, BlockQ8_0, QK8_0,
};

/// Bytes of one Q8_0 block.
pub const Q8_0_BLOCK_BYTES: usize = std::mem::size_of::<BlockQ8_0>();

#[cfg(test)]
mod tests {
    use super::*;
    use knob_kernels::f32_to_f16;

    /// The requantization of non-Q8_0 files relies on the kernels' quantizer
    /// being ggml's `quantize_row_q8_0_ref`; pin the properties that matter.
    #[test]
    fn quantizer_is_ggml_reference() {
        let mut x = [0.0f32; 32];
        x[0] = -127.0; // d = 1, so q = x
        x[1] = 62.5; // ties go away from zero (63), not to even (62)
        x[2] = -2.5;
        x[3] = 0.49;
        let mut b = [BlockQ8_0::ZERO];
        quantize_row_q8_0(&x, &mut b);
        assert_eq!(b[0].d, 0x3C00u16.to_le_bytes());
        assert_eq!(&b[0].qs[..4], &[-127, 63, -3, 0]);
        // q is computed with the f32 reciprocal of d before d is rounded to f16.
        let y: Vec<f32> = (0..32).map(|i| (i as f32 - 15.5) * 0.0371).collect();
        quantize_row_q8_0(&y, &mut b);
        let d = 15.5f32 * 0.0371 / 127.0;
        assert_eq!(b[0].d, f32_to_f16(d).to_le_bytes());
        assert_eq!(b[0].qs[31], 127);
        assert_eq!(b[0].qs[10], ((-5.5f32 * 0.0371) * (1.0 / d)).round() as i8);
        quantize_row_q8_0(&[0.0; 32], &mut b);
        assert_eq!(b[0], BlockQ8_0::ZERO);
        assert_eq!(Q8_0_BLOCK_BYTES, 34);
    }
}
