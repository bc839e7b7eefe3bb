//! Minimum-of-many timings for tuning one kernel on a busy machine:
//! `cargo run --release -p knob-kernels --features ggml-reference --example tune -- N K ISA THREADS [gemm]`
use std::hint::black_box;
use std::time::Instant;

use knob_kernels::bench::{make_acts, make_weights};
use knob_kernels::*;

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = a[0].parse().unwrap();
    let k: usize = a[1].parse().unwrap();
    let isa = Isa::from_name(&a[2]).unwrap();
    let threads: usize = a[3].parse().unwrap();
    let gemm = a.get(4).is_some_and(|s| s == "gemm");
    let m = if gemm { 64 } else { 1 };
    let w = make_weights(n, k, 1);
    let xf = make_acts(m, k, 2);
    let mut x = QuantizedActs::new();
    x.quantize_with(isa, &xf, m, k);
    let pool = ThreadPool::new(threads);
    let mut y = vec![0.0f32; n * m];
    let mut best = f64::MAX;
    let reps = (200_000_000 / (n * k * m)).clamp(3, 2000);
    for _ in 0..15 {
        let t = Instant::now();
        for _ in 0..reps {
            if gemm {
                gemm_with(isa, &pool, black_box(&w), n, k, &x, &mut y);
            } else {
                gemv_with(isa, &pool, black_box(&w), n, k, &x, &mut y);
            }
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    let bytes = (n * k / 32 * 34) as f64;
    println!("{n}x{k} m={m} {} {}t: {:.2} us  {:.1} GB/s  {:.1} GOP/s", isa.name(), threads, best * 1e6, bytes / best / 1e9, 2.0 * (n * k * m) as f64 / best / 1e9);
    let buf = vec![1u8; n * k / 32 * 34];
    let mut bbest = f64::MAX;
    for _ in 0..15 {
        let t = Instant::now();
        for _ in 0..reps {
            black_box(knob_kernels::bench::stream_read_pool(&pool, black_box(&buf)));
        }
        bbest = bbest.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    println!("  stream read same size: {:.1} GB/s -> kernel at {:.0}%", bytes / bbest / 1e9, bbest / best * 100.0);
    #[cfg(feature = "ggml-reference")]
    if !gemm && threads == 1 {
        use knob_kernels::ggml_ref::*;
        let gw: Vec<GgmlBlockQ8_0> = w.iter().map(GgmlBlockQ8_0::from_gguf).collect();
        let mut gx = vec![GgmlBlockQ8_0::ZERO; k / 32];
        quantize_row(&xf[..k], &mut gx);
        let mut gy = vec![0.0f32; n];
        let mut gbest = f64::MAX;
        for _ in 0..15 {
            let t = Instant::now();
            for _ in 0..reps {
                gemv_loop(black_box(&gw), n, &gx, &mut gy);
            }
            gbest = gbest.min(t.elapsed().as_secs_f64() / reps as f64);
        }
        println!("  ggml loop: {:.2} us  -> ours is {:.2}x", gbest * 1e6, gbest / best);
    }
}
