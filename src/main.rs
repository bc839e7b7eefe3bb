use clap::Parser;
use knob::cli::Cli;

fn main() {
    let _cli = Cli::parse();
}
