//! f32 operations on a transformer layer's hot path. Each dispatches to a
//! SIMD version where one pays (`ops/avx2.rs`, `ops/neon.rs`) and has a
//! scalar reference in `ops/scalar.rs`.
//!
//! Length mismatches are programming errors and panic.

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

fn isa() -> Isa {
    selected_isa()
}

/// `out = x / sqrt(mean(x^2) + eps) * weight`.
pub fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    assert!(x.len() == weight.len() && x.len() == out.len(), "rms_norm: length mismatch");
    rms_norm_with(isa(), x, weight, eps, out)
}

/// `out = (x - mean) / sqrt(var + eps) * weight + bias` (population variance).
pub fn layer_norm(x: &[f32], weight: &[f32], bias: &[f32], eps: f32, out: &mut [f32]) {
    assert!(
        x.len() == weight.len() && x.len() == bias.len() && x.len() == out.len(),
        "layer_norm: length mismatch"
    );
    layer_norm_with(isa(), x, weight, bias, eps, out)
}

/// In-place softmax (max-subtracted, so large logits do not overflow).
pub fn softmax(x: &mut [f32]) {
    softmax_with(isa(), x)
}

/// Rotates every head of `x` (`n_heads * head_dim` values) in place; `cos`
/// and `sin` hold `head_dim / 2` angles' values for this position.
pub fn rope(x: &mut [f32], head_dim: usize, cos: &[f32], sin: &[f32], style: RopeStyle) {
    assert!(head_dim % 2 == 0 && head_dim > 0 && x.len() % head_dim == 0, "rope: bad head_dim {head_dim}");
    assert!(cos.len() >= head_dim / 2 && sin.len() >= head_dim / 2, "rope: cos/sin need head_dim/2 values");
    rope_with(isa(), x, head_dim, cos, sin, style)
}

/// `gate[i] = silu(gate[i]) * up[i]` with `silu(g) = g / (1 + exp(-g))`.
pub fn silu_mul(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "silu_mul: length mismatch");
    silu_mul_with(isa(), gate, up)
}

/// `a[i] += b[i]`.
pub fn add(a: &mut [f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "add: length mismatch");
    add_with(isa(), a, b)
}

/// `x[i] *= s`.
pub fn scale(x: &mut [f32], s: f32) {
    scale_with(isa(), x, s)
}

/// `sum_i a[i] * b[i]`.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot: length mismatch");
    dot_with(isa(), a, b)
}

/// `y[i] += a * x[i]`.
pub fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    assert_eq!(y.len(), x.len(), "axpy: length mismatch");
    axpy_with(isa(), y, a, x)
}

/// `y[j] = sum_i w[j * k + i] * x[i]` for `j < n` (f32 weights).
pub fn matvec_f32(w: &[f32], n: usize, k: usize, x: &[f32], y: &mut [f32]) {
    assert!(w.len() == n * k && x.len() == k && y.len() == n, "matvec_f32: shape mismatch");
    matvec_f32_with(isa(), w, n, k, x, y)
}

// The `_with` versions pick a path explicitly (tests and benches). Paths
// without a SIMD version of an operation use the scalar one.

pub fn rms_norm_with(isa: Isa, x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let _ = isa;
    scalar::rms_norm(x, weight, eps, out)
}

pub fn layer_norm_with(isa: Isa, x: &[f32], weight: &[f32], bias: &[f32], eps: f32, out: &mut [f32]) {
    let _ = isa;
    scalar::layer_norm(x, weight, bias, eps, out)
}

pub fn softmax_with(isa: Isa, x: &mut [f32]) {
    let _ = isa;
    scalar::softmax(x)
}

pub fn rope_with(isa: Isa, x: &mut [f32], head_dim: usize, cos: &[f32], sin: &[f32], style: RopeStyle) {
    let _ = isa;
    scalar::rope(x, head_dim, cos, sin, style)
}

pub fn silu_mul_with(isa: Isa, gate: &mut [f32], up: &[f32]) {
    let _ = isa;
    scalar::silu_mul(gate, up)
}

pub fn add_with(isa: Isa, a: &mut [f32], b: &[f32]) {
    let _ = isa;
    scalar::add(a, b)
}

pub fn scale_with(isa: Isa, x: &mut [f32], s: f32) {
    let _ = isa;
    scalar::scale(x, s)
}

pub fn dot_with(isa: Isa, a: &[f32], b: &[f32]) -> f32 {
    let _ = isa;
    scalar::dot(a, b)
}

pub fn axpy_with(isa: Isa, y: &mut [f32], a: f32, x: &[f32]) {
    let _ = isa;
    scalar::axpy(y, a, x)
}

pub fn matvec_f32_with(isa: Isa, w: &[f32], n: usize, k: usize, x: &[f32], y: &mut [f32]) {
    assert!(w.len() == n * k && x.len() == k && y.len() == n, "matvec_f32: shape mismatch");
    let _ = isa;
    scalar::matvec_f32(w, k, x, y)
}
