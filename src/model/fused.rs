//! A part of a network as one node of candle's graph.
//!
//! candle's backward pass gives every node's gradient a fresh zeroed tensor
//! and adds into it (`or_insert`, then `add`, in its `backprop.rs`), on one
//! thread. perf on `train` (batch 64) found that zeroing and adding at a
//! quarter of a step's wall time while rayon's threads waited, most of it for
//! image-sized activations inside the U-Net. A [`Fused`] node has its forward
//! pass computed by the caller, outside the graph (on detached tensors, keeping
//! what the backward pass needs), and its backward pass is the caller's
//! closure, which chains the kernels' backward passes directly: candle then
//! keeps gradients only for the node's three inputs.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};

use super::kernels::with_f32;

/// The gradients of a fused node's three inputs, given its output's.
pub(super) type Backward = Box<dyn Fn(&Tensor) -> candle_core::Result<(Tensor, Tensor, Tensor)> + Send + Sync>;

/// A node whose output is already known and whose backward pass is a closure.
pub(super) struct Fused {
    name: &'static str,
    /// Taken by candle's forward call (`apply` copies the output in once; the
    /// U-Net's is a single channel).
    output: Mutex<Option<(Vec<f32>, Shape)>>,
    backward: Backward,
}

impl Fused {
    /// Applies the node to its three inputs (the tensors whose gradients `backward`
    /// returns, in order), with `output` computed by the caller from their values.
    ///
    /// # Errors
    /// The output is not f32 on the CPU.
    pub(super) fn apply(
        name: &'static str,
        [a, b, c]: [&Tensor; 3],
        output: &Tensor,
        backward: Backward,
    ) -> candle_core::Result<Tensor> {
        let values = with_f32(output, name, |v| Ok(v.to_vec()))?;
        let op = Self {
            name,
            output: Mutex::new(Some((values, output.shape().clone()))),
            backward,
        };
        a.apply_op3(b, c, op)
    }
}

impl CustomOp3 for Fused {
    fn name(&self) -> &'static str {
        self.name
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let taken = match self.output.lock() {
            Ok(mut slot) => slot.take(),
            Err(_) => candle_core::bail!("{}: a thread panicked while holding the output", self.name),
        };
        let Some((values, shape)) = taken else {
            candle_core::bail!("{}: the node was applied twice", self.name)
        };
        Ok((CpuStorage::F32(values), shape))
    }

    fn bwd(
        &self,
        _: &Tensor,
        _: &Tensor,
        _: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        // Detached: the backward pass must not grow the graph it walks.
        let (a, b, c) = (self.backward)(&grad.detach())?;
        Ok((Some(a), Some(b), Some(c)))
    }
}
