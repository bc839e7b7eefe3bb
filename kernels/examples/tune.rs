//! Paired timings for tuning one kernel on a busy machine:
//! `cargo run --release -p knob-kernels --features ggml-reference --example tune -- N K ISA THREADS [gemm]`
//! Prints the kernel's median time and its median ratio to a streaming read
//! of the same bytes (and, for gemv, to ggml's vec_dot loop), each timed
//! alternately with the kernel.
use std::hint::black_box;

use knob_kernels::bench::{make_acts, make_weights, stream_read_pool, time_pair};
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
    let bytes = n * k / 32 * 34;
    let buf = vec![1u8; bytes];
    let (ts, trs, frac) = time_pair(
        false,
        || {
            if gemm {
                gemm_with(isa, &pool, black_box(&w), n, k, &x, &mut y)
            } else {
                gemv_with(isa, &pool, black_box(&w), n, k, &x, &mut y)
            }
        },
        || {
            black_box(stream_read_pool(&pool, black_box(&buf)));
        },
    );
    let (t, tr) = (ts.median, trs.median);
    println!(
        "{n}x{k} m={m} {} {threads}t: {:.2} us (best {:.2})  {:.1} GB/s  {:.1} GOP/s | read {:.1} GB/s, kernel at {:.0}% of it",
        isa.name(),
        t * 1e6,
        ts.best * 1e6,
        bytes as f64 / t / 1e9,
        2.0 * (n * k * m) as f64 / t / 1e9,
        bytes as f64 / tr / 1e9,
        frac.median * 100.0
    );
    #[cfg(feature = "ggml-reference")]
    if !gemm && k.is_multiple_of(64) {
        use knob_kernels::ggml_ref::*;
        let gw: Vec<GgmlBlockQ8_0> = w.iter().map(GgmlBlockQ8_0::from_gguf).collect();
        let mut gx = vec![GgmlBlockQ8_0::ZERO; k / 32];
        quantize_row(&xf[..k], &mut gx);
        let per = n.div_ceil(threads);
        let (_, g, ratio) = time_pair(
            false,
            || gemv_with(isa, &pool, black_box(&w), n, k, &x, &mut y),
            || {
                pool.run(threads, &|i| {
                    let (j0, j1) = ((i * per).min(n), ((i + 1) * per).min(n));
                    for row in gw[j0 * k / 32..j1 * k / 32].chunks_exact(k / 32) {
                        black_box(vec_dot(row, &gx));
                    }
                })
            },
        );
        println!(
            "  ggml loop: {:.2} us -> ours is {:.2}x (best {:.2}x)",
            g.median * 1e6,
            ratio.median,
            ratio.best
        );
    }
}
