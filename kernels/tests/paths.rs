//! Every SIMD path this CPU has against the scalar path (the spec):
//! quantized activations identical, integer block sums identical, f32 row
//! results within `dot_tolerance`.

mod common;

use common::{activations, dot_f64, weights, Rng, WeightKind};
use knob_kernels::*;
use proptest::prelude::*;

/// Writes the paths these tests run here, and why the others do not, to
/// the real stderr (libtest captures `eprintln!`, not direct writes), so the
/// CI log shows which paths were tested.
#[test]
fn report_which_paths_run_here() {
    use std::io::Write;
    let ran: Vec<&str> = available_isas().iter().map(|i| i.name()).collect();
    let mut text = format!("kernel paths tested here: {}\n", ran.join(", "));
    for isa in Isa::ALL {
        if let Err(reason) = isa.check() {
            text += &format!("kernel path {isa} not tested here: {reason}\n");
        }
    }
    let _ = std::io::stderr().write_all(text.as_bytes());
    assert!(ran.contains(&"scalar"));
}

fn simd_isas() -> Vec<Isa> {
    available_isas()
        .into_iter()
        .filter(|&i| i != Isa::Scalar)
        .collect()
}

/// Checks quantization, block sums, gemv and gemm of one shape on every path.
fn check_shape(n: usize, k: usize, m: usize, seed: u64, wk: WeightKind) {
    let mut rng = Rng(seed | 1);
    let w = weights(&mut rng, n, k, wk);
    let x = activations(&mut rng, m, k);
    let nb = k / 32;
    let mut want_acts = QuantizedActs::new();
    want_acts.quantize_with(Isa::Scalar, &x, m, k);
    let pool = ThreadPool::new(1);
    let mut want_y = vec![0.0f32; m * n];
    gemm_with(Isa::Scalar, &pool, &w, n, k, &want_acts, &mut want_y);

    for isa in simd_isas() {
        let mut acts = QuantizedActs::new();
        acts.quantize_with(isa, &x, m, k);
        for r in 0..m {
            assert!(
                acts.row_values(r).eq(want_acts.row_values(r)),
                "[{isa}] values of row {r}"
            );
            let (a, b) = (acts.row_scales(r), want_acts.row_scales(r));
            assert!(
                a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits()),
                "[{isa}] scales of row {r}"
            );
            assert_eq!(
                acts.row_sums(r),
                want_acts.row_sums(r),
                "[{isa}] sums of row {r}"
            );
        }
        // Exact integer block sums, on a few (row, activation) pairs.
        for (j, r) in [(0, 0), (n - 1, m - 1), (n / 2, m / 2)] {
            let row = &w[j * nb..(j + 1) * nb];
            let mut got = vec![0i32; nb];
            let mut exp = vec![0i32; nb];
            block_dots_with(isa, row, &acts, r, &mut got);
            block_dots_with(Isa::Scalar, row, &acts, r, &mut exp);
            assert_eq!(
                got, exp,
                "[{isa}] block sums, weight row {j}, activation row {r}"
            );
        }
        let mut y = vec![0.0f32; m * n];
        gemm_with(isa, &pool, &w, n, k, &acts, &mut y);
        let mut y1 = vec![0.0f32; n];
        gemv_with(isa, &pool, &w, n, k, &acts, &mut y1);
        for r in 0..m {
            for j in 0..n {
                let (_, abs) = dot_f64(&w[j * nb..(j + 1) * nb], &acts, r);
                let tol = dot_tolerance(nb, abs as f32);
                let (got, exp) = (y[r * n + j], want_y[r * n + j]);
                assert!(
                    (got - exp).abs() <= tol,
                    "[{isa}] gemm {n}x{k} m {m}: y[{r},{j}] = {got}, scalar {exp}, tol {tol}"
                );
                if r == 0 {
                    let g1 = y1[j];
                    assert!(
                        (g1 - exp).abs() <= tol,
                        "[{isa}] gemv {n}x{k}: y[{j}] = {g1}, scalar {exp}, tol {tol}"
                    );
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn paths_match_scalar(
        half_n in 0usize..16,
        nb in prop_oneof![1usize..=20, 20usize..=256],
        m in 1usize..=67,
        seed in any::<u64>(),
        wk in any::<u8>(),
    ) {
        let n = 2 * half_n + 1; // odd n
        let k = nb * 32;
        // Keep the scalar reference cheap in debug builds.
        let m = m.min((1 << 19) / (n * k)).max(1);
        check_shape(n, k, m, seed, WeightKind::nth(wk));
    }
}

#[test]
fn edge_shapes() {
    // k = 32 (a single, odd block), k = 8192, m at the tile edges, n = 1.
    check_shape(1, 32, 1, 1, WeightKind::Random);
    check_shape(33, 8192, 1, 2, WeightKind::Extreme);
    check_shape(17, 96, 67, 3, WeightKind::WithMinus128);
    check_shape(16, 64, 4, 4, WeightKind::Random);
    check_shape(48, 64, 5, 5, WeightKind::Random);
}

#[test]
fn extreme_values_give_exact_block_sums() {
    // All +127 weights against all -127 activations (and -128 weights against
    // -127): the largest magnitudes the integer paths must carry exactly.
    for (wq, xv) in [(127i8, -1.0f32), (-127, -1.0), (-128, -1.0), (-128, 1.0)] {
        let w = vec![
            BlockQ8_0 {
                d: f32_to_f16(1.0).to_le_bytes(),
                qs: [wq; 32]
            };
            4
        ];
        let x = vec![xv; 128];
        for isa in available_isas() {
            let mut acts = QuantizedActs::new();
            acts.quantize_with(isa, &x, 1, 128);
            assert!(acts.row_values(0).all(|q| q == (127.0 * xv) as i8));
            let mut got = [0i32; 4];
            block_dots_with(isa, &w, &acts, 0, &mut got);
            assert_eq!(
                got,
                [32 * wq as i32 * (127.0 * xv) as i32; 4],
                "[{isa}] w {wq} x {xv}"
            );
            let y = dot_with(isa, &w, &acts, 0);
            assert_eq!(
                y,
                4.0 * 32.0 * wq as f32 * 127.0 * xv / 127.0 * (1.0f32 / 127.0 * 127.0),
                "[{isa}]"
            );
        }
    }
}

#[test]
fn activations_stay_within_plus_minus_127_for_any_input() {
    // The AVX2 kernel's maddubs sign trick is exact only for activation
    // values in [-127, 127]; QuantizedActs must never produce -128.
    let specials = [
        f32::NAN,
        f32::INFINITY,
        -f32::INFINITY,
        f32::MAX,
        -f32::MAX,
        f32::MIN_POSITIVE,
        -0.0,
        1e-45,
    ];
    let mut rng = Rng(99);
    let mut x = activations(&mut rng, 1, 1024);
    for (i, v) in x.iter_mut().enumerate() {
        if i % 5 == 0 {
            *v = specials[(i / 5) % specials.len()];
        }
    }
    let mut want = QuantizedActs::new();
    want.quantize_with(Isa::Scalar, &x, 1, 1024);
    for isa in available_isas() {
        let mut acts = QuantizedActs::new();
        acts.quantize_with(isa, &x, 1, 1024);
        assert!(acts.row_values(0).all(|q| q != -128), "[{isa}]");
        assert!(
            acts.row_values(0).eq(want.row_values(0)),
            "[{isa}] differs from scalar on special values"
        );
    }
}

#[test]
fn zero_scales_give_zero() {
    let w = vec![
        BlockQ8_0 {
            d: [0, 0],
            qs: [100; 32]
        };
        3
    ];
    let x = vec![1.0f32; 96];
    for isa in available_isas() {
        let mut acts = QuantizedActs::new();
        acts.quantize_with(isa, &x, 1, 96);
        assert_eq!(dot_with(isa, &w, &acts, 0), 0.0, "[{isa}]");
        let zx = vec![0.0f32; 96];
        acts.quantize_with(isa, &zx, 1, 96);
        let w1 = vec![
            BlockQ8_0 {
                d: f32_to_f16(2.0).to_le_bytes(),
                qs: [-128; 32]
            };
            3
        ];
        assert_eq!(dot_with(isa, &w1, &acts, 0), 0.0, "[{isa}]");
    }
}

#[test]
fn every_path_gives_the_same_bits_with_any_thread_count() {
    // Work is split on tile boundaries, so each output is computed the same
    // way whatever the thread count.
    let mut rng = Rng(77);
    let (n, k, m) = (203, 160, 9);
    let w = weights(&mut rng, n, k, WeightKind::Random);
    let x = activations(&mut rng, m, k);
    let one = ThreadPool::new(1);
    let three = ThreadPool::new(3);
    for isa in available_isas() {
        let mut acts = QuantizedActs::new();
        acts.quantize_with(isa, &x, m, k);
        let (mut a, mut b) = (vec![0.0f32; m * n], vec![0.0f32; m * n]);
        gemm_with(isa, &one, &w, n, k, &acts, &mut a);
        gemm_with(isa, &three, &w, n, k, &acts, &mut b);
        assert_eq!(a, b, "[{isa}] gemm");
        let (mut a, mut b) = (vec![0.0f32; n], vec![0.0f32; n]);
        gemv_with(isa, &one, &w, n, k, &acts, &mut a);
        gemv_with(isa, &three, &w, n, k, &acts, &mut b);
        assert_eq!(a, b, "[{isa}] gemv");
    }
}
