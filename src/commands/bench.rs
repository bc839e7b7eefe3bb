//! `knob bench`: measurements of knob's own parts on this machine.
use std::io::{IsTerminal, Write};

use anyhow::Context;
use knob_kernels::bench::{self, BenchOptions};

use crate::cli::{BenchCommand, BenchKernelsArgs};
use crate::exit::Exit;

pub fn run(ctx: &super::Context, cmd: BenchCommand) -> anyhow::Result<Exit> {
    match cmd {
        BenchCommand::Kernels(args) => kernels(&args),
        BenchCommand::Model(args) => super::bench_model::run(ctx, args),
        BenchCommand::Agent(args) => super::bench_agent::run(ctx, args),
    }
}

/// Runs the kernel benchmark and prints its table (or JSON) to stdout.
/// KNOB_ISA, when set, limits it to that path.
fn kernels(args: &BenchKernelsArgs) -> anyhow::Result<Exit> {
    let mut opts = BenchOptions {
        quick: args.quick,
        ..BenchOptions::default()
    };
    if std::env::var_os("KNOB_ISA").is_some() {
        let isa =
            knob_kernels::isa_from_env().context("cannot use the kernel path KNOB_ISA asks for")?;
        opts.isas = vec![isa];
    }
    // Progress goes to a terminal only: scripts get just the result.
    let show_progress = !args.json && std::io::stderr().is_terminal();
    let report = bench::run(&opts, |line| {
        if show_progress {
            errln!("{line}");
        }
    });
    let mut out = crate::output::stdout();
    if args.json {
        writeln!(out, "{}", report.to_json())?;
    } else {
        write!(out, "{}", report.to_table())?;
    }
    Ok(Exit::Ok)
}
