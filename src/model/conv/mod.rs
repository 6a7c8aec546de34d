//! 3×3 convolution on channels-last tensors, multiplied block by block.
//!
//! A 3×3, stride-1, zero-padded convolution is a matrix product: gather each
//! pixel's 3×3 neighbourhood into a row of `9·C + 1` values (the last is 1, so
//! the bias is the kernel's last row) and multiply by the `[9·C + 1, C_out]`
//! kernel. candle 0.11's own `conv2d` reached ~20 GFLOP/s here (its matmul
//! ~170). Gathering the whole batch first was faster, but at batch 16 its
//! matrix (40 MB for the U-Net's widest layer) no longer fits in cache and the
//! product becomes memory-bound (measured: 14.7 ms per image at batch 16 against
//! 8 ms at batch 1), so each rayon task works on [`BLOCK_PIXELS`] rows at a time
//! and hands them straight to `gemm` (candle's own matmul kernels).
//!
//! Forward ([`Geometry::forward`]): no gather at all. On a zero-padded copy of
//! each image the three taps of one kernel row are consecutive in memory, so
//! a block is the bias plus three products read straight from the padded
//! image (rows of a strided, overlapping view). The gather had been ~12% of a
//! batch-16 U-Net pass (perf); DDIM-50 for 16 images went from about 2.25 to
//! 2.1 s (single runs vary by ±10% on this shared 2-core machine).
//!
//! Backward ([`conv3x3_backward`]): no gather either. The input's gradient is
//! the forward convolution of the output gradient with the kernel turned half
//! a turn; the kernel's gradient multiplies the same strided taps, transposed,
//! with the output gradient laid out on the padded width (zeros in the junk
//! columns). Gathering rows and scattering G·Kᵀ back onto pixels had been
//! about 9% of a training step (perf, batch 64).
//!
//! Training's wide layers (at least `WINOGRAD_MIN_CHANNELS` channels in and
//! out) multiply less: `conv3x3_keeping_input` and `conv3x3_backward_padded`
//! hand them to Winograd's algorithm (`super::winograd`). Inference keeps
//! this direct product, so samples do not change with it.

use std::cell::RefCell;
use std::mem::MaybeUninit;

use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};
use gemm::{Parallelism, gemm};
use rayon::prelude::*;

use super::kernels::{contiguous_f32, with_f32};
use super::tensor_ops::{filled_vec, write_copy};
use super::winograd;

/// Pixels (of the padded width) per band: a task computes or reads about this
/// many rows of outputs and gradients at a time, which stay in cache.
const BLOCK_PIXELS: usize = 256;

/// Runs of bands whose kernel gradients are summed apart, then in order
/// (enough tasks to keep every core busy; fixed, so the sum does not depend on
/// the thread count).
const PARTIAL_SUMS: usize = 8;

/// Input and output channels from which the training path's convolutions use
/// [`winograd`]: narrower products (the image's own channels) gain little.
const WINOGRAD_MIN_CHANNELS: usize = 16;

/// Kernel-gradient values per task when the runs' partial sums are added.
const CHUNK_VALUES: usize = 1 << 12;

thread_local! {
    /// Each rayon worker's buffer (a band of outputs, or of the output gradient on the
    /// padded width), reused across bands and calls.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with_borrow_mut(|buffer| {
        if buffer.len() < len {
            buffer.resize(len, 0.0);
        }
        f(&mut buffer[..len])
    })
}

/// `[B, H, W, C_in]` ⊛ `[9·C_in + 1, C_out]` → `[B, H, W, C_out]`.
///
/// # Errors
/// Shapes that do not agree, or non-f32 data.
pub fn conv3x3(x: &Tensor, kernel: &Tensor) -> candle_core::Result<Tensor> {
    let channels = x.dim(3)?;
    if kernel.dim(0)? != 9 * channels + 1 {
        candle_core::bail!(
            "conv3x3: {channels} input channels need a kernel of {} rows",
            9 * channels + 1
        );
    }
    x.contiguous()?.apply_op2(&kernel.contiguous()?, Conv3x3)
}

struct Conv3x3;

/// The layout of a convolution's input.
#[derive(Clone, Copy)]
struct Geometry {
    height: usize,
    width: usize,
    channels: usize,
}

impl Geometry {
    fn pixels(self) -> usize {
        self.height * self.width
    }

    fn tiling(self) -> winograd::Tiling {
        winograd::Tiling {
            height: self.height,
            width: self.width,
            channels: self.channels,
        }
    }

    /// Floats in one zero-padded image: (H + 2) rows of W + 2 pixels, plus two
    /// pixels so the last junk output's taps stay inside.
    fn padded_len(self) -> usize {
        ((self.height + 2) * (self.width + 2) + 2) * self.channels
    }

    /// The convolution of a batch `x` with `kernel` (`[9·C + 1, C_out]`), without a gather.
    ///
    /// On a zero-padded image (width W + 2), output q = y·(W + 2) + x needs
    /// padded pixels q + dy·(W + 2) + dx: for fixed dy, its three taps are 3·C
    /// consecutive floats starting at (q + dy·(W + 2))·C. So over a block of
    /// consecutive q the taps of kernel row dy form one matrix with row stride
    /// C (rows overlapping), and the block is bias + three products, read
    /// straight from the padded image. Outputs are computed on the padded
    /// width (two junk columns per row, dropped at the end), which costs
    /// (W + 2)/W more multiplications but saves the 9·C-float gather per pixel.
    fn forward(self, x: &[f32], kernel: &[f32], batch: usize, outputs: usize) -> Vec<f32> {
        self.forward_padded(&self.pad_batch(x, batch), kernel, batch, outputs)
    }

    /// [`Self::forward`] from the already padded images.
    fn forward_padded(self, padded: &[f32], kernel: &[f32], batch: usize, outputs: usize) -> Vec<f32> {
        let (c, wide) = (self.channels, self.width + 2);
        let bias = &kernel[9 * c * outputs..];
        // Each task: a band of whole image rows, about BLOCK_PIXELS wide pixels,
        // computed in a reused buffer and copied out without the junk columns.
        let band_rows = self.band_rows();
        let out_len = batch * self.pixels() * outputs;
        let bands = |out: &mut [MaybeUninit<f32>]| {
            out.par_chunks_mut(self.pixels() * outputs)
                .zip(padded.par_chunks(self.padded_len()))
                .flat_map(|(out, pad)| {
                    out.par_chunks_mut(band_rows * self.width * outputs)
                        .enumerate()
                        .map(move |(band, out_band)| (band, out_band, pad))
                })
                .for_each(|(band, out_band, pad)| {
                    let first = band * band_rows * wide;
                    let rows = out_band.len() / (self.width * outputs) * wide;
                    with_scratch(rows * outputs, |wide_band| {
                        for row in wide_band.chunks_exact_mut(outputs) {
                            row.copy_from_slice(bias);
                        }
                        for dy in 0..3 {
                            let taps = &pad[(first + dy * wide) * c..];
                            debug_assert!((rows - 1) * c + 3 * c <= taps.len());
                            // SAFETY: taps is rows×3C with row stride C: its last row
                            // ends at ((first + rows − 1 + dy·(W+2)) + 3)·C ≤ padded_len
                            // (checked above in debug builds); the kernel's rows
                            // dy·3C.. are 3C×outputs; wide_band is rows×outputs; the
                            // output does not overlap either input.
                            unsafe {
                                matmul(
                                    (rows, outputs, 3 * c),
                                    (wide_band.as_mut_ptr(), 1, stride(outputs)),
                                    true,
                                    (taps.as_ptr(), 1, stride(c)),
                                    (kernel[dy * 3 * c * outputs..].as_ptr(), 1, stride(outputs)),
                                );
                            }
                        }
                        // Drop the two junk columns of every row.
                        for (row, wide_row) in out_band
                            .chunks_exact_mut(self.width * outputs)
                            .zip(wide_band.chunks_exact(wide * outputs))
                        {
                            write_copy(row, &wide_row[..self.width * outputs]);
                        }
                    });
                });
        };
        // SAFETY: the bands tile every image's output (whole rows), and each
        // band's rows are all copied from its wide band.
        unsafe { filled_vec(out_len, bands) }
    }

    /// Zero-padded copies of the `batch` images of `x`, one after another.
    fn pad_batch(self, x: &[f32], batch: usize) -> Vec<f32> {
        // SAFETY: `pad_image` writes every float of each padded image, and x
        // holds `batch` images, so the zipped chunks cover the whole buffer.
        unsafe {
            filled_vec(batch * self.padded_len(), |padded| {
                padded
                    .par_chunks_mut(self.padded_len())
                    .zip(x.par_chunks(self.pixels() * self.channels))
                    .for_each(|(pad, image)| self.pad_image(image, pad));
            })
        }
    }

    /// Image rows per band: a band is about [`BLOCK_PIXELS`] pixels of the padded width.
    fn band_rows(self) -> usize {
        (BLOCK_PIXELS / (self.width + 2)).max(1)
    }

    /// The kernel's gradient Σ_q taps(q)ᵀ · G(q), bias row included, from the
    /// padded images and the output gradient `grad` (`[B, H, W, C_out]`).
    ///
    /// Per band, as in [`Self::forward`]: G is copied onto the padded width
    /// with zeros in the two junk columns, and kernel row dy's gradient is the
    /// product of the strided taps matrix (transposed) with it, so no gather
    /// is needed. The bands are summed in [`PARTIAL_SUMS`] fixed runs and the
    /// runs in order: the same additions in the same order on any number of
    /// threads, so training repeats bitwise (a rayon fold would group bands by
    /// work stealing, and float addition is not associative).
    fn kernel_gradient(self, padded: &[f32], grad: &[f32], batch: usize, outputs: usize) -> Vec<f32> {
        let (c, wide, band_rows) = (self.channels, self.width + 2, self.band_rows());
        let bands_per_image = self.height.div_ceil(band_rows);
        let tasks = batch * bands_per_image;
        let per_run = tasks.div_ceil(PARTIAL_SUMS).max(1);
        let kernel_len = (9 * c + 1) * outputs;
        let partials: Vec<Vec<f32>> = (0..tasks.div_ceil(per_run))
            .into_par_iter()
            .map(|run| {
                let mut partial = vec![0f32; kernel_len];
                for task in run * per_run..((run + 1) * per_run).min(tasks) {
                    let (image, band) = (task / bands_per_image, task % bands_per_image);
                    let first_row = band * band_rows;
                    let rows = band_rows.min(self.height - first_row);
                    let g_image = &grad[image * self.pixels() * outputs..(image + 1) * self.pixels() * outputs];
                    let g_band = &g_image[first_row * self.width * outputs..(first_row + rows) * self.width * outputs];
                    // The bias row: Σ G, as the bias meets every output once.
                    for (bias, g) in partial[9 * c * outputs..].iter_mut().zip(column_sums(g_band, outputs)) {
                        *bias += g;
                    }
                    with_scratch(rows * wide * outputs, |g_wide| {
                        for (wide_row, row) in g_wide
                            .chunks_exact_mut(wide * outputs)
                            .zip(g_band.chunks_exact(self.width * outputs))
                        {
                            wide_row[..row.len()].copy_from_slice(row);
                            wide_row[row.len()..].fill(0.0);
                        }
                        let pad = &padded[image * self.padded_len()..(image + 1) * self.padded_len()];
                        for dy in 0..3 {
                            let taps = &pad[(first_row * wide + dy * wide) * c..];
                            debug_assert!((rows * wide - 1) * c + 3 * c <= taps.len());
                            // SAFETY: tapsᵀ is 3C × (rows·(W+2)) with column stride C (rows
                            // overlapping), in bounds as in `forward` (checked above in debug
                            // builds); g_wide is (rows·(W+2)) × outputs; the destination is
                            // kernel rows dy·3C.. of `partial`, disjoint from both.
                            unsafe {
                                matmul(
                                    (3 * c, outputs, rows * wide),
                                    (partial[dy * 3 * c * outputs..].as_mut_ptr(), 1, stride(outputs)),
                                    true,
                                    (taps.as_ptr(), stride(c), 1),
                                    (g_wide.as_ptr(), 1, stride(outputs)),
                                );
                            }
                        }
                    });
                }
                partial
            })
            .collect();
        // Each value sums the runs in order, whichever thread adds its chunk.
        let mut total = vec![0f32; kernel_len];
        total.par_chunks_mut(CHUNK_VALUES).enumerate().for_each(|(i, chunk)| {
            for partial in &partials {
                let part = &partial[i * CHUNK_VALUES..i * CHUNK_VALUES + chunk.len()];
                chunk.iter_mut().zip(part).for_each(|(x, y)| *x += y);
            }
        });
        total
    }

    /// Writes one image (`[H, W, C]`) into its zero-padded copy: every float
    /// of `pad` (`padded_len` of them) is written once, border zeros included.
    fn pad_image(self, image: &[f32], pad: &mut [MaybeUninit<f32>]) {
        let (c, wide) = (self.channels, self.width + 2);
        let zero = MaybeUninit::new(0.0);
        // The top border row and the left border pixel of the first image row.
        pad[..(wide + 1) * c].fill(zero);
        for (y, row) in image.chunks_exact(self.width * c).enumerate() {
            let at = ((y + 1) * wide + 1) * c;
            write_copy(&mut pad[at..at + row.len()], row);
            // This row's right border pixel and the next row's left one.
            pad[at + row.len()..at + row.len() + 2 * c].fill(zero);
        }
        // The rest of the bottom border row and the two trailing pixels.
        pad[((self.height + 1) * wide + 1) * c..].fill(zero);
    }
}

/// dst (m×n) = [dst +] a (m×k) · b (k×n), every matrix given by (pointer, column stride, row stride).
///
/// # Safety
/// Each pointer must be valid for its matrix's extent under its strides, and
/// `dst` must not overlap `a` or `b`.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: (*mut f32, isize, isize),
    accumulate: bool,
    a: (*const f32, isize, isize),
    b: (*const f32, isize, isize),
) {
    // SAFETY: forwarded from the caller; one thread (the caller is a rayon task).
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.0,
            dst.1,
            dst.2,
            accumulate,
            a.0,
            a.1,
            a.2,
            b.0,
            b.1,
            b.2,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

pub(super) fn stride(n: usize) -> isize {
    isize::try_from(n).unwrap_or(isize::MAX)
}

const NAME: &str = "conv3x3";

impl CustomOp2 for Conv3x3 {
    fn name(&self) -> &'static str {
        NAME
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (x, kernel) = (
            contiguous_f32(s1, l1, self.name())?,
            contiguous_f32(s2, l2, self.name())?,
        );
        let (batch, height, width, channels) = l1.shape().dims4()?;
        let (_, outputs) = l2.shape().dims2()?;
        let geometry = Geometry {
            height,
            width,
            channels,
        };
        let out = geometry.forward(x, kernel, batch, outputs);
        Ok((CpuStorage::F32(out), Shape::from((batch, height, width, outputs))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        kernel: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dk) = conv3x3_backward(x, kernel, grad)?;
        Ok((Some(dx), Some(dk)))
    }
}

/// A convolution's input as its backward pass reads it, kept from the forward
/// pass: zero-padded for the direct product, so that the backward pass need
/// not pad it again, or as it is for [`winograd`], which reads the padding in
/// place.
pub(crate) struct SavedInput {
    values: Saved,
    batch: usize,
    geometry: Geometry,
}

enum Saved {
    Padded(Vec<f32>),
    Winograd(Tensor),
}

impl SavedInput {
    fn of(x: &Tensor) -> candle_core::Result<Self> {
        let (batch, height, width, channels) = x.dims4()?;
        let geometry = Geometry {
            height,
            width,
            channels,
        };
        let values = with_f32(x, NAME, |xs| Ok(geometry.pad_batch(xs, batch)))?;
        Ok(Self {
            values: Saved::Padded(values),
            batch,
            geometry,
        })
    }

    /// The input kept for whichever product convolves it with `outputs`
    /// output channels: [`winograd`] where both sides are wide.
    fn for_outputs(x: &Tensor, outputs: usize) -> candle_core::Result<Self> {
        let (batch, height, width, channels) = x.dims4()?;
        if channels < WINOGRAD_MIN_CHANNELS || outputs < WINOGRAD_MIN_CHANNELS {
            return Self::of(x);
        }
        Ok(Self {
            values: Saved::Winograd(x.contiguous()?),
            batch,
            geometry: Geometry {
                height,
                width,
                channels,
            },
        })
    }

    fn check_kernel(&self, kernel: &Tensor) -> candle_core::Result<usize> {
        let (k, outputs) = kernel.dims2()?;
        if k != 9 * self.geometry.channels + 1 {
            candle_core::bail!(
                "{NAME}: {} input channels need a kernel of {} rows, not {k}",
                self.geometry.channels,
                9 * self.geometry.channels + 1
            );
        }
        Ok(outputs)
    }
}

/// [`conv3x3`] outside candle's graph, also returning the padded input for
/// [`conv3x3_backward_padded`].
///
/// # Errors
/// Shapes that do not agree, or non-f32 data.
pub(crate) fn conv3x3_keeping_input(x: &Tensor, kernel: &Tensor) -> candle_core::Result<(Tensor, SavedInput)> {
    let input = SavedInput::for_outputs(x, kernel.dim(1)?)?;
    let outputs = input.check_kernel(kernel)?;
    let Geometry {
        height,
        width,
        channels,
    } = input.geometry;
    let out = with_f32(kernel, NAME, |ks| match &input.values {
        Saved::Winograd(x) => with_f32(x, NAME, |xs| {
            let u = winograd::transform_kernel(ks, channels, outputs);
            let bias = &ks[9 * channels * outputs..];
            Ok(winograd::forward(input.geometry.tiling(), xs, &u, bias, input.batch))
        }),
        Saved::Padded(padded) => Ok(input.geometry.forward_padded(padded, ks, input.batch, outputs)),
    })?;
    let out = Tensor::from_vec(out, (input.batch, height, width, outputs), x.device())?;
    Ok((out, input))
}

/// The gradients of [`conv3x3`] with respect to its input and its kernel,
/// given the gradient of its output (`[B, H, W, C_out]`).
///
/// # Errors
/// Shapes that do not agree, or non-f32 data.
fn conv3x3_backward(x: &Tensor, kernel: &Tensor, grad: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
    conv3x3_backward_padded(&SavedInput::of(x)?, kernel, grad)
}

/// [`conv3x3_backward`] from the padded input.
///
/// The input's gradient is itself a 3×3 convolution, of the output gradient
/// with the kernel turned half a turn and its channels swapped
/// ([`flipped_kernel`]), so it runs through [`Geometry::forward`]. The kernel's
/// is [`Geometry::kernel_gradient`]. Neither gathers nor scatters pixels
/// (perf on `train`: the scatter-add of G·Kᵀ had been 4% of a step).
///
/// # Errors
/// Shapes that do not agree, or non-f32 data.
pub(crate) fn conv3x3_backward_padded(
    input: &SavedInput,
    kernel: &Tensor,
    grad: &Tensor,
) -> candle_core::Result<(Tensor, Tensor)> {
    let outputs = input.check_kernel(kernel)?;
    let (batch, geometry) = (input.batch, input.geometry);
    let Geometry {
        height,
        width,
        channels,
    } = geometry;
    if grad.dims() != [batch, height, width, outputs] {
        candle_core::bail!(
            "{NAME}: gradient {:?} for an output of {:?}",
            grad.dims(),
            [batch, height, width, outputs]
        );
    }
    let of_grad = Geometry {
        channels: outputs,
        ..geometry
    };
    let (grad_x, grad_kernel) = with_f32(grad, NAME, |gs| {
        let flipped = with_f32(kernel, NAME, |ks| Ok(flipped_kernel(ks, channels, outputs)))?;
        match &input.values {
            Saved::Padded(padded) => {
                let grad_x = of_grad.forward(gs, &flipped, batch, channels);
                Ok((grad_x, geometry.kernel_gradient(padded, gs, batch, outputs)))
            }
            Saved::Winograd(x) => {
                let u = winograd::transform_kernel(&flipped, outputs, channels);
                let zero_bias = &flipped[9 * outputs * channels..];
                let grad_x = winograd::forward(of_grad.tiling(), gs, &u, zero_bias, batch);
                let mut grad_kernel = with_f32(x, NAME, |xs| {
                    Ok(winograd::kernel_gradient(geometry.tiling(), xs, gs, batch, outputs))
                })?;
                // The bias row: Σ G, as the bias meets every output once.
                grad_kernel.extend(column_sums(gs, outputs));
                Ok((grad_x, grad_kernel))
            }
        }
    })?;
    let device = grad.device();
    Ok((
        Tensor::from_vec(grad_x, (batch, height, width, channels), device)?,
        Tensor::from_vec(grad_kernel, (9 * channels + 1, outputs), device)?,
    ))
}

/// The kernel (`[9·C_out + 1, C_in]`, zero bias) whose convolution with the
/// output gradient is the input gradient: dX[q, c] = Σ_{dy,dx,o} G[q − (dy−1, dx−1), o]·K[(dy, dx, c), o],
/// and with dy′ = 2 − dy, dx′ = 2 − dx that is a convolution of G with
/// K̃[(dy′, dx′, o), c] = K[(2 − dy′, 2 − dx′, c), o].
fn flipped_kernel(kernel: &[f32], channels: usize, outputs: usize) -> Vec<f32> {
    let mut flipped = vec![0f32; (9 * outputs + 1) * channels];
    for tap in 0..9 {
        let source_tap = 8 - tap;
        for o in 0..outputs {
            let row = &mut flipped[(tap * outputs + o) * channels..(tap * outputs + o + 1) * channels];
            for (c, value) in row.iter_mut().enumerate() {
                *value = kernel[(source_tap * channels + c) * outputs + o];
            }
        }
    }
    flipped
}

/// Σ over the rows of a row-major `[rows, width]` slice.
fn column_sums(rows: &[f32], width: usize) -> Vec<f32> {
    let mut sums = vec![0f32; width];
    for row in rows.chunks_exact(width) {
        sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
    }
    sums
}

#[cfg(test)]
mod tests;
