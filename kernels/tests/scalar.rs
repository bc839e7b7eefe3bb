//! The scalar path (the specification) against f64 math and ggml's rules.

mod common;

use common::{activations, dot_f64, weights, Rng, WeightKind};
use knob_kernels::*;

#[test]
fn quantized_acts_match_the_q8_0_quantizer() {
    let mut rng = Rng(7);
    let (m, k) = (3, 256);
    let x = activations(&mut rng, m, k);
    let mut acts = QuantizedActs::new();
    acts.quantize_with(Isa::Scalar, &x, m, k);
    assert_eq!(acts.rows(), m);
    let mut blocks = vec![BlockQ8_0::ZERO; m * k / 32];
    quantize_row_q8_0(&x, &mut blocks);
    for r in 0..m {
        let vals: Vec<i8> = acts.row_values(r).collect();
        for b in 0..k / 32 {
            let blk = &blocks[r * k / 32 + b];
            assert_eq!(&vals[b * 32..b * 32 + 32], &blk.qs[..], "row {r} block {b}");
            assert_eq!(f32_to_f16(acts.row_scales(r)[b]), u16::from_le_bytes(blk.d));
            assert_eq!(
                acts.row_sums(r)[b],
                blk.qs.iter().map(|&q| q as i32).sum::<i32>()
            );
        }
        assert!(vals.iter().all(|&q| q != -128));
    }
    // Reuse with a smaller shape: only the new rows count.
    acts.quantize_with(Isa::Scalar, &x[..k], 1, k);
    assert_eq!(acts.rows(), 1);
}

#[test]
fn scalar_gemv_and_gemm_match_f64_math() {
    let mut rng = Rng(11);
    for (n, k, m) in [(1, 32, 1), (7, 96, 3), (33, 544, 5)] {
        for kind in [
            WeightKind::Random,
            WeightKind::Extreme,
            WeightKind::WithMinus128,
        ] {
            let w = weights(&mut rng, n, k, kind);
            let x = activations(&mut rng, m, k);
            let mut acts = QuantizedActs::new();
            acts.quantize_with(Isa::Scalar, &x, m, k);
            let pool = ThreadPool::new(1);
            let mut y = vec![0.0f32; m * n];
            gemm_with(Isa::Scalar, &pool, &w, n, k, &acts, &mut y);
            for r in 0..m {
                for j in 0..n {
                    let (want, abs) = dot_f64(&w[j * k / 32..(j + 1) * k / 32], &acts, r);
                    let tol = dot_tolerance(k / 32, abs as f32) as f64;
                    let got = y[r * n + j] as f64;
                    assert!(
                        (got - want).abs() <= tol || (got.is_infinite() && want.abs() > 3e38),
                        "n {n} k {k} r {r} j {j}: {got} vs {want} (tol {tol})"
                    );
                }
            }
            let mut y1 = vec![0.0f32; n];
            gemv_with(Isa::Scalar, &pool, &w, n, k, &acts, &mut y1);
            assert_eq!(&y1[..], &y[..n], "gemv is gemm's first row");
        }
    }
}

#[test]
fn thread_counts_do_not_change_results() {
    // Work is split on tile boundaries, so every row is computed the same way.
    let mut rng = Rng(5);
    let (n, k, m) = (301, 128, 4);
    let w = weights(&mut rng, n, k, WeightKind::Random);
    let x = activations(&mut rng, m, k);
    let mut acts = QuantizedActs::new();
    acts.quantize(&x, m, k);
    let mut want = vec![0.0f32; m * n];
    gemm(&ThreadPool::new(1), &w, n, k, &acts, &mut want);
    let mut want1 = vec![0.0f32; n];
    gemv(&ThreadPool::new(1), &w, n, k, &acts, &mut want1);
    for threads in [2, 3] {
        let pool = ThreadPool::new(threads);
        let mut y = vec![0.0f32; m * n];
        gemm(&pool, &w, n, k, &acts, &mut y);
        assert_eq!(y, want, "gemm, {threads} threads");
        let mut y1 = vec![0.0f32; n];
        gemv(&pool, &w, n, k, &acts, &mut y1);
        assert_eq!(y1, want1, "gemv, {threads} threads");
    }
}

#[test]
fn dequantize_inverts_quantize_within_half_a_step() {
    let mut rng = Rng(3);
    let x: Vec<f32> = (0..320).map(|_| rng.f32() * 4.0).collect();
    let mut b = vec![BlockQ8_0::ZERO; 10];
    quantize_row_q8_0(&x, &mut b);
    let mut back = vec![0.0f32; 320];
    dequantize_row_q8_0(&b, &mut back);
    for (blk, (xs, ys)) in b.iter().zip(x.chunks(32).zip(back.chunks(32))) {
        let step = blk.scale();
        for (a, c) in xs.iter().zip(ys) {
            // half a step plus the f16 rounding of the scale (2^-11 relative)
            assert!(
                (a - c).abs() <= step * 0.5 + a.abs() * 1e-3 + 1e-6,
                "{a} vs {c}"
            );
        }
    }
}

#[test]
fn knob_isa_env_values_are_checked() {
    // isa_from_env reads the environment; exercise the parser it uses.
    assert!(matches!(
        Isa::from_name("bogus"),
        Err(KernelError::UnknownIsa { .. })
    ));
    for isa in Isa::ALL {
        if let Err(reason) = isa.check() {
            assert!(!available_isas().contains(&isa));
            assert!(!reason.is_empty());
        }
    }
}

#[test]
fn engine_types_can_be_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<ThreadPool>();
    send_sync::<QuantizedActs>();
    send_sync::<BlockQ8_0>();
    send_sync::<KernelError>();
    // And they are usable from another thread.
    let pool = std::sync::Arc::new(ThreadPool::new(2));
    let p2 = std::sync::Arc::clone(&pool);
    let t = std::thread::spawn(move || p2.threads());
    assert_eq!(t.join().unwrap(), 2);
}
