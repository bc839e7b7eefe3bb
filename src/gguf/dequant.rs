//! Scalar dequantization of ggml's block formats to f32, following the
//! `dequantize_row_*` reference functions of ggml-quants.c operation for
//! operation (same order of f32 operations, so the results are bit-identical).
//!
//! Every function takes whole blocks: `bytes.len()` is a multiple of the type's
//! block bytes and `out.len()` is the matching element count. Callers
//! (`tensor.rs`) check that before calling.

use super::types::{GgmlType, QK_K};
use knob_kernels::{bf16_to_f32, f16_to_f32};

fn half(b: &[u8], at: usize) -> f32 {
    f16_to_f32(u16::from_le_bytes([b[at], b[at + 1]]))
}

/// Dequantizes `bytes` of type `t` into `out`. Returns false for a type this
/// module cannot dequantize (the caller reports it as unsupported).
pub fn dequantize(t: GgmlType, bytes: &[u8], out: &mut [f32]) -> bool {
    let bs = t.type_size();
    let n = t.block_size();
    debug_assert_eq!(bytes.len() / bs * n, out.len());
    let blocks = bytes.chunks_exact(bs).zip(out.chunks_exact_mut(n));
    match t {
        GgmlType::F32 => {
            for (b, y) in blocks {
                y[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        GgmlType::F16 => blocks.for_each(|(b, y)| y[0] = half(b, 0)),
        GgmlType::Bf16 => {
            blocks.for_each(|(b, y)| y[0] = bf16_to_f32(u16::from_le_bytes([b[0], b[1]])))
        }
        GgmlType::Q8_0 => blocks.for_each(|(b, y)| q8_0(b, y)),
        GgmlType::Q4_0 => blocks.for_each(|(b, y)| q4_0(b, y)),
        GgmlType::Q4_1 => blocks.for_each(|(b, y)| q4_1(b, y)),
        GgmlType::Q5_0 => blocks.for_each(|(b, y)| q5_0(b, y)),
        GgmlType::Q5_1 => blocks.for_each(|(b, y)| q5_1(b, y)),
        GgmlType::Q4K => blocks.for_each(|(b, y)| q4_k(b, y)),
        GgmlType::Q5K => blocks.for_each(|(b, y)| q5_k(b, y)),
        GgmlType::Q6K => blocks.for_each(|(b, y)| q6_k(b, y)),
        GgmlType::Q8K => blocks.for_each(|(b, y)| q8_k(b, y)),
        _ => return false,
    }
    true
}

/// block_q8_0 { half d; int8 qs[32]; }
fn q8_0(b: &[u8], y: &mut [f32]) {
    let d = half(b, 0);
    for (y, &q) in y.iter_mut().zip(&b[2..34]) {
        *y = (q as i8) as f32 * d;
    }
}

/// block_q4_0 { half d; u8 qs[16]; }: low nibbles are elements 0..16, high nibbles 16..32.
fn q4_0(b: &[u8], y: &mut [f32]) {
    let d = half(b, 0);
    let qs = &b[2..18];
    for j in 0..16 {
        let x0 = (qs[j] & 0x0F) as i32 - 8;
        let x1 = (qs[j] >> 4) as i32 - 8;
        y[j] = x0 as f32 * d;
        y[j + 16] = x1 as f32 * d;
    }
}

/// block_q4_1 { half d; half m; u8 qs[16]; }: value = q * d + m.
fn q4_1(b: &[u8], y: &mut [f32]) {
    let d = half(b, 0);
    let m = half(b, 2);
    let qs = &b[4..20];
    for j in 0..16 {
        let x0 = (qs[j] & 0x0F) as i32;
        let x1 = (qs[j] >> 4) as i32;
        y[j] = x0 as f32 * d + m;
        y[j + 16] = x1 as f32 * d + m;
    }
}

/// block_q5_0 { half d; u8 qh[4]; u8 qs[16]; }: the fifth bit of element j is bit j of qh.
fn q5_0(b: &[u8], y: &mut [f32]) {
    let d = half(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    let qs = &b[6..22];
    for j in 0..16 {
        let xh_0 = ((qh >> j) << 4) & 0x10;
        let xh_1 = (qh >> (j + 12)) & 0x10;
        let x0 = ((qs[j] as u32 & 0x0F) | xh_0) as i32 - 16;
        let x1 = ((qs[j] as u32 >> 4) | xh_1) as i32 - 16;
        y[j] = x0 as f32 * d;
        y[j + 16] = x1 as f32 * d;
    }
}

/// block_q5_1 { half d; half m; u8 qh[4]; u8 qs[16]; }
fn q5_1(b: &[u8], y: &mut [f32]) {
    let d = half(b, 0);
    let m = half(b, 2);
    let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    let qs = &b[8..24];
    for j in 0..16 {
        let xh_0 = ((qh >> j) << 4) & 0x10;
        let xh_1 = (qh >> (j + 12)) & 0x10;
        let x0 = (qs[j] as u32 & 0x0F) | xh_0;
        let x1 = (qs[j] as u32 >> 4) | xh_1;
        y[j] = x0 as f32 * d + m;
        y[j + 16] = x1 as f32 * d + m;
    }
}

/// The 6-bit scale and min of sub-block `j` (0..8) from the 12 packed bytes of q4_K/q5_K.
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// block_q4_K { half d; half dmin; u8 scales[12]; u8 qs[128]; }: 8 sub-blocks of 32,
/// value = d*scale * q - dmin*min.
fn q4_k(b: &[u8], y: &mut [f32]) {
    let d = half(b, 0);
    let min = half(b, 2);
    let scales = &b[4..16];
    let qs = &b[16..144];
    for (chunk, (q, ys)) in qs.chunks_exact(32).zip(y.chunks_exact_mut(64)).enumerate() {
        let (sc, m) = scale_min_k4(2 * chunk, scales);
        let (d1, m1) = (d * sc as f32, min * m as f32);
        let (sc, m) = scale_min_k4(2 * chunk + 1, scales);
        let (d2, m2) = (d * sc as f32, min * m as f32);
        for l in 0..32 {
            ys[l] = d1 * (q[l] & 0xF) as f32 - m1;
            ys[l + 32] = d2 * (q[l] >> 4) as f32 - m2;
        }
    }
}

/// block_q5_K { half d; half dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]; }
fn q5_k(b: &[u8], y: &mut [f32]) {
    let d = half(b, 0);
    let min = half(b, 2);
    let scales = &b[4..16];
    let qh = &b[16..48];
    let qs = &b[48..176];
    let (mut u1, mut u2) = (1u8, 2u8);
    for (chunk, (ql, ys)) in qs.chunks_exact(32).zip(y.chunks_exact_mut(64)).enumerate() {
        let (sc, m) = scale_min_k4(2 * chunk, scales);
        let (d1, m1) = (d * sc as f32, min * m as f32);
        let (sc, m) = scale_min_k4(2 * chunk + 1, scales);
        let (d2, m2) = (d * sc as f32, min * m as f32);
        for l in 0..32 {
            let h1 = if qh[l] & u1 != 0 { 16 } else { 0 };
            let h2 = if qh[l] & u2 != 0 { 16 } else { 0 };
            ys[l] = d1 * ((ql[l] & 0xF) + h1) as f32 - m1;
            ys[l + 32] = d2 * ((ql[l] >> 4) + h2) as f32 - m2;
        }
        u1 <<= 2;
        u2 <<= 2;
    }
}

/// block_q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; half d; }: 16 sub-blocks of 16,
/// value = d * scale * (q - 32).
fn q6_k(b: &[u8], y: &mut [f32]) {
    let d = half(b, 208);
    for n in 0..2 {
        let ql = &b[64 * n..64 * n + 64];
        let qh = &b[128 + 32 * n..128 + 32 * n + 32];
        let sc = &b[192 + 8 * n..192 + 8 * n + 8];
        let ys = &mut y[128 * n..128 * n + 128];
        for l in 0..32 {
            let is = l / 16;
            let q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32;
            let q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
            let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
            ys[l] = d * (sc[is] as i8) as f32 * q1 as f32;
            ys[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
            ys[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
            ys[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
        }
    }
}

/// block_q8_K { f32 d; i8 qs[256]; i16 bsums[16]; }
fn q8_k(b: &[u8], y: &mut [f32]) {
    let d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    for (y, &q) in y.iter_mut().zip(&b[4..4 + QK_K]) {
        *y = d * (q as i8) as f32;
    }
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)] // element indices are the point of these tests
mod tests {
    //! Each format is checked against blocks packed here from the layout in
    //! ggml-common.h, element by element (an independent formulation of the
    //! same spec), or against hand-computed values.
    use super::*;
    use knob_kernels::f32_to_f16;

    fn deq(t: GgmlType, bytes: &[u8]) -> Vec<f32> {
        let mut out = vec![0.0; bytes.len() / t.type_size() * t.block_size()];
        assert!(dequantize(t, bytes, &mut out));
        out
    }

    #[test]
    fn q4_0_hand_computed() {
        let mut b = vec![0x00, 0x3C]; // d = 1.0
        b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
        let y = deq(GgmlType::Q4_0, &b);
        let expected: Vec<f32> = (0..16)
            .map(|j| j as f32 - 8.0)
            .chain((0..16).map(|j| 7.0 - j as f32))
            .collect();
        assert_eq!(y, expected);
    }

    #[test]
    fn q4_1_hand_computed() {
        let mut b = vec![0x00, 0x38, 0x00, 0xBC]; // d = 0.5, m = -1.0
        b.extend((0..16u8).map(|j| 0xF0 | j));
        let y = deq(GgmlType::Q4_1, &b);
        for j in 0..16 {
            assert_eq!(y[j], j as f32 * 0.5 - 1.0);
            assert_eq!(y[j + 16], 6.5);
        }
    }

    #[test]
    fn q5_0_hand_computed() {
        let mut b = vec![0x00, 0x40]; // d = 2.0
        b.extend(0x0001_0001u32.to_le_bytes()); // fifth bit of elements 0 and 16
        b.extend([0x21u8; 16]);
        let y = deq(GgmlType::Q5_0, &b);
        assert_eq!(y[0], 2.0);
        assert!(y[1..16].iter().all(|&v| v == -30.0));
        assert_eq!(y[16], 4.0);
        assert!(y[17..].iter().all(|&v| v == -28.0));
    }

    #[test]
    fn q5_1_hand_computed() {
        let mut b = vec![0x00, 0x3C, 0x00, 0x38]; // d = 1.0, m = 0.5
        b.extend(0x8000_0000u32.to_le_bytes()); // fifth bit of element 31
        b.extend([0u8; 16]);
        let y = deq(GgmlType::Q5_1, &b);
        assert!(y[..31].iter().all(|&v| v == 0.5));
        assert_eq!(y[31], 16.5);
    }

    #[test]
    fn q8_0_and_q8_k_hand_computed() {
        let mut b = vec![0x00, 0xB8]; // d = -0.5
        b.extend((0..32).map(|i| (i as i8 - 16) as u8));
        let y = deq(GgmlType::Q8_0, &b);
        assert_eq!(y[0], 8.0);
        assert_eq!(y[31], -7.5);
        let mut b = 0.25f32.to_le_bytes().to_vec();
        b.extend((0..256).map(|i| (i - 128) as i8 as u8));
        b.extend([0u8; 32]); // bsums are not used by dequantization
        let y = deq(GgmlType::Q8K, &b);
        assert_eq!(y[0], -32.0);
        assert_eq!(y[255], 31.75);
    }

    /// Packs 8 six-bit scales and mins the way q4_K/q5_K store them.
    fn pack_scales(sc: &[u8; 8], m: &[u8; 8]) -> [u8; 12] {
        let mut q = [0u8; 12];
        for j in 0..4 {
            q[j] = (sc[j] & 63) | ((sc[j + 4] >> 4) << 6);
            q[j + 4] = (m[j] & 63) | ((m[j + 4] >> 4) << 6);
            q[j + 8] = (sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4);
        }
        q
    }

    const SC: [u8; 8] = [10, 17, 24, 31, 38, 45, 52, 63];
    const MN: [u8; 8] = [63, 58, 53, 48, 43, 38, 33, 0];

    #[test]
    fn q4_k_against_spec_packing() {
        let (d, dmin) = (0.125f32, 0.0625f32);
        let q = |e: usize| ((e * 7) % 16) as u8;
        let mut qs = [0u8; 128];
        for e in 0..256 {
            let (c, w) = (e / 64, e % 64);
            if w < 32 {
                qs[c * 32 + w] |= q(e);
            } else {
                qs[c * 32 + w - 32] |= q(e) << 4;
            }
        }
        let mut b = Vec::new();
        b.extend(f32_to_f16(d).to_le_bytes());
        b.extend(f32_to_f16(dmin).to_le_bytes());
        b.extend(pack_scales(&SC, &MN));
        b.extend(qs);
        let y = deq(GgmlType::Q4K, &b);
        for e in 0..256 {
            let s = e / 32;
            assert_eq!(
                y[e],
                d * SC[s] as f32 * q(e) as f32 - dmin * MN[s] as f32,
                "element {e}"
            );
        }
    }

    #[test]
    fn q5_k_against_spec_packing() {
        let (d, dmin) = (0.5f32, 0.25f32);
        let q = |e: usize| ((e * 11) % 32) as u8;
        let mut qs = [0u8; 128];
        let mut qh = [0u8; 32];
        for e in 0..256 {
            let (c, w) = (e / 64, e % 64);
            let low = q(e) & 0xF;
            if w < 32 {
                qs[c * 32 + w] |= low;
            } else {
                qs[c * 32 + w - 32] |= low << 4;
            }
            if q(e) & 16 != 0 {
                qh[e % 32] |= 1 << (e / 32);
            }
        }
        let mut b = Vec::new();
        b.extend(f32_to_f16(d).to_le_bytes());
        b.extend(f32_to_f16(dmin).to_le_bytes());
        b.extend(pack_scales(&SC, &MN));
        b.extend(qh);
        b.extend(qs);
        let y = deq(GgmlType::Q5K, &b);
        for e in 0..256 {
            let s = e / 32;
            assert_eq!(
                y[e],
                d * SC[s] as f32 * q(e) as f32 - dmin * MN[s] as f32,
                "element {e}"
            );
        }
    }

    #[test]
    fn q6_k_against_spec_packing() {
        let d = 0.03125f32;
        let q = |e: usize| ((e * 13) % 64) as u8;
        let scale = |i: usize| (i as i8) * 3 - 20;
        let mut ql = [0u8; 128];
        let mut qh = [0u8; 64];
        for e in 0..256 {
            let (n, w) = (e / 128, e % 128);
            let (k, l) = (w / 32, w % 32);
            let (lo, hi) = (q(e) & 0xF, q(e) >> 4);
            match k {
                0 => ql[64 * n + l] |= lo,
                1 => ql[64 * n + l + 32] |= lo,
                2 => ql[64 * n + l] |= lo << 4,
                _ => ql[64 * n + l + 32] |= lo << 4,
            }
            qh[32 * n + l] |= hi << (2 * k);
        }
        let mut b = Vec::new();
        b.extend(ql);
        b.extend(qh);
        b.extend((0..16).map(|i| scale(i) as u8));
        b.extend(f32_to_f16(d).to_le_bytes());
        let y = deq(GgmlType::Q6K, &b);
        for e in 0..256 {
            let expected = d * scale(e / 16) as f32 * (q(e) as i32 - 32) as f32;
            assert_eq!(y[e], expected, "element {e}");
        }
    }

    #[test]
    fn unsupported_types_are_refused() {
        let mut out = vec![0.0; 256];
        assert!(!dequantize(GgmlType::Q2K, &[0; 84], &mut out));
    }
}
