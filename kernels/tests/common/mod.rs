//! Shared helpers for the kernels' integration tests.
#![allow(dead_code)]

use knob_kernels::{f32_to_f16, BlockQ8_0, QuantizedActs, QK8_0};

/// A small deterministic generator (xorshift64*), so failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [-1, 1).
    pub fn f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    pub fn i8(&mut self) -> i8 {
        self.next_u64() as i8
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Kinds of weight blocks the tests mix.
#[derive(Clone, Copy, Debug)]
pub enum WeightKind {
    /// Random values in [-127, 127], ordinary scales.
    Random,
    /// Only +-127 (the largest products).
    Extreme,
    /// Random values including -128 (from a foreign file).
    WithMinus128,
}

/// `n * k / 32` weight blocks; scales are drawn from zero, tiny, huge and
/// ordinary values.
pub fn weights(rng: &mut Rng, n: usize, k: usize, kind: WeightKind) -> Vec<BlockQ8_0> {
    (0..n * k / QK8_0)
        .map(|_| {
            let d = match rng.below(8) {
                0 => 0.0,
                1 => 6.0e-8,  // smallest f16 subnormal range
                2 => 60000.0, // near the f16 max
                _ => rng.f32().abs() * 0.02 + 1e-4,
            };
            let mut qs = [0i8; QK8_0];
            for q in &mut qs {
                *q = match kind {
                    WeightKind::Random => (rng.i8()).max(-127),
                    WeightKind::Extreme => {
                        if rng.next_u64() & 1 == 0 {
                            127
                        } else {
                            -127
                        }
                    }
                    WeightKind::WithMinus128 => {
                        if rng.below(4) == 0 {
                            -128
                        } else {
                            rng.i8()
                        }
                    }
                };
            }
            BlockQ8_0 {
                d: f32_to_f16(d).to_le_bytes(),
                qs,
            }
        })
        .collect()
}

/// `m * k` activations with per-block magnitudes from tiny to huge, some
/// all-zero blocks and some exact .5 ties.
pub fn activations(rng: &mut Rng, m: usize, k: usize) -> Vec<f32> {
    let mut x = vec![0.0f32; m * k];
    for block in x.chunks_exact_mut(QK8_0) {
        let mag = match rng.below(8) {
            0 => 0.0,
            1 => 1e-30,
            2 => 1e20,
            3 => 127.0, // integer-valued block with ties below
            _ => 1.0,
        };
        for v in block.iter_mut() {
            *v = rng.f32() * mag;
        }
        if mag == 127.0 {
            block[0] = 127.0;
            for v in &mut block[1..] {
                *v = (rng.below(255) as f32 - 127.0) * 0.5;
            }
        }
    }
    x
}

/// The exact f64 value of one weight row times one activation row, from the
/// dequantized values, and `sum_b |d_w d_x| * sum_i |w_i x_i|` (the
/// magnitude `dot_tolerance` is relative to).
pub fn dot_f64(w_row: &[BlockQ8_0], x: &QuantizedActs, r: usize) -> (f64, f64) {
    let vals: Vec<i8> = x.row_values(r).collect();
    let scales = x.row_scales(r);
    let mut sum = 0.0f64;
    let mut abs = 0.0f64;
    for (b, wb) in w_row.iter().enumerate() {
        let prods = wb
            .qs
            .iter()
            .zip(&vals[b * 32..b * 32 + 32])
            .map(|(&a, &c)| a as i64 * c as i64);
        let (isum, iabs) = prods.fold((0i64, 0i64), |(s, a), p| (s + p, a + p.abs()));
        let d = wb.scale() as f64 * scales[b] as f64;
        sum += d * isum as f64;
        abs += d.abs() * iabs as f64;
    }
    (sum, abs)
}
