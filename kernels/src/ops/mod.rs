//! f32 operations on a transformer layer's hot path. Each dispatches to a
//! SIMD version where one pays (`ops/avx2.rs`, `ops/neon.rs`) and has a
//! scalar reference in `ops/scalar.rs`.
//!
//! Length mismatches are programming errors and panic.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;
mod scalar;

use crate::{selected_isa, Isa};

/// How RoPE pairs the values of a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeStyle {
    /// Pairs (2i, 2i+1): llama.cpp's LLAMA_ROPE_TYPE_NORM (Llama, SmolLM2 GGUF).
    Normal,
    /// Pairs (i, i + head_dim/2): GPT-NeoX / HF "rotate_half" layout.
    Neox,
}

/// Error budget of the SIMD f32 operations against f64 math, relative to
/// the magnitude of the result (sums are compared relative to the sum of
/// absolute terms). SIMD `exp` is a polynomial good to a few ulp.
pub const OPS_REL_TOL: f32 = 1e-5;

// The SIMD paths' erf (`gelu_erf`): Eigen's and XLA's f32 rational
// approximation `x P(x^2) / Q(x^2)`, coefficients from Eigen, checked
// against Python's math.erf (see GELU_ERF_TOL).

/// Beyond this |x|, f32 erf(x) is within 6e-8 of ±1 (erf's inverse at 1
/// minus half an ulp), and the SIMD erf returns ±1 exactly.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) const ERF_SATURATES: f32 = 3.832_507;

/// The odd numerator of the SIMD erf, in x^2, highest power first.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
// The last is Eigen's fitted value, one f32 ulp below 2 / sqrt(pi).
#[allow(clippy::approx_constant)]
pub(crate) const ERF_P: [f32; 5] = [
    2.290_506_5e-4,
    3.408_291e-3,
    5.095_569_4e-2,
    0.185_208_32,
    1.128_379_1,
];
/// The even denominator of the SIMD erf, in x^2, highest power first.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) const ERF_Q: [f32; 7] = [
    -1.179_160_3e-7,
    2.354_796_6e-5,
    1.017_962_6e-3,
    1.407_047e-2,
    0.110_985_05,
    0.497_469_25,
    1.0,
];

fn isa() -> Isa {
    selected_isa()
}

/// `out = x / sqrt(mean(x^2) + eps) * weight`.
pub fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    rms_norm_with(isa(), x, weight, eps, out)
}

/// [`rms_norm`] of each row of `x` (rows of `weight.len()` values) into the
/// same row of `out`, bit for bit as row by row but faster over several rows.
pub fn rms_norm_rows(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    rms_norm_rows_with(isa(), x, weight, eps, out)
}

/// `out = (x - mean) / sqrt(var + eps) * weight + bias` (population variance).
pub fn layer_norm(x: &[f32], weight: &[f32], bias: &[f32], eps: f32, out: &mut [f32]) {
    layer_norm_with(isa(), x, weight, bias, eps, out)
}

/// In-place softmax (max-subtracted, so large logits do not overflow).
pub fn softmax(x: &mut [f32]) {
    softmax_with(isa(), x)
}

/// `out[i] = x[i] * scale - log(sum_j exp(x[j] * scale))`: log-probabilities
/// from logits at temperature `1 / scale` (`scale > 0`), computed stably (the
/// largest term is factored out). `-inf` logits get `-inf`.
pub fn log_softmax(x: &[f32], scale: f32, out: &mut [f32]) {
    log_softmax_with(isa(), x, scale, out)
}

/// The exact GELU in place, `x[i] = 0.5 x (1 + erf(x / sqrt 2))` (HF's
/// "gelu", not the tanh approximation). The scalar path calls libm's `erff`;
/// the SIMD paths use a rational approximation of erf, within
/// [`GELU_ERF_TOL`] of it.
pub fn gelu_erf(x: &mut [f32]) {
    gelu_erf_with(isa(), x)
}

/// Error budget of [`gelu_erf`] against the exact GELU, relative to
/// `max(1, |result|)`. The SIMD paths' erf is Eigen's and XLA's f32 rational
/// approximation `x P(x^2) / Q(x^2)`, which is within 6e-8 of erf in exact
/// arithmetic and within 3.1e-7 once evaluated in f32 (worst near |x| = 3.8,
/// checked against Python's math.erf on a grid of 1.2M points); times
/// `x / 2` for |x| up to 5.4, where erf becomes 1, that is 8.4e-7.
pub const GELU_ERF_TOL: f32 = 1e-6;

/// Rotates every head of `x` (`n_heads * head_dim` values) in place; `cos`
/// and `sin` hold `head_dim / 2` angles' values for this position.
pub fn rope(x: &mut [f32], head_dim: usize, cos: &[f32], sin: &[f32], style: RopeStyle) {
    rope_with(isa(), x, head_dim, cos, sin, style)
}

/// `gate[i] = silu(gate[i]) * up[i]` with `silu(g) = g / (1 + exp(-g))`.
pub fn silu_mul(gate: &mut [f32], up: &[f32]) {
    silu_mul_with(isa(), gate, up)
}

/// `a[i] += b[i]`.
pub fn add(a: &mut [f32], b: &[f32]) {
    add_with(isa(), a, b)
}

/// `x[i] *= s`.
pub fn scale(x: &mut [f32], s: f32) {
    scale_with(isa(), x, s)
}

/// `sum_i a[i] * b[i]`.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    dot_with(isa(), a, b)
}

/// `y[i] += a * x[i]`.
pub fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    axpy_with(isa(), y, a, x)
}

/// `out[t] = scale * dot(q, rows[t * stride..t * stride + q.len()])` for
/// `t < out.len()`: attention scores of one query against cached keys.
/// Equal, bit for bit, to `dot(q, row) * scale` per row on the same path.
pub fn dot_rows(q: &[f32], rows: &[f32], stride: usize, scale: f32, out: &mut [f32]) {
    dot_rows_with(isa(), q, rows, stride, scale, out)
}

/// [`weighted_sum_rows`] for several rows of weights at once: row `r` has
/// `lens[r]` weights from `weights[r * w_stride]` and its `d` sums go to
/// `out[r * d..(r + 1) * d]`. Where the wider vectors pay (AVX-512, `d` a
/// multiple of 16) each value row is loaded once for four weight rows;
/// elsewhere the rows go one by one. Same bits as `weighted_sum_rows` row
/// by row on the same path.
pub fn weighted_sum_rows_multi(
    weights: &[f32],
    w_stride: usize,
    lens: &[usize],
    rows: &[f32],
    stride: usize,
    d: usize,
    out: &mut [f32],
) {
    weighted_sum_rows_multi_with(isa(), weights, w_stride, lens, rows, stride, d, out)
}

/// `out[i] = sum_t weights[t] * rows[t * stride + i]` for `i < out.len()`
/// (`out` is overwritten): attention output from probabilities and cached values.
/// Equal, bit for bit, to zeroing `out` and calling `axpy` per row on the same path.
pub fn weighted_sum_rows(weights: &[f32], rows: &[f32], stride: usize, out: &mut [f32]) {
    weighted_sum_rows_with(isa(), weights, rows, stride, out)
}

/// `y[j] = sum_i w[j * k + i] * x[i]` for `j < n` (f32 weights).
pub fn matvec_f32(w: &[f32], n: usize, k: usize, x: &[f32], y: &mut [f32]) {
    matvec_f32_with(isa(), w, n, k, x, y)
}

/// `out[i]` = `x[i]` as IEEE half bits, rounded to nearest even (as ggml's
/// `ggml_fp32_to_fp16` and F16C's `vcvtps2ph` round): how the f16 KV cache
/// stores keys and values. Values beyond the half range become infinities;
/// NaNs stay NaNs.
pub fn f32_to_f16_row(x: &[f32], out: &mut [u16]) {
    f32_to_f16_row_with(isa(), x, out)
}

/// `out[i]` = the half `x[i]` as f32 (exact).
pub fn f16_to_f32_row(x: &[u16], out: &mut [f32]) {
    f16_to_f32_row_with(isa(), x, out)
}

/// [`dot_rows`] over rows of halves: `out[t] = scale * sum_i q[i] *
/// f32(rows[t * stride + i])` (attention scores against an f16 key cache).
pub fn dot_rows_f16(q: &[f32], rows: &[u16], stride: usize, scale: f32, out: &mut [f32]) {
    dot_rows_f16_with(isa(), q, rows, stride, scale, out)
}

/// [`weighted_sum_rows`] over rows of halves: `out[i] = sum_t weights[t] *
/// f32(rows[t * stride + i])` (attention output from an f16 value cache).
pub fn weighted_sum_rows_f16(weights: &[f32], rows: &[u16], stride: usize, out: &mut [f32]) {
    weighted_sum_rows_f16_with(isa(), weights, rows, stride, out)
}

// The `_with` versions pick a path explicitly (tests and benches); they
// panic if the CPU cannot run it. Paths without a SIMD version of an
// operation use the scalar one.

/// Calls `$simd::$op(token, args)` when `isa` has a SIMD version of the f32
/// operations on this architecture, else `scalar::$op(args)`.
macro_rules! dispatch {
    ($isa:expr, $op:ident($($arg:expr),*)) => {{
        #[cfg(target_arch = "x86_64")]
        if let Some(t) = x86_token($isa) {
            return avx2::$op(t, $($arg),*);
        }
        #[cfg(target_arch = "aarch64")]
        if let Some(t) = arm_token($isa) {
            return neon::$op(t, $($arg),*);
        }
        scalar::$op($($arg),*)
    }};
}

/// The AVX2 token for the x86 SIMD paths (the AVX-512 and AMX paths imply AVX2).
#[cfg(target_arch = "x86_64")]
fn x86_token(isa: Isa) -> Option<crate::x86::avx2::Avx2> {
    match isa {
        Isa::Avx2 | Isa::Avx512Vnni | Isa::Amx => Some(
            crate::x86::avx2::Avx2::new()
                .unwrap_or_else(|| panic!("the {isa} path is not available on this CPU")),
        ),
        _ => None,
    }
}

/// The NEON token for the aarch64 paths.
#[cfg(target_arch = "aarch64")]
fn arm_token(isa: Isa) -> Option<crate::arm::neon::Neon> {
    match isa {
        Isa::Neon | Isa::NeonDotprod => Some(
            crate::arm::neon::Neon::new()
                .unwrap_or_else(|| panic!("the {isa} path is not available on this CPU")),
        ),
        _ => None,
    }
}

pub fn rms_norm_with(isa: Isa, x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    assert!(
        x.len() == weight.len() && x.len() == out.len(),
        "rms_norm: length mismatch"
    );
    let s = scalar::rms_scale(x, eps);
    dispatch!(isa, scale_mul(x, s, weight, out))
}

pub fn rms_norm_rows_with(isa: Isa, x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let width = weight.len();
    assert!(
        width > 0 && x.len().is_multiple_of(width) && x.len() == out.len(),
        "rms_norm_rows: x and out must be whole rows of weight.len() values"
    );
    for (xs, outs) in x
        .chunks(scalar::RMS_ROWS * width)
        .zip(out.chunks_mut(scalar::RMS_ROWS * width))
    {
        // Each row's scale as `scalar::rms_scale` computes it; whole groups
        // of eight rows sum side by side.
        let mut scales = [0.0; scalar::RMS_ROWS];
        if xs.len() == scalar::RMS_ROWS * width {
            for (s, sum) in scales.iter_mut().zip(square_sums_8_with(isa, xs, width)) {
                *s = scalar::scale_of_sum(sum, width, eps);
            }
        } else {
            for (s, row) in scales.iter_mut().zip(xs.chunks_exact(width)) {
                *s = scalar::rms_scale(row, eps);
            }
        }
        for ((row, o), &s) in xs
            .chunks_exact(width)
            .zip(outs.chunks_exact_mut(width))
            .zip(&scales)
        {
            scale_mul_with(isa, row, s, weight, o);
        }
    }
}

fn square_sums_8_with(isa: Isa, xs: &[f32], width: usize) -> [f64; scalar::RMS_ROWS] {
    #[cfg(target_arch = "x86_64")]
    if let Some(t) = x86_token(isa) {
        return avx2::square_sums_8(t, xs, width);
    }
    let _ = isa;
    scalar::square_sums_8(xs, width)
}

fn scale_mul_with(isa: Isa, x: &[f32], s: f32, weight: &[f32], out: &mut [f32]) {
    dispatch!(isa, scale_mul(x, s, weight, out))
}

pub fn layer_norm_with(
    isa: Isa,
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    eps: f32,
    out: &mut [f32],
) {
    assert!(
        x.len() == weight.len() && x.len() == bias.len() && x.len() == out.len(),
        "layer_norm: length mismatch"
    );
    dispatch!(isa, layer_norm(x, weight, bias, eps, out))
}

pub fn softmax_with(isa: Isa, x: &mut [f32]) {
    if x.is_empty() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(t) = avx512_token(isa) {
        return avx512::softmax(t, x);
    }
    dispatch!(isa, softmax(x))
}

pub fn log_softmax_with(isa: Isa, x: &[f32], scale: f32, out: &mut [f32]) {
    assert_eq!(x.len(), out.len(), "log_softmax: length mismatch");
    assert!(scale > 0.0, "log_softmax: scale {scale} is not positive");
    if x.is_empty() {
        return;
    }
    dispatch!(isa, log_softmax(x, scale, out))
}

pub fn gelu_erf_with(isa: Isa, x: &mut [f32]) {
    dispatch!(isa, gelu_erf(x))
}

pub fn rope_with(
    isa: Isa,
    x: &mut [f32],
    head_dim: usize,
    cos: &[f32],
    sin: &[f32],
    style: RopeStyle,
) {
    assert!(
        head_dim.is_multiple_of(2) && head_dim > 0 && x.len().is_multiple_of(head_dim),
        "rope: bad head_dim {head_dim}"
    );
    assert!(
        cos.len() >= head_dim / 2 && sin.len() >= head_dim / 2,
        "rope: cos/sin need head_dim/2 values"
    );
    dispatch!(isa, rope(x, head_dim, cos, sin, style))
}

pub fn silu_mul_with(isa: Isa, gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "silu_mul: length mismatch");
    #[cfg(target_arch = "x86_64")]
    if let Some(t) = avx512_token(isa) {
        return avx512::silu_mul(t, gate, up);
    }
    dispatch!(isa, silu_mul(gate, up))
}

/// The AVX-512 token for the operations with a 512-bit version.
#[cfg(target_arch = "x86_64")]
fn avx512_token(isa: Isa) -> Option<crate::x86::avx512vnni::Avx512Vnni> {
    matches!(isa, Isa::Avx512Vnni | Isa::Amx).then(|| {
        crate::x86::avx512vnni::Avx512Vnni::new()
            .unwrap_or_else(|| panic!("the {isa} path is not available on this CPU"))
    })
}

pub fn add_with(isa: Isa, a: &mut [f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "add: length mismatch");
    dispatch!(isa, add(a, b))
}

pub fn scale_with(isa: Isa, x: &mut [f32], s: f32) {
    dispatch!(isa, scale(x, s))
}

pub fn dot_with(isa: Isa, a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot: length mismatch");
    dispatch!(isa, dot(a, b))
}

pub fn axpy_with(isa: Isa, y: &mut [f32], a: f32, x: &[f32]) {
    assert_eq!(y.len(), x.len(), "axpy: length mismatch");
    dispatch!(isa, axpy(y, a, x))
}

/// Checks that `n` rows of `width` values at `stride` fit in `len` values.
fn check_rows(what: &str, len: usize, n: usize, width: usize, stride: usize) {
    assert!(
        stride >= width,
        "{what}: stride {stride} < row width {width}"
    );
    if n > 0 {
        let need = (n - 1)
            .checked_mul(stride)
            .and_then(|v| v.checked_add(width));
        assert!(
            need.is_some_and(|need| need <= len),
            "{what}: {n} rows of {width} at stride {stride} need more than {len} values"
        );
    }
}

pub fn dot_rows_with(
    isa: Isa,
    q: &[f32],
    rows: &[f32],
    stride: usize,
    scale: f32,
    out: &mut [f32],
) {
    check_rows("dot_rows", rows.len(), out.len(), q.len(), stride);
    if out.is_empty() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(t) = avx512_token(isa).filter(|_| q.len() == 64) {
        return avx512::dot_rows_64(t, q, rows, stride, scale, out);
    }
    dispatch!(isa, dot_rows(q, rows, stride, scale, out))
}

#[allow(clippy::too_many_arguments)]
pub fn weighted_sum_rows_multi_with(
    isa: Isa,
    weights: &[f32],
    w_stride: usize,
    lens: &[usize],
    rows: &[f32],
    stride: usize,
    d: usize,
    out: &mut [f32],
) {
    let k = lens.len();
    assert_eq!(
        out.len(),
        k * d,
        "weighted_sum_rows_multi: out must hold lens.len() * d sums"
    );
    for (r, &n) in lens.iter().enumerate() {
        assert!(
            n <= w_stride || r + 1 == k,
            "weighted_sum_rows_multi: row {r} has {n} weights, more than the stride {w_stride}"
        );
        assert!(
            weights.len() >= r * w_stride + n,
            "weighted_sum_rows_multi: weights end before row {r}'s {n}"
        );
        check_rows("weighted_sum_rows_multi", rows.len(), n, d, stride);
    }
    // Only x86-64 builds take rows four at a time.
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
    let mut r = 0;
    #[cfg(target_arch = "x86_64")]
    if let Some(t) = avx512_token(isa).filter(|_| d.is_multiple_of(16)) {
        while r + 4 <= k {
            let l = [lens[r], lens[r + 1], lens[r + 2], lens[r + 3]];
            avx512::weighted_sum_rows_4(
                t,
                &weights[r * w_stride..],
                w_stride,
                l,
                rows,
                stride,
                &mut out[r * d..(r + 4) * d],
            );
            r += 4;
        }
    }
    for r in r..k {
        let w = &weights[r * w_stride..r * w_stride + lens[r]];
        weighted_sum_rows_with(isa, w, rows, stride, &mut out[r * d..(r + 1) * d]);
    }
}

pub fn weighted_sum_rows_with(
    isa: Isa,
    weights: &[f32],
    rows: &[f32],
    stride: usize,
    out: &mut [f32],
) {
    check_rows(
        "weighted_sum_rows",
        rows.len(),
        weights.len(),
        out.len(),
        stride,
    );
    dispatch!(isa, weighted_sum_rows(weights, rows, stride, out))
}

pub fn matvec_f32_with(isa: Isa, w: &[f32], n: usize, k: usize, x: &[f32], y: &mut [f32]) {
    assert!(
        w.len() == n * k && x.len() == k && y.len() == n,
        "matvec_f32: shape mismatch"
    );
    dispatch!(isa, matvec_f32(w, k, x, y))
}

pub fn f32_to_f16_row_with(isa: Isa, x: &[f32], out: &mut [u16]) {
    assert_eq!(x.len(), out.len(), "f32_to_f16_row: length mismatch");
    dispatch!(isa, f32_to_f16_row(x, out))
}

pub fn f16_to_f32_row_with(isa: Isa, x: &[u16], out: &mut [f32]) {
    assert_eq!(x.len(), out.len(), "f16_to_f32_row: length mismatch");
    dispatch!(isa, f16_to_f32_row(x, out))
}

pub fn dot_rows_f16_with(
    isa: Isa,
    q: &[f32],
    rows: &[u16],
    stride: usize,
    scale: f32,
    out: &mut [f32],
) {
    check_rows("dot_rows_f16", rows.len(), out.len(), q.len(), stride);
    if out.is_empty() {
        return;
    }
    dispatch!(isa, dot_rows_f16(q, rows, stride, scale, out))
}

pub fn weighted_sum_rows_f16_with(
    isa: Isa,
    weights: &[f32],
    rows: &[u16],
    stride: usize,
    out: &mut [f32],
) {
    check_rows(
        "weighted_sum_rows_f16",
        rows.len(),
        weights.len(),
        out.len(),
        stride,
    );
    dispatch!(isa, weighted_sum_rows_f16(weights, rows, stride, out))
}
