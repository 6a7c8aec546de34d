//! 3×3 convolution as im2col + matmul on channels-last (NHWC) tensors.
//!
//! candle 0.11's CPU `conv2d` reaches ~20 GFLOP/s here and its backward pass is
//! slower still, while its matmul reaches ~170 GFLOP/s (../shared/STACK.md). So a
//! 3×3, stride-1, zero-padded convolution is written as: gather every pixel's
//! 3×3 neighbourhood into one row (`[B·H·W, 9·C + 1]`, this op; the last column
//! is 1 so the bias rides in the same matmul), then one matmul with the
//! `[9·C + 1, C_out]` kernel. In NHWC each neighbour is a contiguous run of C
//! floats, so the gather is nine `copy_from_slice` per pixel. The backward pass
//! (col2im) scatters the rows' gradients back onto the pixels they came from.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::kernels::contiguous_f32;

/// Gathers 3×3 neighbourhoods (zero padding) of a contiguous `[B, H, W, C]` f32 tensor.
struct Im2Col3x3;

/// Sums a `[B·H·W, 9·C + 1]` gradient back onto `[B, H, W, C]` (the adjoint of [`Im2Col3x3`]).
struct Col2Im3x3 {
    dims: (usize, usize, usize, usize),
}

/// The 3×3 neighbourhoods of `x` (`[B, H, W, C]`) as a `[B·H·W, 9·C + 1]` matrix;
/// row (b, y, x) holds the neighbours in (dy, dx) row-major order, each C long,
/// then a 1 for the bias.
///
/// # Errors
/// If `x` is not a 4-D f32 tensor.
pub fn im2col3x3(x: &Tensor) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(Im2Col3x3)
}

/// Calls `visit(pixel, neighbour_index, source_pixel)` for every in-bounds
/// neighbour of one image; pixels are flat indices into `[H, W]`.
fn for_each_neighbour((height, width): (usize, usize), mut visit: impl FnMut(usize, usize, usize)) {
    {
        for y in 0..height {
            for x in 0..width {
                let row = y * width + x;
                for dy in 0..3 {
                    let Some(sy) = (y + dy).checked_sub(1).filter(|&sy| sy < height) else {
                        continue;
                    };
                    for dx in 0..3 {
                        let Some(sx) = (x + dx).checked_sub(1).filter(|&sx| sx < width) else {
                            continue;
                        };
                        visit(row, dy * 3 + dx, sy * width + sx);
                    }
                }
            }
        }
    }
}

impl CustomOp1 for Im2Col3x3 {
    fn name(&self) -> &'static str {
        "im2col3x3"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (batch, height, width, channels) = layout.shape().dims4()?;
        let input = contiguous_f32(storage, layout, self.name())?;
        let row_len = 9 * channels + 1;
        let pixels = height * width;
        let mut out = vec![0f32; batch * pixels * row_len];
        // One image per task: images never share rows or source pixels.
        out.par_chunks_mut(pixels * row_len).enumerate().for_each(|(b, rows)| {
            let image = &input[b * pixels * channels..(b + 1) * pixels * channels];
            for row in rows.chunks_exact_mut(row_len) {
                row[row_len - 1] = 1.0;
            }
            for_each_neighbour((height, width), |row, k, source| {
                let dst = row * row_len + k * channels;
                rows[dst..dst + channels].copy_from_slice(&image[source * channels..(source + 1) * channels]);
            });
        });
        Ok((CpuStorage::F32(out), Shape::from((batch * height * width, row_len))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let grad = grad_res
            .contiguous()?
            .apply_op1_no_bwd(&Col2Im3x3 { dims: arg.dims4()? })?;
        Ok(Some(grad))
    }
}

impl CustomOp1 for Col2Im3x3 {
    fn name(&self) -> &'static str {
        "col2im3x3"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (batch, height, width, channels) = self.dims;
        let grad = contiguous_f32(storage, layout, self.name())?;
        let row_len = 9 * channels + 1;
        let pixels = height * width;
        let mut out = vec![0f32; batch * pixels * channels];
        out.par_chunks_mut(pixels * channels)
            .enumerate()
            .for_each(|(b, image)| {
                let rows = &grad[b * pixels * row_len..(b + 1) * pixels * row_len];
                for_each_neighbour((height, width), |row, k, source| {
                    let src = row * row_len + k * channels;
                    for (acc, g) in image[source * channels..(source + 1) * channels]
                        .iter_mut()
                        .zip(&rows[src..src + channels])
                    {
                        *acc += g;
                    }
                });
            });
        Ok((CpuStorage::F32(out), Shape::from(self.dims)))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{D, Device, Var};

    use super::*;

    /// The same gather built from candle's own pad/narrow/cat (slow, but obviously right).
    fn reference(x: &Tensor) -> Tensor {
        let (b, h, w, c) = x.dims4().unwrap();
        let padded = x.pad_with_zeros(1, 1, 1).unwrap().pad_with_zeros(2, 1, 1).unwrap();
        let mut cols = Vec::new();
        for dy in 0..3 {
            for dx in 0..3 {
                cols.push(padded.narrow(1, dy, h).unwrap().narrow(2, dx, w).unwrap());
            }
        }
        cols.push(Tensor::ones((b, h, w, 1), x.dtype(), x.device()).unwrap());
        Tensor::cat(&cols, D::Minus1)
            .unwrap()
            .reshape((b * h * w, 9 * c + 1))
            .unwrap()
    }

    #[test]
    fn matches_pad_narrow_cat_forward_and_backward() {
        let device = Device::Cpu;
        let values: Vec<f32> = (0..2 * 4 * 5 * 3).map(|i| ((i * 37 % 11) as f32) - 5.0).collect();
        let x = Var::from_tensor(&Tensor::from_vec(values, (2, 4, 5, 3), &device).unwrap()).unwrap();
        let weights: Vec<f32> = (0..40 * 28).map(|i| ((i * 13 % 7) as f32) - 3.0).collect();
        let weights = Tensor::from_vec(weights, (40, 28), &device).unwrap();

        let ours = im2col3x3(&x).unwrap();
        let theirs = reference(&x);
        let diff = (&ours - &theirs).unwrap().abs().unwrap().max_all().unwrap();
        assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0);

        let grad_ours = (ours * &weights).unwrap().sum_all().unwrap().backward().unwrap();
        let grad_theirs = (theirs * &weights).unwrap().sum_all().unwrap().backward().unwrap();
        let a = grad_ours.get(&x).unwrap();
        let b = grad_theirs.get(&x).unwrap();
        let diff = (a - b).unwrap().abs().unwrap().max_all().unwrap();
        assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0);
    }
}
