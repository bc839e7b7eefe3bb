//! ggml itself, through ggml-sys 0.1.1, as the reference to check and
//! measure against (feature `ggml-reference`, x86-64 only).
//!
//! ggml-sys predates GGUF: its Q8_0 block stores the scale as f32 (36 bytes),
//! where GGUF stores f16 (34 bytes). [`GgmlBlockQ8_0::from_gguf`] converts
//! (exactly: every f16 is an f32), and comparisons of ggml's quantizer with
//! ours round ggml's f32 scale to f16 the way GGUF-era ggml stores it.
//!
//! ggml's `vec_dot_q8_0_q8_0` asserts an even block count (k % 64 == 0) in
//! builds without NDEBUG; the functions here check that first.

use crate::{f16_to_f32, BlockQ8_0, QK8_0};

/// ggml-sys's Q8_0 block: f32 scale and 32 values (36 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GgmlBlockQ8_0 {
    pub d: f32,
    pub qs: [i8; QK8_0],
}

const _: () = assert!(std::mem::size_of::<GgmlBlockQ8_0>() == 36);

impl GgmlBlockQ8_0 {
    pub const ZERO: GgmlBlockQ8_0 = GgmlBlockQ8_0 {
        d: 0.0,
        qs: [0; QK8_0],
    };

    /// The same block with its f16 scale widened to f32 (exact).
    pub fn from_gguf(b: &BlockQ8_0) -> Self {
        GgmlBlockQ8_0 {
            d: f16_to_f32(u16::from_le_bytes(b.d)),
            qs: b.qs,
        }
    }
}

fn fns() -> ggml_sys::quantize_fns_t {
    // SAFETY: GGML_TYPE_Q8_0 < GGML_TYPE_COUNT; the call reads a static table.
    unsafe { ggml_sys::ggml_internal_get_quantize_fn(ggml_sys::ggml_type_GGML_TYPE_Q8_0 as usize) }
}

/// ggml's `quantize_row_q8_0_reference` (the deterministic file quantizer).
pub fn quantize_row_reference(x: &[f32], out: &mut [GgmlBlockQ8_0]) {
    assert_eq!(x.len(), out.len() * QK8_0, "x.len() must be 32 * out.len()");
    let k = i32::try_from(x.len()).expect("row too long for ggml");
    let f = fns()
        .quantize_row_q_reference
        .expect("ggml has a Q8_0 reference quantizer");
    // SAFETY: x holds k floats and out has room for k / 32 blocks of ggml's
    // 36-byte layout, which GgmlBlockQ8_0 mirrors (size checked at compile time).
    unsafe { f(x.as_ptr(), out.as_mut_ptr().cast(), k) }
}

/// ggml's SIMD `quantize_row_q8_0` (what ggml uses for activations; it
/// rounds half to even, unlike the reference).
pub fn quantize_row(x: &[f32], out: &mut [GgmlBlockQ8_0]) {
    assert_eq!(x.len(), out.len() * QK8_0, "x.len() must be 32 * out.len()");
    let k = i32::try_from(x.len()).expect("row too long for ggml");
    let f = fns().quantize_row_q.expect("ggml has a Q8_0 quantizer");
    // SAFETY: as in quantize_row_reference.
    unsafe { f(x.as_ptr(), out.as_mut_ptr().cast(), k) }
}

/// ggml's `vec_dot_q8_0_q8_0` of two rows of equal, even block count.
pub fn vec_dot(w: &[GgmlBlockQ8_0], x: &[GgmlBlockQ8_0]) -> f32 {
    assert_eq!(w.len(), x.len(), "rows differ in length");
    assert!(
        w.len().is_multiple_of(2),
        "ggml's vec_dot_q8_0_q8_0 needs an even number of blocks"
    );
    let n = i32::try_from(w.len() * QK8_0).expect("row too long for ggml");
    let f = fns().vec_dot_q.expect("ggml has a Q8_0 vec_dot");
    let mut s = 0.0f32;
    // SAFETY: both rows hold n / 32 blocks in ggml's layout; s is one float.
    unsafe { f(n, &mut s, w.as_ptr().cast(), x.as_ptr().cast()) };
    s
}

/// gemv the way a ggml user would write it: `vec_dot` over every row.
pub fn gemv_loop(w: &[GgmlBlockQ8_0], n: usize, x: &[GgmlBlockQ8_0], y: &mut [f32]) {
    let nb = x.len();
    assert_eq!(w.len(), n * nb, "w must hold n rows of x.len() blocks");
    for (yj, row) in y[..n].iter_mut().zip(w.chunks_exact(nb)) {
        *yj = vec_dot(row, x);
    }
}
