//! Parallel stand-ins for candle operations that ran on the calling thread.
//!
//! perf on a batch-16 U-Net forward pass (2 cores) found the calling thread
//! busy alone for ~18% of the CPU time while rayon's workers waited: candle's
//! `Tensor::cat` on the last dimension copies pixel by pixel on one thread, its
//! element-wise add waits on a second thread pool of its own, and every
//! `vec![0.0; n]` for a kernel's output was zeroed (and page-faulted) before the
//! parallel part began. These do the same work on rayon's threads.
//!
//! - [`parallel_zeros`]: an output buffer, zeroed by all threads.
//! - [`filled_vec`], [`write_copy`]: an output buffer that a kernel writes in
//!   full, never zeroed first (perf on DDIM-50: zeroing outputs that were then
//!   overwritten was 8% of the time, in `memset`).
//! - [`concat_channels`]: `[…, C_a]` ‖ `[…, C_b]` → `[…, C_a + C_b]` (the U-Net's skip connections).
//! - [`add`]: a + b for tensors of one shape (the residual connections).

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::kernels::{contiguous_f32, with_f32};

/// Values per rayon task in the element-wise loops (a few L1 caches' worth).
const CHUNK: usize = 1 << 14;

/// `len` zeros, written by all of rayon's threads (one `memset` per chunk).
pub(crate) fn parallel_zeros(len: usize) -> Vec<f32> {
    // SAFETY: the chunks cover the slice, and each is filled.
    unsafe {
        filled_vec(len, |out| {
            out.par_chunks_mut(CHUNK)
                .for_each(|chunk| chunk.fill(MaybeUninit::new(0.0)));
        })
    }
}

/// A vector of `len` floats, each written by `fill` (on as many threads as it
/// likes) and never zeroed before.
///
/// # Safety
/// `fill` must write every element of the slice it is given.
pub(crate) unsafe fn filled_vec(len: usize, fill: impl FnOnce(&mut [MaybeUninit<f32>])) -> Vec<f32> {
    let mut out: Vec<f32> = Vec::with_capacity(len);
    fill(&mut out.spare_capacity_mut()[..len]);
    // SAFETY: the capacity is at least `len`, and by the caller's promise
    // `fill` has initialised each of the first `len` values.
    unsafe { out.set_len(len) };
    out
}

/// `values` as initialised floats.
///
/// # Safety
/// Every element of `values` has been written.
pub(crate) unsafe fn assume_init_mut(values: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    // SAFETY: MaybeUninit<f32> has f32's layout, and the caller promises
    // each value is initialised.
    unsafe { &mut *(std::ptr::from_mut(values) as *mut [f32]) }
}

/// Copies `src` into the uninitialised `dst` of the same length.
pub(crate) fn write_copy(dst: &mut [MaybeUninit<f32>], src: &[f32]) {
    debug_assert_eq!(dst.len(), src.len());
    for (d, s) in dst.iter_mut().zip(src) {
        d.write(*s);
    }
}

/// Joins two channels-last tensors along their last dimension.
///
/// # Errors
/// The leading dimensions differ, or the data is not f32.
pub fn concat_channels(a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    let (da, db) = (a.dims(), b.dims());
    if da.is_empty() || da.len() != db.len() || da[..da.len() - 1] != db[..db.len() - 1] {
        candle_core::bail!("concat_channels: {da:?} and {db:?}");
    }
    a.contiguous()?.apply_op2(&b.contiguous()?, ConcatChannels)
}

struct ConcatChannels;

impl CustomOp2 for ConcatChannels {
    fn name(&self) -> &'static str {
        "concat_channels"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (a, b) = (
            contiguous_f32(s1, l1, self.name())?,
            contiguous_f32(s2, l2, self.name())?,
        );
        let dims = l1.shape().dims();
        let (ca, cb) = (dims[dims.len() - 1], l2.shape().dims()[dims.len() - 1]);
        if ca == 0 || cb == 0 || a.len() / ca != b.len() / cb {
            candle_core::bail!("concat_channels: {:?} and {:?}", l1.shape(), l2.shape());
        }
        let rows_per_task = (CHUNK / (ca + cb)).max(1);
        // SAFETY: a and b hold the same number of rows (checked above), so the
        // zipped chunks cover the output, and each output row is written as a
        // row of a then a row of b.
        let out = unsafe {
            filled_vec(a.len() + b.len(), |out| {
                out.par_chunks_mut(rows_per_task * (ca + cb))
                    .zip(a.par_chunks(rows_per_task * ca))
                    .zip(b.par_chunks(rows_per_task * cb))
                    .for_each(|((out, a), b)| {
                        for ((row, a), b) in out
                            .chunks_exact_mut(ca + cb)
                            .zip(a.chunks_exact(ca))
                            .zip(b.chunks_exact(cb))
                        {
                            write_copy(&mut row[..ca], a);
                            write_copy(&mut row[ca..], b);
                        }
                    });
            })
        };
        let mut out_dims = dims.to_vec();
        out_dims[dims.len() - 1] = ca + cb;
        Ok((CpuStorage::F32(out), Shape::from(out_dims)))
    }

    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (da, db) = split_channels(grad, a.dim(a.rank() - 1)?)?;
        if db.dims() != b.dims() {
            candle_core::bail!(
                "concat_channels: gradient {:?} for {:?} and {:?}",
                grad.dims(),
                a.dims(),
                b.dims()
            );
        }
        Ok((Some(da), Some(db)))
    }
}

/// Splits `[…, C]` into its first `first` channels and the rest, on rayon's
/// threads (the adjoint of [`concat_channels`]; candle's narrow-then-copy ran
/// pixel by pixel on one thread).
///
/// # Errors
/// `first` exceeds the channels, or the data is not f32.
pub(crate) fn split_channels(t: &Tensor, first: usize) -> candle_core::Result<(Tensor, Tensor)> {
    let dims = t.dims();
    let Some((&channels, leading)) = dims.split_last() else {
        candle_core::bail!("split_channels: a scalar has no channels")
    };
    if first > channels || first == 0 || first == channels {
        candle_core::bail!("split_channels: {first} of {channels} channels");
    }
    let rest = channels - first;
    let pixels: usize = leading.iter().product();
    // Pixels per task, so that each task copies about CHUNK values.
    let per_task = (CHUNK / channels).max(1);
    let (a, b) = with_f32(t, "split_channels", |values| {
        let copy = |out: &mut [MaybeUninit<f32>], width: usize, offset: usize| {
            out.par_chunks_mut(per_task * width)
                .zip(values.par_chunks(per_task * channels))
                .for_each(|(out, source)| {
                    for (o, pixel) in out.chunks_exact_mut(width).zip(source.chunks_exact(channels)) {
                        write_copy(o, &pixel[offset..offset + width]);
                    }
                });
        };
        // SAFETY: `values` holds `pixels` whole pixels of `channels` values, so
        // the zipped chunks cover each output and every value is written.
        let a = unsafe { filled_vec(pixels * first, |out| copy(out, first, 0)) };
        // SAFETY: as above, for the remaining channels.
        let b = unsafe { filled_vec(pixels * rest, |out| copy(out, rest, first)) };
        Ok((a, b))
    })?;
    let shape = |width: usize| [leading, &[width]].concat();
    Ok((
        Tensor::from_vec(a, shape(first), t.device())?,
        Tensor::from_vec(b, shape(rest), t.device())?,
    ))
}

/// a + b for two tensors of the same shape.
///
/// # Errors
/// The shapes differ, or the data is not f32.
pub fn add(a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    if a.dims() != b.dims() {
        candle_core::bail!("add: {:?} and {:?}", a.dims(), b.dims());
    }
    a.contiguous()?.apply_op2(&b.contiguous()?, Add)
}

struct Add;

/// a + b element by element, on rayon's threads (the caller checks that the
/// lengths agree; a longer one's tail is ignored).
fn add_slices(a: &[f32], b: &[f32]) -> Vec<f32> {
    debug_assert_eq!(a.len(), b.len());
    let len = a.len().min(b.len());
    // SAFETY: the zipped chunks of a and b (at least `len` long) cover the
    // output's `len` values, and each is written.
    unsafe {
        filled_vec(len, |out| {
            out.par_chunks_mut(CHUNK)
                .zip(a.par_chunks(CHUNK))
                .zip(b.par_chunks(CHUNK))
                .for_each(|((out, a), b)| {
                    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
                        o.write(x + y);
                    }
                });
        })
    }
}

impl CustomOp2 for Add {
    fn name(&self) -> &'static str {
        "add"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (a, b) = (
            contiguous_f32(s1, l1, self.name())?,
            contiguous_f32(s2, l2, self.name())?,
        );
        if a.len() != b.len() {
            candle_core::bail!("add: {:?} and {:?}", l1.shape(), l2.shape());
        }
        Ok((CpuStorage::F32(add_slices(a, b)), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _a: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(grad.clone()), Some(grad.clone())))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{D, Var};

    use super::*;
    use crate::model::test_support::{max_diff, ramp};

    #[test]
    fn concatenation_and_addition_match_candle_forward_and_backward() {
        let a = Var::from_tensor(&ramp(&[2, 3, 5, 4], 1)).unwrap();
        let b = Var::from_tensor(&ramp(&[2, 3, 5, 6], 2)).unwrap();
        let weights = ramp(&[2, 3, 5, 10], 3);
        let ours = concat_channels(&a, &b).unwrap();
        let theirs = Tensor::cat(&[a.as_tensor(), b.as_tensor()], D::Minus1).unwrap();
        assert_eq!(max_diff(&ours, &theirs), 0.0);
        let ours_grads = (ours * &weights).unwrap().sum_all().unwrap().backward().unwrap();
        let theirs_grads = (theirs * &weights).unwrap().sum_all().unwrap().backward().unwrap();
        for v in [&a, &b] {
            let (g1, g2) = (ours_grads.get(v).unwrap(), theirs_grads.get(v).unwrap());
            assert_eq!(max_diff(g1, g2), 0.0);
        }

        let c = Var::from_tensor(&ramp(&[2, 3, 5, 4], 4)).unwrap();
        let sum = add(&a, &c).unwrap();
        assert_eq!(max_diff(&sum, &(a.as_tensor() + c.as_tensor()).unwrap()), 0.0);
        let grads = (sum * &ramp(&[2, 3, 5, 4], 5))
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for v in [&a, &c] {
            assert_eq!(max_diff(grads.get(v).unwrap(), &ramp(&[2, 3, 5, 4], 5)), 0.0);
        }
        assert!(concat_channels(&a, &ramp(&[2, 3, 4, 6], 6)).is_err());
        assert!(add(&a, &b).is_err());
    }
}
