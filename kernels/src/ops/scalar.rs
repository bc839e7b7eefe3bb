//! Scalar f32 operations: the specification the SIMD versions are tested
//! against (and the fallback on every CPU).

use super::RopeStyle;

pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub(crate) fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

pub(crate) fn dot_rows(q: &[f32], rows: &[f32], stride: usize, scale: f32, out: &mut [f32]) {
    let d = q.len();
    for (t, o) in out.iter_mut().enumerate() {
        *o = scale * dot(q, &rows[t * stride..t * stride + d]);
    }
}

pub(crate) fn weighted_sum_rows(weights: &[f32], rows: &[f32], stride: usize, out: &mut [f32]) {
    let d = out.len();
    out.fill(0.0);
    for (t, &w) in weights.iter().enumerate() {
        axpy(out, w, &rows[t * stride..t * stride + d]);
    }
}

pub(crate) fn add(a: &mut [f32], b: &[f32]) {
    for (ai, bi) in a.iter_mut().zip(b) {
        *ai += bi;
    }
}

pub(crate) fn scale(x: &mut [f32], s: f32) {
    for v in x {
        *v *= s;
    }
}

/// `out[i] = x[i] * s * w[i]`
pub(crate) fn scale_mul(x: &[f32], s: f32, w: &[f32], out: &mut [f32]) {
    for ((o, xi), wi) in out.iter_mut().zip(x).zip(w) {
        *o = xi * s * wi;
    }
}

/// `1 / sqrt(mean(x^2) + eps)` computed as ggml does (f32 squares summed in
/// f64, in order), so the norm's scale rounds as llama.cpp's does.
pub(crate) fn rms_scale(x: &[f32], eps: f32) -> f32 {
    let sum: f64 = x.iter().map(|v| f64::from(v * v)).sum();
    scale_of_sum(sum, x.len(), eps)
}

pub(crate) fn scale_of_sum(sum: f64, n: usize, eps: f32) -> f32 {
    let mean = (sum / n as f64) as f32;
    1.0 / (mean + eps).sqrt()
}

/// Rows whose sums of squares are taken side by side ([`square_sums_8`]).
pub(crate) const RMS_ROWS: usize = 8;

/// The in-order f64 sums of squares of eight rows of `width` (`xs` holds
/// exactly those rows), as [`rms_scale`] takes them. One row's sum is a
/// chain of dependent adds (about 2 cycles a value); eight rows summed side
/// by side overlap their chains.
pub(crate) fn square_sums_8(xs: &[f32], width: usize) -> [f64; RMS_ROWS] {
    let mut rows = xs.chunks_exact(width);
    // Each exactly `width` long, so the loop below has no bounds checks.
    let rows: [&[f32]; RMS_ROWS] = std::array::from_fn(|_| &rows.next().unwrap_or(&[])[..width]);
    let mut acc = [0.0f64; RMS_ROWS];
    for i in 0..width {
        for (a, row) in acc.iter_mut().zip(&rows) {
            let v = row[i];
            *a += f64::from(v * v);
        }
    }
    acc
}

pub(crate) fn layer_norm(x: &[f32], weight: &[f32], bias: &[f32], eps: f32, out: &mut [f32]) {
    let n = x.len() as f32;
    let mean = x.iter().sum::<f32>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let inv = 1.0 / (var + eps).sqrt();
    for (((o, xi), wi), bi) in out.iter_mut().zip(x).zip(weight).zip(bias) {
        *o = (xi - mean) * inv * wi + bi;
    }
}

pub(crate) fn max(x: &[f32]) -> f32 {
    x.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

/// `x[i] = exp(x[i] - m)`, returns the sum.
pub(crate) fn exp_sub_sum(x: &mut [f32], m: f32) -> f32 {
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (*v - m).exp();
        sum += *v;
    }
    sum
}

pub(crate) fn softmax(x: &mut [f32]) {
    let m = max(x);
    let sum = exp_sub_sum(x, m);
    scale(x, 1.0 / sum);
}

pub(crate) fn log_softmax(x: &[f32], scale: f32, out: &mut [f32]) {
    let max = max(x) * scale;
    let sum: f32 = x.iter().map(|&v| (v * scale - max).exp()).sum();
    let log_z = max + sum.ln();
    for (o, &v) in out.iter_mut().zip(x) {
        *o = v * scale - log_z;
    }
}

pub(crate) fn gelu_erf(x: &mut [f32]) {
    for v in x {
        *v = 0.5 * *v * (1.0 + libm::erff(*v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

pub(crate) fn silu_mul(gate: &mut [f32], up: &[f32]) {
    for (g, u) in gate.iter_mut().zip(up) {
        *g = *g / (1.0 + (-*g).exp()) * u;
    }
}

pub(crate) fn rope(x: &mut [f32], head_dim: usize, cos: &[f32], sin: &[f32], style: RopeStyle) {
    let half = head_dim / 2;
    for head in x.chunks_exact_mut(head_dim) {
        for i in 0..half {
            let (a, b) = match style {
                RopeStyle::Normal => (2 * i, 2 * i + 1),
                RopeStyle::Neox => (i, i + half),
            };
            let (x0, x1) = (head[a], head[b]);
            head[a] = x0 * cos[i] - x1 * sin[i];
            head[b] = x0 * sin[i] + x1 * cos[i];
        }
    }
}

pub(crate) fn matvec_f32(w: &[f32], k: usize, x: &[f32], y: &mut [f32]) {
    for (yj, row) in y.iter_mut().zip(w.chunks_exact(k)) {
        *yj = dot(row, x);
    }
}

// --- f16 KV cache: keys and values stored as IEEE half bits ---------------

pub(crate) fn f32_to_f16_row(x: &[f32], out: &mut [u16]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = crate::block::f32_to_f16(v);
    }
}

pub(crate) fn f16_to_f32_row(x: &[u16], out: &mut [f32]) {
    for (o, &h) in out.iter_mut().zip(x) {
        *o = crate::block::f16_to_f32(h);
    }
}

/// `sum_i a[i] * f32(b[i])`, in order.
pub(crate) fn dot_f16(a: &[f32], b: &[u16]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(&x, &h)| x * crate::block::f16_to_f32(h))
        .sum()
}

/// `y[i] += a * f32(x[i])`.
pub(crate) fn axpy_f16(y: &mut [f32], a: f32, x: &[u16]) {
    for (yi, &h) in y.iter_mut().zip(x) {
        *yi += a * crate::block::f16_to_f32(h);
    }
}

pub(crate) fn dot_rows_f16(q: &[f32], rows: &[u16], stride: usize, scale: f32, out: &mut [f32]) {
    let d = q.len();
    for (t, o) in out.iter_mut().enumerate() {
        *o = scale * dot_f16(q, &rows[t * stride..t * stride + d]);
    }
}

pub(crate) fn weighted_sum_rows_f16(weights: &[f32], rows: &[u16], stride: usize, out: &mut [f32]) {
    let d = out.len();
    out.fill(0.0);
    for (t, &w) in weights.iter().enumerate() {
        axpy_f16(out, w, &rows[t * stride..t * stride + d]);
    }
}
