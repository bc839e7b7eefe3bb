//! The AVX2 path (with FMA and F16C): 256-bit integer dot products through
//! the `maddubs` sign trick, as in llama.cpp's `mul_sum_i8_pairs_float`.
//!
//! `maddubs` multiplies unsigned by signed bytes, so a block computes
//! `maddubs(|w|, sign(x, w))`:
//! - `|w|` as an unsigned byte is right for every i8 including -128 (0x80 is
//!   128 unsigned), so weights from foreign files with -128 are handled;
//! - `sign(x, w)` negates activation bytes, which is only exact for x in
//!   [-127, 127]. [`QuantizedActs`] guarantees that range (precondition,
//!   tested), and then a pair sum is at most 2 * 128 * 127 = 32512, so the
//!   saturating 16-bit add never saturates.

use std::arch::x86_64::*;

use crate::acts::{ActRow, Q32};
use crate::{BlockQ8_0, Kernels, OutRows, QuantizedActs, QK8_0};

/// What the CPU needs for this path.
pub(crate) const REQUIRES: &str = "needs AVX2, FMA and F16C";

/// Proof that the CPU has AVX2, FMA and F16C (only [`Avx2::new`] makes one).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2(());

impl Avx2 {
    pub(crate) fn new() -> Option<Self> {
        (is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c"))
        .then_some(Avx2(()))
    }
}

impl Kernels for Avx2 {
    fn quantize_acts(&self, x: &[f32], qs: &mut [Q32], d: &mut [f32], sums: &mut [i32]) {
        assert!(x.len() == qs.len() * QK8_0 && d.len() == qs.len() && sums.len() == qs.len());
        for (((xb, q), d), s) in x
            .chunks_exact(QK8_0)
            .zip(qs.iter_mut())
            .zip(d.iter_mut())
            .zip(sums.iter_mut())
        {
            // SAFETY: the token proves AVX2/FMA/F16C; xb has 32 values.
            unsafe { quantize_block(xb, q, d, s) }
        }
    }

    fn block_dots(&self, w: &[BlockQ8_0], x: ActRow<'_>, out: &mut [i32]) {
        assert!(w.len() == x.qs.len() && out.len() == w.len());
        for ((o, wb), xq) in out.iter_mut().zip(w).zip(x.qs) {
            // SAFETY: the token proves AVX2; both operands are whole blocks.
            *o = unsafe { hsum_i32(dot_block(wb, xq)) };
        }
    }

    fn gemv_rows(&self, w: &[BlockQ8_0], nb: usize, x: ActRow<'_>, y: &mut [f32]) {
        assert!(w.len() == y.len() * nb && x.qs.len() == nb && x.d.len() == nb);
        // SAFETY: the token proves AVX2/FMA/F16C; shapes checked above.
        unsafe { gemv_rows(w, nb, x, y) }
    }

    fn gemm_rows(&self, w: &[BlockQ8_0], nb: usize, x: &QuantizedActs, out: &mut OutRows<'_>) {
        assert!(w.len().is_multiple_of(nb) && x.cols() == nb * QK8_0);
        // SAFETY: the token proves AVX2/FMA/F16C; shapes checked above.
        unsafe { gemm_rows(w, nb, x, out) }
    }
}

/// Quantizes 32 values exactly like `scalar::quantize_acts`.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn quantize_block(xb: &[f32], q: &mut Q32, d_out: &mut f32, sum_out: &mut i32) {
    debug_assert_eq!(xb.len(), QK8_0);
    let p = xb.as_ptr();
    // SAFETY: xb has 32 values (checked by the caller), so the four 8-lane
    // unaligned loads stay inside it.
    let v = unsafe {
        [
            _mm256_loadu_ps(p),
            _mm256_loadu_ps(p.add(8)),
            _mm256_loadu_ps(p.add(16)),
            _mm256_loadu_ps(p.add(24)),
        ]
    };
    let sign_mask = _mm256_set1_ps(-0.0);
    let zero = _mm256_setzero_ps();
    // max_ps(a, b) returns b when a is NaN: with |x| first, NaNs are skipped,
    // like f32::max in the scalar spec.
    // Plain loops, not `array::map`: a closure there is not inlined into
    // `map` (which lacks this function's target features) and costs a call
    // per vector, with the vectors passed through memory.
    let mut m = [zero; 4];
    for (mi, &vi) in m.iter_mut().zip(&v) {
        *mi = _mm256_max_ps(_mm256_andnot_ps(sign_mask, vi), zero);
    }
    let m = _mm256_max_ps(_mm256_max_ps(m[0], m[1]), _mm256_max_ps(m[2], m[3]));
    let m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps::<1>(m));
    let m2 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    let m1 = _mm_max_ss(m2, _mm_movehdup_ps(m2));
    let amax = _mm_cvtss_f32(m1);
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    *d_out = d;
    let idv = _mm256_set1_ps(id);
    let half = _mm256_set1_ps(0.5);
    let one = _mm256_set1_ps(1.0);
    let lo = _mm256_set1_ps(-127.0);
    let hi = _mm256_set1_ps(127.0);
    let mut r = [_mm256_setzero_si256(); 4];
    for (ri, &vi) in r.iter_mut().zip(&v) {
        let s = _mm256_mul_ps(vi, idv);
        // Round half away from zero: truncate, then step away from zero when
        // the dropped fraction is at least one half (exact arithmetic).
        let t = _mm256_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(s);
        let frac = _mm256_andnot_ps(sign_mask, _mm256_sub_ps(s, t));
        let step = _mm256_and_ps(
            _mm256_cmp_ps::<_CMP_GE_OQ>(frac, half),
            _mm256_or_ps(one, _mm256_and_ps(s, sign_mask)),
        );
        let rounded = _mm256_add_ps(t, step);
        // NaN -> 0, then clamp to [-127, 127].
        let rounded = _mm256_and_ps(rounded, _mm256_cmp_ps::<_CMP_ORD_Q>(s, s));
        *ri = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(rounded, lo), hi));
    }
    let sum = _mm256_add_epi32(_mm256_add_epi32(r[0], r[1]), _mm256_add_epi32(r[2], r[3]));
    *sum_out = hsum_i32(sum);
    let p16a = _mm256_packs_epi32(r[0], r[1]);
    let p16b = _mm256_packs_epi32(r[2], r[3]);
    let p8 = _mm256_packs_epi16(p16a, p16b);
    // packs work within 128-bit lanes; restore the element order.
    let p8 = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    // SAFETY: Q32 is 32 bytes and 32-byte aligned.
    unsafe { _mm256_store_si256(q.0.as_mut_ptr().cast(), p8) };
}

/// Sum of the eight lanes.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn hsum_i32(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01>(s));
    _mm_cvtsi128_si32(s)
}

/// Sum of the eight lanes.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn hsum_ps(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

/// The weight block's 32 values (unaligned load).
#[target_feature(enable = "avx2")]
#[inline]
fn load_w(b: &BlockQ8_0) -> __m256i {
    // SAFETY: `qs` is 32 readable bytes; loadu has no alignment requirement.
    unsafe { _mm256_loadu_si256(b.qs.as_ptr().cast()) }
}

#[target_feature(enable = "avx2")]
#[inline]
fn load_x(q: &Q32) -> __m256i {
    // SAFETY: Q32 is 32 bytes, 32-byte aligned.
    unsafe { _mm256_load_si256(q.0.as_ptr().cast()) }
}

/// The weight block's scale in all eight lanes.
#[target_feature(enable = "avx2,f16c")]
#[inline]
fn scale8(b: &BlockQ8_0) -> __m256 {
    _mm256_cvtph_ps(_mm_set1_epi16(u16::from_le_bytes(b.d) as i16))
}

/// Eight i32 partial sums of `w . x` for one block, given `|w|`.
#[target_feature(enable = "avx2")]
#[inline]
fn dot_abs(aw: __m256i, wv: __m256i, xv: __m256i) -> __m256i {
    let sx = _mm256_sign_epi8(xv, wv);
    let p16 = _mm256_maddubs_epi16(aw, sx);
    _mm256_madd_epi16(p16, _mm256_set1_epi16(1))
}

#[target_feature(enable = "avx2")]
#[inline]
fn dot_block(w: &BlockQ8_0, x: &Q32) -> __m256i {
    let wv = load_w(w);
    dot_abs(_mm256_sign_epi8(wv, wv), wv, load_x(x))
}

/// Independent accumulators per row (blocks in flight).
const GEMV_UNROLL: usize = 4;

/// gemv reads one row at a time, front to back, prefetching ahead: on
/// DRAM-bound matrices that beat interleaving rows (see avx512vnni.rs).
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn gemv_rows(w: &[BlockQ8_0], nb: usize, x: ActRow<'_>, y: &mut [f32]) {
    let wp = w.as_ptr();
    for (j, yj) in y.iter_mut().enumerate() {
        // SAFETY: row j < y.len() starts inside w (w.len() == y.len() * nb).
        let row = unsafe { wp.add(j * nb) };
        let step = |acc: __m256, b: usize| -> __m256 {
            // SAFETY: b < nb: block b of this row is inside w, and x has nb blocks.
            let (wb, xq, xd) =
                unsafe { (&*row.add(b), x.qs.get_unchecked(b), *x.d.get_unchecked(b)) };
            _mm_prefetch::<_MM_HINT_T0>(
                (wb as *const BlockQ8_0)
                    .cast::<i8>()
                    .wrapping_add(PREFETCH_BYTES),
            );
            let p = _mm256_cvtepi32_ps(dot_block(wb, xq));
            _mm256_fmadd_ps(_mm256_mul_ps(scale8(wb), _mm256_set1_ps(xd)), p, acc)
        };
        let mut acc = [_mm256_setzero_ps(); GEMV_UNROLL];
        let mut b = 0;
        while b + GEMV_UNROLL <= nb {
            for u in 0..GEMV_UNROLL {
                acc[u] = step(acc[u], b + u);
            }
            b += GEMV_UNROLL;
        }
        while b < nb {
            acc[0] = step(acc[0], b);
            b += 1;
        }
        *yj = hsum_ps(_mm256_add_ps(
            _mm256_add_ps(acc[0], acc[1]),
            _mm256_add_ps(acc[2], acc[3]),
        ));
    }
}

/// How far ahead of the current weight block gemv prefetches (bytes).
pub(crate) const PREFETCH_BYTES: usize = 4096;

/// Activation rows per gemm tile: each weight block's load, `|w|` and scale
/// serve all of them. (With 16 ymm registers, 1 weight row x 4 activation
/// rows keeps everything in registers; 2 x 4 spilled.)
const GEMM_X: usize = 4;

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn gemm_rows(w: &[BlockQ8_0], nb: usize, x: &QuantizedActs, out: &mut OutRows<'_>) {
    let n = w.len() / nb;
    let m = x.rows();
    let full = m - m % GEMM_X;
    for j in 0..n {
        let row = &w[j * nb..(j + 1) * nb];
        for r in (0..full).step_by(GEMM_X) {
            let xrows: [ActRow<'_>; GEMM_X] = std::array::from_fn(|c| x.row(r + c));
            let mut acc = [_mm256_setzero_ps(); GEMM_X];
            for (b, wb) in row.iter().enumerate() {
                let wv = load_w(wb);
                let aw = _mm256_sign_epi8(wv, wv);
                let dw = scale8(wb);
                for c in 0..GEMM_X {
                    // SAFETY: b < nb == every activation row's block count.
                    let (xq, xd) =
                        unsafe { (xrows[c].qs.get_unchecked(b), *xrows[c].d.get_unchecked(b)) };
                    let p = _mm256_cvtepi32_ps(dot_abs(aw, wv, load_x(xq)));
                    acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(xd)), p, acc[c]);
                }
            }
            for c in 0..GEMM_X {
                out.set(r + c, j, hsum_ps(acc[c]));
            }
        }
        for r in full..m {
            let mut y = [0.0f32];
            // SAFETY: same features; shapes as checked by the caller.
            unsafe { gemv_rows(row, nb, x.row(r), &mut y) };
            out.set(r, j, y[0]);
        }
    }
}

impl Avx2 {
    /// Reads every byte of `buf` as fast as the core can (the memory
    /// bandwidth probe of the benchmark): 32-byte loads into four
    /// independent accumulators, with software prefetch 4 KiB ahead like the
    /// gemv kernels. Returns a checksum so the reads cannot be elided.
    pub(crate) fn stream_sum(self, buf: &[u8]) -> u64 {
        // SAFETY: the token proves AVX2.
        unsafe { stream_sum(buf) }
    }
}

#[target_feature(enable = "avx2")]
unsafe fn stream_sum(buf: &[u8]) -> u64 {
    const STEP: usize = 128;
    let mut acc = [_mm256_setzero_si256(); 4];
    let body = buf.len() - buf.len() % STEP;
    let p = buf.as_ptr();
    let mut i = 0;
    while i < body {
        _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(i + 4096).cast());
        _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(i + 4096 + 64).cast());
        for (u, a) in acc.iter_mut().enumerate() {
            // SAFETY: i + STEP <= body <= len, so the 32 bytes at i + 32u are in buf.
            *a = _mm256_add_epi64(*a, unsafe { _mm256_loadu_si256(p.add(i + 32 * u).cast()) });
        }
        i += STEP;
    }
    let s = _mm256_add_epi64(
        _mm256_add_epi64(acc[0], acc[1]),
        _mm256_add_epi64(acc[2], acc[3]),
    );
    let mut lanes = [0u64; 4];
    // SAFETY: lanes is 32 writable bytes.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), s) };
    lanes.iter().fold(0u64, |a, &b| a.wrapping_add(b))
        + buf[body..].iter().map(|&b| u64::from(b)).sum::<u64>()
}
