//! AVX2 + FMA versions of the f32 operations (also used by the AVX-512
//! path: these loops are bound by memory, not by vector width).
//!
//! Each public function is safe and takes the [`Avx2`] token; the
//! `#[target_feature]` bodies use unaligned loads and finish tails with the
//! scalar code.

use std::arch::x86_64::*;

use super::scalar;
use super::RopeStyle;
use super::{ERF_P, ERF_Q, ERF_SATURATES};
use crate::x86::avx2::{hsum_ps, Avx2};

const L: usize = 8;

// The `Avx2` token proves the CPU has AVX2, FMA and F16C, which is all the
// `#[target_feature]` functions below need; every call is wrapped in a SAFETY
// comment saying so.

pub(crate) fn dot(_t: Avx2, a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: the token proves AVX2/FMA.
    unsafe { dot_impl(a, b) }
}

pub(crate) fn axpy(_t: Avx2, y: &mut [f32], a: f32, x: &[f32]) {
    // SAFETY: the token proves AVX2/FMA.
    unsafe { axpy_impl(y, a, x) }
}

pub(crate) fn add(_t: Avx2, a: &mut [f32], b: &[f32]) {
    // SAFETY: the token proves AVX2/FMA.
    unsafe { add_impl(a, b) }
}

pub(crate) fn scale(_t: Avx2, x: &mut [f32], s: f32) {
    // SAFETY: the token proves AVX2/FMA.
    unsafe { scale_impl(x, s) }
}

/// `out[i] = x[i] * s * w[i]` (the last step of an RMS norm).
pub(crate) fn scale_mul(_t: Avx2, x: &[f32], s: f32, w: &[f32], out: &mut [f32]) {
    // SAFETY: the token proves AVX2/FMA.
    unsafe { scale_mul_impl(x, 0.0, s, w, None, out) }
}

/// `scalar::square_sums_8` with the eight rows in the lanes: each column is
/// gathered, squared in f32 and added in f64 to its row's sum, so each sum
/// takes the same steps in the same order, bit for bit, and the eight
/// dependency chains overlap.
pub(crate) fn square_sums_8(_t: Avx2, xs: &[f32], width: usize) -> [f64; 8] {
    assert!(xs.len() == 8 * width && 8 * width <= i32::MAX as usize);
    // SAFETY: the token proves AVX2; the gathers read xs[r * width + i] for
    // r < 8, i < width, all inside xs (checked).
    unsafe { square_sums_8_impl(xs, width) }
}

pub(crate) fn layer_norm(
    t: Avx2,
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    eps: f32,
    out: &mut [f32],
) {
    let n = x.len() as f32;
    // SAFETY: the token proves AVX2/FMA.
    let mean = unsafe { sum_impl(x) } / n;
    // SAFETY: the token proves AVX2/FMA.
    let var = unsafe { sq_dev_impl(x, mean) } / n;
    let _ = t;
    // SAFETY: the token proves AVX2/FMA.
    unsafe { scale_mul_impl(x, mean, 1.0 / (var + eps).sqrt(), weight, Some(bias), out) }
}

/// The largest value (NaNs as `_mm256_max_ps` leaves them).
pub(crate) fn max(_t: Avx2, x: &[f32]) -> f32 {
    // SAFETY: the token proves AVX2/FMA.
    unsafe { max_impl(x) }
}

pub(crate) fn softmax(t: Avx2, x: &mut [f32]) {
    let _ = t;
    // SAFETY: the token proves AVX2/FMA.
    unsafe {
        let m = max_impl(x);
        let sum = exp_sub_sum_impl(x, m);
        scale_impl(x, 1.0 / sum);
    }
}

pub(crate) fn log_softmax(_t: Avx2, x: &[f32], scale: f32, out: &mut [f32]) {
    // SAFETY: the token proves AVX2/FMA.
    unsafe { log_softmax_impl(x, scale, out) }
}

pub(crate) fn gelu_erf(_t: Avx2, x: &mut [f32]) {
    // SAFETY: the token proves AVX2/FMA.
    unsafe { gelu_erf_impl(x) }
}

pub(crate) fn silu_mul(_t: Avx2, gate: &mut [f32], up: &[f32]) {
    // SAFETY: the token proves AVX2/FMA.
    unsafe { silu_mul_impl(gate, up) }
}

pub(crate) fn rope(
    _t: Avx2,
    x: &mut [f32],
    head_dim: usize,
    cos: &[f32],
    sin: &[f32],
    style: RopeStyle,
) {
    // SAFETY: the token proves AVX2/FMA.
    unsafe { rope_impl(x, head_dim, cos, sin, style) }
}

pub(crate) fn matvec_f32(t: Avx2, w: &[f32], k: usize, x: &[f32], y: &mut [f32]) {
    for (yj, row) in y.iter_mut().zip(w.chunks_exact(k)) {
        *yj = dot(t, row, x);
    }
}

pub(crate) fn dot_rows(
    _t: Avx2,
    q: &[f32],
    rows: &[f32],
    stride: usize,
    scale: f32,
    out: &mut [f32],
) {
    // SAFETY: the token proves AVX2/FMA.
    unsafe { dot_rows_impl(q, rows, stride, scale, out) }
}

pub(crate) fn weighted_sum_rows(
    _t: Avx2,
    weights: &[f32],
    rows: &[f32],
    stride: usize,
    out: &mut [f32],
) {
    // SAFETY: the token proves AVX2/FMA.
    unsafe { weighted_sum_rows_impl(weights, rows, stride, out) }
}

/// Unaligned 8-lane load of `s[i..i + 8]` (caller guarantees `i + 8 <= s.len()`).
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn ld(s: &[f32], i: usize) -> __m256 {
    debug_assert!(i + L <= s.len());
    // SAFETY: in bounds by the caller's guarantee.
    unsafe { _mm256_loadu_ps(s.as_ptr().add(i)) }
}

#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn st(s: &mut [f32], i: usize, v: __m256) {
    debug_assert!(i + L <= s.len());
    // SAFETY: in bounds by the caller's guarantee.
    unsafe { _mm256_storeu_ps(s.as_mut_ptr().add(i), v) }
}

/// Length rounded down to whole vectors.
fn body(n: usize) -> usize {
    n - n % L
}

#[target_feature(enable = "avx2,fma")]
unsafe fn dot_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (s, i) = dot_lanes(&a[..n], &b[..n]);
    hsum_ps(s) + scalar::dot(&a[i..n], &b[i..n])
}

/// The vector part of `dot` (`dot_rows` shares it, so both round alike):
/// per-lane sums of `a[..i] * b[..i]` and the `i` (whole vectors) covered.
/// Caller guarantees `a.len() == b.len()`.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn dot_lanes(a: &[f32], b: &[f32]) -> (__m256, usize) {
    let n = a.len();
    assert_eq!(n, b.len());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 4 * L <= n {
        for (u, acc) in acc.iter_mut().enumerate() {
            // SAFETY: i + 4L <= n == a.len() == b.len().
            *acc = unsafe { _mm256_fmadd_ps(ld(a, i + u * L), ld(b, i + u * L), *acc) };
        }
        i += 4 * L;
    }
    while i + L <= n {
        // SAFETY: i + L <= n.
        acc[0] = unsafe { _mm256_fmadd_ps(ld(a, i), ld(b, i), acc[0]) };
        i += L;
    }
    let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    (s, i)
}

#[target_feature(enable = "avx2,fma")]
unsafe fn sum_impl(x: &[f32]) -> f32 {
    let mut acc = _mm256_setzero_ps();
    let b = body(x.len());
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= len.
        acc = _mm256_add_ps(acc, unsafe { ld(x, i) });
    }
    hsum_ps(acc) + x[b..].iter().sum::<f32>()
}

#[target_feature(enable = "avx2,fma")]
unsafe fn sq_dev_impl(x: &[f32], mean: f32) -> f32 {
    let mut acc = _mm256_setzero_ps();
    let mv = _mm256_set1_ps(mean);
    let b = body(x.len());
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= len.
        let d = _mm256_sub_ps(unsafe { ld(x, i) }, mv);
        acc = _mm256_fmadd_ps(d, d, acc);
    }
    hsum_ps(acc) + x[b..].iter().map(|v| (v - mean) * (v - mean)).sum::<f32>()
}

#[target_feature(enable = "avx2,fma")]
unsafe fn axpy_impl(y: &mut [f32], a: f32, x: &[f32]) {
    let n = y.len().min(x.len());
    let av = _mm256_set1_ps(a);
    let b = body(n);
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= n.
        unsafe { st(y, i, _mm256_fmadd_ps(av, ld(x, i), ld(y, i))) };
    }
    scalar::axpy(&mut y[b..n], a, &x[b..n]);
}

/// Rows per group in `dot_rows_impl`.
const ROWS: usize = 8;

/// Lane `j` of the result is `hsum_ps(v[j])`, with the same additions in
/// the same order (so `dot_rows` matches `dot` bit for bit).
#[target_feature(enable = "avx2,fma")]
#[inline]
fn hsum8x8(v: &[__m256; ROWS]) -> __m256 {
    // x_j = low half + high half of v[j]; x_j and x_{j+4} share a register.
    let mut x = [_mm256_setzero_ps(); 4];
    for (j, x) in x.iter_mut().enumerate() {
        *x = _mm256_add_ps(
            _mm256_permute2f128_ps::<0x20>(v[j], v[j + 4]),
            _mm256_permute2f128_ps::<0x31>(v[j], v[j + 4]),
        );
    }
    hsum8x8_from_halves(&x)
}

/// The rest of [`hsum8x8`] from its first step's sums `x`.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn hsum8x8_from_halves(x: &[__m256; 4]) -> __m256 {
    // y_j = (x_j[0] + x_j[2], x_j[1] + x_j[3]), interleaved with y_{j+1}.
    let y01 = _mm256_add_ps(
        _mm256_unpacklo_ps(x[0], x[1]),
        _mm256_unpackhi_ps(x[0], x[1]),
    );
    let y23 = _mm256_add_ps(
        _mm256_unpacklo_ps(x[2], x[3]),
        _mm256_unpackhi_ps(x[2], x[3]),
    );
    // y_j[0] + y_j[1], in row order.
    _mm256_add_ps(
        _mm256_shuffle_ps::<0b01_00_01_00>(y01, y23),
        _mm256_shuffle_ps::<0b11_10_11_10>(y01, y23),
    )
}

/// Each row as `dot` does it (same accumulators, same reduction order, so
/// `out[t]` equals `scale * dot(q, row t)` exactly), eight rows per
/// horizontal reduction. A short last group repeats its last row (the
/// extra lanes are dropped).
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_rows_impl(q: &[f32], rows: &[f32], stride: usize, scale: f32, out: &mut [f32]) {
    let (d, n) = (q.len(), out.len());
    if d == 64 {
        // SAFETY: this function's own target features.
        return unsafe { dot_rows_64(q, rows, stride, scale, out) };
    }
    let sv = _mm256_set1_ps(scale);
    let mut t = 0;
    while t < n {
        let mut r: [&[f32]; ROWS] = [&[]; ROWS];
        for (j, r) in r.iter_mut().enumerate() {
            let s = (t + j).min(n - 1) * stride;
            *r = &rows[s..s + d];
        }
        let mut lanes = [_mm256_setzero_ps(); ROWS];
        let mut b = 0;
        for (l, r) in lanes.iter_mut().zip(&r) {
            (*l, b) = dot_lanes(q, r);
        }
        let mut s = hsum8x8(&lanes);
        if b < d {
            let tails: [f32; ROWS] = std::array::from_fn(|j| scalar::dot(&q[b..], &r[j][b..]));
            // SAFETY: tails holds 8 readable f32.
            s = _mm256_add_ps(s, unsafe { _mm256_loadu_ps(tails.as_ptr()) });
        }
        store_scores(out, t, _mm256_mul_ps(s, sv));
        t += ROWS;
    }
}

/// The scores of rows `t..t + 8` into `out`, as many as it holds from `t`.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn store_scores(out: &mut [f32], t: usize, s: __m256) {
    if t + ROWS <= out.len() {
        // SAFETY: t + 8 <= out.len().
        unsafe { st(out, t, s) };
    } else {
        let mut buf = [0.0f32; ROWS];
        // SAFETY: buf has 8 writable f32.
        unsafe { _mm256_storeu_ps(buf.as_mut_ptr(), s) };
        let n = out.len() - t;
        out[t..].copy_from_slice(&buf[..n]);
    }
}

/// `dot_rows_impl` for 64-value heads (most models'), with `q` held in
/// eight registers instead of loaded again for every row: the same FMAs in
/// the same order as `dot_lanes`, so the same sums, about twice as fast
/// (prefill attention reads one key per FMA instead of a key and `q`).
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_rows_64(q: &[f32], rows: &[f32], stride: usize, scale: f32, out: &mut [f32]) {
    let n = out.len();
    let mut qv = [_mm256_setzero_ps(); 8];
    for (u, v) in qv.iter_mut().enumerate() {
        // SAFETY: u * 8 + 8 <= 64 == q.len() (checked by the caller).
        *v = unsafe { ld(q, u * L) };
    }
    let q = qv;
    let sv = _mm256_set1_ps(scale);
    let mut t = 0;
    while t < n {
        let mut lanes = [_mm256_setzero_ps(); ROWS];
        for (j, l) in lanes.iter_mut().enumerate() {
            let s = (t + j).min(n - 1) * stride;
            let r = &rows[s..s + 64];
            let mut acc = [_mm256_setzero_ps(); 4];
            for half in 0..2 {
                for (u, a) in acc.iter_mut().enumerate() {
                    let v = half * 4 + u;
                    // SAFETY: v * 8 + 8 <= 64 == r.len().
                    *a = _mm256_fmadd_ps(q[v], unsafe { ld(r, v * L) }, *a);
                }
            }
            *l = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        }
        store_scores(out, t, _mm256_mul_ps(hsum8x8(&lanes), sv));
        t += ROWS;
    }
}

/// `out` in chunks of 64, 32, 16 and 8 values (a 64-value head in one
/// pass over the rows), each kept in registers while every row is added in
/// (the same FMAs, in the same order, as `axpy` per row); the last `d % 8`
/// values in scalar.
#[target_feature(enable = "avx2,fma")]
unsafe fn weighted_sum_rows_impl(weights: &[f32], rows: &[f32], stride: usize, out: &mut [f32]) {
    let d = out.len();
    let b = body(d);
    let mut c = 0;
    while c + 8 * L <= b {
        wsum_chunk::<8>(weights, rows, stride, c, &mut out[c..c + 8 * L]);
        c += 8 * L;
    }
    if c + 4 * L <= b {
        wsum_chunk::<4>(weights, rows, stride, c, &mut out[c..c + 4 * L]);
        c += 4 * L;
    }
    if c + 2 * L <= b {
        wsum_chunk::<2>(weights, rows, stride, c, &mut out[c..c + 2 * L]);
        c += 2 * L;
    }
    if c + L <= b {
        wsum_chunk::<1>(weights, rows, stride, c, &mut out[c..c + L]);
    }
    if b < d {
        out[b..].fill(0.0);
        for (t, &w) in weights.iter().enumerate() {
            let s = t * stride;
            scalar::axpy(&mut out[b..], w, &rows[s + b..s + d]);
        }
    }
}

/// `out = sum_t weights[t] * rows[t * stride + c..][..V * L]` in `V` accumulators.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn wsum_chunk<const V: usize>(
    weights: &[f32],
    rows: &[f32],
    stride: usize,
    c: usize,
    out: &mut [f32],
) {
    let out = &mut out[..V * L];
    let mut acc = [_mm256_setzero_ps(); V];
    for (t, &w) in weights.iter().enumerate() {
        let wv = _mm256_set1_ps(w);
        let s = t * stride + c;
        let row = &rows[s..s + V * L];
        for (u, a) in acc.iter_mut().enumerate() {
            // SAFETY: u * L + L <= V * L == row.len().
            *a = _mm256_fmadd_ps(wv, unsafe { ld(row, u * L) }, *a);
        }
    }
    for (u, a) in acc.iter().enumerate() {
        // SAFETY: u * L + L <= V * L == out.len().
        unsafe { st(out, u * L, *a) };
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn add_impl(a: &mut [f32], bsl: &[f32]) {
    let n = a.len().min(bsl.len());
    let b = body(n);
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= n.
        unsafe { st(a, i, _mm256_add_ps(ld(a, i), ld(bsl, i))) };
    }
    scalar::add(&mut a[b..n], &bsl[b..n]);
}

#[target_feature(enable = "avx2,fma")]
unsafe fn scale_impl(x: &mut [f32], s: f32) {
    let sv = _mm256_set1_ps(s);
    let b = body(x.len());
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= len.
        unsafe { st(x, i, _mm256_mul_ps(ld(x, i), sv)) };
    }
    scalar::scale(&mut x[b..], s);
}

/// `out = (x - sub) * s * w (+ bias)`, with the scalar code's operation order.
#[target_feature(enable = "avx2,fma")]
unsafe fn scale_mul_impl(
    x: &[f32],
    sub: f32,
    s: f32,
    w: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
) {
    let n = x.len();
    let (subv, sv) = (_mm256_set1_ps(sub), _mm256_set1_ps(s));
    let b = body(n);
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= n, and all slices have length n (checked by ops::*).
        unsafe {
            let v = _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(ld(x, i), subv), sv), ld(w, i));
            st(
                out,
                i,
                if let Some(bias) = bias {
                    _mm256_add_ps(v, ld(bias, i))
                } else {
                    v
                },
            );
        }
    }
    for i in b..n {
        let v = (x[i] - sub) * s * w[i];
        out[i] = if let Some(bias) = bias {
            v + bias[i]
        } else {
            v
        };
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn square_sums_8_impl(xs: &[f32], width: usize) -> [f64; 8] {
    let w = width as i32;
    let rows = _mm256_setr_epi32(0, w, 2 * w, 3 * w, 4 * w, 5 * w, 6 * w, 7 * w);
    let (mut lo, mut hi) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    for i in 0..width {
        // SAFETY: every lane reads xs[r * width + i] (the caller's bounds).
        let v = unsafe { _mm256_i32gather_ps::<4>(xs.as_ptr().add(i), rows) };
        let sq = _mm256_mul_ps(v, v);
        lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(sq)));
        hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(sq)));
    }
    let mut out = [0.0; 8];
    // SAFETY: out holds 8 writable f64.
    unsafe {
        _mm256_storeu_pd(out.as_mut_ptr(), lo);
        _mm256_storeu_pd(out.as_mut_ptr().add(4), hi);
    }
    out
}

#[target_feature(enable = "avx2,fma")]
unsafe fn max_impl(x: &[f32]) -> f32 {
    let mut m = _mm256_set1_ps(f32::NEG_INFINITY);
    let b = body(x.len());
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= len.
        m = _mm256_max_ps(m, unsafe { ld(x, i) });
    }
    let mut lanes = [0.0f32; L];
    // SAFETY: lanes has 8 writable f32.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), m) };
    lanes
        .iter()
        .chain(&x[b..])
        .copied()
        .fold(f32::NEG_INFINITY, f32::max)
}

/// `exp(x)` to within 2 ulp over the f32 range (Cephes' `expf` polynomial):
/// 0 below -87.33 (where the result would be subnormal) and +inf above 88.72.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn exp8(x: __m256) -> __m256 {
    let hi = _mm256_set1_ps(88.376_26);
    let lo = _mm256_set1_ps(-87.336_55);
    let xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    // n = round(x / ln 2); r = x - n ln 2 in two parts for precision.
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
        xc,
        _mm256_set1_ps(std::f32::consts::LOG2_E),
    ));
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_359_4), xc);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.121_944_4e-4), r);
    let mut p = _mm256_set1_ps(1.987_569_1e-4);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.398_2e-3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.333_452e-3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.166_579_6e-2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.166_666_65));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5));
    p = _mm256_fmadd_ps(
        p,
        _mm256_mul_ps(r, r),
        _mm256_add_ps(r, _mm256_set1_ps(1.0)),
    );
    // 2^n through the exponent bits (n is in [-126, 128]; 2^128 is handled below).
    let e = _mm256_slli_epi32::<23>(_mm256_add_epi32(
        _mm256_cvtps_epi32(n),
        _mm256_set1_epi32(127),
    ));
    let res = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    let res = _mm256_blendv_ps(res, _mm256_setzero_ps(), _mm256_cmp_ps::<_CMP_LT_OQ>(x, lo));
    _mm256_blendv_ps(
        res,
        _mm256_set1_ps(f32::INFINITY),
        _mm256_cmp_ps::<_CMP_GT_OQ>(x, _mm256_set1_ps(88.722_83)),
    )
}

#[target_feature(enable = "avx2,fma")]
unsafe fn exp_sub_sum_impl(x: &mut [f32], m: f32) -> f32 {
    let mv = _mm256_set1_ps(m);
    let mut acc = _mm256_setzero_ps();
    let b = body(x.len());
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= len.
        unsafe {
            let e = exp8(_mm256_sub_ps(ld(x, i), mv));
            acc = _mm256_add_ps(acc, e);
            st(x, i, e);
        }
    }
    hsum_ps(acc) + scalar::exp_sub_sum(&mut x[b..], m)
}

/// The scalar code's steps (`v * scale - max`, exponentials summed, `max +
/// ln(sum)` subtracted from `v * scale`), with the sum of exponentials in
/// eight lanes through [`exp8`].
#[target_feature(enable = "avx2,fma")]
unsafe fn log_softmax_impl(x: &[f32], scale: f32, out: &mut [f32]) {
    let n = x.len().min(out.len());
    // SAFETY: this function's own target features (AVX2/FMA).
    let max = unsafe { max_impl(&x[..n]) } * scale;
    let (sv, mv) = (_mm256_set1_ps(scale), _mm256_set1_ps(max));
    let mut acc = _mm256_setzero_ps();
    let b = body(n);
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= n.
        let v = unsafe { ld(x, i) };
        acc = _mm256_add_ps(acc, exp8(_mm256_sub_ps(_mm256_mul_ps(v, sv), mv)));
    }
    let sum = hsum_ps(acc)
        + x[b..n]
            .iter()
            .map(|&v| (v * scale - max).exp())
            .sum::<f32>();
    let log_z = max + sum.ln();
    let zv = _mm256_set1_ps(log_z);
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= n for both slices.
        unsafe { st(out, i, _mm256_sub_ps(_mm256_mul_ps(ld(x, i), sv), zv)) };
    }
    for (o, &v) in out[b..n].iter_mut().zip(&x[b..n]) {
        *o = v * scale - log_z;
    }
}

/// `erf(x)` as Eigen's and XLA's f32 rational approximation `x P(x^2) /
/// Q(x^2)` (coefficients from Eigen; checked against Python's math.erf,
/// see `ops::GELU_ERF_TOL`); exactly ±1 from |x| = [`ERF_SATURATES`] on.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn erf8(x: __m256) -> __m256 {
    let sat = _mm256_set1_ps(ERF_SATURATES);
    let sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0));
    let ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0), x);
    let xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-ERF_SATURATES)), sat);
    let x2 = _mm256_mul_ps(xc, xc);
    let mut p = _mm256_set1_ps(ERF_P[0]);
    for &c in &ERF_P[1..] {
        p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(c));
    }
    let p = _mm256_mul_ps(p, xc);
    let mut q = _mm256_set1_ps(ERF_Q[0]);
    for &c in &ERF_Q[1..] {
        q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(c));
    }
    let r = _mm256_div_ps(p, q);
    _mm256_blendv_ps(
        r,
        _mm256_or_ps(_mm256_set1_ps(1.0), sign),
        _mm256_cmp_ps::<_CMP_GE_OQ>(ax, sat),
    )
}

/// `0.5 x (1 + erf(x / sqrt 2))` with the scalar code's operation order.
#[target_feature(enable = "avx2,fma")]
unsafe fn gelu_erf_impl(x: &mut [f32]) {
    let (half, one) = (_mm256_set1_ps(0.5), _mm256_set1_ps(1.0));
    let r2 = _mm256_set1_ps(std::f32::consts::FRAC_1_SQRT_2);
    let b = body(x.len());
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= len.
        unsafe {
            let v = ld(x, i);
            let e = erf8(_mm256_mul_ps(v, r2));
            st(
                x,
                i,
                _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, e)),
            );
        }
    }
    scalar::gelu_erf(&mut x[b..]);
}

#[target_feature(enable = "avx2,fma")]
unsafe fn silu_mul_impl(gate: &mut [f32], up: &[f32]) {
    let n = gate.len().min(up.len());
    let one = _mm256_set1_ps(1.0);
    let neg = _mm256_set1_ps(-0.0);
    let b = body(n);
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= n.
        unsafe {
            let g = ld(gate, i);
            let e = exp8(_mm256_xor_ps(g, neg));
            st(
                gate,
                i,
                _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), ld(up, i)),
            );
        }
    }
    scalar::silu_mul(&mut gate[b..n], &up[b..n]);
}

#[target_feature(enable = "avx2,fma")]
unsafe fn rope_impl(x: &mut [f32], head_dim: usize, cos: &[f32], sin: &[f32], style: RopeStyle) {
    let half = head_dim / 2;
    for head in x.chunks_exact_mut(head_dim) {
        match style {
            RopeStyle::Neox => {
                let (a, bh) = head.split_at_mut(half);
                let b = body(half);
                for i in (0..b).step_by(L) {
                    // SAFETY: i + L <= half == a.len() == b.len(), and cos/sin
                    // have at least half values (checked by ops::rope).
                    unsafe {
                        let (x0, x1, c, s) = (ld(a, i), ld(bh, i), ld(cos, i), ld(sin, i));
                        st(a, i, _mm256_fmsub_ps(x0, c, _mm256_mul_ps(x1, s)));
                        st(bh, i, _mm256_fmadd_ps(x0, s, _mm256_mul_ps(x1, c)));
                    }
                }
                for i in b..half {
                    let (x0, x1) = (a[i], bh[i]);
                    a[i] = x0 * cos[i] - x1 * sin[i];
                    bh[i] = x0 * sin[i] + x1 * cos[i];
                }
            }
            RopeStyle::Normal => {
                // 8 values = 4 pairs (x0, x1); angles duplicated per pair.
                let dup = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
                let alt = _mm256_setr_ps(-1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0);
                let pairs = half - half % 4;
                for p in (0..pairs).step_by(4) {
                    // SAFETY: 2p + 8 <= head_dim and p + 4 <= half <= cos.len(), sin.len().
                    unsafe {
                        let v = ld(head, 2 * p);
                        let c = _mm256_permutevar8x32_ps(
                            _mm256_castps128_ps256(_mm_loadu_ps(cos.as_ptr().add(p))),
                            dup,
                        );
                        let s = _mm256_permutevar8x32_ps(
                            _mm256_castps128_ps256(_mm_loadu_ps(sin.as_ptr().add(p))),
                            dup,
                        );
                        // (x0, x1) -> (x1, x0), times (-sin, sin)
                        let sw = _mm256_permute_ps::<0b1011_0001>(v);
                        st(
                            head,
                            2 * p,
                            _mm256_fmadd_ps(v, c, _mm256_mul_ps(sw, _mm256_mul_ps(s, alt))),
                        );
                    }
                }
                for i in pairs..half {
                    let (x0, x1) = (head[2 * i], head[2 * i + 1]);
                    head[2 * i] = x0 * cos[i] - x1 * sin[i];
                    head[2 * i + 1] = x0 * sin[i] + x1 * cos[i];
                }
            }
        }
    }
}

// --- f16 KV cache: F16C converts 8 halves per instruction ---------------------

pub(crate) fn f32_to_f16_row(_t: Avx2, x: &[f32], out: &mut [u16]) {
    // SAFETY: the token proves AVX2/FMA/F16C.
    unsafe { f32_to_f16_row_impl(x, out) }
}

pub(crate) fn f16_to_f32_row(_t: Avx2, x: &[u16], out: &mut [f32]) {
    // SAFETY: the token proves AVX2/FMA/F16C.
    unsafe { f16_to_f32_row_impl(x, out) }
}

pub(crate) fn dot_rows_f16(
    _t: Avx2,
    q: &[f32],
    rows: &[u16],
    stride: usize,
    scale: f32,
    out: &mut [f32],
) {
    // SAFETY: the token proves AVX2/FMA/F16C.
    unsafe { dot_rows_f16_impl(q, rows, stride, scale, out) }
}

pub(crate) fn weighted_sum_rows_f16(
    _t: Avx2,
    weights: &[f32],
    rows: &[u16],
    stride: usize,
    out: &mut [f32],
) {
    // SAFETY: the token proves AVX2/FMA/F16C.
    unsafe { weighted_sum_rows_f16_impl(weights, rows, stride, out) }
}

/// Eight halves `s[i..i + 8]` widened to f32 (exact).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn ldh(s: &[u16], i: usize) -> __m256 {
    debug_assert!(i + L <= s.len());
    // SAFETY: in bounds by the caller's guarantee; loadu is unaligned.
    unsafe { _mm256_cvtph_ps(_mm_loadu_si128(s.as_ptr().add(i).cast())) }
}

/// `vcvtps2ph` with round-to-nearest-even: what ggml's FP32_TO_FP16 does on
/// F16C machines; the scalar tail rounds the same way (NaNs stay NaNs).
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn f32_to_f16_row_impl(x: &[f32], out: &mut [u16]) {
    let n = x.len().min(out.len());
    let b = body(n);
    for i in (0..b).step_by(L) {
        // SAFETY: i + 8 <= b <= n for both slices.
        unsafe {
            let h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(ld(x, i));
            _mm_storeu_si128(out.as_mut_ptr().add(i).cast(), h);
        }
    }
    scalar::f32_to_f16_row(&x[b..n], &mut out[b..n]);
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn f16_to_f32_row_impl(x: &[u16], out: &mut [f32]) {
    let n = x.len().min(out.len());
    let b = body(n);
    for i in (0..b).step_by(L) {
        // SAFETY: i + 8 <= b <= n for both slices.
        unsafe { st(out, i, ldh(x, i)) };
    }
    scalar::f16_to_f32_row(&x[b..n], &mut out[b..n]);
}

/// `dot_lanes` with the second operand in halves.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn dot_lanes_f16(a: &[f32], b: &[u16]) -> (__m256, usize) {
    let n = a.len();
    assert_eq!(n, b.len());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 4 * L <= n {
        for (u, acc) in acc.iter_mut().enumerate() {
            // SAFETY: i + 4L <= n == a.len() == b.len().
            *acc = unsafe { _mm256_fmadd_ps(ld(a, i + u * L), ldh(b, i + u * L), *acc) };
        }
        i += 4 * L;
    }
    while i + L <= n {
        // SAFETY: i + L <= n.
        acc[0] = unsafe { _mm256_fmadd_ps(ld(a, i), ldh(b, i), acc[0]) };
        i += L;
    }
    let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    (s, i)
}

/// `dot_rows_impl` over f16 rows: eight rows per horizontal reduction, a
/// short last group repeating its last row.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_rows_f16_impl(q: &[f32], rows: &[u16], stride: usize, scale: f32, out: &mut [f32]) {
    let (d, n) = (q.len(), out.len());
    let sv = _mm256_set1_ps(scale);
    let mut t = 0;
    while t < n {
        let mut r: [&[u16]; ROWS] = [&[]; ROWS];
        for (j, r) in r.iter_mut().enumerate() {
            let s = (t + j).min(n - 1) * stride;
            *r = &rows[s..s + d];
        }
        let mut lanes = [_mm256_setzero_ps(); ROWS];
        let mut b = 0;
        for (l, r) in lanes.iter_mut().zip(&r) {
            (*l, b) = dot_lanes_f16(q, r);
        }
        let mut s = hsum8x8(&lanes);
        if b < d {
            let tails: [f32; ROWS] = std::array::from_fn(|j| scalar::dot_f16(&q[b..], &r[j][b..]));
            // SAFETY: tails holds 8 readable f32.
            s = _mm256_add_ps(s, unsafe { _mm256_loadu_ps(tails.as_ptr()) });
        }
        store_scores(out, t, _mm256_mul_ps(s, sv));
        t += ROWS;
    }
}

/// `weighted_sum_rows_impl` over f16 rows.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn weighted_sum_rows_f16_impl(
    weights: &[f32],
    rows: &[u16],
    stride: usize,
    out: &mut [f32],
) {
    let d = out.len();
    let b = body(d);
    let mut c = 0;
    while c + 8 * L <= b {
        wsum_chunk_f16::<8>(weights, rows, stride, c, &mut out[c..c + 8 * L]);
        c += 8 * L;
    }
    if c + 4 * L <= b {
        wsum_chunk_f16::<4>(weights, rows, stride, c, &mut out[c..c + 4 * L]);
        c += 4 * L;
    }
    if c + 2 * L <= b {
        wsum_chunk_f16::<2>(weights, rows, stride, c, &mut out[c..c + 2 * L]);
        c += 2 * L;
    }
    if c + L <= b {
        wsum_chunk_f16::<1>(weights, rows, stride, c, &mut out[c..c + L]);
    }
    if b < d {
        out[b..].fill(0.0);
        for (t, &w) in weights.iter().enumerate() {
            let s = t * stride;
            scalar::axpy_f16(&mut out[b..], w, &rows[s + b..s + d]);
        }
    }
}

/// `wsum_chunk` over f16 rows.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn wsum_chunk_f16<const V: usize>(
    weights: &[f32],
    rows: &[u16],
    stride: usize,
    c: usize,
    out: &mut [f32],
) {
    let out = &mut out[..V * L];
    let mut acc = [_mm256_setzero_ps(); V];
    for (t, &w) in weights.iter().enumerate() {
        let wv = _mm256_set1_ps(w);
        let s = t * stride + c;
        let row = &rows[s..s + V * L];
        for (u, a) in acc.iter_mut().enumerate() {
            // SAFETY: u * L + L <= V * L == row.len().
            *a = _mm256_fmadd_ps(wv, unsafe { ldh(row, u * L) }, *a);
        }
    }
    for (u, a) in acc.iter().enumerate() {
        // SAFETY: u * L + L <= V * L == out.len().
        unsafe { st(out, u * L, *a) };
    }
}
