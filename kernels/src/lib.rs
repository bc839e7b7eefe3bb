//! knob-kernels: the int8 and f32 compute kernels of knob's inference engine.
//!
//! TEMPORARY scalar stand-in written on branch `model` so the model code
//! compiles and its tests run before branch `kernels` lands. It follows the
//! documented API of issue 2; merging `kernels` replaces this file wholesale.

/// GGUF Q8_0 block: an f16 scale and 32 int8 values (34 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BlockQ8_0 {
    pub d: [u8; 2],
    pub qs: [i8; 32],
}
const _: () = assert!(std::mem::size_of::<BlockQ8_0>() == 34);

pub const QK8_0: usize = 32;

pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) & 1) as u32;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = if exp == 0 {
        if frac == 0 {
            sign << 31
        } else {
            let mut e = 127 - 15 + 1;
            let mut f = frac;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            (sign << 31) | ((e as u32) << 23) | ((f & 0x3ff) << 13)
        }
    } else if exp == 31 {
        (sign << 31) | (0xff << 23) | (frac << 13)
    } else {
        (sign << 31) | ((exp + 127 - 15) << 23) | (frac << 13)
    };
    f32::from_bits(bits)
}

pub fn f32_to_f16(x: f32) -> u16 {
    // round to nearest even, as ggml's GGML_FP32_TO_FP16 (F16C) does
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let mant = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if mant != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 31 {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = mant | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rem = m & ((1 << shift) - 1);
        let mut r = m >> shift;
        if rem > half || (rem == half && (r & 1) == 1) {
            r += 1;
        }
        return sign | r as u16;
    }
    let mut r = ((e as u32) << 10) | (mant >> 13);
    let rem = mant & 0x1fff;
    if rem > 0x1000 || (rem == 0x1000 && (r & 1) == 1) {
        r += 1;
    }
    sign | r as u16
}

pub fn quantize_row_q8_0(x: &[f32], out: &mut [BlockQ8_0]) {
    for (b, xs) in out.iter_mut().zip(x.chunks_exact(QK8_0)) {
        let amax = xs.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f32_to_f16(d).to_le_bytes();
        for (q, v) in b.qs.iter_mut().zip(xs) {
            *q = (v * id).round() as i8;
        }
    }
}

pub fn dequantize_row_q8_0(b: &[BlockQ8_0], out: &mut [f32]) {
    for (blk, o) in b.iter().zip(out.chunks_exact_mut(QK8_0)) {
        let d = f16_to_f32(u16::from_le_bytes(blk.d));
        for (v, q) in o.iter_mut().zip(blk.qs) {
            *v = d * q as f32;
        }
    }
}

/// Activations quantized to Q8_0 blocks, `m` rows of `k` values.
#[derive(Default)]
pub struct QuantizedActs {
    blocks: Vec<BlockQ8_0>,
    m: usize,
    k: usize,
}

impl QuantizedActs {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn quantize(&mut self, x: &[f32], m: usize, k: usize) {
        assert!(k % QK8_0 == 0 && x.len() >= m * k);
        let nb = m * k / QK8_0;
        if self.blocks.len() < nb {
            self.blocks.resize(nb, BlockQ8_0::default());
        }
        quantize_row_q8_0(&x[..m * k], &mut self.blocks[..nb]);
        self.m = m;
        self.k = k;
    }
    pub fn rows(&self) -> usize {
        self.m
    }
    fn row(&self, r: usize) -> &[BlockQ8_0] {
        let nb = self.k / QK8_0;
        &self.blocks[r * nb..(r + 1) * nb]
    }
}

pub struct ThreadPool {
    threads: usize,
}
impl ThreadPool {
    pub fn new(threads: usize) -> Self {
        Self { threads: threads.max(1) }
    }
    pub fn threads(&self) -> usize {
        self.threads
    }
}

fn dot_q8(w: &[BlockQ8_0], x: &[BlockQ8_0]) -> f32 {
    let mut s = 0f32;
    for (a, b) in w.iter().zip(x) {
        let mut acc = 0i32;
        for i in 0..QK8_0 {
            acc += a.qs[i] as i32 * b.qs[i] as i32;
        }
        s += acc as f32 * f16_to_f32(u16::from_le_bytes(a.d)) * f16_to_f32(u16::from_le_bytes(b.d));
    }
    s
}

pub fn gemv(_pool: &ThreadPool, w: &[BlockQ8_0], n: usize, k: usize, x: &QuantizedActs, y: &mut [f32]) {
    gemm(_pool, w, n, k, x, y)
}

pub fn gemm(_pool: &ThreadPool, w: &[BlockQ8_0], n: usize, k: usize, x: &QuantizedActs, y: &mut [f32]) {
    let nb = k / QK8_0;
    for r in 0..x.rows() {
        let xr = x.row(r);
        for j in 0..n {
            y[r * n + j] = dot_q8(&w[j * nb..(j + 1) * nb], xr);
        }
    }
}

pub mod ops {
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum RopeStyle {
        /// pairs (2i, 2i+1), GPT-J / llama.cpp LLAMA_ROPE_TYPE_NORM
        Normal,
        /// pairs (i, i + d/2), GPT-NeoX "rotate half"
        Neox,
    }
    pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
        let ss = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
        let s = 1.0 / (ss + eps).sqrt();
        for i in 0..x.len() {
            out[i] = x[i] * s * w[i];
        }
    }
    pub fn layer_norm(x: &[f32], w: &[f32], b: &[f32], eps: f32, out: &mut [f32]) {
        let n = x.len() as f32;
        let mean = x.iter().sum::<f32>() / n;
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
        let s = 1.0 / (var + eps).sqrt();
        for i in 0..x.len() {
            out[i] = (x[i] - mean) * s * w[i] + b[i];
        }
    }
    pub fn softmax(x: &mut [f32]) {
        let m = x.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let mut s = 0.0;
        for v in x.iter_mut() {
            *v = (*v - m).exp();
            s += *v;
        }
        for v in x.iter_mut() {
            *v /= s;
        }
    }
    pub fn rope(x: &mut [f32], head_dim: usize, cos: &[f32], sin: &[f32], style: RopeStyle) {
        let half = head_dim / 2;
        for h in x.chunks_exact_mut(head_dim) {
            for i in 0..half {
                let (a, b) = match style {
                    RopeStyle::Normal => (2 * i, 2 * i + 1),
                    RopeStyle::Neox => (i, i + half),
                };
                let (x0, x1) = (h[a], h[b]);
                h[a] = x0 * cos[i] - x1 * sin[i];
                h[b] = x0 * sin[i] + x1 * cos[i];
            }
        }
    }
    pub fn silu_mul(gate: &mut [f32], up: &[f32]) {
        for (g, u) in gate.iter_mut().zip(up) {
            *g = *g / (1.0 + (-*g).exp()) * u;
        }
    }
    pub fn add(a: &mut [f32], b: &[f32]) {
        for (x, y) in a.iter_mut().zip(b) {
            *x += y;
        }
    }
    pub fn scale(x: &mut [f32], s: f32) {
        for v in x {
            *v *= s;
        }
    }
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }
    pub fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
        for (u, v) in y.iter_mut().zip(x) {
            *u += a * v;
        }
    }
    pub fn matvec_f32(w: &[f32], n: usize, k: usize, x: &[f32], y: &mut [f32]) {
        for j in 0..n {
            y[j] = dot(&w[j * k..(j + 1) * k], &x[..k]);
        }
    }
}
