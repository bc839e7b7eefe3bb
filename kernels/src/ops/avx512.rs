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

pub(crate) fn silu_mul(t: Avx512Vnni, gate: &mut [f32], up: &[f32]) {
    let _ = t;
    let n = gate.len().min(up.len());
    let body = n - n % 16;
    // SAFETY: the token proves AVX-512 F; body <= both lengths.
    unsafe { silu_mul_body(&mut gate[..body], &up[..body]) };
    // The AVX2 code gives the same values, eight lanes at a time.
    super::silu_mul_with(crate::Isa::Avx2, &mut gate[body..n], &up[body..n]);
}

/// # Safety
/// AVX-512 F, and `gate.len() <= up.len()`, a multiple of 16.
#[target_feature(enable = "avx512f")]
unsafe fn silu_mul_body(gate: &mut [f32], up: &[f32]) {
    let one = _mm512_set1_ps(1.0);
    for i in (0..gate.len()).step_by(16) {
        // SAFETY: i + 16 <= gate.len() <= up.len() (contract).
        unsafe {
            let g = _mm512_loadu_ps(gate.as_ptr().add(i));
            let e = exp16(neg(g));
            let u = _mm512_loadu_ps(up.as_ptr().add(i));
            let y = _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)), u);
            _mm512_storeu_ps(gate.as_mut_ptr().add(i), y);
        }
    }
}

/// Lanes 8..16 (the f32 extract needs AVX-512 DQ).
#[target_feature(enable = "avx512f")]
#[inline]
fn high_half(x: __m512) -> __m256 {
    _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(x)))
}

/// `-x` by flipping the sign bit (the f32 xor needs AVX-512 DQ).
#[target_feature(enable = "avx512f")]
#[inline]
fn neg(x: __m512) -> __m512 {
    _mm512_castsi512_ps(_mm512_xor_si512(
        _mm512_castps_si512(x),
        _mm512_set1_epi32(i32::MIN),
    ))
}

/// `avx2::exp8` on sixteen lanes: the same steps in the same order, so the
/// same value in every lane.
#[target_feature(enable = "avx512f")]
#[inline]
fn exp16(x: __m512) -> __m512 {
    let hi = _mm512_set1_ps(88.376_26);
    let lo = _mm512_set1_ps(-87.336_55);
    let xc = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(xc, _mm512_set1_ps(std::f32::consts::LOG2_E)),
    );
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_359_4), xc);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.121_944_4e-4), r);
    let mut p = _mm512_set1_ps(1.987_569_1e-4);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.398_2e-3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.333_452e-3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.166_579_6e-2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.166_666_65));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5));
    p = _mm512_fmadd_ps(
        p,
        _mm512_mul_ps(r, r),
        _mm512_add_ps(r, _mm512_set1_ps(1.0)),
    );
    let e = _mm512_slli_epi32::<23>(_mm512_add_epi32(
        _mm512_cvtps_epi32(n),
        _mm512_set1_epi32(127),
    ));
    let res = _mm512_mul_ps(p, _mm512_castsi512_ps(e));
    let below = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, lo);
    let res = _mm512_mask_mov_ps(res, below, _mm512_setzero_ps());
    let above = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(x, _mm512_set1_ps(88.722_83));
    _mm512_mask_mov_ps(res, above, _mm512_set1_ps(f32::INFINITY))
}

/// `avx2::dot_rows_64` on 512-bit registers, bit for bit: a register holds
/// two of its eight-lane accumulators (`acc0 | acc1`, `acc2 | acc3`), so
/// each key takes four loads and four FMAs instead of eight, and two keys
/// share the halving adds. Every product and sum is the AVX2 code's.
pub(crate) fn dot_rows_64(
    t: Avx512Vnni,
    q: &[f32],
    rows: &[f32],
    stride: usize,
    scale: f32,
    out: &mut [f32],
) {
    let _ = t;
    assert!(q.len() == 64 && !out.is_empty());
    assert!(rows.len() >= (out.len() - 1) * stride + 64);
    // SAFETY: the token proves AVX-512 F (with AVX2/FMA); lengths above.
    unsafe { dot_rows_64_body(q, rows, stride, scale, out) }
}

/// # Safety
/// AVX-512 F, AVX2 and FMA; `q.len() == 64`, `out` not empty, and `rows`
/// holds `out.len()` rows of 64 values `stride` apart.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn dot_rows_64_body(q: &[f32], rows: &[f32], stride: usize, scale: f32, out: &mut [f32]) {
    use super::avx2::{hsum8x8_from_halves, store_scores};
    let n = out.len();
    // SAFETY: q has 64 values.
    let qv: [__m512; 4] = unsafe {
        [
            _mm512_loadu_ps(q.as_ptr()),
            _mm512_loadu_ps(q.as_ptr().add(16)),
            _mm512_loadu_ps(q.as_ptr().add(32)),
            _mm512_loadu_ps(q.as_ptr().add(48)),
        ]
    };
    let sv = _mm256_set1_ps(scale);
    let zero = _mm512_setzero_ps();
    let mut t = 0;
    while t < n {
        // a[j] = acc0 | acc1 and b[j] = acc2 | acc3 of key t + j (a short
        // last group repeats its last key; the extra lanes are dropped).
        let mut a = [zero; 8];
        let mut b = [zero; 8];
        for j in 0..8 {
            let p = rows[(t + j).min(n - 1) * stride..].as_ptr();
            // An FMA onto zero, not a multiply, as the AVX2 code does: the
            // sign of a zero product can differ.
            // SAFETY: the row has 64 values (contract).
            unsafe {
                a[j] = _mm512_fmadd_ps(qv[0], _mm512_loadu_ps(p), zero);
                b[j] = _mm512_fmadd_ps(qv[1], _mm512_loadu_ps(p.add(16)), zero);
                a[j] = _mm512_fmadd_ps(qv[2], _mm512_loadu_ps(p.add(32)), a[j]);
                b[j] = _mm512_fmadd_ps(qv[3], _mm512_loadu_ps(p.add(48)), b[j]);
            }
        }
        // l[j] = (acc0 + acc1) + (acc2 + acc3) of keys j and j + 4, then the
        // first step of hsum8x8: x_j = [halves of l_j summed | of l_{j+4}].
        let mut l = [zero; 4];
        for (j, l) in l.iter_mut().enumerate() {
            let u = _mm512_add_ps(
                _mm512_shuffle_f32x4::<0x44>(a[j], a[j + 4]),
                _mm512_shuffle_f32x4::<0xEE>(a[j], a[j + 4]),
            );
            let v = _mm512_add_ps(
                _mm512_shuffle_f32x4::<0x44>(b[j], b[j + 4]),
                _mm512_shuffle_f32x4::<0xEE>(b[j], b[j + 4]),
            );
            *l = _mm512_add_ps(u, v);
        }
        let mut x = [_mm256_setzero_ps(); 4];
        for pair in 0..2 {
            let (la, lb) = (l[2 * pair], l[2 * pair + 1]);
            let both = _mm512_add_ps(
                _mm512_shuffle_f32x4::<0x88>(la, lb),
                _mm512_shuffle_f32x4::<0xDD>(la, lb),
            );
            x[2 * pair] = _mm512_castps512_ps256(both);
            x[2 * pair + 1] = high_half(both);
        }
        store_scores(out, t, _mm256_mul_ps(hsum8x8_from_halves(&x), sv));
        t += 8;
    }
}

/// `avx2::softmax` with the exponentials sixteen lanes at a time: `exp16`
/// gives `exp8`'s values, and each half of a 16-value step is added in turn
/// into the same eight-lane sum, so the result is the AVX2 code's, bit for
/// bit. The maximum and the final scaling are the AVX2 code's.
pub(crate) fn softmax(t: Avx512Vnni, x: &mut [f32]) {
    let _ = t;
    let avx2 = crate::x86::avx2::Avx2::new().expect("AVX-512 implies AVX2");
    // SAFETY: the token proves AVX-512 F.
    let m = unsafe { max_without_nan(x) }.unwrap_or_else(|| super::avx2::max(avx2, x));
    // SAFETY: the token proves AVX-512 F (with AVX2/FMA).
    let sum = unsafe { exp_sub_sum(x, m) };
    super::avx2::scale(avx2, x, 1.0 / sum);
}

/// The largest value of `x`, or `None` if it holds a NaN. Without NaNs the
/// maximum is the same in any order (up to the sign of a zero maximum,
/// which no `x - max` sees), so four 16-lane chains run side by side where
/// the AVX2 code waits on one 8-lane chain; with a NaN the caller takes the
/// AVX2 code, whose result then depends on where the NaN is.
///
/// # Safety
/// AVX-512 F.
#[target_feature(enable = "avx512f")]
unsafe fn max_without_nan(x: &[f32]) -> Option<f32> {
    let mut m = [_mm512_set1_ps(f32::NEG_INFINITY); 4];
    let mut nan: __mmask16 = 0;
    let mut i = 0;
    while i + 64 <= x.len() {
        for (u, m) in m.iter_mut().enumerate() {
            // SAFETY: i + 16 u + 16 <= i + 64 <= len.
            let v = unsafe { _mm512_loadu_ps(x.as_ptr().add(i + 16 * u)) };
            nan |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
            *m = _mm512_max_ps(*m, v);
        }
        i += 64;
    }
    while i + 16 <= x.len() {
        // SAFETY: i + 16 <= len.
        let v = unsafe { _mm512_loadu_ps(x.as_ptr().add(i)) };
        nan |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
        m[0] = _mm512_max_ps(m[0], v);
        i += 16;
    }
    if nan != 0 || x[i..].iter().any(|v| v.is_nan()) {
        return None;
    }
    let all = _mm512_max_ps(_mm512_max_ps(m[0], m[1]), _mm512_max_ps(m[2], m[3]));
    Some(
        x[i..]
            .iter()
            .copied()
            .fold(_mm512_reduce_max_ps(all), f32::max),
    )
}

/// `x[i] = exp(x[i] - m)`, returning their sum, as `avx2::exp_sub_sum_impl`.
///
/// # Safety
/// AVX-512 F, AVX2 and FMA.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn exp_sub_sum(x: &mut [f32], m: f32) -> f32 {
    use super::avx2::exp8;
    use crate::x86::avx2::hsum_ps;
    let n = x.len();
    let body = n - n % 8;
    let (m16, m8) = (_mm512_set1_ps(m), _mm256_set1_ps(m));
    let mut acc = _mm256_setzero_ps();
    let mut i = 0;
    while i + 16 <= body {
        // SAFETY: i + 16 <= body <= n.
        unsafe {
            let p = x.as_mut_ptr().add(i);
            let e = exp16(_mm512_sub_ps(_mm512_loadu_ps(p), m16));
            _mm512_storeu_ps(p, e);
            acc = _mm256_add_ps(acc, _mm512_castps512_ps256(e));
            acc = _mm256_add_ps(acc, high_half(e));
        }
        i += 16;
    }
    if i < body {
        // SAFETY: i + 8 == body <= n.
        unsafe {
            let p = x.as_mut_ptr().add(i);
            let e = exp8(_mm256_sub_ps(_mm256_loadu_ps(p), m8));
            _mm256_storeu_ps(p, e);
            acc = _mm256_add_ps(acc, e);
        }
    }
    hsum_ps(acc) + super::scalar::exp_sub_sum(&mut x[body..], m)
}
