//! The benchmark runner on a tiny shape: every path and thread count gets a
//! row with sane numbers, and the table says what was measured (knob's
//! `bench kernels --json` serializes the same report).

use knob_kernels::available_isas;
use knob_kernels::bench::{run, BenchOptions, Shape};

#[test]
fn tiny_benchmark_reports_every_path() {
    let opts = BenchOptions {
        shapes: vec![Shape {
            name: "tiny 64x128",
            n: 64,
            k: 128,
        }],
        isas: available_isas(),
        threads: vec![1, 2],
        quick: true,
    };
    let mut lines = 0;
    let report = run(&opts, |_| lines += 1);
    assert!(lines > 0);
    for isa in available_isas() {
        for threads in [1, 2] {
            let gemv = report
                .rows
                .iter()
                .find(|r| r.path == isa.name() && r.op == "gemv" && r.threads == threads);
            let gemv =
                gemv.unwrap_or_else(|| panic!("no gemv row for {isa} with {threads} threads"));
            assert!(
                gemv.seconds.best > 0.0
                    && gemv.seconds.best <= gemv.seconds.median
                    && gemv.gb_per_s > 0.0
                    && gemv.gop_per_s > 0.0
            );
            assert!(gemv
                .of_read_bw
                .is_some_and(|f| f.median > 0.0 && f.best > 0.0));
            assert_eq!(gemv.vs_ggml.is_some(), report.ggml);
        }
    }
    assert_eq!(report.read_bw.len(), 2);
    let table = report.to_table();
    assert!(
        table.contains("tiny 64x128") && table.contains("gemm m=64"),
        "{table}"
    );
    #[cfg(target_arch = "x86_64")]
    assert!(report.ggml && table.contains("ggml vec_dot loop"));
}
