//! The llama KV cache: keys or values of every layer and position, stored as
//! f16 (the default, as llama.cpp stores them: half the memory and half the
//! bytes attention reads per token) or f32.

/// Element type of the KV cache (`--kv`).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    schemars::JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum KvType {
    /// IEEE half, rounded to nearest even as llama.cpp rounds (the default)
    #[default]
    F16,
    /// f32: twice the memory, no rounding of keys and values
    F32,
}

impl KvType {
    /// Bytes per cached value.
    pub fn bytes(self) -> usize {
        match self {
            KvType::F16 => 2,
            KvType::F32 => 4,
        }
    }
}

/// `[n_layers, n_ctx, kv_dim]` values in one element type.
pub(crate) enum KvStore {
    F16(Vec<u16>),
    F32(Vec<f32>),
}

/// A read-only window of a [`KvStore`], from some offset to its end.
#[derive(Clone, Copy)]
pub(crate) enum KvRows<'a> {
    F16(&'a [u16]),
    F32(&'a [f32]),
}

impl KvStore {
    pub fn new(kind: KvType, len: usize) -> Self {
        match kind {
            KvType::F16 => KvStore::F16(vec![0; len]),
            KvType::F32 => KvStore::F32(vec![0.0; len]),
        }
    }

    /// Stores `x` at `at..at + x.len()`, rounded to the element type.
    pub fn write(&mut self, at: usize, x: &[f32]) {
        match self {
            KvStore::F16(v) => knob_kernels::ops::f32_to_f16_row(x, &mut v[at..at + x.len()]),
            KvStore::F32(v) => v[at..at + x.len()].copy_from_slice(x),
        }
    }

    /// The values from `at` on.
    pub fn from(&self, at: usize) -> KvRows<'_> {
        match self {
            KvStore::F16(v) => KvRows::F16(&v[at..]),
            KvStore::F32(v) => KvRows::F32(&v[at..]),
        }
    }

    pub fn bytes(&self) -> usize {
        match self {
            KvStore::F16(v) => 2 * v.len(),
            KvStore::F32(v) => 4 * v.len(),
        }
    }
}

impl<'a> KvRows<'a> {
    /// The values from `at` on.
    pub fn from(self, at: usize) -> KvRows<'a> {
        match self {
            KvRows::F16(v) => KvRows::F16(&v[at..]),
            KvRows::F32(v) => KvRows::F32(&v[at..]),
        }
    }

    /// The first `width` values of each of the first `rows` rows (`stride`
    /// apart), as f32 side by side in `out` (exact: halves widen without
    /// rounding). Prefill attention reads each key and value once per query
    /// row; widening them once first keeps the conversions out of that loop.
    pub fn widen_rows(self, rows: usize, stride: usize, width: usize, out: &mut [f32]) {
        for (t, o) in out[..rows * width].chunks_exact_mut(width).enumerate() {
            let at = t * stride;
            match self {
                KvRows::F16(r) => knob_kernels::ops::f16_to_f32_row(&r[at..at + width], o),
                KvRows::F32(r) => o.copy_from_slice(&r[at..at + width]),
            }
        }
    }

    /// `out[t] = scale * q · row t` for `t < out.len()`.
    pub fn dot_rows(self, q: &[f32], stride: usize, scale: f32, out: &mut [f32]) {
        match self {
            KvRows::F16(r) => knob_kernels::ops::dot_rows_f16(q, r, stride, scale, out),
            KvRows::F32(r) => knob_kernels::ops::dot_rows(q, r, stride, scale, out),
        }
    }

    /// `out = sum_t weights[t] * row t`.
    pub fn weighted_sum_rows(self, weights: &[f32], stride: usize, out: &mut [f32]) {
        match self {
            KvRows::F16(r) => knob_kernels::ops::weighted_sum_rows_f16(weights, r, stride, out),
            KvRows::F32(r) => knob_kernels::ops::weighted_sum_rows(weights, r, stride, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widened_rows_keep_every_value() {
        let (rows, stride, width) = (20, 11, 6);
        let src: Vec<f32> = (0..rows * stride).map(|i| i as f32 * 0.25 - 7.0).collect();
        for kind in [KvType::F16, KvType::F32] {
            let mut store = KvStore::new(kind, src.len() + 3);
            store.write(3, &src);
            let at = store.from(3 + 2); // from value 2 of each row
            let mut flat = vec![f32::NAN; rows * width];
            at.widen_rows(rows, stride, width, &mut flat);
            for t in 0..rows {
                for i in 0..width {
                    // Quarter steps below 64 are exact in f16.
                    let want = src[t * stride + 2 + i];
                    assert_eq!(flat[t * width + i], want, "{kind:?} row {t} value {i}");
                }
            }
        }
    }

    #[test]
    fn f16_store_rounds_and_halves_the_bytes() {
        let mut h = KvStore::new(KvType::F16, 8);
        let mut f = KvStore::new(KvType::F32, 8);
        // 1 + 2^-11 is a tie between 1 and 1 + 2^-10: it rounds to even (1).
        let x = [1.0 + f32::powi(2.0, -11), 0.1, -3.0];
        h.write(2, &x);
        f.write(2, &x);
        assert_eq!((h.bytes(), f.bytes()), (16, 32));
        let q = [1.0, 0.0, 0.0];
        let (mut a, mut b) = ([0.0f32; 1], [0.0f32; 1]);
        h.from(2).dot_rows(&q, 3, 1.0, &mut a);
        f.from(2).dot_rows(&q, 3, 1.0, &mut b);
        assert_eq!((a[0], b[0]), (1.0, x[0]));
        let mut o = [0.0f32; 3];
        h.from(2).weighted_sum_rows(&[2.0], 3, &mut o);
        assert_eq!(
            o,
            [
                2.0,
                2.0 * knob_kernels::f16_to_f32(knob_kernels::f32_to_f16(0.1)),
                -6.0
            ]
        );
    }
}
