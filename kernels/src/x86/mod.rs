//! x86-64 paths. Each file is one instruction set with the same operations
//! as `scalar.rs`, behind a zero-sized token that only a CPU check creates.

pub(crate) mod amx;
pub(crate) mod avx2;
mod avx512_quantize;
pub(crate) mod avx512vnni;
