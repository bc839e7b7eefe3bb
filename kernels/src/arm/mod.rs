//! aarch64 paths. Each file is one instruction set with the same operations
//! as `scalar.rs`, behind a zero-sized token that only a CPU check creates.

pub(crate) mod dotprod;
pub(crate) mod neon;
