//! Q8_0 blocks and ggml's reference quantizer (`quantize_row_q8_0_ref`).

use bytemuck::{Pod, Zeroable};

use super::half::{f16_to_f32, f32_to_f16};

/// Elements per Q8_0 block.
pub const QK8_0: usize = 32;

/// One Q8_0 block: 32 int8 values sharing an f16 scale; value = d * qs[i].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ8_0 {
    /// Scale, IEEE half bits.
    pub d: u16,
    /// Quantized values.
    pub qs: [i8; QK8_0],
}

const _: () = assert!(std::mem::size_of::<BlockQ8_0>() == 34);

/// Views little-endian Q8_0 bytes as blocks without copying; `None` when the
/// length is not a multiple of 34 or the bytes are not 2-aligned.
pub fn blocks_from_bytes(bytes: &[u8]) -> Option<&[BlockQ8_0]> {
    bytemuck::try_cast_slice(bytes).ok()
}

/// Copies Q8_0 bytes of any alignment into blocks; `None` when the length is not a multiple of 34.
pub fn blocks_from_bytes_copied(bytes: &[u8]) -> Option<Vec<BlockQ8_0>> {
    if bytes.len() % 34 != 0 {
        return None;
    }
    Some(bytes.chunks_exact(34).map(|c| bytemuck::pod_read_unaligned(c)).collect())
}

/// Quantizes `x` (length a multiple of 32) into `out`, exactly as ggml's
/// `quantize_row_q8_0_ref`: d = amax/127 stored as f16, q = round(x * (1/d))
/// with ties away from zero, computed with the f32 value of d before rounding.
pub fn quantize_row_q8_0(x: &[f32], out: &mut [BlockQ8_0]) {
    assert_eq!(x.len() % QK8_0, 0, "quantize_row_q8_0: length {} is not a multiple of 32", x.len());
    assert_eq!(out.len(), x.len() / QK8_0, "quantize_row_q8_0: output has room for {} blocks", out.len());
    for (block, xs) in out.iter_mut().zip(x.chunks_exact(QK8_0)) {
        let amax = xs.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        block.d = f32_to_f16(d);
        for (q, v) in block.qs.iter_mut().zip(xs) {
            *q = (v * id).round() as i8;
        }
    }
}

/// Dequantizes Q8_0 blocks into `out` (32 values per block).
pub fn dequantize_row_q8_0(blocks: &[BlockQ8_0], out: &mut [f32]) {
    for (block, ys) in blocks.iter().zip(out.chunks_exact_mut(QK8_0)) {
        let d = f16_to_f32(block.d);
        for (y, q) in ys.iter_mut().zip(block.qs) {
            *y = q as f32 * d;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantizes_like_ggml_reference() {
        let mut x = [0.0f32; 32];
        x[0] = -127.0; // d = 1, so q = x
        x[1] = 62.5; // ties go away from zero (63), not to even (62)
        x[2] = -2.5;
        x[3] = 0.49;
        let mut b = [BlockQ8_0::zeroed()];
        quantize_row_q8_0(&x, &mut b);
        assert_eq!(b[0].d, 0x3C00);
        assert_eq!(&b[0].qs[..4], &[-127, 63, -3, 0]);
        // d is rounded to f16 after the reciprocal is taken from the f32 value.
        let y: Vec<f32> = (0..32).map(|i| (i as f32 - 15.5) * 0.0371).collect();
        quantize_row_q8_0(&y, &mut b);
        let d = 15.5f32 * 0.0371 / 127.0;
        assert_eq!(b[0].d, f32_to_f16(d));
        assert_eq!(b[0].qs[31], 127);
        assert_eq!(b[0].qs[0], ((-15.5f32 * 0.0371) * (1.0 / d)).round() as i8);
        let zero = [0.0f32; 32];
        quantize_row_q8_0(&zero, &mut b);
        assert_eq!(b[0], BlockQ8_0 { d: 0, qs: [0; 32] });
    }

    #[test]
    fn casts_need_alignment_and_whole_blocks() {
        let raw = vec![0u16; 34];
        let bytes: &[u8] = bytemuck::cast_slice(&raw);
        assert_eq!(blocks_from_bytes(&bytes[..68]).map(|b| b.len()), Some(2));
        assert!(blocks_from_bytes(&bytes[1..35]).is_none());
        assert!(blocks_from_bytes(&bytes[..33]).is_none());
        assert_eq!(blocks_from_bytes_copied(&bytes[1..35]).map(|b| b.len()), Some(1));
    }
}
