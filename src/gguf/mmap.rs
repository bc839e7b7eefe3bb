//! Memory-mapping of model files: the one place in the root crate with unsafe code.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;

pub use memmap2::Mmap;

/// Maps `file` read-only.
pub fn map_readonly(file: &File) -> io::Result<Mmap> {
    // SAFETY: the mapping is read-only and is only ever viewed as `&[u8]`
    // borrowed from the returned `Mmap`, so it cannot outlive the mapping.
    // The remaining hazard of every file mapping is another process
    // truncating or rewriting the file while it is mapped, which can change
    // bytes under us or raise SIGBUS. knob never writes model files it has
    // open, and it accepts the same risk as llama.cpp, which maps models the
    // same way. All parsing is bounds-checked against the length taken at
    // mapping time, so changed bytes give errors, not out-of-bounds reads.
    unsafe { Mmap::map(file) }
}
