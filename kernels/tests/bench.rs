//! The benchmark runner on a tiny shape: every path and thread count gets a
//! row with sane numbers, and the table says what was measured (knob's
//! `bench kernels --json` serializes the same report).

use knob_kernels::bench::{run, BenchOptions, Shape};
use knob_kernels::{available_isas, Isa};

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
    // With AMX or AVX-512 VNNI: each one's tiled gemm at several m next to
    // the VNNI gemm, with the ratio; without either, no ratio anywhere.
    let tiled: Vec<Isa> = [Isa::Amx, Isa::Avx512Vnni]
        .into_iter()
        .filter(|i| available_isas().contains(i))
        .collect();
    for isa in &tiled {
        for m in [4, 16, 64] {
            for threads in [1, 2] {
                let row = report
                    .rows
                    .iter()
                    .find(|r| {
                        r.path == isa.name()
                            && r.op == format!("tiled gemm m={m}")
                            && r.threads == threads
                    })
                    .unwrap_or_else(|| panic!("no {isa} tiled row for m={m}, {threads} threads"));
                assert!(row.gop_per_s > 0.0 && row.vs_vnni.is_some_and(|v| v.median > 0.0));
                assert!(report.rows.iter().any(|r| r.path == "avx512vnni"
                    && r.op == format!("gemm m={m}")
                    && r.threads == threads));
            }
        }
    }
    if tiled.is_empty() {
        assert!(report.rows.iter().all(|r| r.vs_vnni.is_none()));
    } else {
        assert!(report.to_table().contains("vs vnni"));
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
