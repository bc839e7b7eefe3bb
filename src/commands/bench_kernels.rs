//! `knob bench kernels`: the kernels crate's benchmark (gemv and gemm on
//! every CPU path, next to ggml and to the memory read bandwidth), printed
//! as its table or as one typed JSON object. The kernels crate measures and
//! keeps plain result structs; the JSON type lives here, with the other
//! commands' output types and their schemas.
use std::io::{IsTerminal, Write};

use anyhow::{bail, Context};
use knob_kernels::bench::{self, BenchOptions, Measurement, ReadBandwidth, Report, Stat};

use crate::cli::BenchKernelsArgs;
use crate::exit::Exit;

/// Runs the kernel benchmark and prints its table (or JSON) to stdout.
/// KNOB_ISA, when set, limits it to that path.
pub fn run(args: &BenchKernelsArgs) -> anyhow::Result<Exit> {
    let opts = options(args)?;
    // Progress goes to a terminal only: scripts get just the result.
    let show_progress = !args.json && std::io::stderr().is_terminal();
    let report = bench::run(&opts, |line| {
        if show_progress {
            errln!("{line}");
        }
    });
    let mut out = crate::output::stdout();
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::to_string(&BenchKernelsJson::from(&report))?
        )?;
    } else {
        write!(out, "{}", report.to_table())?;
    }
    Ok(Exit::Ok)
}

/// The benchmark's options from the flags and KNOB_ISA.
fn options(args: &BenchKernelsArgs) -> anyhow::Result<BenchOptions> {
    let mut opts = BenchOptions {
        quick: args.quick,
        ..BenchOptions::default()
    };
    if let Some(part) = &args.shape {
        let all = std::mem::take(&mut opts.shapes);
        let names: Vec<&str> = all.iter().map(|s| s.name).collect();
        let chosen: Vec<_> = all
            .iter()
            .filter(|s| s.name.contains(part.as_str()))
            .cloned()
            .collect();
        if chosen.is_empty() {
            bail!(
                "no benchmark shape's name contains '{part}' (shapes: {})",
                names.join(", ")
            );
        }
        opts.shapes = chosen;
    }
    if !args.threads.is_empty() {
        opts.threads = args.threads.clone();
    }
    if std::env::var_os("KNOB_ISA").is_some() {
        let isa =
            knob_kernels::isa_from_env().context("cannot use the kernel path KNOB_ISA asks for")?;
        opts.isas = vec![isa];
    }
    Ok(opts)
}

/// `knob bench kernels --json`: the paths this CPU has, whether ggml ran
/// alongside, the streaming read bandwidth per shape and thread count, and
/// one row per measured kernel. Numbers are finite (a time is never zero).
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct BenchKernelsJson {
    /// The kernel paths this CPU has ("scalar", "avx2", ...).
    pub paths: Vec<String>,
    /// Whether ggml's `vec_dot` loop was measured (a build with the
    /// `ggml-reference` feature, on x86-64).
    pub ggml: bool,
    pub read_bandwidth: Vec<ReadBandwidthJson>,
    pub results: Vec<MeasurementJson>,
}

/// A time or ratio over the samples: the median, and the best sample.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct StatJson {
    pub median: f64,
    pub best: f64,
}

/// The streaming read bandwidth of a buffer as large as a shape's weights.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ReadBandwidthJson {
    pub shape: String,
    /// The buffer's size in bytes.
    pub bytes: usize,
    pub threads: usize,
    /// GB/s (1e9) at the median time.
    pub gb_per_s: f64,
    /// GB/s at the best time.
    pub best_gb_per_s: f64,
}

/// One measured kernel on one shape, path and thread count.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct MeasurementJson {
    pub shape: String,
    /// Rows of the weight matrix.
    pub n: usize,
    /// Values per row.
    pub k: usize,
    /// "gemv", "gemm m=64", "64 x gemv" or "ggml vec_dot loop".
    pub op: String,
    /// The kernel path ("ggml" for ggml's own code).
    pub path: String,
    pub threads: usize,
    /// Seconds per call.
    pub seconds: StatJson,
    /// Weight bytes streamed per second (GB/s, 1e9), at the median time.
    pub gb_per_s: f64,
    /// Multiply-adds x 2 per second (GOP/s, 1e9), at the median time.
    pub gop_per_s: f64,
    /// Activation rows per second, at the median time.
    pub rows_per_s: f64,
    /// ggml's time over this kernel's (gemv rows of a ggml build).
    pub vs_ggml: Option<StatJson>,
    /// gb_per_s over the streaming read bandwidth of a same-size buffer.
    pub of_read_bw: Option<StatJson>,
    /// gemm's rows/s over 64 gemv calls' rows/s (gemm rows).
    pub vs_gemvs: Option<StatJson>,
    /// The AVX-512 VNNI gemm's time over this one's, same m, timed
    /// alternately (tiled gemm rows only).
    pub vs_vnni: Option<StatJson>,
}

impl From<Stat> for StatJson {
    fn from(s: Stat) -> Self {
        StatJson {
            median: s.median,
            best: s.best,
        }
    }
}

impl From<&ReadBandwidth> for ReadBandwidthJson {
    fn from(b: &ReadBandwidth) -> Self {
        ReadBandwidthJson {
            shape: b.shape.clone(),
            bytes: b.bytes,
            threads: b.threads,
            gb_per_s: b.gb_per_s,
            best_gb_per_s: b.best_gb_per_s,
        }
    }
}

impl From<&Measurement> for MeasurementJson {
    fn from(r: &Measurement) -> Self {
        MeasurementJson {
            shape: r.shape.clone(),
            n: r.n,
            k: r.k,
            op: r.op.clone(),
            path: r.path.clone(),
            threads: r.threads,
            seconds: r.seconds.into(),
            gb_per_s: r.gb_per_s,
            gop_per_s: r.gop_per_s,
            rows_per_s: r.rows_per_s,
            vs_ggml: r.vs_ggml.map(StatJson::from),
            of_read_bw: r.of_read_bw.map(StatJson::from),
            vs_gemvs: r.vs_gemvs.map(StatJson::from),
            vs_vnni: r.vs_vnni.map(StatJson::from),
        }
    }
}

impl From<&Report> for BenchKernelsJson {
    fn from(r: &Report) -> Self {
        BenchKernelsJson {
            paths: r.cpu_paths.iter().map(|i| i.name().to_string()).collect(),
            ggml: r.ggml,
            read_bandwidth: r.read_bw.iter().map(ReadBandwidthJson::from).collect(),
            results: r.rows.iter().map(MeasurementJson::from).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use knob_kernels::Isa;

    fn stat(median: f64, best: f64) -> Stat {
        Stat { median, best }
    }

    /// The shape the hand-written JSON had: scripts that read
    /// `paths`/`ggml`/`read_bandwidth`/`results` keep working.
    #[test]
    fn json_keeps_the_field_names_and_nulls_of_the_old_output() {
        let report = Report {
            cpu_paths: vec![Isa::Scalar],
            ggml: false,
            read_bw: vec![ReadBandwidth {
                shape: "tiny \"q\"".into(),
                bytes: 2176,
                threads: 1,
                gb_per_s: 10.5,
                best_gb_per_s: 12.0,
            }],
            rows: vec![Measurement {
                shape: "tiny \"q\"".into(),
                n: 64,
                k: 32,
                op: "gemv".into(),
                path: "scalar".into(),
                threads: 1,
                seconds: stat(2e-6, 1.5e-6),
                gb_per_s: 1.0,
                gop_per_s: 2.0,
                rows_per_s: 5e5,
                vs_ggml: None,
                of_read_bw: Some(stat(0.5, 0.25)),
                vs_gemvs: None,
                vs_vnni: Some(stat(1.5, 1.75)),
            }],
        };
        let json = serde_json::to_value(BenchKernelsJson::from(&report)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "paths": ["scalar"],
                "ggml": false,
                "read_bandwidth": [{"shape": "tiny \"q\"", "bytes": 2176, "threads": 1,
                                    "gb_per_s": 10.5, "best_gb_per_s": 12.0}],
                "results": [{"shape": "tiny \"q\"", "n": 64, "k": 32, "op": "gemv",
                             "path": "scalar", "threads": 1,
                             "seconds": {"median": 2e-6, "best": 1.5e-6},
                             "gb_per_s": 1.0, "gop_per_s": 2.0, "rows_per_s": 5e5,
                             "vs_ggml": null, "of_read_bw": {"median": 0.5, "best": 0.25},
                             "vs_gemvs": null, "vs_vnni": {"median": 1.5, "best": 1.75}}]
            })
        );
    }

    fn args(shape: Option<&str>, threads: &[usize]) -> BenchKernelsArgs {
        BenchKernelsArgs {
            json: true,
            quick: true,
            shape: shape.map(str::to_string),
            threads: threads.to_vec(),
        }
    }

    #[test]
    fn shape_and_threads_narrow_the_run() {
        let all = options(&args(None, &[])).unwrap();
        assert_eq!(all.shapes, bench::default_shapes());
        assert_eq!(all.threads, vec![1, 2]);
        let one = options(&args(Some("attn"), &[1])).unwrap();
        assert_eq!(
            one.shapes.iter().map(|s| s.name).collect::<Vec<_>>(),
            vec!["smollm2 attn 576x576"]
        );
        assert_eq!(one.threads, vec![1]);
        let err = options(&args(Some("nope"), &[])).unwrap_err().to_string();
        assert!(
            err.contains("'nope'") && err.contains("smollm2 attn 576x576"),
            "{err}"
        );
    }
}
