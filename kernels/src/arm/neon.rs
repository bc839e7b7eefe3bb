//! The NEON path (the aarch64 baseline): widening 8-bit multiplies
//! (`smull`/`smull2`) with pairwise accumulation into 32 bits, as in
//! llama.cpp's non-dotprod ARM fallback.
//!
//! Products of i8 values are at most 128 * 128 = 16384 in magnitude, so
//! adding two of them in 16 bits cannot overflow; `vpadalq_s16` then widens
//! to 32 bits. Exact for every i8, -128 included.

use std::arch::aarch64::*;

use crate::acts::{ActRow, Q32};
use crate::block::f16_to_f32_fast;
use crate::{BlockQ8_0, Kernels, OutRows, QuantizedActs, QK8_0};

pub(crate) const REQUIRES: &str = "needs Advanced SIMD (NEON)";

/// Proof that the CPU has NEON.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Neon(());

impl Neon {
    pub(crate) fn new() -> Option<Self> {
        std::arch::is_aarch64_feature_detected!("neon").then_some(Neon(()))
    }
}

impl Kernels for Neon {
    fn quantize_acts(&self, x: &[f32], qs: &mut [Q32], d: &mut [f32], sums: &mut [i32]) {
        assert!(x.len() == qs.len() * QK8_0 && d.len() == qs.len() && sums.len() == qs.len());
        for (((xb, q), d), s) in x
            .chunks_exact(QK8_0)
            .zip(qs.iter_mut())
            .zip(d.iter_mut())
            .zip(sums.iter_mut())
        {
            // SAFETY: the token proves NEON; xb has 32 values.
            unsafe { quantize_block(xb, q, d, s) }
        }
    }

    fn block_dots(&self, w: &[BlockQ8_0], x: ActRow<'_>, out: &mut [i32]) {
        assert!(w.len() == x.qs.len() && out.len() == w.len());
        for ((o, wb), xq) in out.iter_mut().zip(w).zip(x.qs) {
            // SAFETY: the token proves NEON; whole blocks.
            *o = unsafe { vaddvq_s32(dot_block(wb, xq)) };
        }
    }

    fn gemv_rows(&self, w: &[BlockQ8_0], nb: usize, x: ActRow<'_>, y: &mut [f32]) {
        assert!(w.len() == y.len() * nb && x.qs.len() == nb && x.d.len() == nb);
        // SAFETY: the token proves NEON; shapes checked above.
        unsafe { gemv_rows::<Smull>(w, nb, x, y) }
    }

    fn gemm_rows(&self, w: &[BlockQ8_0], nb: usize, x: &QuantizedActs, out: &mut OutRows<'_>) {
        assert!(w.len() % nb == 0 && x.cols() == nb * QK8_0);
        // SAFETY: the token proves NEON; shapes checked above.
        unsafe { gemm_rows::<Smull>(w, nb, x, out) }
    }
}

/// Quantizes 32 values exactly like `scalar::quantize_acts`: `fmaxnm`
/// skips NaN like `f32::max`, `frinta` rounds half away from zero like
/// `f32::round`, and `fcvtzs` maps NaN to 0 and saturates like `as i32`.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn quantize_block(xb: &[f32], q: &mut Q32, d_out: &mut f32, sum_out: &mut i32) {
    debug_assert_eq!(xb.len(), QK8_0);
    // SAFETY: xb has 32 values: eight 4-lane loads.
    let v: [float32x4_t; 8] = std::array::from_fn(|i| unsafe { vld1q_f32(xb.as_ptr().add(4 * i)) });
    let mut m = vdupq_n_f32(0.0);
    for vi in v {
        m = vmaxnmq_f32(m, vabsq_f32(vi));
    }
    let amax = vmaxnmvq_f32(m);
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    *d_out = d;
    let (lo, hi) = (vdupq_n_s32(-127), vdupq_n_s32(127));
    let r: [int32x4_t; 8] = std::array::from_fn(|i| {
        vminq_s32(
            vmaxq_s32(vcvtq_s32_f32(vrndaq_f32(vmulq_n_f32(v[i], id))), lo),
            hi,
        )
    });
    let mut s = vdupq_n_s32(0);
    for ri in r {
        s = vaddq_s32(s, ri);
    }
    *sum_out = vaddvq_s32(s);
    let h: [int16x8_t; 4] =
        std::array::from_fn(|i| vcombine_s16(vqmovn_s32(r[2 * i]), vqmovn_s32(r[2 * i + 1])));
    let b0 = vcombine_s8(vqmovn_s16(h[0]), vqmovn_s16(h[1]));
    let b1 = vcombine_s8(vqmovn_s16(h[2]), vqmovn_s16(h[3]));
    // SAFETY: Q32 is 32 writable bytes.
    unsafe {
        vst1q_s8(q.0.as_mut_ptr(), b0);
        vst1q_s8(q.0.as_mut_ptr().add(16), b1);
    }
}

/// The block's 32 weight values as two 16-lane registers.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn load_w(b: &BlockQ8_0) -> (int8x16_t, int8x16_t) {
    // SAFETY: `qs` is 32 readable bytes; NEON loads need no alignment.
    unsafe { (vld1q_s8(b.qs.as_ptr()), vld1q_s8(b.qs.as_ptr().add(16))) }
}

#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn load_x(q: &Q32) -> (int8x16_t, int8x16_t) {
    // SAFETY: Q32 is 32 readable bytes.
    unsafe { (vld1q_s8(q.0.as_ptr()), vld1q_s8(q.0.as_ptr().add(16))) }
}

/// Four i32 partial sums of one block's dot product.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) fn dot_block(w: &BlockQ8_0, x: &Q32) -> int32x4_t {
    let (w0, w1) = load_w(w);
    let (x0, x1) = load_x(x);
    let p0 = vmull_s8(vget_low_s8(w0), vget_low_s8(x0));
    let p1 = vmull_high_s8(w0, x0);
    let p2 = vmull_s8(vget_low_s8(w1), vget_low_s8(x1));
    let p3 = vmull_high_s8(w1, x1);
    let acc = vpaddlq_s16(p0);
    let acc = vpadalq_s16(acc, p1);
    let acc = vpadalq_s16(acc, p2);
    vpadalq_s16(acc, p3)
}

/// A block dot-product kernel (NEON's or dotprod's) for the shared loops.
pub(crate) trait BlockDot {
    /// Four i32 partial sums of one block's dot product.
    ///
    /// # Safety
    /// The CPU must have the kernel's features.
    unsafe fn dot(w: &BlockQ8_0, x: &Q32) -> int32x4_t;
}

/// The plain NEON block kernel.
pub(crate) struct Smull;

impl BlockDot for Smull {
    #[inline]
    unsafe fn dot(w: &BlockQ8_0, x: &Q32) -> int32x4_t {
        // SAFETY: the caller guarantees NEON.
        unsafe { dot_block(w, x) }
    }
}

const GEMV_ROWS: usize = 4;

/// gemv shared by the NEON and dotprod paths; `D` is the block kernel.
///
/// # Safety
/// The CPU must have NEON and what `D` needs; `w.len() == y.len() * nb`
/// and `x` has `nb` blocks.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) unsafe fn gemv_rows<D: BlockDot>(
    w: &[BlockQ8_0],
    nb: usize,
    x: ActRow<'_>,
    y: &mut [f32],
) {
    let n = y.len();
    let mut j = 0;
    while j < n {
        let rows = GEMV_ROWS.min(n - j);
        let mut acc = [vdupq_n_f32(0.0); GEMV_ROWS];
        for b in 0..nb {
            let xq = &x.qs[b];
            let xd = x.d[b];
            for r in 0..rows {
                let wb = &w[(j + r) * nb + b];
                // SAFETY: the caller guarantees `dot`'s features.
                let p = vcvtq_f32_s32(unsafe { D::dot(wb, xq) });
                acc[r] = vfmaq_n_f32(acc[r], p, f16_to_f32_fast(u16::from_le_bytes(wb.d)) * xd);
            }
        }
        for r in 0..rows {
            y[j + r] = vaddvq_f32(acc[r]);
        }
        j += rows;
    }
}

const GEMM_W: usize = 2;
const GEMM_X: usize = 4;

/// gemm shared by the NEON and dotprod paths: tiles of 2 weight rows by 4
/// activation rows share every load.
///
/// # Safety
/// As for [`gemv_rows`]; `x.cols() == nb * 32`.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) unsafe fn gemm_rows<D: BlockDot>(
    w: &[BlockQ8_0],
    nb: usize,
    x: &QuantizedActs,
    out: &mut OutRows<'_>,
) {
    let n = w.len() / nb;
    let m = x.rows();
    let mut j = 0;
    while j < n {
        let wr = GEMM_W.min(n - j);
        let mut r = 0;
        while r < m {
            let xr = GEMM_X.min(m - r);
            let xrows: [ActRow<'_>; GEMM_X] = std::array::from_fn(|c| x.row(r + c.min(xr - 1)));
            let mut acc = [[vdupq_n_f32(0.0); GEMM_X]; GEMM_W];
            for b in 0..nb {
                for i in 0..wr {
                    let wb = &w[(j + i) * nb + b];
                    let dw = f16_to_f32_fast(u16::from_le_bytes(wb.d));
                    for c in 0..GEMM_X {
                        // SAFETY: the caller guarantees `dot`'s features.
                        let p = vcvtq_f32_s32(unsafe { D::dot(wb, &xrows[c].qs[b]) });
                        acc[i][c] = vfmaq_n_f32(acc[i][c], p, dw * xrows[c].d[b]);
                    }
                }
            }
            for i in 0..wr {
                for c in 0..xr {
                    out.set(r + c, j + i, vaddvq_f32(acc[i][c]));
                }
            }
            r += xr;
        }
        j += wr;
    }
}
