//! The U-Net's residual block (DDPM's, Ho et al. 2020, Appendix B):
//! GroupNorm → SiLU → conv → + embedding → GroupNorm → SiLU → conv, plus a
//! skip (1×1 when the channels change).
//!
//! [`ResBlock::forward`] composes the layers (inference, and candle's own
//! backward pass where anything is tracked). [`forward_block`] and
//! [`backward_block`] are the same block's two passes on detached tensors,
//! which the U-Net's fused training node chains (`unet_training`).

use candle_core::Tensor;

use super::conv::{SavedInput, conv3x3_backward_padded, conv3x3_keeping_input};
use super::error::Result;
use super::kernels::{add_per_image_channel, group_norm, group_norm_backward, sum_per_image_channel};
use super::layers::{Conv3x3, GroupNorm, Linear, linear};
use super::params::Scope;
use super::tensor_ops::add;

/// A residual block's layers, with their parameter names (`norm1.gain`, …).
pub(super) struct ResBlock {
    norm1: GroupNorm,
    conv1: Conv3x3,
    embedding: Linear,
    norm2: GroupNorm,
    conv2: Conv3x3,
    skip: Option<Linear>,
}

impl ResBlock {
    /// A block from `inputs` to `outputs` channels, taking an embedding of width `embedding`.
    ///
    /// # Errors
    /// A loaded file lacks weights or has them in another shape.
    pub(super) fn new(
        scope: &mut Scope<'_>,
        inputs: usize,
        outputs: usize,
        embedding: usize,
        groups: usize,
    ) -> Result<Self> {
        Ok(Self {
            norm1: GroupNorm::new(&mut scope.sub("norm1"), inputs, groups)?,
            conv1: Conv3x3::new(&mut scope.sub("conv1"), inputs, outputs, false)?,
            embedding: Linear::new(&mut scope.sub("embedding"), embedding, outputs, false)?,
            norm2: GroupNorm::new(&mut scope.sub("norm2"), outputs, groups)?,
            // Zero-initialised so each block starts as the identity (DDPM's choice).
            conv2: Conv3x3::new(&mut scope.sub("conv2"), outputs, outputs, true)?,
            skip: if inputs == outputs {
                None
            } else {
                Some(Linear::new(&mut scope.sub("skip"), inputs, outputs, false)?)
            },
        })
    }

    /// `x`: `[B, H, W, C_in]`; `embedding`: `[B, E]`.
    ///
    /// # Errors
    /// Shapes that do not fit the block.
    pub(super) fn forward(&self, x: &Tensor, embedding: &Tensor) -> Result<Tensor> {
        let hidden = self.conv1.forward(&self.norm1.forward(x, true)?)?;
        let hidden = add_per_image_channel(&hidden, &self.embedding.forward(embedding)?)?;
        let residual = self.conv2.forward(&self.norm2.forward(&hidden, true)?)?;
        let skip = match &self.skip {
            Some(skip) => skip.forward(x)?,
            None => x.clone(),
        };
        Ok(add(&skip, &residual)?)
    }

    /// Every parameter flattened, in [`backward_block`]'s order of gradients
    /// (a conv's weight then its bias is its kernel, row by row).
    ///
    /// # Errors
    /// Only candle's own.
    pub(super) fn parameters(&self) -> candle_core::Result<Vec<Tensor>> {
        let mut parts = vec![self.norm1.weights().0.clone(), self.norm1.weights().1.clone()];
        for (weight, bias) in [self.conv1.weights(), self.embedding.weights()] {
            parts.extend([weight.flatten_all()?, bias.clone()]);
        }
        parts.extend([self.norm2.weights().0.clone(), self.norm2.weights().1.clone()]);
        parts.extend([self.conv2.weights().0.flatten_all()?, self.conv2.weights().1.clone()]);
        if let Some(skip) = &self.skip {
            parts.extend([skip.weights().0.flatten_all()?, skip.weights().1.clone()]);
        }
        Ok(parts)
    }
}

/// A block's weights as the kernels take them.
#[derive(Clone)]
pub(super) struct BlockWeights {
    groups: usize,
    gain1: Tensor,
    bias1: Tensor,
    /// `[9·C_in + 1, C_out]`: the weight with the bias as its last row.
    kernel1: Tensor,
    /// `[E, C_out]`.
    embedding_weight: Tensor,
    embedding_bias: Tensor,
    gain2: Tensor,
    bias2: Tensor,
    /// `[9·C_out + 1, C_out]`.
    kernel2: Tensor,
    /// The 1×1 skip's weight `[C_in, C_out]` and bias, when the channels change.
    skip: Option<(Tensor, Tensor)>,
}

/// The activations the backward pass needs besides the block's inputs.
pub(super) struct Saved {
    /// GroupNorm₁ + SiLU of x: conv₁'s input, padded as conv₁ read it.
    normed1: SavedInput,
    /// conv₁ + embedding: GroupNorm₂'s input.
    hidden: Tensor,
    /// GroupNorm₂ + SiLU: conv₂'s input, padded.
    normed2: SavedInput,
}

impl BlockWeights {
    /// The block's weights (tracked if the block's are).
    ///
    /// # Errors
    /// Only candle's own.
    pub(super) fn of(block: &ResBlock) -> candle_core::Result<Self> {
        let pair = |(a, b): (&Tensor, &Tensor)| (a.clone(), b.clone());
        let ((gain1, bias1), (gain2, bias2)) = (pair(block.norm1.weights()), pair(block.norm2.weights()));
        let (embedding_weight, embedding_bias) = pair(block.embedding.weights());
        Ok(Self {
            groups: block.norm1.groups(),
            gain1,
            bias1,
            kernel1: block.conv1.kernel()?,
            embedding_weight,
            embedding_bias,
            gain2,
            bias2,
            kernel2: block.conv2.kernel()?,
            skip: block.skip.as_ref().map(|skip| pair(skip.weights())),
        })
    }

    /// The same weights outside any graph.
    pub(super) fn detached(&self) -> Self {
        Self {
            groups: self.groups,
            gain1: self.gain1.detach(),
            bias1: self.bias1.detach(),
            kernel1: self.kernel1.detach(),
            embedding_weight: self.embedding_weight.detach(),
            embedding_bias: self.embedding_bias.detach(),
            gain2: self.gain2.detach(),
            bias2: self.bias2.detach(),
            kernel2: self.kernel2.detach(),
            skip: self.skip.as_ref().map(|(w, b)| (w.detach(), b.detach())),
        }
    }
}

/// The block's two branches, whose sum is its output (the skip: x, or its
/// 1×1 projection; and the residual), and what [`backward_block`] needs: the
/// same composition as [`ResBlock::forward`], on detached tensors.
pub(super) fn forward_block(
    w: &BlockWeights,
    x: &Tensor,
    embedding: &Tensor,
) -> candle_core::Result<(Tensor, Tensor, Saved)> {
    let (conv1, normed1) = conv3x3_keeping_input(&group_norm(x, &w.gain1, &w.bias1, w.groups, true)?, &w.kernel1)?;
    let shift = linear(embedding, &w.embedding_weight, &w.embedding_bias)?;
    let hidden = add_per_image_channel(&conv1, &shift)?;
    let skip = match &w.skip {
        Some((weight, bias)) => linear(x, weight, bias)?,
        None => x.clone(),
    };
    let (residual, normed2) =
        conv3x3_keeping_input(&group_norm(&hidden, &w.gain2, &w.bias2, w.groups, true)?, &w.kernel2)?;
    let saved = Saved {
        normed1,
        hidden,
        normed2,
    };
    Ok((skip, residual, saved))
}

/// The gradients of the block's input, its embedding input, and its packed
/// parameters, given its output's gradient `grad` (the chain rule through
/// [`forward_block`], last layer first).
pub(super) fn backward_block(
    w: &BlockWeights,
    x: &Tensor,
    embedding: &Tensor,
    saved: &Saved,
    grad: &Tensor,
) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
    let (batch, outputs) = (embedding.dim(0)?, grad.dim(3)?);
    let (d_normed2, d_kernel2) = conv3x3_backward_padded(&saved.normed2, &w.kernel2, grad)?;
    let (d_hidden, d_gain2, d_bias2) =
        group_norm_backward(&saved.hidden, &w.gain2, &w.bias2, w.groups, true, &d_normed2)?;
    // The embedding's shift was added to every pixel: its gradient sums them.
    let d_shift = sum_per_image_channel(&d_hidden, batch, outputs)?;
    let d_embedding_weight = embedding.t()?.matmul(&d_shift)?;
    let d_embedding_bias = sum_per_image_channel(&d_shift, 1, outputs)?.reshape(outputs)?;
    let d_embedding = d_shift.matmul(&w.embedding_weight.t()?)?;
    let (d_normed1, d_kernel1) = conv3x3_backward_padded(&saved.normed1, &w.kernel1, &d_hidden)?;
    let (d_x, d_gain1, d_bias1) = group_norm_backward(x, &w.gain1, &w.bias1, w.groups, true, &d_normed1)?;
    let mut parts = vec![
        d_gain1,
        d_bias1,
        d_kernel1.flatten_all()?,
        d_embedding_weight.flatten_all()?,
        d_embedding_bias,
        d_gain2,
        d_bias2,
        d_kernel2.flatten_all()?,
    ];
    let d_x = match &w.skip {
        Some((weight, _)) => {
            let rows = grad.elem_count() / outputs;
            let (flat_grad, flat_x) = (grad.reshape((rows, outputs))?, x.reshape((rows, x.dim(3)?))?);
            parts.push(flat_x.t()?.matmul(&flat_grad)?.flatten_all()?);
            parts.push(sum_per_image_channel(grad, 1, outputs)?.reshape(outputs)?);
            add(&d_x, &flat_grad.matmul(&weight.t()?)?.reshape(x.shape())?)?
        }
        None => add(&d_x, grad)?,
    };
    Ok((d_x, d_embedding, Tensor::cat(&parts, 0)?))
}

#[cfg(test)]
mod tests {
    use candle_core::Var;

    use super::*;
    use crate::model::fused::Fused;
    use crate::model::params::ParamStore;
    use crate::model::test_support::{assert_same_gradients, max_diff, ramp};

    /// The block's two passes, as the U-Net's fused node chains them, against
    /// its layers' composition differentiated by candle. Blocks of at least 16
    /// channels on both sides of a convolution train through Winograd's
    /// algorithm, equal to the direct product up to rounding: their outputs
    /// must agree to `tolerance` of the largest one (narrower ones exactly).
    fn check_block(inputs: usize, outputs: usize, tolerance: f32) {
        let mut store = ParamStore::fresh(0);
        let block = ResBlock::new(&mut store.root(), inputs, outputs, 6, 2).unwrap();
        // Non-zero everywhere (conv₂ starts at zero), so no gradient vanishes.
        for (i, var) in store.vars().values().enumerate() {
            var.set(&(ramp(var.dims(), i) * 0.3).unwrap()).unwrap();
        }
        let x = Var::from_tensor(&ramp(&[2, 5, 6, inputs], 90)).unwrap();
        let embedding = Var::from_tensor(&ramp(&[2, 6], 91)).unwrap();
        let weights = ramp(&[2, 5, 6, outputs], 92);

        let block_weights = BlockWeights::of(&block).unwrap().detached();
        let (x_value, embedding_value) = (x.detach(), embedding.detach());
        let (skip, residual, saved) = forward_block(&block_weights, &x_value, &embedding_value).unwrap();
        let backward = move |grad: &Tensor| backward_block(&block_weights, &x_value, &embedding_value, &saved, grad);
        let packed = Tensor::cat(&block.parameters().unwrap(), 0).unwrap();
        let fused = Fused::apply(
            "res_block",
            [&x, &embedding, &packed],
            &add(&skip, &residual).unwrap(),
            Box::new(backward),
        )
        .unwrap();
        let composed = block.forward(&x, &embedding).unwrap();
        let largest = composed.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(
            max_diff(&fused, &composed) <= tolerance * largest,
            "{}",
            max_diff(&fused, &composed)
        );

        let loss = |out: Tensor| (out * &weights).unwrap().sum_all().unwrap().backward().unwrap();
        let (ours, candles) = (loss(fused), loss(composed));
        let compared = assert_same_gradients(&ours, &candles, store.vars().values().chain([&x, &embedding]));
        assert_eq!(compared, store.vars().len() + 2);
    }

    #[test]
    fn the_fused_block_matches_candles_backward_with_a_skip_projection() {
        check_block(4, 6, 0.0);
    }

    #[test]
    fn the_fused_block_matches_candles_backward_with_an_identity_skip() {
        check_block(6, 6, 0.0);
    }

    #[test]
    fn the_fused_block_matches_candles_backward_through_winograds_convolutions() {
        check_block(16, 24, 1e-6);
        check_block(24, 24, 1e-6);
    }
}
