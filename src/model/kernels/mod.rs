//! Hand-written CPU kernels (candle custom ops) for the U-Net's hot spots.
//!
//! Measured on this 2-core machine (batch 32, 28×28×64, candle 0.11.1): group
//! norm built from candle's reductions took 12 ms forward and 150 ms with its
//! backward pass, and 2× average pooling 13 ms, because candle reduces over
//! non-last dimensions with a strided loop. These kernels do the same maths in
//! single passes over channels-last memory, one image per rayon task.
//!
//! - [`group_norm`]: y = γ_c (x − μ_g)/√(σ²_g + ε) + β_c, optionally followed by
//!   SiLU(y) = y·sigmoid(y) (Wu & He 2018; the U-Net's GroupNorm → SiLU pair).
//! - [`pool2x`] / [`spread2x`]: 2× average pooling and nearest upsampling, each
//!   the other's adjoint (up to the factor 4).
//! - [`add_per_image_channel`]: x[b, p, c] + s[b, c] (the time embedding added
//!   to every pixel), whose backward sums over pixels.

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::activation::{silu_backward_in_place, silu_in_place};
use super::tensor_ops::{assume_init_mut, filled_vec, parallel_zeros};

const EPSILON: f32 = 1e-5;

/// The f32 data of a contiguous CPU tensor (custom ops get raw storage).
pub(crate) fn contiguous_f32<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(all) = storage else {
        candle_core::bail!("{op}: only f32 is supported")
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{op}: input must be contiguous")
    };
    Ok(&all[start..end])
}

fn values(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

/// Runs `f` on a tensor's f32 values where they lie, without `values`' copy
/// (perf on `train`: copying activations and gradients out in the backward
/// passes was 3% of a step, all on one thread).
///
/// # Errors
/// The tensor is not f32 on the CPU, or `f`'s error.
pub(crate) fn with_f32<R>(
    t: &Tensor,
    op: &str,
    f: impl FnOnce(&[f32]) -> candle_core::Result<R>,
) -> candle_core::Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    let candle_core::Storage::Cpu(cpu) = &*storage else {
        candle_core::bail!("{op}: only CPU tensors are supported")
    };
    f(contiguous_f32(cpu, layout, op)?)
}

/// Group norm with a per-channel affine map over `[B, H, W, C]`, then SiLU if `silu`.
///
/// # Errors
/// `x` is not 4-D f32, or `gain`/`bias` are not `[C]`.
pub fn group_norm(x: &Tensor, gain: &Tensor, bias: &Tensor, groups: usize, silu: bool) -> candle_core::Result<Tensor> {
    let channels = x.dim(3)?;
    if channels % groups != 0 || gain.dims() != [channels] || bias.dims() != [channels] {
        candle_core::bail!(
            "group_norm: {channels} channels, {groups} groups, gain {:?}",
            gain.dims()
        );
    }
    x.contiguous()?
        .apply_op3(&gain.contiguous()?, &bias.contiguous()?, GroupNormOp { groups, silu })
}

struct GroupNormOp {
    groups: usize,
    silu: bool,
}

/// Per-group mean and 1/σ of one image (`pixels × channels`).
fn group_stats(image: &[f32], channels: usize, groups: usize) -> (Vec<f32>, Vec<f32>) {
    // Sums over runs of 64 pixels in f32 (vectorised across channels), then
    // in f64, so a 784-pixel image loses no precision to long f32 sums.
    const RUN_PIXELS: usize = 64;
    let mut sum = vec![0f64; channels];
    let mut sum_sq = vec![0f64; channels];
    let (mut run_sum, mut run_sq) = (vec![0f32; channels], vec![0f32; channels]);
    for run in image.chunks(RUN_PIXELS * channels) {
        run_sum.fill(0.0);
        run_sq.fill(0.0);
        for pixel in run.chunks_exact(channels) {
            for ((s, q), &v) in run_sum.iter_mut().zip(&mut run_sq).zip(pixel) {
                *s += v;
                *q += v * v;
            }
        }
        for c in 0..channels {
            sum[c] += f64::from(run_sum[c]);
            sum_sq[c] += f64::from(run_sq[c]);
        }
    }
    let per_group = channels / groups;
    let count = (image.len() / channels * per_group) as f64;
    let mut mean = Vec::with_capacity(groups);
    let mut inv_std = Vec::with_capacity(groups);
    for g in 0..groups {
        let range = g * per_group..(g + 1) * per_group;
        let m = sum[range.clone()].iter().sum::<f64>() / count;
        let var = (sum_sq[range].iter().sum::<f64>() / count - m * m).max(0.0);
        {
            mean.push(m as f32);
            inv_std.push(1.0 / (var as f32 + EPSILON).sqrt());
        }
    }
    (mean, inv_std)
}

const GROUP_NORM: &str = "group_norm";

impl CustomOp3 for GroupNormOp {
    fn name(&self) -> &'static str {
        GROUP_NORM
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (x, gain, bias) = (
            contiguous_f32(s1, l1, self.name())?,
            contiguous_f32(s2, l2, self.name())?,
            contiguous_f32(s3, l3, self.name())?,
        );
        let (_, height, width, channels) = l1.shape().dims4()?;
        let image_len = height * width * channels;
        let per_group = channels / self.groups;
        let normalise = |out: &mut [MaybeUninit<f32>]| {
            out.par_chunks_mut(image_len)
                .zip(x.par_chunks(image_len))
                .for_each(|(out, image)| {
                    let (mean, inv_std) = group_stats(image, channels, self.groups);
                    let scale: Vec<f32> = (0..channels).map(|c| gain[c] * inv_std[c / per_group]).collect();
                    let shift: Vec<f32> = (0..channels)
                        .map(|c| bias[c] - mean[c / per_group] * scale[c])
                        .collect();
                    for (o_pixel, x_pixel) in out.chunks_exact_mut(channels).zip(image.chunks_exact(channels)) {
                        for (((o, &x), &scale), &shift) in o_pixel.iter_mut().zip(x_pixel).zip(&scale).zip(&shift) {
                            o.write(x * scale + shift);
                        }
                    }
                    if self.silu {
                        // SAFETY: the loop above has written every value of this image.
                        silu_in_place(unsafe { assume_init_mut(out) });
                    }
                });
        };
        // SAFETY: x is whole images of whole pixels, so the zipped chunks
        // cover the output and every value is written.
        let out = unsafe { filled_vec(x.len(), normalise) };
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gain: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, d_gain, d_bias) = group_norm_backward(x, gain, bias, self.groups, self.silu, grad)?;
        Ok((Some(dx), Some(d_gain), Some(d_bias)))
    }
}

/// The gradients of [`group_norm`] with respect to x, the gain and the bias,
/// given the gradient of its output.
///
/// # Errors
/// Shapes that do not agree, or non-f32 data.
pub(crate) fn group_norm_backward(
    x: &Tensor,
    gain: &Tensor,
    bias: &Tensor,
    groups: usize,
    silu: bool,
    grad: &Tensor,
) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
    let (_, height, width, channels) = x.dims4()?;
    let image_len = height * width * channels;
    let (gain_v, bias_v) = (values(gain)?, values(bias)?);
    let (dx, d_gain, d_bias) = with_f32(x, GROUP_NORM, |xs| {
        with_f32(grad, GROUP_NORM, |gs| {
            let per_group = channels / groups;
            let count = (height * width * per_group) as f32;
            if gs.len() != xs.len() {
                candle_core::bail!("{GROUP_NORM}: gradient {:?} for input {:?}", grad.dims(), x.dims());
            }
            // Per image: dx, and that image's share of dγ and dβ.
            let mut partials: Vec<(Vec<f32>, Vec<f32>)> = Vec::new();
            let per_image = |dx: &mut [MaybeUninit<f32>]| {
                partials = dx
                    .par_chunks_mut(image_len)
                    .zip(xs.par_chunks(image_len))
                    .zip(gs.par_chunks(image_len))
                    .map(|((dx, image), g)| {
                        let (mean, inv_std) = group_stats(image, channels, groups);
                        let scale: Vec<f32> = (0..channels).map(|c| inv_std[c / per_group]).collect();
                        let shift: Vec<f32> = (0..channels).map(|c| -mean[c / per_group] * scale[c]).collect();
                        // x̂ = (x − μ)/σ per value, and y (before SiLU) in `dx` for now.
                        let standardise = |x_hat: &mut [MaybeUninit<f32>]| {
                            for (h_pixel, x_pixel) in x_hat.chunks_exact_mut(channels).zip(image.chunks_exact(channels))
                            {
                                for (((h, x), a), b) in h_pixel.iter_mut().zip(x_pixel).zip(&scale).zip(&shift) {
                                    h.write(x * a + b);
                                }
                            }
                        };
                        // SAFETY: the image is whole pixels, so every value is written.
                        let x_hat = unsafe { filled_vec(image.len(), standardise) };
                        // Zipped rather than indexed, these per-pixel loops have no bounds
                        // checks and vectorise (indexed, they were 4% of a training step).
                        for (d_pixel, h_pixel) in dx.chunks_exact_mut(channels).zip(x_hat.chunks_exact(channels)) {
                            for (((d, h), a), b) in d_pixel.iter_mut().zip(h_pixel).zip(&gain_v).zip(&bias_v) {
                                d.write(h * a + b);
                            }
                        }
                        // SAFETY: the loop above wrote every value of this image's dx.
                        let dx = unsafe { assume_init_mut(dx) };
                        if silu {
                            silu_backward_in_place(dx, g);
                        } else {
                            dx.copy_from_slice(g);
                        }
                        let mut d_bias = vec![0f32; channels];
                        let mut d_gain = vec![0f32; channels];
                        for (gy_pixel, h_pixel) in dx.chunks_exact(channels).zip(x_hat.chunks_exact(channels)) {
                            for (((bias, gain), gy), h) in d_bias.iter_mut().zip(&mut d_gain).zip(gy_pixel).zip(h_pixel)
                            {
                                *bias += gy;
                                *gain += gy * h;
                            }
                        }
                        // Σ over the group of dL/dx̂ and of dL/dx̂ · x̂ (dL/dx̂ = γ dL/dy).
                        let mut sum_gx = vec![0f32; groups];
                        let mut sum_gx_xhat = vec![0f32; groups];
                        for c in 0..channels {
                            sum_gx[c / per_group] += gain_v[c] * d_bias[c];
                            sum_gx_xhat[c / per_group] += gain_v[c] * d_gain[c];
                        }
                        // dx = (γ dL/dy − mean(dL/dx̂) − x̂ mean(dL/dx̂ · x̂)) / σ, per channel constants first.
                        let dy_scale: Vec<f32> = (0..channels).map(|c| gain_v[c] * inv_std[c / per_group]).collect();
                        let offset: Vec<f32> = (0..channels)
                            .map(|c| -inv_std[c / per_group] * sum_gx[c / per_group] / count)
                            .collect();
                        let x_hat_scale: Vec<f32> = (0..channels)
                            .map(|c| -inv_std[c / per_group] * sum_gx_xhat[c / per_group] / count)
                            .collect();
                        for (d_pixel, h_pixel) in dx.chunks_exact_mut(channels).zip(x_hat.chunks_exact(channels)) {
                            let constants = dy_scale.iter().zip(&offset).zip(&x_hat_scale);
                            for ((d, h), ((scale, offset), h_scale)) in d_pixel.iter_mut().zip(h_pixel).zip(constants) {
                                *d = *d * scale + offset + h * h_scale;
                            }
                        }
                        (d_gain, d_bias)
                    })
                    .collect();
            };
            // SAFETY: x is whole images, so the zipped chunks cover dx, and each
            // image's values are all written before they are read.
            let dx = unsafe { filled_vec(xs.len(), per_image) };
            let mut d_gain = vec![0f32; channels];
            let mut d_bias = vec![0f32; channels];
            for (g, b) in &partials {
                for c in 0..channels {
                    d_gain[c] += g[c];
                    d_bias[c] += b[c];
                }
            }
            Ok((dx, d_gain, d_bias))
        })
    })?;
    let device = x.device();
    Ok((
        Tensor::from_vec(dx, x.shape(), device)?,
        Tensor::from_vec(d_gain, channels, device)?,
        Tensor::from_vec(d_bias, channels, device)?,
    ))
}

/// 2× average pooling of `[B, H, W, C]` (H, W even).
///
/// # Errors
/// `x` is not 4-D f32 with even sides.
pub fn pool2x(x: &Tensor) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(Pool2x)
}

/// 2× nearest-neighbour upsampling of `[B, H, W, C]`.
///
/// # Errors
/// `x` is not 4-D f32.
pub fn spread2x(x: &Tensor) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(Spread2x { scale: 1.0 })
}

/// The gradient of [`pool2x`]'s input given its output's: each output's
/// gradient spread over its four pixels, a quarter each.
///
/// # Errors
/// `grad` is not 4-D f32.
pub(crate) fn pool2x_backward(grad: &Tensor) -> candle_core::Result<Tensor> {
    grad.contiguous()?.apply_op1_no_bwd(&Spread2x { scale: 0.25 })
}

/// The gradient of [`spread2x`]'s input given its output's: the sum over each 2×2 square.
///
/// # Errors
/// `grad` is not 4-D f32 with even sides.
pub(crate) fn spread2x_backward(grad: &Tensor) -> candle_core::Result<Tensor> {
    grad.contiguous()?.apply_op1_no_bwd(&Pool2x)? * 4.0
}

struct Pool2x;

/// Nearest upsampling times `scale` (scale ¼ is pooling's adjoint).
struct Spread2x {
    scale: f32,
}

impl CustomOp1 for Pool2x {
    fn name(&self) -> &'static str {
        "pool2x"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(storage, layout, self.name())?;
        let (batch, height, width, channels) = layout.shape().dims4()?;
        if height % 2 != 0 || width % 2 != 0 {
            candle_core::bail!("pool2x: odd size {height}×{width}");
        }
        let (h2, w2) = (height / 2, width / 2);
        let mut out = parallel_zeros(batch * h2 * w2 * channels);
        out.par_chunks_mut(h2 * w2 * channels)
            .zip(x.par_chunks(height * width * channels))
            .for_each(|(out, image)| {
                for y in 0..h2 {
                    for x in 0..w2 {
                        let o = (y * w2 + x) * channels;
                        for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                            let i = ((2 * y + dy) * width + 2 * x + dx) * channels;
                            for c in 0..channels {
                                out[o + c] += 0.25 * image[i + c];
                            }
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((batch, h2, w2, channels))))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(pool2x_backward(grad)?))
    }
}

impl CustomOp1 for Spread2x {
    fn name(&self) -> &'static str {
        "spread2x"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(storage, layout, self.name())?;
        let (batch, height, width, channels) = layout.shape().dims4()?;
        let (h2, w2) = (2 * height, 2 * width);
        let spread = |out: &mut [MaybeUninit<f32>]| {
            out.par_chunks_mut(h2 * w2 * channels)
                .zip(x.par_chunks(height * width * channels))
                .for_each(|(out, image)| {
                    for y in 0..h2 {
                        for x in 0..w2 {
                            let o = (y * w2 + x) * channels;
                            let i = ((y / 2) * width + x / 2) * channels;
                            for c in 0..channels {
                                out[o + c].write(self.scale * image[i + c]);
                            }
                        }
                    }
                });
        };
        // SAFETY: one output image per input image, each of whose pixels and
        // channels is written.
        let out = unsafe { filled_vec(batch * h2 * w2 * channels, spread) };
        Ok((CpuStorage::F32(out), Shape::from((batch, h2, w2, channels))))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        // Pooling averages 4 pixels; the adjoint of spreading sums them.
        Ok(Some(
            (grad.contiguous()?.apply_op1_no_bwd(&Pool2x)? * f64::from(4.0 * self.scale))?,
        ))
    }
}

/// x[b, …, c] + s[b, c] for `x` of shape `[B, …, C]` and `s` of shape `[B, C]`.
///
/// # Errors
/// Shapes that do not agree.
pub fn add_per_image_channel(x: &Tensor, shift: &Tensor) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op2(&shift.contiguous()?, AddPerImageChannel)
}

struct AddPerImageChannel;

impl CustomOp2 for AddPerImageChannel {
    fn name(&self) -> &'static str {
        "add_per_image_channel"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (x, shift) = (
            contiguous_f32(s1, l1, self.name())?,
            contiguous_f32(s2, l2, self.name())?,
        );
        let dims = l1.shape().dims();
        let (batch, channels) = l2.shape().dims2()?;
        if dims.first() != Some(&batch) || dims.last() != Some(&channels) {
            candle_core::bail!("add_per_image_channel: {dims:?} and [{batch}, {channels}]");
        }
        let image_len = x.len() / batch.max(1);
        let add = |out: &mut [MaybeUninit<f32>]| {
            out.par_chunks_mut(image_len)
                .zip(x.par_chunks(image_len))
                .zip(shift.par_chunks(channels))
                .for_each(|((out, image), s)| {
                    for (o_pixel, x_pixel) in out.chunks_exact_mut(channels).zip(image.chunks_exact(channels)) {
                        for ((o, x), a) in o_pixel.iter_mut().zip(x_pixel).zip(s) {
                            o.write(x + a);
                        }
                    }
                });
        };
        // SAFETY: x's leading and last dimensions are shift's (checked above),
        // so each image meets its row of shifts, and every value is written.
        let out = unsafe { filled_vec(x.len(), add) };
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        shift: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (batch, channels) = shift.dims2()?;
        Ok((Some(grad.clone()), Some(sum_per_image_channel(grad, batch, channels)?)))
    }
}

/// Σ over the pixels of each image: `[B, …, C]` → `[B, C]` (the gradient of a
/// per-image, per-channel shift; with `batch` = 1, of a bias over all rows).
///
/// # Errors
/// `grad` is not f32, or its length is not a multiple of `batch · channels`.
pub(crate) fn sum_per_image_channel(grad: &Tensor, batch: usize, channels: usize) -> candle_core::Result<Tensor> {
    let sums: Vec<f32> = with_f32(grad, "sum_per_image_channel", |g| {
        if g.len() % (batch * channels).max(1) != 0 {
            candle_core::bail!(
                "sum_per_image_channel: {:?} is not {batch} images of {channels} channels",
                grad.dims()
            );
        }
        let image_len = g.len() / batch.max(1);
        Ok(g.par_chunks(image_len)
            .flat_map_iter(|image| {
                let mut s = vec![0f32; channels];
                for pixel in image.chunks_exact(channels) {
                    for (acc, v) in s.iter_mut().zip(pixel) {
                        *acc += v;
                    }
                }
                s
            })
            .collect())
    })?;
    Tensor::from_vec(sums, (batch, channels), grad.device())
}

#[cfg(test)]
mod tests;
