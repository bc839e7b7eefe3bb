//! The AMX gemm, over weights repacked once ([`gemm_tiled_with`]) and through
//! `gemm_with(Isa::Amx, ..)` (repacked per call), against the scalar path:
//! odd and tile-edge shapes, one and many blocks, extreme values, zero
//! scales. On a CPU or OS without AMX each test says on stderr (uncaptured,
//! so it shows in the CI log) that it was skipped and why.
//!
//! `tests/paths.rs` runs the AMX path too, with the other paths' shapes.

mod common;

use std::io::Write;

use common::{
    activations, extreme_case, isa_here, weights, zero_scale_cases, GemmCase, Rng, WeightKind,
    EXTREME_PAIRS,
};
use knob_kernels::*;
use proptest::prelude::*;

fn amx_here(test: &str) -> bool {
    isa_here(Isa::Amx, test)
}

/// gemm_tiled and gemm_with(Amx) on one shape against the scalar path
/// (within `dot_tolerance`), and against each other from AMX_MIN_ROWS rows
/// on (bit for bit: the same tile code runs on the same data).
fn check_shape(n: usize, k: usize, m: usize, seed: u64, wk: WeightKind, threads: usize) {
    let case = GemmCase::new(n, k, m, seed, wk);
    let (w, acts) = (&case.w, &case.acts);
    let pool = ThreadPool::new(threads);
    let tiled = TiledQ8_0::new(w, n, k);
    let mut got = vec![f32::NAN; m * n];
    gemm_tiled_with(Isa::Amx, &pool, &tiled, acts, &mut got);
    case.assert_near_scalar("gemm_tiled(amx)", &got);
    let mut per_call = vec![f32::NAN; m * n];
    gemm_with(Isa::Amx, &pool, w, n, k, acts, &mut per_call);
    if m >= AMX_MIN_ROWS {
        for (i, (p, g)) in per_call.iter().zip(&got).enumerate() {
            assert_eq!(
                p.to_bits(),
                g.to_bits(),
                "gemm_with(amx) {n}x{k} m {m}: y[{i}] = {p}, gemm_tiled {g}"
            );
        }
    } else {
        // Fewer rows run the AVX-512 VNNI gemm (or gemv for m = 1).
        case.assert_near_scalar("gemm_with(amx)", &per_call);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn amx_gemm_matches_scalar(
        n in 1usize..=50,
        nb in prop_oneof![1usize..=20, 20usize..=256],
        m in 1usize..=67,
        seed in any::<u64>(),
        wk in any::<u8>(),
        threads in 1usize..=3,
    ) {
        if !amx_here("amx_gemm_matches_scalar") {
            return Ok(());
        }
        let k = nb * 32;
        // Keep the scalar reference cheap in debug builds.
        let m = m.min((1 << 19) / (n * k)).max(1);
        check_shape(n, k, m, seed, WeightKind::nth(wk), threads);
    }
}

#[test]
fn amx_edge_shapes() {
    if !amx_here("amx_edge_shapes") {
        return;
    }
    // One block; m and n at, below and above the 16-row tile edges; many blocks.
    for (n, k, m) in [
        (1, 32, 2),
        (16, 32, 16),
        (15, 64, 15),
        (17, 64, 17),
        (16, 96, 33),
        (33, 32, 1),
        (31, 160, 48),
        (48, 8192, 19),
        (3, 32, 67),
        // Row tiles go through the groups four at a time: three passes,
        // the last one short and its last tile partial.
        (40, 64, 130),
    ] {
        for wk in [
            WeightKind::Random,
            WeightKind::Extreme,
            WeightKind::WithMinus128,
        ] {
            check_shape(n, k, m, (n * 1000 + k + m) as u64, wk, 1);
        }
    }
    check_shape(203, 160, 40, 9, WeightKind::Random, 3);
    // Enough row tiles for a whole pass per thread: the rows are split
    // between threads (2 threads: 9 tiles as 5 + 4, the last partial;
    // 3 threads: 13 tiles as 5 + 5 + 3).
    check_shape(40, 64, 130, 10, WeightKind::Extreme, 2);
    check_shape(203, 160, 200, 11, WeightKind::Random, 3);
}

/// Integer-valued weights and activations (`common::extreme_case`): the
/// result must be exact, tiled and per call.
#[test]
fn amx_extreme_values_are_exact() {
    if !amx_here("amx_extreme_values_are_exact") {
        return;
    }
    let (n, k, m) = (18, 128, 17);
    for (wq, xq) in EXTREME_PAIRS {
        let (w, acts, exact) = extreme_case(n, k, m, wq, xq);
        let tiled = TiledQ8_0::new(&w, n, k);
        let mut y = vec![0.0f32; m * n];
        gemm_tiled_with(Isa::Amx, &ThreadPool::new(1), &tiled, &acts, &mut y);
        assert!(
            y.iter().all(|&v| v == exact),
            "w {wq} x {xq}: {y:?} != {exact}"
        );
        let mut y2 = vec![0.0f32; m * n];
        gemm_with(Isa::Amx, &ThreadPool::new(2), &w, n, k, &acts, &mut y2);
        assert!(y2.iter().all(|&v| v == exact), "w {wq} x {xq} (per call)");
    }
}

#[test]
fn amx_zero_scales_give_zero() {
    if !amx_here("amx_zero_scales_give_zero") {
        return;
    }
    let (n, k, m) = (20, 96, 18);
    for (what, w, acts) in zero_scale_cases(n, k, m) {
        let mut y = vec![f32::NAN; m * n];
        let tiled = TiledQ8_0::new(&w, n, k);
        gemm_tiled_with(Isa::Amx, &ThreadPool::new(1), &tiled, &acts, &mut y);
        assert!(y.iter().all(|&v| v == 0.0), "{what}: {y:?}");
    }
}

#[test]
fn amx_gives_the_same_bits_with_any_thread_count() {
    if !amx_here("amx_gives_the_same_bits_with_any_thread_count") {
        return;
    }
    let mut rng = Rng(77);
    // 37 rows split by columns; 150 by rows on 2 threads and by columns on
    // 3; 200 by rows on both.
    for m in [37, 150, 200] {
        let (n, k) = (203, 160);
        let w = weights(&mut rng, n, k, WeightKind::Random);
        let x = activations(&mut rng, m, k);
        let mut acts = QuantizedActs::new();
        acts.quantize_with(Isa::Amx, &x, m, k);
        let tiled = TiledQ8_0::new(&w, n, k);
        let runs: Vec<Vec<u32>> = [1, 2, 3]
            .into_iter()
            .map(|t| {
                let mut y = vec![f32::NAN; m * n];
                gemm_tiled_with(Isa::Amx, &ThreadPool::new(t), &tiled, &acts, &mut y);
                y.iter().map(|v| v.to_bits()).collect()
            })
            .collect();
        assert_eq!(runs[0], runs[1], "m {m}: 2 threads");
        assert_eq!(runs[0], runs[2], "m {m}: 3 threads");
    }
}

#[test]
fn without_amx_the_path_is_absent_and_says_why() {
    // Runs everywhere: the path is listed exactly when its check passes,
    // and a refusal names what is missing.
    match Isa::Amx.check() {
        Ok(()) => assert!(available_isas().contains(&Isa::Amx)),
        Err(reason) => {
            let _ = writeln!(
                std::io::stderr(),
                "the amx path is not available here: {reason}"
            );
            assert!(!available_isas().contains(&Isa::Amx));
            assert!(
                reason.contains("AMX") || reason.contains("architecture"),
                "{reason}"
            );
        }
    }
}

/// Several matrices in one round of the pool give each the bits of its own
/// one-thread `gemm_tiled`: split by columns across the matrices laid end to
/// end (tasks that start or end inside a matrix, an empty matrix), and by
/// rows once every thread fills whole passes.
#[test]
fn amx_many_matrices_give_each_its_own_product() {
    if !amx_here("amx_many_matrices_give_each_its_own_product") {
        return;
    }
    let mut rng = Rng(78);
    let k = 96;
    let ns = [576 / 8, 0, 24, 40];
    let tiled: Vec<TiledQ8_0> = ns
        .iter()
        .map(|&n| TiledQ8_0::new(&weights(&mut rng, n, k, WeightKind::Random), n, k))
        .collect();
    for m in [5, 37, 150, 200] {
        let x = activations(&mut rng, m, k);
        let mut acts = QuantizedActs::new();
        acts.quantize_with(Isa::Amx, &x, m, k);
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        let want: Vec<Vec<u32>> = tiled
            .iter()
            .map(|w| {
                let mut y = vec![f32::NAN; m * w.rows()];
                gemm_tiled_with(Isa::Amx, &ThreadPool::new(1), w, &acts, &mut y);
                bits(&y)
            })
            .collect();
        for threads in [1, 2, 3] {
            let mut ys: Vec<Vec<f32>> =
                tiled.iter().map(|w| vec![f32::NAN; m * w.rows()]).collect();
            let mut jobs: Vec<(&TiledQ8_0, &mut [f32])> = tiled
                .iter()
                .zip(ys.iter_mut())
                .map(|(w, y)| (w, &mut y[..]))
                .collect();
            gemm_tiled_many(&ThreadPool::new(threads), &mut jobs, &acts);
            for (i, (y, want)) in ys.iter().zip(&want).enumerate() {
                assert_eq!(&bits(y), want, "matrix {i}, m {m}, {threads} threads");
            }
        }
    }
}
