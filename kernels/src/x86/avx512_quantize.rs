//! The activation quantizer on 512-bit registers, for the AVX-512 and AMX
//! paths: the same values as `scalar::quantize_acts`, bit for bit.
//!
//! Blocks go sixteen at a time. Their absolute maxima are found block by
//! block, then the sixteen scales `amax / 127` and their inverses come from
//! two vector divisions (the AVX2 quantizer did two scalar divisions per
//! block, about a third of its time), and each block is rounded with its
//! inverse broadcast.

use std::arch::x86_64::*;

use crate::acts::Q32;
use crate::QK8_0;

/// Blocks whose scales one pair of vector divisions makes.
const GROUP: usize = 16;

/// Quantizes `qs.len()` blocks of `x` like `scalar::quantize_acts`.
///
/// # Safety
/// The CPU has AVX-512 F; `x.len() == 32 * qs.len()`, and `d`, `sums` have
/// `qs.len()` entries.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn quantize_acts(x: &[f32], qs: &mut [Q32], d: &mut [f32], sums: &mut [i32]) {
    debug_assert!(x.len() == qs.len() * QK8_0 && d.len() == qs.len() && sums.len() == qs.len());
    for (((xg, qg), dg), sg) in x
        .chunks(GROUP * QK8_0)
        .zip(qs.chunks_mut(GROUP))
        .zip(d.chunks_mut(GROUP))
        .zip(sums.chunks_mut(GROUP))
    {
        // SAFETY: this function's features; the chunks keep the shapes.
        unsafe { quantize_group(xg, qg, dg, sg) };
    }
}

/// Up to 16 blocks: their maxima, then their scales in two divisions, then
/// their values.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn quantize_group(x: &[f32], qs: &mut [Q32], d: &mut [f32], sums: &mut [i32]) {
    let n = qs.len();
    debug_assert!(n <= GROUP && x.len() == n * QK8_0);
    let zero = _mm512_setzero_ps();
    let mut amax = [0.0f32; GROUP];
    for (a, xb) in amax.iter_mut().zip(x.chunks_exact(QK8_0)) {
        // SAFETY: xb has 32 values, two 16-lane loads.
        let (v0, v1) = unsafe {
            (
                _mm512_loadu_ps(xb.as_ptr()),
                _mm512_loadu_ps(xb.as_ptr().add(16)),
            )
        };
        // max_ps(a, b) returns b when a is NaN: with |x| first, NaNs are
        // skipped, like f32::max in the scalar spec.
        let m = _mm512_max_ps(
            _mm512_max_ps(_mm512_abs_ps(v0), zero),
            _mm512_max_ps(_mm512_abs_ps(v1), zero),
        );
        *a = _mm512_reduce_max_ps(m);
    }
    // d = amax / 127; id = 1 / d where d != 0 (NaN compares unequal, as in
    // the scalar `d != 0.0`), else 0. IEEE division rounds as scalar does.
    // SAFETY: amax is 16 f32.
    let dv = _mm512_div_ps(
        unsafe { _mm512_loadu_ps(amax.as_ptr()) },
        _mm512_set1_ps(127.0),
    );
    let nonzero = _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(dv, zero);
    let idv = _mm512_maskz_div_ps(nonzero, _mm512_set1_ps(1.0), dv);
    let mut id = [0.0f32; GROUP];
    // SAFETY: id is 16 f32; d has n <= 16 entries, written through a mask.
    unsafe {
        _mm512_storeu_ps(id.as_mut_ptr(), idv);
        _mm512_mask_storeu_ps(d.as_mut_ptr(), low_lanes(n), dv);
    }
    for (((xb, q), s), &idb) in x
        .chunks_exact(QK8_0)
        .zip(qs.iter_mut())
        .zip(sums.iter_mut())
        .zip(&id)
    {
        let idb = _mm512_set1_ps(idb);
        // SAFETY: xb has 32 values.
        let (r0, r1) = unsafe {
            (
                round_16(_mm512_mul_ps(_mm512_loadu_ps(xb.as_ptr()), idb)),
                round_16(_mm512_mul_ps(_mm512_loadu_ps(xb.as_ptr().add(16)), idb)),
            )
        };
        *s = _mm512_reduce_add_epi32(_mm512_add_epi32(r0, r1));
        // Values are in [-127, 127], so the saturating narrowing is exact.
        // SAFETY: Q32 is 32 bytes: two 16-byte stores.
        unsafe {
            let p = q.0.as_mut_ptr().cast::<__m128i>();
            _mm_storeu_si128(p, _mm512_cvtsepi32_epi8(r0));
            _mm_storeu_si128(p.add(1), _mm512_cvtsepi32_epi8(r1));
        }
    }
}

/// `round_to_i8` on 16 lanes: half away from zero (truncate, then step away
/// from zero when the dropped fraction is at least one half, all exact),
/// NaN to 0, clamped to [-127, 127].
#[target_feature(enable = "avx512f")]
#[inline]
fn round_16(s: __m512) -> __m512i {
    let t = _mm512_roundscale_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(s);
    let frac = _mm512_abs_ps(_mm512_sub_ps(s, t));
    let away = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(frac, _mm512_set1_ps(0.5));
    // ±1 with the sign of s (integer logic: the f32 forms need AVX-512 DQ).
    let sign = _mm512_and_si512(_mm512_castps_si512(s), _mm512_set1_epi32(i32::MIN));
    let unit = _mm512_castsi512_ps(_mm512_or_si512(
        sign,
        _mm512_castps_si512(_mm512_set1_ps(1.0)),
    ));
    let rounded = _mm512_mask_add_ps(t, away, t, unit);
    let ordered = _mm512_cmp_ps_mask::<_CMP_ORD_Q>(s, s);
    let rounded = _mm512_maskz_mov_ps(ordered, rounded);
    let clamped = _mm512_min_ps(
        _mm512_max_ps(rounded, _mm512_set1_ps(-127.0)),
        _mm512_set1_ps(127.0),
    );
    _mm512_cvtps_epi32(clamped)
}

/// The mask of lanes `0..n` (`n <= 16`).
fn low_lanes(n: usize) -> __mmask16 {
    debug_assert!(n <= GROUP);
    ((1u32 << n) - 1) as __mmask16
}
