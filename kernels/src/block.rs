//! The Q8_0 weight block (GGUF layout), half-float conversions and ggml's
//! reference quantizer.

use crate::KernelError;

/// Values per Q8_0 block.
pub const QK8_0: usize = 32;

/// One GGUF Q8_0 block: an f16 scale and 32 signed 8-bit values; the value
/// of element `i` is `scale() * qs[i]`.
///
/// The struct has alignment 1 and is 34 bytes long, exactly as the blocks lie
/// in a GGUF file, so a memory-mapped tensor can be viewed as `&[BlockQ8_0]`
/// in place (see [`blocks_from_bytes`]); kernels load it unaligned.
///
/// `qs` may hold -128 in a file written by another tool. ggml's quantizer
/// never writes it (it rounds into [-127, 127]), but every kernel path in this
/// crate computes with -128 correctly too (tested), so foreign files need no
/// clamping at load.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockQ8_0 {
    /// The scale as IEEE half-float bits, little-endian.
    pub d: [u8; 2],
    /// The quantized values.
    pub qs: [i8; QK8_0],
}

const _: () = assert!(std::mem::size_of::<BlockQ8_0>() == 34);
const _: () = assert!(std::mem::align_of::<BlockQ8_0>() == 1);

impl BlockQ8_0 {
    /// A block of zeros with a zero scale.
    pub const ZERO: BlockQ8_0 = BlockQ8_0 {
        d: [0, 0],
        qs: [0; QK8_0],
    };

    /// The block's scale as f32.
    #[inline]
    pub fn scale(&self) -> f32 {
        f16_to_f32(u16::from_le_bytes(self.d))
    }
}

/// Views raw bytes (for example a memory-mapped GGUF tensor) as Q8_0 blocks
/// without copying.
pub fn blocks_from_bytes(bytes: &[u8]) -> Result<&[BlockQ8_0], KernelError> {
    let size = std::mem::size_of::<BlockQ8_0>();
    if !bytes.len().is_multiple_of(size) {
        return Err(KernelError::BadBlockBytes {
            len: bytes.len(),
            block: size,
        });
    }
    // SAFETY: BlockQ8_0 is repr(C) with alignment 1 and no padding (34 bytes of
    // u8/i8 fields, checked at compile time), every bit pattern is valid for it,
    // and the length is a whole number of blocks; the result borrows `bytes`.
    Ok(unsafe {
        std::slice::from_raw_parts(bytes.as_ptr().cast::<BlockQ8_0>(), bytes.len() / size)
    })
}

/// The bytes of a block slice, as they would be written to a file.
pub fn blocks_as_bytes(blocks: &[BlockQ8_0]) -> &[u8] {
    // SAFETY: BlockQ8_0 is 34 bytes of plain integers with no padding, so its
    // memory is fully initialized bytes; the length is exact.
    unsafe {
        std::slice::from_raw_parts(blocks.as_ptr().cast::<u8>(), std::mem::size_of_val(blocks))
    }
}

/// ggml's `quantize_row_q8_0_reference`, bit for bit: per block of 32,
/// `d = amax / 127`, `q = round(x / d)` with rounding half away from zero
/// (computed as `x * (1/d)`, as ggml does), and `d` stored as f16.
///
/// A NaN input yields q = 0 where it is (and a NaN scale if it is the block's
/// max); an infinite one yields an infinite scale and zeros. ggml leaves those
/// cases undefined.
///
/// Panics if `x.len() != out.len() * 32`.
pub fn quantize_row_q8_0(x: &[f32], out: &mut [BlockQ8_0]) {
    assert_eq!(
        x.len(),
        out.len() * QK8_0,
        "quantize_row_q8_0: x.len() must be 32 * out.len()"
    );
    for (xb, block) in x.chunks_exact(QK8_0).zip(out.iter_mut()) {
        let (d, id) = block_scale(xb);
        block.d = f32_to_f16(d).to_le_bytes();
        for (q, &v) in block.qs.iter_mut().zip(xb) {
            *q = round_to_i8(v * id);
        }
    }
}

/// `(d, 1/d)` for one block as ggml's reference quantizer computes them
/// (`1/d` is 0 when `d` is 0).
#[inline]
pub(crate) fn block_scale(xb: &[f32]) -> (f32, f32) {
    let mut amax = 0.0f32;
    for &v in xb {
        // ggml: MAX(amax, fabsf(v)), i.e. (amax > |v|) ? amax : |v|.
        let a = v.abs();
        amax = if amax > a { amax } else { a };
    }
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    (d, id)
}

/// `(d, 1/d)` for one activation block: as [`block_scale`], except that NaN
/// values are skipped when finding the block's max, so that every SIMD path
/// (which takes the max as a tree, not in order) finds the same scale.
#[inline]
pub(crate) fn act_block_scale(xb: &[f32]) -> (f32, f32) {
    let amax = xb.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    (d, id)
}

/// C's `(int8_t) roundf(v)` for the range the quantizer produces: rounds half
/// away from zero, clamps to [-127, 127], and maps NaN to 0.
#[inline]
pub(crate) fn round_to_i8(v: f32) -> i8 {
    // `as` saturates and maps NaN to 0; the clamp keeps -128 out.
    (v.round() as i32).clamp(-127, 127) as i8
}

/// Expands Q8_0 blocks to f32 (`out.len() == blocks.len() * 32`).
pub fn dequantize_row_q8_0(blocks: &[BlockQ8_0], out: &mut [f32]) {
    assert_eq!(
        out.len(),
        blocks.len() * QK8_0,
        "dequantize_row_q8_0: out.len() must be 32 * blocks.len()"
    );
    for (block, ob) in blocks.iter().zip(out.chunks_exact_mut(QK8_0)) {
        let d = block.scale();
        for (o, &q) in ob.iter_mut().zip(&block.qs) {
            *o = d * f32::from(q);
        }
    }
}

/// IEEE half (binary16) bits to f32; exact for every input.
pub fn f16_to_f32(bits: u16) -> f32 {
    let sign = u32::from(bits & 0x8000) << 16;
    let exp = u32::from((bits >> 10) & 0x1f);
    let man = u32::from(bits & 0x3ff);
    let magnitude = match exp {
        // zero or subnormal: man * 2^-24, exact in f32
        0 => man as f32 * f32::from_bits(0x3380_0000),
        0x1f => f32::from_bits(0x7f80_0000 | (man << 13)),
        _ => f32::from_bits(((exp + 112) << 23) | (man << 13)),
    };
    f32::from_bits(sign | magnitude.to_bits())
}

/// Branch-light f16 -> f32 for kernel inner loops (paths without a hardware
/// conversion): the magnitude bits shifted into f32 position and rescaled by
/// 2^112 give normals and subnormals exactly; infinities and NaNs are fixed
/// up. Equal to [`f16_to_f32`] for every input (tested).
#[inline]
#[allow(dead_code)] // used by the aarch64 paths
pub(crate) fn f16_to_f32_fast(bits: u16) -> f32 {
    let h = u32::from(bits);
    let o = (h & 0x7fff) << 13;
    let mag = if h & 0x7c00 == 0x7c00 {
        f32::from_bits(o | 0x7f80_0000)
    } else {
        f32::from_bits(o) * f32::from_bits(0x7780_0000) // 2^112
    };
    f32::from_bits(mag.to_bits() | ((h & 0x8000) << 16))
}

/// f32 to IEEE half bits, rounding to nearest even, like F16C's `vcvtps2ph`
/// and ggml's `GGML_FP32_TO_FP16` (this is the bit trick ggml's portable path
/// uses, from Maratyszcza's FP16 library). NaN becomes the quiet NaN 0x7e00.
pub fn f32_to_f16(x: f32) -> u16 {
    let scale_to_inf = f32::from_bits(0x7780_0000); // 2^112
    let scale_to_zero = f32::from_bits(0x0880_0000); // 2^-110
    let mut base = (x.abs() * scale_to_inf) * scale_to_zero;
    let w = x.to_bits();
    let shl1_w = w.wrapping_add(w);
    let sign = w & 0x8000_0000;
    let bias = (shl1_w & 0xff00_0000).max(0x7100_0000);
    base += f32::from_bits((bias >> 1) + 0x0780_0000);
    let bits = base.to_bits();
    let exp_bits = (bits >> 13) & 0x7c00;
    let mantissa_bits = bits & 0x0fff;
    let nonsign = exp_bits + mantissa_bits;
    ((sign >> 16)
        | if shl1_w > 0xff00_0000 {
            0x7e00
        } else {
            nonsign
        }) as u16
}

/// bfloat16 bits to f32 (exact: bf16 is the top half of an f32).
pub fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_layout_is_34_bytes_unaligned() {
        let bytes: Vec<u8> = (0..34 * 3 + 1).map(|i| i as u8).collect();
        // Offset by one byte: an unaligned view must still work.
        let blocks = blocks_from_bytes(&bytes[1..]).unwrap();
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[1].d, [35, 36]);
        assert_eq!(blocks[1].qs[0], 37);
        assert_eq!(blocks_as_bytes(blocks), &bytes[1..]);
        let err = blocks_from_bytes(&bytes[..35]).unwrap_err();
        assert!(err.to_string().contains("35"), "{err}");
    }

    #[test]
    fn f16_round_trips_every_value() {
        for bits in 0..=u16::MAX {
            let f = f16_to_f32(bits);
            if f.is_nan() {
                assert_eq!(f32_to_f16(f) & 0x7c00, 0x7c00);
                continue;
            }
            assert_eq!(f32_to_f16(f), bits, "bits {bits:#06x} -> {f}");
        }
    }

    #[test]
    fn fast_f16_conversion_is_exact() {
        for bits in 0..=u16::MAX {
            let (a, b) = (f16_to_f32(bits), f16_to_f32_fast(bits));
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "{bits:#06x}: {a} vs {b}"
            );
        }
    }

    #[test]
    fn f32_to_f16_rounds_to_nearest_even() {
        // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1.0).
        assert_eq!(f32_to_f16(1.0 + f32::powi(2.0, -11)), 0x3c00);
        // 1 + 3*2^-11 is halfway between 1+2^-10 and 1+2^-9: ties to even (1+2^-9).
        assert_eq!(f32_to_f16(1.0 + 3.0 * f32::powi(2.0, -11)), 0x3c02);
        assert_eq!(f32_to_f16(65520.0), 0x7c00); // rounds up to infinity
        assert_eq!(f32_to_f16(65519.0), 0x7bff);
        assert_eq!(f32_to_f16(f32::powi(2.0, -25)), 0); // halfway to the smallest subnormal: even
        assert_eq!(f32_to_f16(f32::powi(2.0, -25) * 1.5), 1);
        assert_eq!(f32_to_f16(-0.0), 0x8000);
        assert_eq!(f32_to_f16(f32::NAN), 0x7e00);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn f32_to_f16_matches_f16c() {
        if !std::arch::is_x86_feature_detected!("f16c") {
            return;
        }
        #[target_feature(enable = "f16c")]
        fn hw(x: f32) -> u16 {
            use std::arch::x86_64::*;
            let v = _mm_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm_set_ss(x));
            _mm_extract_epi16::<0>(v) as u16
        }
        let mut s = 0x1234_5678u32;
        for _ in 0..200_000 {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            let x = f32::from_bits(s);
            if x.is_nan() {
                continue;
            }
            // SAFETY: f16c was detected above.
            let want = unsafe { hw(x) };
            assert_eq!(f32_to_f16(x), want, "{x:e}");
        }
    }

    #[test]
    fn bf16_is_the_top_half() {
        assert_eq!(bf16_to_f32(0x3f80), 1.0);
        assert_eq!(bf16_to_f32(0xc040), -3.0);
    }

    #[test]
    fn quantizer_matches_ggml_reference_rules() {
        // amax = 127 -> d = 1, values round half away from zero.
        let mut x = [0.0f32; 32];
        x[0] = 127.0;
        x[1] = 0.5;
        x[2] = -0.5;
        x[3] = 1.5;
        x[4] = -2.5;
        x[5] = 0.49999997;
        let mut b = [BlockQ8_0::ZERO];
        quantize_row_q8_0(&x, &mut b);
        assert_eq!(b[0].scale(), 1.0);
        assert_eq!(&b[0].qs[..6], &[127, 1, -1, 2, -3, 0]);
        // all zero -> zero scale, zero values
        quantize_row_q8_0(&[0.0; 32], &mut b);
        assert_eq!(b[0], BlockQ8_0::ZERO);
        // negative max -> -127
        let mut x = [1.0f32; 32];
        x[7] = -3.0;
        quantize_row_q8_0(&x, &mut b);
        assert_eq!(b[0].qs[7], -127);
        assert_eq!(b[0].qs[0], 42); // 1 * 127/3 = 42.33
        let mut back = [0.0f32; 32];
        dequantize_row_q8_0(&b, &mut back);
        assert!((back[7] + 3.0).abs() < 3.0 / 1024.0);
    }

    #[test]
    fn quantizer_never_writes_minus_128_even_for_nan_and_inf() {
        let mut x = [1.0f32; 32];
        x[3] = f32::NAN;
        x[4] = f32::INFINITY;
        x[5] = -f32::INFINITY;
        let mut b = [BlockQ8_0::ZERO];
        quantize_row_q8_0(&x, &mut b);
        assert!(b[0].qs.iter().all(|&q| q != -128));
    }
}
