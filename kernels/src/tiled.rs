//! Q8_0 weights repacked into the tile layout of the AMX path.
//!
//! `tdpbssd` wants its second operand ("B") as K/4 rows of N x 4 bytes: row g
//! holds bytes `4g..4g+4` of each of the N dot products side by side. With
//! one Q8_0 block per instruction (K = 32, so every integer sum has exactly
//! one pair of scales) and N = 16 weight rows, one block of 16 rows is a
//! 512-byte tile of 8 rows x 64 bytes. The layout is plain data, built the
//! same on any CPU. The AMX gemm reads it as B tiles; the AVX-512 VNNI tiled
//! gemm reads each 64-byte row as one register (values `4g..4g+4` of the 16
//! weight rows, lane = row), the layout its per-call gemm builds.

use crate::{BlockQ8_0, OutRows, QK8_0};

/// Weight rows per tile group (the N of one `tdpbssd`).
pub const TILE_N: usize = 16;

/// One block of 16 weight rows in `tdpbssd`'s B layout: byte `64 g + 4 r + i`
/// is value `4 g + i` of row `r`. 64-byte aligned so each tile row is one
/// cache line.
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BTile(pub [u8; 512]);

impl BTile {
    pub const ZERO: BTile = BTile([0; 512]);
}

/// The 16 rows' scales of one block as f32 (exact: f16 widens exactly),
/// one aligned 512-bit vector.
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Scales16(pub [f32; TILE_N]);

impl Scales16 {
    pub const ZERO: Scales16 = Scales16([0.0; TILE_N]);
}

/// Some whole 16-row groups of one repacked matrix (`nb` tiles and scales
/// per group) and where their `cols` output columns go: `out`'s columns
/// from 0, its row 0 being the first row of the activation rows computed.
/// The unit of work of both tiled gemms (AMX and AVX-512 VNNI).
#[allow(dead_code)] // built only on x86-64
pub(crate) struct TiledPiece<'w, 'o> {
    pub vals: &'w [BTile],
    pub scales: &'w [Scales16],
    pub cols: usize,
    pub out: OutRows<'o>,
}

#[allow(dead_code)] // used only on x86-64
impl<'w> TiledPiece<'w, '_> {
    /// The piece's groups, `nb` tiles and scales each, with the first output
    /// column and the number of columns (16, fewer in the last) of each. The
    /// slices borrow the weights, not the piece, so `out` stays writable.
    pub fn groups(
        &self,
        nb: usize,
    ) -> impl Iterator<Item = (usize, usize, &'w [BTile], &'w [Scales16])> + 'w {
        let (vals, scales, n) = (self.vals, self.scales, self.cols);
        vals.chunks_exact(nb)
            .zip(scales.chunks_exact(nb))
            .enumerate()
            .map(move |(g, (v, s))| (g * TILE_N, TILE_N.min(n - g * TILE_N), v, s))
    }
}

/// Repacks `rows <= 16` weight rows of `nb` blocks (`w` holds them row after
/// row) into `vals` and `scales` (`nb` entries each). Missing rows are zero
/// with scale 0, so they contribute nothing.
pub(crate) fn pack_group(
    w: &[BlockQ8_0],
    nb: usize,
    rows: usize,
    vals: &mut [BTile],
    scales: &mut [Scales16],
) {
    assert!(rows <= TILE_N && w.len() == rows * nb && vals.len() == nb && scales.len() == nb);
    for (b, (t, s)) in vals.iter_mut().zip(scales.iter_mut()).enumerate() {
        *t = BTile::ZERO;
        *s = Scales16::ZERO;
        for r in 0..rows {
            let blk = &w[r * nb + b];
            s.0[r] = blk.scale();
            for g in 0..QK8_0 / 4 {
                for i in 0..4 {
                    t.0[64 * g + 4 * r + i] = blk.qs[4 * g + i] as u8;
                }
            }
        }
    }
}

/// A Q8_0 weight matrix (`n` rows of `k` values) repacked once for the tiled
/// gemm ([`crate::gemm_tiled`], AMX or AVX-512 VNNI): groups of 16 rows, each block of a group one
/// 512-byte tile plus 16 f32 scales. The last group is padded with zero rows.
/// Takes about as much memory as the blocks it was made from (`n` rounded up
/// to 16, times `k` bytes plus 4 bytes per 32 values).
#[derive(Clone, Debug)]
pub struct TiledQ8_0 {
    n: usize,
    k: usize,
    /// Tile of group `g`, block `b` at `g * nb + b`.
    pub(crate) vals: Vec<BTile>,
    pub(crate) scales: Vec<Scales16>,
}

impl TiledQ8_0 {
    /// Repacks `w` (`n` rows of `k / 32` blocks, as [`crate::gemm`] takes it).
    /// Panics if the shapes disagree.
    pub fn new(w: &[BlockQ8_0], n: usize, k: usize) -> TiledQ8_0 {
        assert!(
            k.is_multiple_of(QK8_0),
            "TiledQ8_0: k = {k} is not a multiple of 32"
        );
        let nb = k / QK8_0;
        assert_eq!(
            w.len(),
            n * nb,
            "TiledQ8_0: w has {} blocks, expected n * k / 32 = {}",
            w.len(),
            n * nb
        );
        let groups = n.div_ceil(TILE_N);
        let mut vals = vec![BTile::ZERO; groups * nb];
        let mut scales = vec![Scales16::ZERO; groups * nb];
        for g in 0..groups {
            let j0 = g * TILE_N;
            let rows = TILE_N.min(n - j0);
            pack_group(
                &w[j0 * nb..(j0 + rows) * nb],
                nb,
                rows,
                &mut vals[g * nb..(g + 1) * nb],
                &mut scales[g * nb..(g + 1) * nb],
            );
        }
        TiledQ8_0 { n, k, vals, scales }
    }

    /// Weight rows (`n`).
    pub fn rows(&self) -> usize {
        self.n
    }

    /// Values per row (`k`).
    pub fn cols(&self) -> usize {
        self.k
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        std::mem::size_of_val(self.vals.as_slice()) + std::mem::size_of_val(self.scales.as_slice())
    }

    /// Value `i` of weight row `j` and that block's scale, read back from
    /// the tiles (for tests).
    pub fn get(&self, j: usize, i: usize) -> (i8, f32) {
        assert!(
            j < self.n && i < self.k,
            "TiledQ8_0::get: ({j}, {i}) outside"
        );
        let nb = self.k / QK8_0;
        let (g, r) = (j / TILE_N, j % TILE_N);
        let (b, q) = (i / QK8_0, i % QK8_0);
        let at = g * nb + b;
        (
            self.vals[at].0[64 * (q / 4) + 4 * r + q % 4] as i8,
            self.scales[at].0[r],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::f32_to_f16;

    #[test]
    fn tiles_hold_every_value_where_tdpbssd_reads_it() {
        let (n, k) = (19, 96);
        let w: Vec<BlockQ8_0> = (0..n * k / 32)
            .map(|i| BlockQ8_0 {
                d: f32_to_f16(i as f32 * 0.5).to_le_bytes(),
                qs: std::array::from_fn(|q| (i * 7 + q * 13) as i8),
            })
            .collect();
        let t = TiledQ8_0::new(&w, n, k);
        assert_eq!(t.vals.len(), 2 * 3);
        for j in 0..n {
            for i in 0..k {
                let blk = &w[j * 3 + i / 32];
                assert_eq!(t.get(j, i), (blk.qs[i % 32], blk.scale()), "({j}, {i})");
            }
        }
        // Padding rows 19..32 of the second group are zero with scale 0.
        for b in 0..3 {
            let tile = &t.vals[3 + b].0;
            for r in 3..16 {
                for g in 0..8 {
                    assert_eq!(tile[64 * g + 4 * r..64 * g + 4 * r + 4], [0; 4]);
                }
                assert_eq!(t.scales[3 + b].0[r], 0.0);
            }
        }
        assert_eq!(t.bytes(), 6 * 512 + 6 * 64);
    }
}
