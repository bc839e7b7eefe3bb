//! The sentence vectors of the catalog's phrases, kept on disk between runs
//! (`<cache>/knob/search-vectors/<fingerprint>.bin`), so that semantic search
//! embeds each phrase once per encoder, not once per process.
//!
//! A file holds `(text, vector)` pairs of one encoder, under a key that
//! names the encoder: here the encoder's fingerprint (a hash of the vector
//! it gives a fixed probe text, so new weights, a new tokenizer or a changed
//! engine all give a new file), which is also the file's name; in the
//! vectors shipped in the binary (semantic.rs), a hash of the model file.
//! Entries are looked up by their exact text (a changed catalog phrase is
//! simply missing and gets embedded). The file ends with a SHA-256 of
//! everything before it: a cut or corrupt file is an error here, which the
//! caller treats as an empty cache.
//!
//! Layout, little-endian: `KNOBVEC2`, key length u32, the UTF-8 key, dim
//! u32, count u32, then per entry text length u32, the UTF-8 text, dim f32;
//! then the 32-byte digest.
use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"KNOBVEC2";
const DIGEST_LEN: usize = 32;
/// Limits a hostile or corrupt file cannot make us exceed.
const MAX_FILE_BYTES: u64 = 256 << 20;
const MAX_DIM: usize = 4096;
const MAX_TEXT_BYTES: usize = 64 << 10;
const MAX_KEY_BYTES: usize = 256;
/// Cache files kept per directory (one per encoder); older ones are removed.
const KEEP_FILES: usize = 4;
const EXTENSION: &str = "bin";

/// The phrases' vectors by exact text, all of one dimension.
pub type Vectors = HashMap<String, Vec<f32>>;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {why}")]
    Invalid { path: PathBuf, why: String },
}

/// The file name part that identifies an encoder: a hash of the bits of the
/// vector it gives the probe text.
pub fn fingerprint(probe_vector: &[f32]) -> String {
    let mut h = Sha256::new();
    h.update(b"knob search vectors\0");
    h.update((probe_vector.len() as u32).to_le_bytes());
    for v in probe_vector {
        h.update(v.to_le_bytes());
    }
    hex(&h.finalize()[..12])
}

/// The cache file of the encoder with this fingerprint.
pub fn file_in(dir: &Path, fingerprint: &str) -> PathBuf {
    dir.join(format!("{fingerprint}.{EXTENSION}"))
}

/// Reads a cache file written under `key`; every entry has `dim` values.
pub fn read(path: &Path, key: &str, dim: usize) -> Result<Vectors, CacheError> {
    let invalid = |why: String| CacheError::Invalid {
        path: path.to_path_buf(),
        why,
    };
    let io = |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    };
    let size = fs::metadata(path).map_err(io)?.len();
    if size > MAX_FILE_BYTES {
        return Err(invalid(format!(
            "{size} bytes, more than a cache file holds"
        )));
    }
    let bytes = fs::read(path).map_err(io)?;
    match decode(&bytes, key).map_err(invalid)? {
        (d, vectors) if d == dim => Ok(vectors),
        (d, _) => Err(invalid(format!("vectors of {d} values, expected {dim}"))),
    }
}

/// The dimension and entries of a file's bytes, which must have been
/// written under `key`; `Err` says what is wrong.
pub fn decode(bytes: &[u8], key: &str) -> Result<(usize, Vectors), String> {
    if bytes.len() < MAGIC.len() + 12 + DIGEST_LEN || &bytes[..MAGIC.len()] != MAGIC {
        return Err("not a knob vector file".into());
    }
    let (body, digest) = bytes.split_at(bytes.len() - DIGEST_LEN);
    if Sha256::digest(body).as_slice() != digest {
        return Err("checksum mismatch (cut or corrupt)".into());
    }
    let mut rest = &body[MAGIC.len()..];
    let key_len = take_u32(&mut rest)? as usize;
    if key_len > MAX_KEY_BYTES {
        return Err(format!("a key of {key_len} bytes"));
    }
    let file_key = take(&mut rest, key_len)?;
    if file_key != key.as_bytes() {
        return Err(format!(
            "the vectors of another encoder ({}), expected {key}",
            String::from_utf8_lossy(file_key)
        ));
    }
    parse(rest)
}

/// The entries after the key.
fn parse(mut rest: &[u8]) -> Result<(usize, Vectors), String> {
    let dim = take_u32(&mut rest)? as usize;
    if dim == 0 || dim > MAX_DIM {
        return Err(format!("vectors of {dim} values"));
    }
    let count = take_u32(&mut rest)? as usize;
    // Each entry takes at least its length and its vector.
    if count > rest.len() / (4 + 4 * dim) {
        return Err(format!(
            "{count} entries do not fit in {} bytes",
            rest.len()
        ));
    }
    let mut out = Vectors::with_capacity(count);
    for i in 0..count {
        let len = take_u32(&mut rest)? as usize;
        if len > MAX_TEXT_BYTES {
            return Err(format!("entry {i}: a text of {len} bytes"));
        }
        let text = take(&mut rest, len)?;
        let text = std::str::from_utf8(text)
            .map_err(|_| format!("entry {i}: the text is not UTF-8"))?
            .to_string();
        let values: Vec<f32> = take(&mut rest, 4 * dim)?
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if !values.iter().all(|v| v.is_finite()) {
            return Err(format!("entry {i}: a value that is not finite"));
        }
        out.insert(text, values);
    }
    if !rest.is_empty() {
        return Err(format!("{} bytes after the last entry", rest.len()));
    }
    Ok((dim, out))
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if rest.len() < n {
        return Err(format!("cut short: {n} bytes wanted, {} left", rest.len()));
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

fn take_u32(rest: &mut &[u8]) -> Result<u32, String> {
    let b = take(rest, 4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The bytes of a file holding `entries` (each of `dim` values) under
/// `key`, in the order given.
pub fn encode(key: &str, dim: usize, entries: &[(&str, &[f32])]) -> Vec<u8> {
    let mut body = Vec::with_capacity(20 + key.len() + entries.len() * (8 + 4 * dim) + DIGEST_LEN);
    body.extend_from_slice(MAGIC);
    body.extend_from_slice(&(key.len() as u32).to_le_bytes());
    body.extend_from_slice(key.as_bytes());
    body.extend_from_slice(&(dim as u32).to_le_bytes());
    body.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for (text, vector) in entries {
        debug_assert_eq!(vector.len(), dim);
        body.extend_from_slice(&(text.len() as u32).to_le_bytes());
        body.extend_from_slice(text.as_bytes());
        for v in *vector {
            body.extend_from_slice(&v.to_le_bytes());
        }
    }
    let digest = Sha256::digest(&body);
    body.extend_from_slice(&digest);
    body
}

/// Writes `entries` (each of `dim` values) under `key` to `path` through a
/// temporary file and a rename, so that a reader never sees half a file,
/// then removes the oldest cache files beyond the few kept.
pub fn write(
    path: &Path,
    key: &str,
    dim: usize,
    entries: &[(&str, &[f32])],
) -> Result<(), CacheError> {
    let io = |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    };
    let body = encode(key, dim, entries);
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(&body).and_then(|()| f.sync_all()))
        .and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io(e));
    }
    prune(dir, path);
    Ok(())
}

/// Removes all but the newest cache files in `dir` (never `keep`); errors
/// are ignored, as a file left behind costs only disk space.
fn prune(dir: &Path, keep: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == EXTENSION) && p != keep)
        .filter_map(|p| Some((fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    for (_, p) in files.into_iter().skip(KEEP_FILES - 1) {
        let _ = fs::remove_file(p);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "encoder-1";

    fn entries() -> Vec<(String, Vec<f32>)> {
        vec![
            ("night light".into(), vec![0.6, 0.8, 0.0]),
            ("turn the volume up".into(), vec![0.0, -1.0, 0.0]),
            ("écran".into(), vec![0.0, 0.0, 1.0]),
        ]
    }

    fn write_entries(path: &Path) {
        let e = entries();
        let refs: Vec<(&str, &[f32])> = e.iter().map(|(t, v)| (t.as_str(), v.as_slice())).collect();
        write(path, KEY, 3, &refs).expect("write");
    }

    #[test]
    fn written_vectors_read_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("abc.bin");
        write_entries(&path);
        let got = read(&path, KEY, 3).expect("read");
        assert_eq!(got.len(), 3);
        for (text, v) in entries() {
            assert_eq!(got[&text], v, "{text}");
        }
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn any_damage_is_an_error_never_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc.bin");
        write_entries(&path);
        let good = fs::read(&path).unwrap();
        // Every cut and every flipped byte is caught.
        for cut in 0..good.len() {
            fs::write(&path, &good[..cut]).unwrap();
            assert!(read(&path, KEY, 3).is_err(), "cut at {cut}");
        }
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x40;
            fs::write(&path, &bad).unwrap();
            assert!(read(&path, KEY, 3).is_err(), "byte {i} flipped");
        }
        fs::write(&path, &good).unwrap();
        assert!(read(&path, KEY, 4).is_err(), "another dimension");
        assert!(read(&path, "other", 3).is_err(), "another key");
        assert!(read(&dir.path().join("missing.bin"), KEY, 3).is_err());
    }

    #[test]
    fn a_body_with_a_valid_checksum_is_still_bounds_checked() {
        // Lengths that lie, under a correct digest: parse must refuse them.
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&(KEY.len() as u32).to_le_bytes());
        body.extend_from_slice(KEY.as_bytes());
        body.extend_from_slice(&3u32.to_le_bytes());
        body.extend_from_slice(&u32::MAX.to_le_bytes()); // count
        let digest = Sha256::digest(&body);
        body.extend_from_slice(&digest);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc.bin");
        fs::write(&path, &body).unwrap();
        let err = read(&path, KEY, 3).unwrap_err().to_string();
        assert!(err.contains("do not fit"), "{err}");
    }

    #[test]
    fn encoded_bytes_decode_to_their_entries_under_their_key_only() {
        let e = entries();
        let refs: Vec<(&str, &[f32])> = e.iter().map(|(t, v)| (t.as_str(), v.as_slice())).collect();
        let bytes = encode(KEY, 3, &refs);
        let (dim, got) = decode(&bytes, KEY).expect("decode");
        assert_eq!(dim, 3);
        assert_eq!(got.len(), 3);
        assert_eq!(got["écran"], [0.0, 0.0, 1.0]);
        let err = decode(&bytes, "encoder-2").unwrap_err();
        assert!(err.contains("another encoder"), "{err}");
        assert!(decode(&[], KEY).is_err());
    }

    #[test]
    fn fingerprints_differ_with_any_bit_of_the_probe() {
        let a = fingerprint(&[0.5, 0.25]);
        assert_eq!(a, fingerprint(&[0.5, 0.25]));
        assert_ne!(a, fingerprint(&[0.5, 0.250_000_03]));
        assert_ne!(a, fingerprint(&[0.5, 0.25, 0.0]));
        assert_eq!(a.len(), 24);
    }

    #[test]
    fn only_the_newest_files_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..KEEP_FILES + 2 {
            write_entries(&file_in(dir.path(), &format!("f{i}")));
            // Distinct modification times.
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["f2.bin", "f3.bin", "f4.bin", "f5.bin"]);
    }
}
