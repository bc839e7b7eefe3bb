//! `knob bench`: measurements of knob's own parts on this machine.
use crate::cli::BenchCommand;
use crate::exit::Exit;

pub fn run(ctx: &super::Context, cmd: BenchCommand) -> anyhow::Result<Exit> {
    match cmd {
        BenchCommand::Kernels(args) => super::bench_kernels::run(&args),
        BenchCommand::Model(args) => super::bench_model::run(ctx, args),
        BenchCommand::Agent(args) => super::bench_agent::run(ctx, args),
        BenchCommand::Arch(args) => super::bench_arch::run(ctx, args),
    }
}
