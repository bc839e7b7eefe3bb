//! AVX-512 versions of the f32 operations where the wider vectors pay (most
//! f32 loops are bound by memory, and use the AVX2 code on this path too).
//!
//! Each public function is safe and takes the [`Avx512Vnni`] token, which
//! proves AVX-512 F.

use std::arch::x86_64::*;

use crate::x86::avx512vnni::Avx512Vnni;

pub(crate) fn weighted_sum_rows_4(
    t: Avx512Vnni,
    weights: &[f32],
    w_stride: usize,
    lens: [usize; 4],
    rows: &[f32],
    stride: usize,
    out: &mut [f32],
) {
    let _ = t;
    let d = out.len() / 4;
    let mut c = 0;
    // The caller checked that weights hold each row's lens[r] weights
    // w_stride apart, that rows hold max(lens) rows of d at `stride`, and
    // that d % 16 == 0.
    while c + 64 <= d {
        // SAFETY: the token proves AVX-512 F; lengths as above.
        unsafe { wsum_4::<4>(weights, w_stride, lens, rows, stride, c, out) };
        c += 64;
    }
    while c < d {
        // SAFETY: as above.
        unsafe { wsum_4::<1>(weights, w_stride, lens, rows, stride, c, out) };
        c += 16;
    }
}

/// Columns `c..c + 16 V` of four weighted sums: every value row is loaded
/// once and added into each weight row that reaches it, one FMA per value
/// in row order (the order of `weighted_sum_rows`).
///
/// # Safety
/// AVX-512 F, and the lengths `weighted_sum_rows_4`'s caller checked.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn wsum_4<const V: usize>(
    weights: &[f32],
    w_stride: usize,
    lens: [usize; 4],
    rows: &[f32],
    stride: usize,
    c: usize,
    out: &mut [f32],
) {
    let d = out.len() / 4;
    let base = rows.as_ptr();
    let n_min = lens.iter().copied().min().unwrap_or(0);
    let n_max = lens.iter().copied().max().unwrap_or(0);
    let mut acc = [[_mm512_setzero_ps(); V]; 4];
    // A loop, not `array::from_fn`: a closure there would not be inlined
    // (from_fn lacks this function's target features) and would cost a call
    // per vector.
    let load = |t: usize| -> [__m512; V] {
        let mut v = [_mm512_setzero_ps(); V];
        for (u, vu) in v.iter_mut().enumerate() {
            // SAFETY: t < n_max, so row t's columns c..c + 16 V <= d lie in rows.
            *vu = unsafe { _mm512_loadu_ps(base.add(t * stride + c + 16 * u)) };
        }
        v
    };
    for t in 0..n_min {
        let v = load(t);
        for (r, row) in acc.iter_mut().enumerate() {
            let w = _mm512_set1_ps(weights[r * w_stride + t]);
            for (a, v) in row.iter_mut().zip(&v) {
                *a = _mm512_fmadd_ps(w, *v, *a);
            }
        }
    }
    for t in n_min..n_max {
        let v = load(t);
        for (r, row) in acc.iter_mut().enumerate() {
            if t < lens[r] {
                let w = _mm512_set1_ps(weights[r * w_stride + t]);
                for (a, v) in row.iter_mut().zip(&v) {
                    *a = _mm512_fmadd_ps(w, *v, *a);
                }
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (u, a) in row.iter().enumerate() {
            let at = r * d + c + 16 * u;
            assert!(at + 16 <= out.len());
            // SAFETY: in bounds (asserted).
            unsafe { _mm512_storeu_ps(out.as_mut_ptr().add(at), *a) };
        }
    }
}
