//! NEON versions of the f32 operations (used by both aarch64 paths).
//!
//! Each public function is safe and takes the [`Neon`] token; the
//! `#[target_feature]` bodies finish tails with the scalar code.

use std::arch::aarch64::*;

use super::scalar;
use super::RopeStyle;
use super::{ERF_P, ERF_Q, ERF_SATURATES};
use crate::arm::neon::Neon;

const L: usize = 4;

fn body(n: usize) -> usize {
    n - n % L
}

pub(crate) fn dot(_t: Neon, a: &[f32], b: &[f32]) -> f32 {
    // SAFETY: the token proves NEON.
    unsafe { dot_impl(a, b) }
}

pub(crate) fn axpy(_t: Neon, y: &mut [f32], a: f32, x: &[f32]) {
    // SAFETY: the token proves NEON.
    unsafe { axpy_impl(y, a, x) }
}

pub(crate) fn add(_t: Neon, a: &mut [f32], b: &[f32]) {
    // SAFETY: the token proves NEON.
    unsafe { add_impl(a, b) }
}

pub(crate) fn scale(_t: Neon, x: &mut [f32], s: f32) {
    // SAFETY: the token proves NEON.
    unsafe { scale_impl(x, s) }
}

/// `out[i] = x[i] * s * w[i]` (the last step of an RMS norm).
pub(crate) fn scale_mul(_t: Neon, x: &[f32], s: f32, w: &[f32], out: &mut [f32]) {
    // SAFETY: the token proves NEON.
    unsafe { scale_mul_impl(x, 0.0, s, w, None, out) }
}

pub(crate) fn layer_norm(
    t: Neon,
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    eps: f32,
    out: &mut [f32],
) {
    let n = x.len() as f32;
    let _ = t;
    // SAFETY: the token proves NEON.
    unsafe {
        let mean = sum_impl(x, 0.0, false) / n;
        let var = sum_impl(x, mean, true) / n;
        scale_mul_impl(x, mean, 1.0 / (var + eps).sqrt(), weight, Some(bias), out)
    }
}

pub(crate) fn softmax(t: Neon, x: &mut [f32]) {
    let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    // SAFETY: the token proves NEON.
    let sum = unsafe { exp_sub_sum_impl(x, m) };
    scale(t, x, 1.0 / sum);
}

pub(crate) fn log_softmax(_t: Neon, x: &[f32], scale: f32, out: &mut [f32]) {
    // SAFETY: the token proves NEON.
    unsafe { log_softmax_impl(x, scale, out) }
}

pub(crate) fn gelu_erf(_t: Neon, x: &mut [f32]) {
    // SAFETY: the token proves NEON.
    unsafe { gelu_erf_impl(x) }
}

pub(crate) fn silu_mul(_t: Neon, gate: &mut [f32], up: &[f32]) {
    // SAFETY: the token proves NEON.
    unsafe { silu_mul_impl(gate, up) }
}

pub(crate) fn rope(
    _t: Neon,
    x: &mut [f32],
    head_dim: usize,
    cos: &[f32],
    sin: &[f32],
    style: RopeStyle,
) {
    // SAFETY: the token proves NEON.
    unsafe { rope_impl(x, head_dim, cos, sin, style) }
}

pub(crate) fn matvec_f32(t: Neon, w: &[f32], k: usize, x: &[f32], y: &mut [f32]) {
    for (yj, row) in y.iter_mut().zip(w.chunks_exact(k)) {
        *yj = dot(t, row, x);
    }
}

pub(crate) fn dot_rows(
    _t: Neon,
    q: &[f32],
    rows: &[f32],
    stride: usize,
    scale: f32,
    out: &mut [f32],
) {
    // SAFETY: the token proves NEON.
    unsafe { dot_rows_impl(q, rows, stride, scale, out) }
}

pub(crate) fn weighted_sum_rows(
    _t: Neon,
    weights: &[f32],
    rows: &[f32],
    stride: usize,
    out: &mut [f32],
) {
    // SAFETY: the token proves NEON.
    unsafe { weighted_sum_rows_impl(weights, rows, stride, out) }
}

#[target_feature(enable = "neon")]
#[inline]
unsafe fn ld(s: &[f32], i: usize) -> float32x4_t {
    debug_assert!(i + L <= s.len());
    // SAFETY: in bounds by the caller's guarantee.
    unsafe { vld1q_f32(s.as_ptr().add(i)) }
}

#[target_feature(enable = "neon")]
#[inline]
unsafe fn st(s: &mut [f32], i: usize, v: float32x4_t) {
    debug_assert!(i + L <= s.len());
    // SAFETY: in bounds by the caller's guarantee.
    unsafe { vst1q_f32(s.as_mut_ptr().add(i), v) }
}

#[target_feature(enable = "neon")]
unsafe fn dot_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (s, i) = dot_lanes(&a[..n], &b[..n]);
    // vaddvq_f32 adds pairwise: (s0 + s1) + (s2 + s3).
    vaddvq_f32(s) + scalar::dot(&a[i..n], &b[i..n])
}

/// The vector part of `dot` (`dot_rows` shares it, so both round alike):
/// per-lane sums of `a[..i] * b[..i]` and the `i` (whole vectors) covered.
#[target_feature(enable = "neon")]
#[inline]
fn dot_lanes(a: &[f32], b: &[f32]) -> (float32x4_t, usize) {
    let n = a.len();
    assert_eq!(n, b.len());
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    while i + 4 * L <= n {
        for (u, acc) in acc.iter_mut().enumerate() {
            // SAFETY: i + 4L <= n == a.len() == b.len().
            *acc = unsafe { vfmaq_f32(*acc, ld(a, i + u * L), ld(b, i + u * L)) };
        }
        i += 4 * L;
    }
    while i + L <= n {
        // SAFETY: i + L <= n.
        acc[0] = unsafe { vfmaq_f32(acc[0], ld(a, i), ld(b, i)) };
        i += L;
    }
    let s = vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3]));
    (s, i)
}

/// `sum x` or, with `sq`, `sum (x - mean)^2`.
#[target_feature(enable = "neon")]
unsafe fn sum_impl(x: &[f32], mean: f32, sq: bool) -> f32 {
    let mut acc = vdupq_n_f32(0.0);
    let mv = vdupq_n_f32(mean);
    let b = body(x.len());
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= len.
        let v = unsafe { ld(x, i) };
        acc = if sq {
            let d = vsubq_f32(v, mv);
            vfmaq_f32(acc, d, d)
        } else {
            vaddq_f32(acc, v)
        };
    }
    let tail: f32 = if sq {
        x[b..].iter().map(|v| (v - mean) * (v - mean)).sum()
    } else {
        x[b..].iter().sum()
    };
    vaddvq_f32(acc) + tail
}

#[target_feature(enable = "neon")]
unsafe fn axpy_impl(y: &mut [f32], a: f32, x: &[f32]) {
    let n = y.len().min(x.len());
    let b = body(n);
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= n.
        unsafe { st(y, i, vfmaq_n_f32(ld(y, i), ld(x, i), a)) };
    }
    scalar::axpy(&mut y[b..n], a, &x[b..n]);
}

/// Rows per group in `dot_rows_impl`.
const ROWS: usize = 8;

/// Lane `j` of the result is `vaddvq_f32(v[j])`: the same pairwise
/// additions, `(v0 + v1) + (v2 + v3)`, so `dot_rows` matches `dot` bit for bit.
#[target_feature(enable = "neon")]
#[inline]
fn hsum4x4(v0: float32x4_t, v1: float32x4_t, v2: float32x4_t, v3: float32x4_t) -> float32x4_t {
    // vpaddq(a, b) = [a0+a1, a2+a3, b0+b1, b2+b3].
    vpaddq_f32(vpaddq_f32(v0, v1), vpaddq_f32(v2, v3))
}

/// Each row as `dot` does it (same accumulators, same reduction order, so
/// `out[t]` equals `scale * dot(q, row t)` exactly), the horizontal sums of
/// four rows at a time. A short last group repeats its last row (the extra
/// lanes are dropped).
#[target_feature(enable = "neon")]
unsafe fn dot_rows_impl(q: &[f32], rows: &[f32], stride: usize, scale: f32, out: &mut [f32]) {
    let (d, n) = (q.len(), out.len());
    let mut t = 0;
    while t < n {
        let mut r: [&[f32]; ROWS] = [&[]; ROWS];
        for (j, r) in r.iter_mut().enumerate() {
            let s = (t + j).min(n - 1) * stride;
            *r = &rows[s..s + d];
        }
        let mut lanes = [vdupq_n_f32(0.0); ROWS];
        let mut b = 0;
        for (l, r) in lanes.iter_mut().zip(&r) {
            (*l, b) = dot_lanes(q, r);
        }
        let mut lo = hsum4x4(lanes[0], lanes[1], lanes[2], lanes[3]);
        let mut hi = hsum4x4(lanes[4], lanes[5], lanes[6], lanes[7]);
        if b < d {
            let tails: [f32; ROWS] = std::array::from_fn(|j| scalar::dot(&q[b..], &r[j][b..]));
            // SAFETY: tails has 8 values.
            unsafe {
                lo = vaddq_f32(lo, ld(&tails, 0));
                hi = vaddq_f32(hi, ld(&tails, L));
            }
        }
        let (lo, hi) = (vmulq_n_f32(lo, scale), vmulq_n_f32(hi, scale));
        if t + ROWS <= n {
            // SAFETY: t + 8 <= n == out.len().
            unsafe {
                st(out, t, lo);
                st(out, t + L, hi);
            }
        } else {
            let mut buf = [0.0f32; ROWS];
            // SAFETY: buf has 8 values.
            unsafe {
                st(&mut buf, 0, lo);
                st(&mut buf, L, hi);
            }
            out[t..].copy_from_slice(&buf[..n - t]);
        }
        t += ROWS;
    }
}

/// `out` in chunks of 64, 32, 16, 8 and 4 values (a 64-value head in one
/// pass over the rows), each kept in registers while every row is added in
/// (the same FMAs, in the same order, as `axpy` per row); the last `d % 4`
/// values in scalar.
#[target_feature(enable = "neon")]
unsafe fn weighted_sum_rows_impl(weights: &[f32], rows: &[f32], stride: usize, out: &mut [f32]) {
    let d = out.len();
    let b = body(d);
    let mut c = 0;
    while c + 16 * L <= b {
        wsum_chunk::<16>(weights, rows, stride, c, &mut out[c..c + 16 * L]);
        c += 16 * L;
    }
    if c + 8 * L <= b {
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
#[target_feature(enable = "neon")]
#[inline]
fn wsum_chunk<const V: usize>(
    weights: &[f32],
    rows: &[f32],
    stride: usize,
    c: usize,
    out: &mut [f32],
) {
    let out = &mut out[..V * L];
    let mut acc = [vdupq_n_f32(0.0); V];
    for (t, &w) in weights.iter().enumerate() {
        let s = t * stride + c;
        let row = &rows[s..s + V * L];
        for (u, a) in acc.iter_mut().enumerate() {
            // SAFETY: u * L + L <= V * L == row.len().
            *a = vfmaq_n_f32(*a, unsafe { ld(row, u * L) }, w);
        }
    }
    for (u, a) in acc.iter().enumerate() {
        // SAFETY: u * L + L <= V * L == out.len().
        unsafe { st(out, u * L, *a) };
    }
}

#[target_feature(enable = "neon")]
unsafe fn add_impl(a: &mut [f32], bs: &[f32]) {
    let n = a.len().min(bs.len());
    let b = body(n);
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= n.
        unsafe { st(a, i, vaddq_f32(ld(a, i), ld(bs, i))) };
    }
    scalar::add(&mut a[b..n], &bs[b..n]);
}

#[target_feature(enable = "neon")]
unsafe fn scale_impl(x: &mut [f32], s: f32) {
    let b = body(x.len());
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= len.
        unsafe { st(x, i, vmulq_n_f32(ld(x, i), s)) };
    }
    scalar::scale(&mut x[b..], s);
}

#[target_feature(enable = "neon")]
unsafe fn scale_mul_impl(
    x: &[f32],
    sub: f32,
    s: f32,
    w: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
) {
    let n = x.len();
    let subv = vdupq_n_f32(sub);
    let b = body(n);
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= n; all slices have length n (checked by ops::*).
        unsafe {
            let v = vmulq_f32(vmulq_n_f32(vsubq_f32(ld(x, i), subv), s), ld(w, i));
            st(
                out,
                i,
                if let Some(bias) = bias {
                    vaddq_f32(v, ld(bias, i))
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

/// `exp(x)`, same polynomial and range handling as the AVX2 `exp8`.
#[target_feature(enable = "neon")]
#[inline]
fn exp4(x: float32x4_t) -> float32x4_t {
    let hi = vdupq_n_f32(88.376_26);
    let lo = vdupq_n_f32(-87.336_55);
    let xc = vminq_f32(vmaxq_f32(x, lo), hi);
    let n = vrndnq_f32(vmulq_n_f32(xc, std::f32::consts::LOG2_E));
    let r = vfmsq_f32(xc, n, vdupq_n_f32(0.693_359_4));
    let r = vfmsq_f32(r, n, vdupq_n_f32(-2.121_944_4e-4));
    let mut p = vdupq_n_f32(1.987_569_1e-4);
    p = vfmaq_f32(vdupq_n_f32(1.398_2e-3), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.333_452e-3), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.166_579_6e-2), p, r);
    p = vfmaq_f32(vdupq_n_f32(0.166_666_65), p, r);
    p = vfmaq_f32(vdupq_n_f32(0.5), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0)), p, vmulq_f32(r, r));
    let e = vshlq_n_s32::<23>(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)));
    let res = vmulq_f32(p, vreinterpretq_f32_s32(e));
    let res = vbslq_f32(vcltq_f32(x, lo), vdupq_n_f32(0.0), res);
    vbslq_f32(
        vcgtq_f32(x, vdupq_n_f32(88.722_83)),
        vdupq_n_f32(f32::INFINITY),
        res,
    )
}

#[target_feature(enable = "neon")]
unsafe fn exp_sub_sum_impl(x: &mut [f32], m: f32) -> f32 {
    let mv = vdupq_n_f32(m);
    let mut acc = vdupq_n_f32(0.0);
    let b = body(x.len());
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= len.
        unsafe {
            let e = exp4(vsubq_f32(ld(x, i), mv));
            acc = vaddq_f32(acc, e);
            st(x, i, e);
        }
    }
    vaddvq_f32(acc) + scalar::exp_sub_sum(&mut x[b..], m)
}

/// The scalar code's steps (`v * scale - max`, exponentials summed, `max +
/// ln(sum)` subtracted from `v * scale`), with the sum of exponentials in
/// four lanes through [`exp4`].
#[target_feature(enable = "neon")]
unsafe fn log_softmax_impl(x: &[f32], scale: f32, out: &mut [f32]) {
    let n = x.len().min(out.len());
    let max = scalar::max(&x[..n]) * scale;
    let (sv, mv) = (vdupq_n_f32(scale), vdupq_n_f32(max));
    let mut acc = vdupq_n_f32(0.0);
    let b = body(n);
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= n.
        let v = unsafe { ld(x, i) };
        acc = vaddq_f32(acc, exp4(vsubq_f32(vmulq_f32(v, sv), mv)));
    }
    let sum = vaddvq_f32(acc)
        + x[b..n]
            .iter()
            .map(|&v| (v * scale - max).exp())
            .sum::<f32>();
    let log_z = max + sum.ln();
    let zv = vdupq_n_f32(log_z);
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= n for both slices.
        unsafe { st(out, i, vsubq_f32(vmulq_f32(ld(x, i), sv), zv)) };
    }
    for (o, &v) in out[b..n].iter_mut().zip(&x[b..n]) {
        *o = v * scale - log_z;
    }
}

/// `erf(x)`: the rational approximation of `ops` (`ERF_P`, `ERF_Q`),
/// exactly ±1 from |x| = `ERF_SATURATES` on.
#[target_feature(enable = "neon")]
#[inline]
fn erf4(x: float32x4_t) -> float32x4_t {
    let sat = vdupq_n_f32(ERF_SATURATES);
    let xc = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-ERF_SATURATES)), sat);
    let x2 = vmulq_f32(xc, xc);
    let mut p = vdupq_n_f32(ERF_P[0]);
    for &c in &ERF_P[1..] {
        p = vfmaq_f32(vdupq_n_f32(c), p, x2);
    }
    let p = vmulq_f32(p, xc);
    let mut q = vdupq_n_f32(ERF_Q[0]);
    for &c in &ERF_Q[1..] {
        q = vfmaq_f32(vdupq_n_f32(c), q, x2);
    }
    let r = vdivq_f32(p, q);
    // ±1 with x's sign: 1.0's bits with the sign bit taken from x.
    let one = vbslq_f32(vdupq_n_u32(0x8000_0000), x, vdupq_n_f32(1.0));
    vbslq_f32(vcgeq_f32(vabsq_f32(x), sat), one, r)
}

/// `0.5 x (1 + erf(x / sqrt 2))` with the scalar code's operation order.
#[target_feature(enable = "neon")]
unsafe fn gelu_erf_impl(x: &mut [f32]) {
    let (half, one) = (vdupq_n_f32(0.5), vdupq_n_f32(1.0));
    let b = body(x.len());
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= len.
        unsafe {
            let v = ld(x, i);
            let e = erf4(vmulq_n_f32(v, std::f32::consts::FRAC_1_SQRT_2));
            st(x, i, vmulq_f32(vmulq_f32(half, v), vaddq_f32(one, e)));
        }
    }
    scalar::gelu_erf(&mut x[b..]);
}

#[target_feature(enable = "neon")]
unsafe fn silu_mul_impl(gate: &mut [f32], up: &[f32]) {
    let n = gate.len().min(up.len());
    let one = vdupq_n_f32(1.0);
    let b = body(n);
    for i in (0..b).step_by(L) {
        // SAFETY: i + L <= b <= n.
        unsafe {
            let g = ld(gate, i);
            let e = exp4(vnegq_f32(g));
            st(
                gate,
                i,
                vmulq_f32(vdivq_f32(g, vaddq_f32(one, e)), ld(up, i)),
            );
        }
    }
    scalar::silu_mul(&mut gate[b..n], &up[b..n]);
}

#[target_feature(enable = "neon")]
unsafe fn rope_impl(x: &mut [f32], head_dim: usize, cos: &[f32], sin: &[f32], style: RopeStyle) {
    let half = head_dim / 2;
    let b = body(half);
    for head in x.chunks_exact_mut(head_dim) {
        match style {
            RopeStyle::Neox => {
                let (a, bh) = head.split_at_mut(half);
                for i in (0..b).step_by(L) {
                    // SAFETY: i + L <= half; cos/sin hold >= half values (checked by ops::rope).
                    unsafe {
                        let (x0, x1, c, s) = (ld(a, i), ld(bh, i), ld(cos, i), ld(sin, i));
                        st(a, i, vfmsq_f32(vmulq_f32(x0, c), x1, s));
                        st(bh, i, vfmaq_f32(vmulq_f32(x1, c), x0, s));
                    }
                }
                for i in b..half {
                    let (x0, x1) = (a[i], bh[i]);
                    a[i] = x0 * cos[i] - x1 * sin[i];
                    bh[i] = x0 * sin[i] + x1 * cos[i];
                }
            }
            RopeStyle::Normal => {
                for i in (0..b).step_by(L) {
                    // SAFETY: pairs i..i+4 are values 2i..2i+8 <= head_dim;
                    // ld2/st2 (de)interleave them into x0s and x1s.
                    unsafe {
                        let p = head.as_mut_ptr().add(2 * i);
                        let v = vld2q_f32(p);
                        let (c, s) = (ld(cos, i), ld(sin, i));
                        let r0 = vfmsq_f32(vmulq_f32(v.0, c), v.1, s);
                        let r1 = vfmaq_f32(vmulq_f32(v.1, c), v.0, s);
                        vst2q_f32(p, float32x4x2_t(r0, r1));
                    }
                }
                for i in b..half {
                    let (x0, x1) = (head[2 * i], head[2 * i + 1]);
                    head[2 * i] = x0 * cos[i] - x1 * sin[i];
                    head[2 * i + 1] = x0 * sin[i] + x1 * cos[i];
                }
            }
        }
    }
}

// --- f16 KV cache: `fcvtl`/`fcvtn` convert four halves per instruction --------
//
// The f16 intrinsics (`vcvt_f32_f16`, float16x4_t) are not stable in Rust,
// so the two conversions are issued with `asm!`; they round as FPCR says,
// which is round-to-nearest-even on Linux and macOS (and under qemu).

pub(crate) fn f32_to_f16_row(_t: Neon, x: &[f32], out: &mut [u16]) {
    // SAFETY: the token proves NEON.
    unsafe { f32_to_f16_row_impl(x, out) }
}

pub(crate) fn f16_to_f32_row(_t: Neon, x: &[u16], out: &mut [f32]) {
    // SAFETY: the token proves NEON.
    unsafe { f16_to_f32_row_impl(x, out) }
}

pub(crate) fn dot_rows_f16(
    _t: Neon,
    q: &[f32],
    rows: &[u16],
    stride: usize,
    scale: f32,
    out: &mut [f32],
) {
    // SAFETY: the token proves NEON.
    unsafe { dot_rows_f16_impl(q, rows, stride, scale, out) }
}

pub(crate) fn weighted_sum_rows_f16(
    _t: Neon,
    weights: &[f32],
    rows: &[u16],
    stride: usize,
    out: &mut [f32],
) {
    // SAFETY: the token proves NEON.
    unsafe { weighted_sum_rows_f16_impl(weights, rows, stride, out) }
}

/// Four halves widened to f32 (`fcvtl`, exact).
#[target_feature(enable = "neon")]
#[inline]
fn widen(h: uint16x4_t) -> float32x4_t {
    let out: float32x4_t;
    // SAFETY: fcvtl only reads and writes the named vector registers; every
    // aarch64 CPU has it (FP is part of the base architecture).
    unsafe {
        std::arch::asm!(
            "fcvtl {o:v}.4s, {h:v}.4h",
            o = lateout(vreg) out,
            h = in(vreg) h,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    out
}

/// Four f32 narrowed to halves (`fcvtn`, round to nearest even).
#[target_feature(enable = "neon")]
#[inline]
fn narrow(x: float32x4_t) -> uint16x4_t {
    let out: uint16x4_t;
    // SAFETY: as in `widen`.
    unsafe {
        std::arch::asm!(
            "fcvtn {o:v}.4h, {x:v}.4s",
            o = lateout(vreg) out,
            x = in(vreg) x,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    out
}

/// Four halves `s[i..i + 4]` as f32 (caller guarantees `i + 4 <= s.len()`).
#[target_feature(enable = "neon")]
#[inline]
unsafe fn ldh(s: &[u16], i: usize) -> float32x4_t {
    debug_assert!(i + L <= s.len());
    // SAFETY: in bounds by the caller's guarantee.
    widen(unsafe { vld1_u16(s.as_ptr().add(i)) })
}

#[target_feature(enable = "neon")]
unsafe fn f32_to_f16_row_impl(x: &[f32], out: &mut [u16]) {
    let n = x.len().min(out.len());
    let b = body(n);
    for i in (0..b).step_by(L) {
        // SAFETY: i + 4 <= b <= n for both slices.
        unsafe { vst1_u16(out.as_mut_ptr().add(i), narrow(ld(x, i))) };
    }
    scalar::f32_to_f16_row(&x[b..n], &mut out[b..n]);
}

#[target_feature(enable = "neon")]
unsafe fn f16_to_f32_row_impl(x: &[u16], out: &mut [f32]) {
    let n = x.len().min(out.len());
    let b = body(n);
    for i in (0..b).step_by(L) {
        // SAFETY: i + 4 <= b <= n for both slices.
        unsafe { st(out, i, ldh(x, i)) };
    }
    scalar::f16_to_f32_row(&x[b..n], &mut out[b..n]);
}

/// `dot_lanes` with the second operand in halves.
#[target_feature(enable = "neon")]
#[inline]
fn dot_lanes_f16(a: &[f32], b: &[u16]) -> (float32x4_t, usize) {
    let n = a.len();
    assert_eq!(n, b.len());
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    while i + 4 * L <= n {
        for (u, acc) in acc.iter_mut().enumerate() {
            // SAFETY: i + 4L <= n == a.len() == b.len().
            *acc = unsafe { vfmaq_f32(*acc, ld(a, i + u * L), ldh(b, i + u * L)) };
        }
        i += 4 * L;
    }
    while i + L <= n {
        // SAFETY: i + L <= n.
        acc[0] = unsafe { vfmaq_f32(acc[0], ld(a, i), ldh(b, i)) };
        i += L;
    }
    let s = vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3]));
    (s, i)
}

/// `dot_rows_impl` over f16 rows.
#[target_feature(enable = "neon")]
unsafe fn dot_rows_f16_impl(q: &[f32], rows: &[u16], stride: usize, scale: f32, out: &mut [f32]) {
    let (d, n) = (q.len(), out.len());
    let mut t = 0;
    while t < n {
        let mut r: [&[u16]; ROWS] = [&[]; ROWS];
        for (j, r) in r.iter_mut().enumerate() {
            let s = (t + j).min(n - 1) * stride;
            *r = &rows[s..s + d];
        }
        let mut lanes = [vdupq_n_f32(0.0); ROWS];
        let mut b = 0;
        for (l, r) in lanes.iter_mut().zip(&r) {
            (*l, b) = dot_lanes_f16(q, r);
        }
        let mut lo = hsum4x4(lanes[0], lanes[1], lanes[2], lanes[3]);
        let mut hi = hsum4x4(lanes[4], lanes[5], lanes[6], lanes[7]);
        if b < d {
            let tails: [f32; ROWS] = std::array::from_fn(|j| scalar::dot_f16(&q[b..], &r[j][b..]));
            // SAFETY: tails has 8 values.
            unsafe {
                lo = vaddq_f32(lo, ld(&tails, 0));
                hi = vaddq_f32(hi, ld(&tails, L));
            }
        }
        let (lo, hi) = (vmulq_n_f32(lo, scale), vmulq_n_f32(hi, scale));
        if t + ROWS <= n {
            // SAFETY: t + 8 <= n == out.len().
            unsafe {
                st(out, t, lo);
                st(out, t + L, hi);
            }
        } else {
            let mut buf = [0.0f32; ROWS];
            // SAFETY: buf has 8 values.
            unsafe {
                st(&mut buf, 0, lo);
                st(&mut buf, L, hi);
            }
            out[t..].copy_from_slice(&buf[..n - t]);
        }
        t += ROWS;
    }
}

/// `weighted_sum_rows_impl` over f16 rows.
#[target_feature(enable = "neon")]
unsafe fn weighted_sum_rows_f16_impl(
    weights: &[f32],
    rows: &[u16],
    stride: usize,
    out: &mut [f32],
) {
    let d = out.len();
    let b = body(d);
    let mut c = 0;
    while c + 16 * L <= b {
        wsum_chunk_f16::<16>(weights, rows, stride, c, &mut out[c..c + 16 * L]);
        c += 16 * L;
    }
    if c + 8 * L <= b {
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
#[target_feature(enable = "neon")]
#[inline]
fn wsum_chunk_f16<const V: usize>(
    weights: &[f32],
    rows: &[u16],
    stride: usize,
    c: usize,
    out: &mut [f32],
) {
    let out = &mut out[..V * L];
    let mut acc = [vdupq_n_f32(0.0); V];
    for (t, &w) in weights.iter().enumerate() {
        let s = t * stride + c;
        let row = &rows[s..s + V * L];
        for (u, a) in acc.iter_mut().enumerate() {
            // SAFETY: u * L + L <= V * L == row.len().
            *a = vfmaq_n_f32(*a, unsafe { ldh(row, u * L) }, w);
        }
    }
    for (u, a) in acc.iter().enumerate() {
        // SAFETY: u * L + L <= V * L == out.len().
        unsafe { st(out, u * L, *a) };
    }
}
