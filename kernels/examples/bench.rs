//! Prints the kernel benchmark table (what `knob bench kernels` prints):
//! `cargo run --release -p knob-kernels --features ggml-reference --example bench -- [--quick]
//!  [--shape SUBSTRING] [--threads N] [--isa NAME]`
//! (for JSON: `knob bench kernels --json [--quick] [--shape TEXT] [--threads N,...]`,
//! with KNOB_ISA=NAME for one path).
use knob_kernels::bench::{default_shapes, run, BenchOptions};
use knob_kernels::Isa;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let mut opts = BenchOptions {
        quick: args.iter().any(|a| a == "--quick"),
        ..Default::default()
    };
    if let Some(s) = value("--shape") {
        opts.shapes = default_shapes()
            .into_iter()
            .filter(|sh| sh.name.contains(s.as_str()))
            .collect();
    }
    if let Some(t) = value("--threads") {
        opts.threads = vec![t.parse().expect("--threads takes a number")];
    }
    if let Some(i) = value("--isa") {
        opts.isas = vec![Isa::from_name(&i).expect("--isa takes a path name")];
    }
    let report = run(&opts, |l| eprintln!("{l}"));
    print!("{}", report.to_table());
}
