//! Cross-check with ggml itself (ggml-sys 0.1.1, x86-64 only): our Q8_0
//! quantizer is bit-identical to ggml's reference quantizer, and our dot
//! products equal ggml's `vec_dot_q8_0_q8_0` on the same data within the
//! named f32 tolerance.
#![cfg(all(target_arch = "x86_64", feature = "ggml-reference"))]

mod common;

use common::{activations, weights, Rng, WeightKind};
use knob_kernels::ggml_ref::{self, GgmlBlockQ8_0};
use knob_kernels::*;

#[test]
fn quantizer_is_bit_identical_to_ggml_reference() {
    let mut rng = Rng(42);
    // ordinary, huge, tiny, zero and tie-heavy blocks
    let mut x = activations(&mut rng, 4, 2048);
    // exact .5 ties after scaling: amax 127 -> d = 1
    for (i, v) in x[..64].iter_mut().enumerate() {
        *v = if i % 32 == 0 {
            127.0
        } else {
            (i as f32 - 40.0) + 0.5
        };
    }
    let nb = x.len() / 32;
    let mut ours = vec![BlockQ8_0::ZERO; nb];
    quantize_row_q8_0(&x, &mut ours);
    let mut theirs = vec![GgmlBlockQ8_0::ZERO; nb];
    ggml_ref::quantize_row_reference(&x, &mut theirs);
    for (b, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(o.qs, t.qs, "block {b}: values");
        // GGUF-era ggml stores GGML_FP32_TO_FP16(d): round to nearest even.
        assert_eq!(
            u16::from_le_bytes(o.d),
            f32_to_f16(t.d),
            "block {b}: scale {}",
            t.d
        );
    }
    // Ties really occurred and were rounded away from zero (ggml's SIMD
    // activation quantizer would round them to even).
    assert_eq!(ours[0].qs[1], -39); // -38.5 -> -39
    assert_eq!(ours[0].qs[2], -38); // -37.5 -> -38
}

#[test]
fn dot_products_match_ggml_vec_dot() {
    let mut rng = Rng(43);
    let pool = ThreadPool::new(1);
    for (n, k) in [(5, 64), (9, 576), (3, 1536), (2, 8192)] {
        for kind in [
            WeightKind::Random,
            WeightKind::Extreme,
            WeightKind::WithMinus128,
        ] {
            let w = weights(&mut rng, n, k, kind);
            let x = activations(&mut rng, 1, k);
            let nb = k / 32;
            // ggml's view: the same weights, and the same activation values with
            // scales as f32 (ours keeps f32 scales too).
            let gw: Vec<GgmlBlockQ8_0> = w.iter().map(GgmlBlockQ8_0::from_gguf).collect();
            let mut gx = vec![GgmlBlockQ8_0::ZERO; nb];
            ggml_ref::quantize_row_reference(&x, &mut gx);
            let mut acts = QuantizedActs::new();
            for isa in available_isas() {
                acts.quantize_with(isa, &x, 1, k);
                let vals: Vec<i8> = acts.row_values(0).collect();
                for (b, g) in gx.iter().enumerate() {
                    assert_eq!(
                        &vals[b * 32..b * 32 + 32],
                        &g.qs[..],
                        "[{isa}] activation block {b}"
                    );
                    assert_eq!(
                        acts.row_scales(0)[b].to_bits(),
                        g.d.to_bits(),
                        "[{isa}] activation scale {b}"
                    );
                }
                let mut y = vec![0.0f32; n];
                gemv_with(isa, &pool, &w, n, k, &acts, &mut y);
                for j in 0..n {
                    let (_, abs) = common::dot_f64(&w[j * nb..(j + 1) * nb], &acts, 0);
                    let theirs = ggml_ref::vec_dot(&gw[j * nb..(j + 1) * nb], &gx);
                    let tol = dot_tolerance(nb, abs as f32);
                    assert!(
                        (y[j] - theirs).abs() <= tol,
                        "[{isa}] {n}x{k} row {j}: ours {} ggml {theirs} tol {tol}",
                        y[j]
                    );
                }
            }
        }
    }
}
