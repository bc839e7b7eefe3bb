//! Errors of the GGUF reader. Every parse error names the field, the byte
//! offset where it was read and the sizes involved.

use std::path::PathBuf;

use super::types::GgmlType;

#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not a GGUF file: magic at byte 0 is {found:?}, expected \"GGUF\"")]
    BadMagic { found: String },
    #[error("unsupported GGUF version {version} at byte 4 (supported: 2 and 3)")]
    Version { version: u32 },
    #[error("file truncated: {field} at byte {offset} needs {needed} bytes, but the file has only {available} left")]
    Truncated {
        field: String,
        offset: u64,
        needed: u64,
        available: u64,
    },
    #[error("{field} at byte {offset} is {value}, over the limit of {limit}")]
    TooLarge {
        field: String,
        offset: u64,
        value: u64,
        limit: u64,
    },
    #[error("{field} at byte {offset} has unknown value type id {id}")]
    BadValueType { field: String, offset: u64, id: u32 },
    #[error("{field} at byte {offset} is an array of arrays, which GGUF readers do not support")]
    NestedArray { field: String, offset: u64 },
    #[error("{field} at byte {offset} ({len} bytes) is not valid UTF-8")]
    BadUtf8 {
        field: String,
        offset: u64,
        len: u64,
    },
    #[error("{field} at byte {offset} is the bool byte {value}, expected 0 or 1")]
    BadBool {
        field: String,
        offset: u64,
        value: u8,
    },
    #[error("metadata key {key:?} at byte {offset} appears twice")]
    DuplicateKey { key: String, offset: u64 },
    #[error("tensor name {name:?} at byte {offset} appears twice")]
    DuplicateTensor { name: String, offset: u64 },
    #[error("general.alignment is {value}, expected a power of two")]
    BadAlignment { value: u64 },
    #[error(
        "tensor {name:?} at byte {offset} has {n_dims} dimensions, at most {max} are supported"
    )]
    TooManyDims {
        name: String,
        offset: u64,
        n_dims: u32,
        max: u32,
    },
    #[error("tensor {name:?}: unknown tensor type id {id} at byte {offset}")]
    UnknownTensorType { name: String, offset: u64, id: u32 },
    #[error("tensor {name:?}: dimensions {dims:?} (at byte {offset}) overflow the element count")]
    DimsOverflow {
        name: String,
        offset: u64,
        dims: Vec<u64>,
    },
    #[error("tensor {name:?}: first dimension {ne0} is not a multiple of the {ggml_type} block size {block}")]
    NotBlockMultiple {
        name: String,
        ne0: u64,
        ggml_type: GgmlType,
        block: u64,
    },
    #[error("tensor {name:?}: data offset {offset} (read at byte {at}) is not a multiple of the alignment {alignment}")]
    MisalignedOffset {
        name: String,
        offset: u64,
        at: u64,
        alignment: u64,
    },
    #[error("tensor {name:?}: data bytes [{start}, {end}) of the data section lie past its end; the data section starts at byte {data_start} and holds {size} bytes")]
    OutOfBounds {
        name: String,
        start: u64,
        end: u64,
        data_start: u64,
        size: u64,
    },
    #[error("missing metadata key {key}")]
    MissingKey { key: String },
    #[error("metadata key {key} has type {found}, expected {expected}")]
    WrongType {
        key: String,
        found: String,
        expected: &'static str,
    },
    #[error("metadata key {key} is {value}, which does not fit in {expected}")]
    OutOfRange {
        key: String,
        value: String,
        expected: &'static str,
    },
    #[error("missing tensor {name}")]
    MissingTensor { name: String },
    #[error("unsupported tensor type {ggml_type} in tensor {name}")]
    UnsupportedType { name: String, ggml_type: GgmlType },
    #[error("tensor {name}: converting {ggml_type} to q8_0 needs rows whose length is a multiple of 32, got {ne0}")]
    RowNotQ8Multiple {
        name: String,
        ggml_type: GgmlType,
        ne0: u64,
    },
}

pub type Result<T, E = GgufError> = std::result::Result<T, E>;
