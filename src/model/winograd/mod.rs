//! 3×3 convolution by Winograd's minimal filtering, F(2×2, 3×3) (Lavin &
//! Gray 2016, "Fast Algorithms for Convolutional Neural Networks", eq. 8):
//! each 2×2 block of outputs is Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A for the 4×4
//! input tile d around it, so a tile takes 16 multiplications per input and
//! output channel instead of 36. Summed over input channels, the ⊙ becomes 16
//! matrix products, one per tile position ξ: M_ξ = V_ξ · U_ξ, with V_ξ the
//! transformed tiles (`[tiles, C]`) and U_ξ the transformed kernel
//! (`[C, C_out]`).
//!
//! The training path's convolutions use it ([`super::conv`] decides where):
//! they were two thirds of a training step's CPU time, all in `gemm`, at
//! about the machine's matmul rate, so the only way to make them much
//! cheaper was to multiply less. The backward pass is the same algebra
//! transposed: the input's gradient is a Winograd convolution of the output
//! gradient with the kernel turned half a turn, and the kernel's gradient is
//! Gᵀ(Σ_tiles V_ξᵀ · A dY Aᵀ)G, summed over the batch in a fixed order so that
//! training repeats bitwise on any number of threads. In f32 the results
//! differ from the direct product by rounding only (the transforms' entries
//! are 0, ±1 and ±½); the tests bound that.

use std::cell::RefCell;
use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::conv::{matmul, stride};
use super::tensor_ops::filled_vec;

mod tiles;

pub(crate) use tiles::Tiling;

/// Tiles per rayon task, about (whole tile rows): the m of its 16 products.
/// Measured on `train` at batch 64 (30 steps, the transforms still on
/// slices): 24 tiles took 14.1 s, 64 took 11.4, 128 took 11.2, 256 took 11.0
/// and 512 took 11.5 s. gemm's cost per call outweighs the scratch buffers'
/// outgrowing the core's cache.
const BLOCK_TILES: usize = 256;

/// Runs of blocks whose kernel gradients are summed apart, then in order
/// (fixed, so the sum does not depend on the thread count).
const PARTIAL_SUMS: usize = 8;

/// Tile positions ξ = 4a + b of a 4×4 tile.
const POSITIONS: usize = 16;

/// G (4×3), which maps a kernel row or column of 3 taps to 4 tile positions.
const G: [[f32; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];

thread_local! {
    /// Each rayon worker's transformed tiles and products, reused across blocks.
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

fn with_scratch<R>(tiles_len: usize, products_len: usize, f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    SCRATCH.with_borrow_mut(|(tiles, products)| {
        if tiles.len() < tiles_len {
            tiles.resize(tiles_len, 0.0);
        }
        if products.len() < products_len {
            products.resize(products_len, 0.0);
        }
        f(&mut tiles[..tiles_len], &mut products[..products_len])
    })
}

/// U_ξ = (G g Gᵀ)_ξ of a kernel `[9·C + 1, C_out]` (rows in (dy, dx, c) order,
/// bias last): `[16, C, C_out]`.
pub(crate) fn transform_kernel(kernel: &[f32], channels: usize, outputs: usize) -> Vec<f32> {
    let per_tap = channels * outputs;
    let mut u = vec![0f32; POSITIONS * per_tap];
    for (xi, u_xi) in u.chunks_exact_mut(per_tap).enumerate() {
        let (a, b) = (xi / 4, xi % 4);
        for tap in 0..9 {
            let weight = G[a][tap / 3] * G[b][tap % 3];
            if weight != 0.0 {
                let g = &kernel[tap * per_tap..(tap + 1) * per_tap];
                u_xi.iter_mut().zip(g).for_each(|(u, g)| *u += weight * g);
            }
        }
    }
    u
}

/// The kernel's gradient (`[9·C, C_out]`, rows in (dy, dx, c) order) from
/// the transformed kernel's (`[16, C, C_out]`): Gᵀ dU G per (c, o).
fn untransform_kernel_gradient(du: &[f32], per_tap: usize) -> Vec<f32> {
    let mut dk = vec![0f32; 9 * per_tap];
    for (tap, dk_tap) in dk.chunks_exact_mut(per_tap).enumerate() {
        for xi in 0..POSITIONS {
            let weight = G[xi / 4][tap / 3] * G[xi % 4][tap % 3];
            if weight != 0.0 {
                let du_xi = &du[xi * per_tap..(xi + 1) * per_tap];
                dk_tap.iter_mut().zip(du_xi).for_each(|(k, u)| *k += weight * u);
            }
        }
    }
    dk
}

/// The convolution of the batch `images` (`[B, H, W, C]`) with a transformed kernel `u` plus
/// `bias`: `[B, H, W, C_out]`.
pub(crate) fn forward(tiling: Tiling, images: &[f32], u: &[f32], bias: &[f32], batch: usize) -> Vec<f32> {
    let (c, outputs, tile_cols) = (tiling.channels, bias.len(), tiling.tile_cols());
    let row_len = tiling.width * outputs;
    let blocks = tiling.blocks(batch);
    let fill = |out: &mut [MaybeUninit<f32>]| {
        // Each block's outputs are consecutive pixel rows of the batch.
        let mut rest = out;
        let mut parts = Vec::with_capacity(blocks.len());
        for &(first, units) in &blocks {
            let rows: usize = (first..first + units).map(|unit| tiling.output_rows(unit)).sum();
            let (part, tail) = rest.split_at_mut(rows * row_len);
            parts.push(((first, units), part));
            rest = tail;
        }
        parts.into_par_iter().for_each(|(units, out)| {
            let n = units.1 * tile_cols;
            with_scratch(n * POSITIONS * c, n * POSITIONS * outputs, |tiles, products| {
                tiling.transform_tiles(images, units, tiles);
                for xi in 0..POSITIONS {
                    // SAFETY: position ξ of the n tiles is an n×C matrix with row
                    // stride 16·C, u's ξ block is C×C_out, and the products' is
                    // n×C_out with row stride 16·C_out, all in bounds; products is
                    // its own buffer.
                    unsafe {
                        matmul(
                            (n, outputs, c),
                            (products[xi * outputs..].as_mut_ptr(), 1, stride(POSITIONS * outputs)),
                            false,
                            (tiles[xi * c..].as_ptr(), 1, stride(POSITIONS * c)),
                            (u[xi * c * outputs..].as_ptr(), 1, stride(outputs)),
                        );
                    }
                }
                tiling.write_outputs(products, units, bias, out);
            });
        });
    };
    // SAFETY: the blocks tile every output row, and within a block every
    // tile writes each of its in-bounds pixels' outputs.
    unsafe { filled_vec(batch * tiling.height * row_len, fill) }
}

/// The transformed kernel's gradient Σ_tiles V_ξᵀ · (A dY Aᵀ)_ξ, untransformed
/// to `[9·C, C_out]`, from the input `images` and the output gradient `grad`
/// (`[B, H, W, C_out]`). Blocks are summed in [`PARTIAL_SUMS`] fixed runs and
/// the runs in order, so the sum does not depend on the thread count.
pub(crate) fn kernel_gradient(tiling: Tiling, images: &[f32], grad: &[f32], batch: usize, outputs: usize) -> Vec<f32> {
    let c = tiling.channels;
    let blocks = tiling.blocks(batch);
    // Where each block's gradient rows begin.
    let mut starts = Vec::with_capacity(blocks.len());
    let mut at = 0;
    for &(first, units) in &blocks {
        starts.push(at);
        at += (first..first + units)
            .map(|unit| tiling.output_rows(unit))
            .sum::<usize>()
            * tiling.width
            * outputs;
    }
    let per_run = blocks.len().div_ceil(PARTIAL_SUMS).max(1);
    let du_len = POSITIONS * c * outputs;
    let partials: Vec<Vec<f32>> = (0..blocks.len().div_ceil(per_run))
        .into_par_iter()
        .map(|run| {
            let mut partial = vec![0f32; du_len];
            for block in run * per_run..((run + 1) * per_run).min(blocks.len()) {
                let units = blocks[block];
                let n = units.1 * tiling.tile_cols();
                with_scratch(n * POSITIONS * c, n * POSITIONS * outputs, |tiles, products| {
                    tiling.transform_tiles(images, units, tiles);
                    tiling.transform_gradient(&grad[starts[block]..], units, outputs, products);
                    for xi in 0..POSITIONS {
                        // SAFETY: V_ξᵀ is C×n with column stride 16·C; the products'
                        // ξ block is n×C_out with row stride 16·C_out; the destination
                        // is partial's ξ block (C×C_out), disjoint from both buffers.
                        unsafe {
                            matmul(
                                (c, outputs, n),
                                (partial[xi * c * outputs..].as_mut_ptr(), 1, stride(outputs)),
                                true,
                                (tiles[xi * c..].as_ptr(), stride(POSITIONS * c), 1),
                                (products[xi * outputs..].as_ptr(), 1, stride(POSITIONS * outputs)),
                            );
                        }
                    }
                });
            }
            partial
        })
        .collect();
    let mut du = vec![0f32; du_len];
    for partial in &partials {
        du.iter_mut().zip(partial).for_each(|(total, part)| *total += part);
    }
    untransform_kernel_gradient(&du, c * outputs)
}

#[cfg(test)]
mod tests;
