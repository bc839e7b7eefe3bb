//! Reader tests: a writer round trip, and hostile bytes built here, each of
//! which must give its specific error (never a panic).

use super::writer::GgufWriter;
use super::*;

/// Raw GGUF bytes, so tests can write what the writer refuses to.
#[derive(Default)]
struct Raw(Vec<u8>);

impl Raw {
    fn header(version: u32, n_tensors: u64, n_kv: u64) -> Raw {
        let mut r = Raw::default();
        r.0.extend_from_slice(b"GGUF");
        r.u32(version).u64(n_tensors).u64(n_kv);
        r
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn str(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    fn kv_u32(&mut self, key: &str, v: u32) -> &mut Self {
        self.str(key).u32(4).u32(v)
    }
    fn tensor(&mut self, name: &str, dims: &[u64], t: u32, offset: u64) -> &mut Self {
        self.str(name).u32(dims.len() as u32);
        for &d in dims {
            self.u64(d);
        }
        self.u32(t).u64(offset)
    }
    /// Pads to 32 and appends `n` data bytes.
    fn data(&mut self, n: usize) -> Vec<u8> {
        let mut v = self.0.clone();
        v.resize(v.len().div_ceil(32) * 32, 0);
        v.extend((0..n).map(|i| i as u8));
        v
    }
}

fn err(bytes: &[u8]) -> GgufError {
    Gguf::from_bytes(bytes).expect_err("hostile bytes must be rejected")
}

fn small_model() -> GgufWriter {
    let mut w = GgufWriter::new();
    w.set("general.architecture", "llama")
        .set("general.name", "tiny")
        .set("llama.block_count", 2u32)
        .set("llama.rope.freq_base", 10000.0f32)
        .set("t.u8", 200u8)
        .set("t.i8", -5i8)
        .set("t.u16", 60000u16)
        .set("t.i16", -300i16)
        .set("t.i32", -70000i32)
        .set("t.u64", 1u64 << 40)
        .set("t.i64", -(1i64 << 40))
        .set("t.f64", 0.25f64)
        .set("t.bool", true)
        .set("tokenizer.ggml.tokens", vec!["a", "b", "<s>"])
        .set("tokenizer.ggml.scores", vec![0.0f32, -1.0, -2.0])
        .set("tokenizer.ggml.token_type", vec![1i32, 1, 3])
        .set("t.bools", vec![true, false]);
    let norm: Vec<f32> = (0..32).map(|i| i as f32 * 0.5).collect();
    let mat: Vec<f32> = (0..64 * 3)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
        .collect();
    w.add_f32("norm.weight", &[32], &norm).unwrap();
    w.add_f16("f16.weight", &[64, 3], &mat).unwrap();
    w.add_q8_0("q8.weight", &[64, 3], &mat).unwrap();
    w
}

#[test]
fn writer_reader_round_trip() {
    let w = small_model();
    let g = Gguf::from_bytes(&w.to_bytes()).unwrap();
    let m = g.metadata();
    assert_eq!(g.version(), 3);
    assert_eq!(g.architecture().unwrap(), "llama");
    assert_eq!(m.get_u32("llama.block_count").unwrap(), 2);
    assert_eq!(m.get_f32("llama.rope.freq_base").unwrap(), 10000.0);
    assert_eq!(m.get("t.u8"), Some(&Value::U8(200)));
    assert_eq!(m.get("t.i8"), Some(&Value::I8(-5)));
    assert_eq!(m.get("t.u16"), Some(&Value::U16(60000)));
    assert_eq!(m.get("t.i16"), Some(&Value::I16(-300)));
    assert_eq!(m.get("t.i32"), Some(&Value::I32(-70000)));
    assert_eq!(m.get_u64("t.u64").unwrap(), 1 << 40);
    assert_eq!(m.get_i64("t.i64").unwrap(), -(1 << 40));
    assert_eq!(m.get("t.f64"), Some(&Value::F64(0.25)));
    assert!(m.get_bool("t.bool").unwrap());
    assert_eq!(
        m.get_str_array("tokenizer.ggml.tokens").unwrap(),
        ["a", "b", "<s>"]
    );
    assert_eq!(
        m.get_f32_array("tokenizer.ggml.scores").unwrap(),
        [0.0, -1.0, -2.0]
    );
    assert_eq!(
        m.get_int_array("tokenizer.ggml.token_type").unwrap(),
        [1, 1, 3]
    );
    assert_eq!(
        m.get("t.bools"),
        Some(&Value::Array(Array::Bool(vec![true, false])))
    );

    let norm = g.tensor_f32("norm.weight").unwrap();
    assert!(
        matches!(norm, std::borrow::Cow::Borrowed(_)),
        "F32 data is used in place"
    );
    assert_eq!(norm[3], 1.5);
    let t = g.tensor("f16.weight").unwrap();
    assert_eq!(
        (t.dims, t.ggml_type, t.bytes.len()),
        (&[64u64, 3][..], GgmlType::F16, 64 * 3 * 2)
    );
    assert_eq!((t.row_len(), t.n_rows()), (64, 3));
    let f16 = t.to_f32().unwrap();
    assert_eq!(f16[1], f16_to_f32(f32_to_f16((37.0 - 50.0) / 25.0)));
    let q8 = g.tensor_q8_0("q8.weight").unwrap();
    assert!(
        matches!(q8, std::borrow::Cow::Borrowed(_)),
        "Q8_0 data is used in place"
    );
    assert_eq!(q8.len(), 6);
    // F16 re-quantized to Q8_0 equals quantizing the f16-rounded values directly.
    let from_f16 = g.tensor_q8_0("f16.weight").unwrap();
    let mut expected = vec![BlockQ8_0::ZERO; 6];
    quantize_row_q8_0(&f16, &mut expected);
    assert_eq!(&from_f16[..], &expected[..]);
    let mut w2 = GgufWriter::new();
    w2.add_q8_0_blocks("again", &[64, 3], &expected).unwrap();
    assert!(w2
        .add_q8_0_blocks("short", &[64, 3], &expected[..5])
        .is_err());
    let g2 = Gguf::from_bytes(&w2.to_bytes()).unwrap();
    assert_eq!(&g2.tensor_q8_0("again").unwrap()[..], &expected[..]);
    for t in g.tensors() {
        assert_eq!(
            t.bytes.as_ptr() as u64 % 32,
            g.bytes().as_ptr() as u64 % 32,
            "{} is aligned",
            t.name
        );
    }
    assert!(matches!(
        g.tensor("nope").unwrap_err(),
        GgufError::MissingTensor { .. }
    ));
}

#[test]
fn custom_alignment_is_written_and_honoured() {
    let mut w = small_model();
    w.alignment(64).unwrap();
    let bytes = w.to_bytes();
    let g = Gguf::from_bytes(&bytes).unwrap();
    assert_eq!(g.alignment(), 64);
    assert_eq!(g.data_start() % 64, 0);
    for info in g.tensor_infos() {
        assert_eq!(info.offset % 64, 0);
    }
    assert_eq!(g.tensor_f32("norm.weight").unwrap()[2], 1.0);
    assert!(w.alignment(3).is_err());
}

#[test]
fn unaligned_static_bytes_are_copied_and_still_read() {
    let bytes = small_model().to_bytes();
    let mut shifted = vec![0u8; bytes.len() + 1];
    shifted[1..].copy_from_slice(&bytes);
    let leaked: &'static [u8] = Box::leak(shifted.into_boxed_slice());
    for slice in [&leaked[1..], leaked] {
        if slice.len() != bytes.len() {
            continue;
        }
        let g = Gguf::from_static(slice).unwrap();
        assert_eq!(g.tensor_f32("norm.weight").unwrap()[4], 2.0);
        assert_eq!(g.tensor_q8_0("q8.weight").unwrap().len(), 6);
    }
}

#[test]
fn file_round_trip_through_mmap() {
    let dir = std::env::temp_dir().join(format!("knob-gguf-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tiny.gguf");
    small_model().write_to(&path).unwrap();
    let g = Gguf::open(&path).unwrap();
    assert_eq!(g.tensor_f32("norm.weight").unwrap()[31], 15.5);
    std::fs::write(dir.join("empty.gguf"), b"").unwrap();
    let e = Gguf::open(dir.join("empty.gguf")).unwrap_err().to_string();
    assert_eq!(
        e,
        "file truncated: magic at byte 0 needs 4 bytes, but the file has only 0 left"
    );
    assert!(Gguf::open(&dir).is_err(), "a directory is not a model");
    let missing = Gguf::open(dir.join("absent.gguf")).unwrap_err().to_string();
    assert!(
        missing.starts_with("cannot read ") && missing.contains("absent.gguf"),
        "{missing}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_truncation_of_a_valid_file_is_an_error() {
    let bytes = small_model().to_bytes();
    assert!(Gguf::from_bytes(&bytes).is_ok());
    for len in 0..bytes.len() {
        match err(&bytes[..len]) {
            GgufError::Truncated {
                offset,
                needed,
                available,
                ..
            } => {
                assert!(offset <= len as u64 && needed > available, "len {len}")
            }
            GgufError::OutOfBounds { end, size, .. } => assert!(end > size, "len {len}"),
            e => panic!("truncation at {len} gave {e}"),
        }
    }
}

#[test]
fn bad_magic_and_version() {
    let e = err(b"GGML\x03\0\0\0").to_string();
    assert_eq!(
        e,
        "not a GGUF file: magic at byte 0 is \"GGML\", expected \"GGUF\""
    );
    let r = Raw::header(1, 0, 0);
    assert_eq!(
        err(&r.0).to_string(),
        "unsupported GGUF version 1 at byte 4 (supported: 2 and 3)"
    );
    // Version 2 has the same layout as 3.
    let r = Raw::header(2, 0, 0);
    assert_eq!(Gguf::from_bytes(&r.0).unwrap().version(), 2);
}

#[test]
fn huge_counts_are_rejected_before_allocating() {
    let e = err(&Raw::header(3, u64::MAX, 0).0);
    assert!(
        matches!(e, GgufError::TooLarge { ref field, offset: 8, value: u64::MAX, .. } if field == "tensor count"),
        "{e}"
    );
    let e = err(&Raw::header(3, 0, 1 << 40).0);
    assert!(matches!(e, GgufError::TooLarge { offset: 16, .. }), "{e}");
    // Under the limit, but more entries than the file could hold.
    let e = err(&Raw::header(3, 0, 1000).0);
    assert!(
        matches!(e, GgufError::Truncated { ref field, offset: 24, .. } if field == "metadata count"),
        "{e}"
    );
    let e = err(&Raw::header(3, 1000, 0).0);
    assert_eq!(
        e.to_string(),
        "file truncated: tensor infos at byte 24 needs 24000 bytes, but the file has only 0 left"
    );
}

#[test]
fn huge_string_and_array_lengths_are_rejected() {
    let mut r = Raw::header(3, 0, 1);
    r.u64(u64::MAX).u64(0);
    let e = err(&r.0);
    assert_eq!(
        e.to_string(),
        format!("length of key of metadata entry 0 at byte 24 is {}, over the limit of {MAX_STRING_LEN}", u64::MAX)
    );
    let mut r = Raw::header(3, 0, 1);
    r.u64(1000).u64(0);
    assert!(matches!(
        err(&r.0),
        GgufError::Truncated {
            needed: 1000,
            available: 8,
            ..
        }
    ));

    // An array of 2^40 u32.
    let mut r = Raw::header(3, 0, 1);
    r.str("big").u32(9).u32(4).u64(1 << 40);
    let e = err(&r.0);
    assert!(
        matches!(e, GgufError::TooLarge { ref field, .. } if field == "element count of value of metadata key \"big\""),
        "{e}"
    );
    // A million u32 in a few bytes.
    let mut r = Raw::header(3, 0, 1);
    r.str("big").u32(9).u32(4).u64(1_000_000).u32(0);
    assert!(matches!(
        err(&r.0),
        GgufError::Truncated {
            needed: 4_000_000,
            available: 4,
            ..
        }
    ));
    // A million strings: each needs at least its 8-byte length.
    let mut r = Raw::header(3, 0, 1);
    r.str("s").u32(9).u32(8).u64(1_000_000);
    assert!(matches!(
        err(&r.0),
        GgufError::Truncated {
            needed: 8_000_000,
            ..
        }
    ));
    // A string element whose length is huge.
    let mut r = Raw::header(3, 0, 1);
    r.str("s").u32(9).u32(8).u64(1).u64(u64::MAX - 1);
    let e = err(&r.0);
    assert!(
        e.to_string()
            .starts_with("length of element 0 of value of metadata key \"s\""),
        "{e}"
    );
}

#[test]
fn wrong_value_types_are_rejected() {
    let mut r = Raw::header(3, 0, 1);
    r.str("k").u32(13);
    assert_eq!(
        err(&r.0).to_string(),
        "value of metadata key \"k\" at byte 33 has unknown value type id 13"
    );
    let mut r = Raw::header(3, 0, 1);
    r.str("k").u32(9).u32(9).u64(1);
    assert!(matches!(
        err(&r.0),
        GgufError::NestedArray { offset: 37, .. }
    ));
    let mut r = Raw::header(3, 0, 1);
    r.str("k").u32(7).0.push(2);
    assert!(matches!(
        err(&r.0),
        GgufError::BadBool {
            value: 2,
            offset: 37,
            ..
        }
    ));
    let mut r = Raw::header(3, 0, 1);
    r.str("k").u32(8).u64(2).0.extend_from_slice(&[0xff, 0xfe]);
    assert!(matches!(
        err(&r.0),
        GgufError::BadUtf8 {
            offset: 45,
            len: 2,
            ..
        }
    ));
    let mut r = Raw::header(3, 0, 2);
    r.kv_u32("k", 1).kv_u32("k", 2);
    assert!(matches!(
        err(&r.0),
        GgufError::DuplicateKey { offset: 41, .. }
    ));
    let mut r = Raw::header(3, 0, 1);
    r.str("general.alignment").u32(8).str("32");
    assert_eq!(
        err(&r.0).to_string(),
        "metadata key general.alignment has type string, expected u32"
    );
    for bad in [0, 3, 48] {
        let mut r = Raw::header(3, 0, 1);
        r.kv_u32("general.alignment", bad);
        assert_eq!(
            err(&r.0).to_string(),
            format!("general.alignment is {bad}, expected a power of two")
        );
    }
}

#[test]
fn bad_tensor_infos_are_rejected() {
    // Unknown type id (4 was removed from ggml).
    let mut r = Raw::header(3, 1, 0);
    r.tensor("w", &[32], 4, 0);
    let bytes = r.data(64);
    assert_eq!(
        err(&bytes).to_string(),
        "tensor \"w\": unknown tensor type id 4 at byte 45"
    );
    // Too many dimensions.
    let mut r = Raw::header(3, 1, 0);
    r.tensor("w", &[1, 1, 1, 1, 1], 0, 0);
    assert!(matches!(
        err(&r.data(4)),
        GgufError::TooManyDims {
            n_dims: 5,
            offset: 33,
            ..
        }
    ));
    // Dimensions whose product overflows, and a single dimension over i64::MAX.
    for dims in [
        &[1u64 << 40, 1 << 40][..],
        &[u64::MAX][..],
        &[1 << 62, 2][..],
    ] {
        let mut r = Raw::header(3, 1, 0);
        r.tensor("w", dims, 0, 0);
        let e = err(&r.data(4));
        assert!(
            matches!(e, GgufError::DimsOverflow { ref dims, offset: 37, .. } if !dims.is_empty()),
            "{e}"
        );
    }
    // Byte count overflow even though the element count fits: 2^62 f32 elements.
    let mut r = Raw::header(3, 1, 0);
    r.tensor("w", &[1 << 62], 0, 0);
    assert!(matches!(err(&r.data(4)), GgufError::DimsOverflow { .. }));
    // Row length not a multiple of the block.
    let mut r = Raw::header(3, 1, 0);
    r.tensor("w", &[33], 8, 0);
    assert_eq!(
        err(&r.data(64)).to_string(),
        "tensor \"w\": first dimension 33 is not a multiple of the q8_0 block size 32"
    );
    // Misaligned data offset.
    let mut r = Raw::header(3, 1, 0);
    r.tensor("w", &[4], 0, 8);
    assert_eq!(
        err(&r.data(64)).to_string(),
        "tensor \"w\": data offset 8 (read at byte 49) is not a multiple of the alignment 32"
    );
    // Offset past the end of the file, and an offset + size that overflows.
    let mut r = Raw::header(3, 1, 0);
    r.tensor("w", &[4], 0, 1 << 20);
    let e = err(&r.data(16));
    assert_eq!(
        e.to_string(),
        "tensor \"w\": data bytes [1048576, 1048592) of the data section lie past its end; \
         the data section starts at byte 64 and holds 16 bytes"
    );
    let mut r = Raw::header(3, 1, 0);
    r.tensor("w", &[16], 0, u64::MAX - 31);
    assert!(matches!(
        err(&r.data(16)),
        GgufError::OutOfBounds { end: u64::MAX, .. }
    ));
    // Data one byte short.
    let mut r = Raw::header(3, 1, 0);
    r.tensor("w", &[4], 0, 0);
    assert!(matches!(
        err(&r.data(15)),
        GgufError::OutOfBounds {
            start: 0,
            end: 16,
            size: 15,
            ..
        }
    ));
    // Duplicate names, and a name longer than ggml allows.
    let mut r = Raw::header(3, 2, 0);
    r.tensor("w", &[4], 0, 0).tensor("w", &[4], 0, 32);
    assert!(matches!(
        err(&r.data(64)),
        GgufError::DuplicateTensor { .. }
    ));
    let mut r = Raw::header(3, 1, 0);
    r.tensor(&"n".repeat(64), &[4], 0, 0);
    assert!(matches!(
        err(&r.data(16)),
        GgufError::TooLarge {
            value: 64,
            limit: 63,
            ..
        }
    ));
}

#[test]
fn zero_sized_and_scalar_tensors_are_fine() {
    let mut r = Raw::header(3, 2, 0);
    r.tensor("empty", &[0, 8], 0, 0).tensor("scalar", &[], 0, 0);
    let bytes = r.data(4);
    let g = Gguf::from_bytes(&bytes).unwrap();
    assert_eq!(g.tensor_f32("empty").unwrap().len(), 0);
    assert_eq!(g.tensor("scalar").unwrap().n_elements(), 1);
}

#[test]
fn unsupported_types_are_named() {
    let mut w = GgufWriter::new();
    w.add_raw("blk.0.ffn_up.weight", &[256], GgmlType::Q2K, vec![0; 84])
        .unwrap();
    let g = Gguf::from_bytes(&w.to_bytes()).unwrap();
    let e = g.tensor_q8_0("blk.0.ffn_up.weight").unwrap_err();
    assert_eq!(
        e.to_string(),
        "unsupported tensor type q2_K in tensor blk.0.ffn_up.weight"
    );
    assert!(g.tensor_f32("blk.0.ffn_up.weight").is_err());
    // Rows that Q8_0 cannot block.
    let mut w = GgufWriter::new();
    w.add_f32("odd", &[16, 2], &[0.0; 32]).unwrap();
    let g = Gguf::from_bytes(&w.to_bytes()).unwrap();
    assert!(matches!(
        g.tensor_q8_0("odd").unwrap_err(),
        GgufError::RowNotQ8Multiple { ne0: 16, .. }
    ));
}

#[test]
fn quantized_tensors_requantize_to_q8_0_of_their_dequantized_values() {
    // Two rows of 256 Q4_K elements with arbitrary (valid) bytes, and Q4_1 rows.
    let q4k: Vec<u8> = (0..2 * 144).map(|i| (i * 73 % 251) as u8).collect();
    let mut q41: Vec<u8> = (0..4 * 20).map(|i| (i * 31 % 256) as u8).collect();
    for block in q41.chunks_mut(20) {
        block[..4].copy_from_slice(&[0x00, 0x2C, 0x00, 0xB0]); // d = 0.0625, m = -0.125
    }
    let mut w = GgufWriter::new();
    w.add_raw("k", &[256, 2], GgmlType::Q4K, q4k).unwrap();
    w.add_raw("q41", &[64, 2], GgmlType::Q4_1, q41).unwrap();
    let g = Gguf::from_bytes(&w.to_bytes()).unwrap();
    for name in ["k", "q41"] {
        let f = g.tensor_f32(name).unwrap();
        let mut expected = vec![BlockQ8_0::ZERO; f.len() / 32];
        quantize_row_q8_0(&f, &mut expected);
        let q = g.tensor_q8_0(name).unwrap();
        assert!(matches!(q, std::borrow::Cow::Owned(_)));
        assert_eq!(&q[..], &expected[..], "{name}");
        assert!(
            q.iter().any(|b| b.qs.iter().any(|&v| v != 0)),
            "{name} is not all zero"
        );
    }
}
