//! The tiles of [Winograd's F(2×2, 3×3)](super): how a batch is cut into
//! 2×2-output tiles, and the three transforms (Bᵀ d B of the input tiles, Aᵀ m A of the
//! products, and its adjoint A dY Aᵀ for the gradient), on [`LANES`]
//! channels at a time.
//!
//! The crate is built for baseline x86-64 (SSE2), where the transforms ran
//! four floats at a time and took a fifth of a training step; each entry
//! point here runs an AVX2 copy of itself where the CPU has it, as
//! [`super::super::activation`] does.

use std::mem::MaybeUninit;

use super::{BLOCK_TILES, POSITIONS};
use crate::model::tensor_ops::write_copy;

/// The shape of a batch of channels-last images and of their tiling.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tiling {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl Tiling {
    fn tile_rows(self) -> usize {
        self.height.div_ceil(2)
    }

    pub(super) fn tile_cols(self) -> usize {
        self.width.div_ceil(2)
    }

    fn image_len(self) -> usize {
        self.height * self.width * self.channels
    }

    /// The blocks of tile rows that the rayon tasks take, as (first tile row
    /// over the whole batch, tile rows): whole tile rows, about
    /// [`BLOCK_TILES`] tiles, possibly spanning images.
    pub(super) fn blocks(self, batch: usize) -> Vec<(usize, usize)> {
        let per_block = (BLOCK_TILES / self.tile_cols()).max(1);
        let total = batch * self.tile_rows();
        (0..total.div_ceil(per_block))
            .map(|b| (b * per_block, per_block.min(total - b * per_block)))
            .collect()
    }

    /// Output pixel rows that tile row `unit` (over the whole batch) covers.
    pub(super) fn output_rows(self, unit: usize) -> usize {
        let row = unit % self.tile_rows();
        (self.height - 2 * row).min(2)
    }

    /// Bᵀ d B of every tile in tile rows `units` of the batch `images`
    /// (`[B, H, W, C]`), into `tiles` (`[n, 16, C]`: a tile's 16 positions
    /// side by side). A tile's window starts one pixel above and left of its
    /// outputs; pixels outside the image are zero (the convolution's
    /// padding, read in place rather than copied out first).
    #[inline(always)]
    fn transform_tiles_portable(self, images: &[f32], units: (usize, usize), tiles: &mut [f32]) {
        let (c, tile_cols) = (self.channels, self.tile_cols());
        // The padding: window pixels outside the image read these.
        let zeros = vec![0f32; c];
        let mut tiles = tiles.chunks_exact_mut(POSITIONS * c);
        for unit in units.0..units.0 + units.1 {
            let (image, row) = (unit / self.tile_rows(), unit % self.tile_rows());
            let image = &images[image * self.image_len()..(image + 1) * self.image_len()];
            for col in 0..tile_cols {
                let Some(tile) = tiles.next() else { return };
                // Each of the 16 window pixels' C values (zeros outside the image).
                let window: [&[f32]; POSITIONS] = std::array::from_fn(|i| {
                    let y = (2 * row + i / 4).checked_sub(1).filter(|&y| y < self.height);
                    let x = (2 * col + i % 4).checked_sub(1).filter(|&x| x < self.width);
                    match (y, x) {
                        (Some(y), Some(x)) => &image[(y * self.width + x) * c..(y * self.width + x + 1) * c],
                        _ => &zeros,
                    }
                });
                transform_tile(&window, tile);
            }
        }
    }
}

/// Bᵀ d B of one tile whose 16 window pixels' channels are `window`, into
/// `tile` (16 positions of C values each).
#[inline(always)]
fn transform_tile(window: &[&[f32]; POSITIONS], tile: &mut [f32]) {
    let c = window[0].len();
    let (mut d, mut v) = ([Lanes::default(); POSITIONS], [Lanes::default(); POSITIONS]);
    if c.is_multiple_of(LANES) && tile.len() == POSITIONS * c && window.iter().all(|pixel| pixel.len() == c) {
        // Whole registers, read and written through pointers: with slices, each
        // of the 32 accesses per step paid bounds and length checks and went
        // through the stack twice (the transform's hottest instructions).
        let out = tile.as_mut_ptr();
        for ch in (0..c).step_by(LANES) {
            for (d, pixel) in d.iter_mut().zip(window) {
                // SAFETY: ch + LANES ≤ c = pixel.len() (c is a multiple of LANES).
                *d = Lanes(unsafe { pixel.as_ptr().add(ch).cast::<[f32; LANES]>().read_unaligned() });
            }
            input_transform(&d, &mut v);
            for (xi, v) in v.iter().enumerate() {
                // SAFETY: xi·c + ch + LANES ≤ 16·c = tile.len().
                unsafe { out.add(xi * c + ch).cast::<[f32; LANES]>().write_unaligned(v.0) };
            }
        }
        return;
    }
    for ch in (0..c).step_by(LANES) {
        for (d, pixel) in d.iter_mut().zip(window) {
            *d = Lanes::load(&pixel[ch..]);
        }
        input_transform(&d, &mut v);
        for (xi, v) in v.iter().enumerate() {
            v.store(&mut tile[xi * c + ch..(xi + 1) * c]);
        }
    }
}

impl Tiling {
    /// A dY Aᵀ of every tile in tile rows `units`, into `products`
    /// (`[n, 16, C_out]`), from `grad`, the output gradient from the first
    /// of those tile rows on. Outputs beyond the image count as zero.
    #[inline(always)]
    fn transform_gradient_portable(self, grad: &[f32], units: (usize, usize), outputs: usize, products: &mut [f32]) {
        let row_len = self.width * outputs;
        let mut tiles = products.chunks_exact_mut(POSITIONS * outputs);
        let mut row_start = 0;
        for unit in units.0..units.0 + units.1 {
            let rows = self.output_rows(unit);
            for col in 0..self.tile_cols() {
                let Some(tile) = tiles.next() else { return };
                let cols = (self.width - 2 * col).min(2);
                let (mut y, mut m) = ([Lanes::default(); 4], [Lanes::default(); POSITIONS]);
                for o in (0..outputs).step_by(LANES) {
                    for (i, y) in y.iter_mut().enumerate() {
                        let (r, s) = (i / 2, i % 2);
                        let at = (row_start + r) * row_len + (2 * col + s) * outputs + o;
                        *y = if r < rows && s < cols {
                            Lanes::load(&grad[at..at + outputs - o])
                        } else {
                            Lanes::default()
                        };
                    }
                    output_transform_adjoint(&y, &mut m);
                    for (xi, m) in m.iter().enumerate() {
                        m.store(&mut tile[xi * outputs + o..(xi + 1) * outputs]);
                    }
                }
            }
            row_start += rows;
        }
    }

    /// Aᵀ m A + bias of every tile in tile rows `units`, from `products`
    /// (`[n, 16, C_out]`), into `out`, those tile rows' output pixels.
    #[inline(always)]
    fn write_outputs_portable(
        self,
        products: &[f32],
        units: (usize, usize),
        bias: &[f32],
        out: &mut [MaybeUninit<f32>],
    ) {
        let (outputs, tile_cols) = (bias.len(), self.tile_cols());
        let row_len = self.width * outputs;
        let mut row_start = 0;
        let mut tile_products = products.chunks_exact(POSITIONS * outputs);
        for unit in units.0..units.0 + units.1 {
            let rows = self.output_rows(unit);
            for col in 0..tile_cols {
                let Some(m) = tile_products.next() else { return };
                let cols = (self.width - 2 * col).min(2);
                // Where each of the tile's 2×2 outputs begins, if inside the image.
                let targets: [Option<usize>; 4] = std::array::from_fn(|i| {
                    let (r, s) = (i / 2, i % 2);
                    (r < rows && s < cols).then(|| (row_start + r) * row_len + (2 * col + s) * outputs)
                });
                write_tile_outputs(m, bias, &targets, out);
            }
            row_start += rows;
        }
    }
}

/// Aᵀ m A + bias of one tile's products `m` (16 positions of C_out values),
/// into `out` at each of `targets` (the 2×2 outputs' first values, row-major;
/// None outside the image).
#[inline(always)]
fn write_tile_outputs(m: &[f32], bias: &[f32], targets: &[Option<usize>; 4], out: &mut [MaybeUninit<f32>]) {
    let outputs = bias.len();
    let mut lanes = [Lanes::default(); POSITIONS];
    let in_bounds = targets.iter().flatten().all(|&at| at + outputs <= out.len());
    if outputs.is_multiple_of(LANES) && m.len() == POSITIONS * outputs && in_bounds {
        // Whole registers through pointers, as in `transform_tile`.
        let (m, out) = (m.as_ptr(), out.as_mut_ptr());
        for o in (0..outputs).step_by(LANES) {
            for (xi, p) in lanes.iter_mut().enumerate() {
                // SAFETY: xi·C_out + o + LANES ≤ 16·C_out = m.len().
                *p = Lanes(unsafe { m.add(xi * outputs + o).cast::<[f32; LANES]>().read_unaligned() });
            }
            let y = output_transform(&lanes);
            let b = Lanes::load(&bias[o..]);
            for (y, at) in y.iter().zip(targets) {
                if let Some(at) = at {
                    let values = (*y + b).0.map(MaybeUninit::new);
                    // SAFETY: at + o + LANES ≤ at + C_out ≤ out.len() (checked above).
                    unsafe {
                        out.add(at + o)
                            .cast::<[MaybeUninit<f32>; LANES]>()
                            .write_unaligned(values)
                    };
                }
            }
        }
        return;
    }
    for o in (0..outputs).step_by(LANES) {
        for (xi, p) in lanes.iter_mut().enumerate() {
            *p = Lanes::load(&m[xi * outputs + o..(xi + 1) * outputs]);
        }
        let y = output_transform(&lanes);
        let b = Lanes::load(&bias[o..]);
        for (y, at) in y.iter().zip(targets) {
            if let Some(at) = at {
                (*y + b).store_uninit(&mut out[at + o..at + outputs]);
            }
        }
    }
}

/// Whether the AVX2 copies below may run (checked once per call: the check
/// reads a cached value).
#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

impl Tiling {
    /// [`Self::transform_tiles_portable`], on AVX2 where the CPU has it.
    pub(super) fn transform_tiles(self, images: &[f32], units: (usize, usize), tiles: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: the CPU has just been checked for both features.
            unsafe { self.transform_tiles_avx2(images, units, tiles) };
            return;
        }
        self.transform_tiles_portable(images, units, tiles);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn transform_tiles_avx2(self, images: &[f32], units: (usize, usize), tiles: &mut [f32]) {
        self.transform_tiles_portable(images, units, tiles);
    }

    /// A dY Aᵀ of every tile in tile rows `units`, into `products`
    /// (`[n, 16, C_out]`), from `grad`, the output gradient from the first
    /// of those tile rows on. Outputs beyond the image count as zero.
    pub(super) fn transform_gradient(self, grad: &[f32], units: (usize, usize), outputs: usize, products: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: the CPU has just been checked for both features.
            unsafe { self.transform_gradient_avx2(grad, units, outputs, products) };
            return;
        }
        self.transform_gradient_portable(grad, units, outputs, products);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn transform_gradient_avx2(self, grad: &[f32], units: (usize, usize), outputs: usize, products: &mut [f32]) {
        self.transform_gradient_portable(grad, units, outputs, products);
    }

    /// Aᵀ m A + bias of every tile in tile rows `units`, from `products`
    /// (`[n, 16, C_out]`), into `out`, those tile rows' output pixels.
    pub(super) fn write_outputs(
        self,
        products: &[f32],
        units: (usize, usize),
        bias: &[f32],
        out: &mut [MaybeUninit<f32>],
    ) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: the CPU has just been checked for both features.
            unsafe { self.write_outputs_avx2(products, units, bias, out) };
            return;
        }
        self.write_outputs_portable(products, units, bias, out);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn write_outputs_avx2(self, products: &[f32], units: (usize, usize), bias: &[f32], out: &mut [MaybeUninit<f32>]) {
        self.write_outputs_portable(products, units, bias, out);
    }
}

/// Channels handled together by the transforms: one AVX register of f32.
const LANES: usize = 8;

/// [`LANES`] consecutive channels' values, so that the transforms below,
/// written once, run on vector registers (each operation is a loop the
/// compiler turns into one instruction).
#[derive(Clone, Copy, Default)]
struct Lanes([f32; LANES]);

impl Lanes {
    /// The first [`LANES`] values of `values` (fewer at the end, the rest zero).
    #[inline(always)]
    fn load(values: &[f32]) -> Self {
        // A whole register's worth as one fixed-size copy (a variable-length
        // copy is a call to memcpy).
        if let Some(whole) = values.first_chunk::<LANES>() {
            return Self(*whole);
        }
        let mut lanes = [0.0; LANES];
        lanes[..values.len()].copy_from_slice(values);
        Self(lanes)
    }

    #[inline(always)]
    fn store(self, values: &mut [f32]) {
        if let Some(whole) = values.first_chunk_mut::<LANES>() {
            *whole = self.0;
            return;
        }
        let n = values.len();
        values.copy_from_slice(&self.0[..n]);
    }
}

impl Lanes {
    /// [`Self::store`] into an output not yet written.
    #[inline(always)]
    fn store_uninit(self, values: &mut [MaybeUninit<f32>]) {
        if let Some(whole) = values.first_chunk_mut::<LANES>() {
            *whole = self.0.map(MaybeUninit::new);
            return;
        }
        let n = values.len();
        write_copy(values, &self.0[..n]);
    }
}

impl std::ops::Add for Lanes {
    type Output = Self;
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        Self(std::array::from_fn(|i| self.0[i] + other.0[i]))
    }
}

impl std::ops::Sub for Lanes {
    type Output = Self;
    #[inline(always)]
    fn sub(self, other: Self) -> Self {
        Self(std::array::from_fn(|i| self.0[i] - other.0[i]))
    }
}

impl std::ops::Neg for Lanes {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        Self(std::array::from_fn(|i| -self.0[i]))
    }
}

/// What the transforms compute with: f32, or [`Lanes`] of them.
trait Value: Copy + std::ops::Add<Output = Self> + std::ops::Sub<Output = Self> + std::ops::Neg<Output = Self> {}
impl<T: Copy + std::ops::Add<Output = T> + std::ops::Sub<Output = T> + std::ops::Neg<Output = T>> Value for T {}

// The transforms below are written as straight-line code on arrays passed by
// reference: built with `array::from_fn` and moved by value, their [`Lanes`]
// arrays were copied with `memcpy` (a quarter of a training step's time).

/// Bᵀ d B for a 4×4 tile `d` given row-major: the 16 positions `v`, row-major.
#[inline(always)]
fn input_transform<T: Value>(d: &[T; 16], v: &mut [T; 16]) {
    // Bᵀ on each column, then B on each row of the result.
    let mut t = *d;
    for s in 0..4 {
        let (x0, x1, x2, x3) = (d[s], d[4 + s], d[8 + s], d[12 + s]);
        t[s] = x0 - x2;
        t[4 + s] = x1 + x2;
        t[8 + s] = x2 - x1;
        t[12 + s] = x1 - x3;
    }
    for a in 0..4 {
        let (x0, x1, x2, x3) = (t[4 * a], t[4 * a + 1], t[4 * a + 2], t[4 * a + 3]);
        v[4 * a] = x0 - x2;
        v[4 * a + 1] = x1 + x2;
        v[4 * a + 2] = x2 - x1;
        v[4 * a + 3] = x1 - x3;
    }
}

/// Aᵀ m A for the 16 products `m` of a tile (row-major): the 2×2 outputs, row-major.
#[inline(always)]
fn output_transform<T: Value>(m: &[T; 16]) -> [T; 4] {
    // Aᵀ on each row (r: 4×2), then on each column of the result.
    let mut r = [m[0]; 8];
    for a in 0..4 {
        let (x0, x1, x2, x3) = (m[4 * a], m[4 * a + 1], m[4 * a + 2], m[4 * a + 3]);
        r[2 * a] = x0 + x1 + x2;
        r[2 * a + 1] = x1 - x2 - x3;
    }
    let mut y = [m[0]; 4];
    for v in 0..2 {
        let (x0, x1, x2, x3) = (r[v], r[2 + v], r[4 + v], r[6 + v]);
        y[v] = x0 + x1 + x2;
        y[2 + v] = x1 - x2 - x3;
    }
    y
}

/// A dY Aᵀ for a 2×2 output gradient `y` (row-major): the products' gradient `m`, row-major.
#[inline(always)]
fn output_transform_adjoint<T: Value>(y: &[T; 4], m: &mut [T; 16]) {
    // A on each column (c: 4×2), then on each row of the result.
    let mut c = [y[0]; 8];
    for v in 0..2 {
        let (x0, x1) = (y[v], y[2 + v]);
        c[v] = x0;
        c[2 + v] = x0 + x1;
        c[4 + v] = x0 - x1;
        c[6 + v] = -x1;
    }
    for r in 0..4 {
        let (x0, x1) = (c[2 * r], c[2 * r + 1]);
        m[4 * r] = x0;
        m[4 * r + 1] = x0 + x1;
        m[4 * r + 2] = x0 - x1;
        m[4 * r + 3] = -x1;
    }
}
