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

/// Drops this process's resident pages of `len` bytes at `offset` in `map`
/// (only pages wholly inside the range). The file is untouched: a later read
/// faults the same bytes back in from the page cache. Errors are ignored, as
/// this only lowers memory use.
pub fn release_pages(map: &Mmap, offset: usize, len: usize) {
    // Inward to 64 KiB so that no page of a neighbouring range is dropped
    // on any page size up to 64 KiB (a dropped neighbour would only refault).
    const ALIGN: usize = 64 << 10;
    let base = map.as_ptr() as usize;
    let start = (base + offset).div_ceil(ALIGN) * ALIGN - base;
    let end = ((base + offset + len) / ALIGN * ALIGN).saturating_sub(base);
    if end <= start || end > map.len() {
        return;
    }
    #[cfg(unix)]
    {
        // SAFETY: MADV_DONTNEED on a read-only MAP_SHARED file mapping (how
        // `Mmap::map` maps) only unmaps pages from this process; any later
        // access re-reads the unchanged file, so borrowed slices keep seeing
        // the same bytes.
        let _ = unsafe {
            map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
        };
    }
}
