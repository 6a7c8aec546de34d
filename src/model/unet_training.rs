//! The U-Net in training: the whole body one [`Fused`] node of candle's graph.
//!
//! [`forward_saving`] runs [`Unet::forward`]'s composition on detached
//! tensors, keeping what each layer's backward pass needs; [`backward`] chains
//! those backward passes in reverse (the residual blocks', attention's, the
//! convolutions', group norm's, pooling's and the skip concatenations'
//! adjoints). candle then keeps gradients only for the body's input, its
//! embedding and its packed parameters (see [`super::fused`] for why: the
//! per-node zeroing and adding had been a fifth of a step's wall time).

use candle_core::{D, Tensor};

use super::conv::{SavedInput, conv3x3_backward_padded, conv3x3_keeping_input};
use super::error::Result;
use super::fused::Fused;
use super::kernels::{group_norm, group_norm_backward, pool2x, pool2x_backward, spread2x, spread2x_backward};
use super::layers::{AttentionSaved, AttentionWeights, attention_backward, attention_forward};
use super::resblock::{self, BlockWeights, backward_block, forward_block};
use super::tensor_ops::{add, concat_channels, split_channels};
use super::unet::Unet;

/// The U-Net's forward pass as one node of candle's graph (the weights must be tracked).
///
/// # Errors
/// Shapes that do not fit the network.
pub(super) fn forward_fused(unet: &Unet, x: &Tensor, embedding: &Tensor) -> Result<Tensor> {
    let weights = UnetWeights::of(unet)?.detached();
    let (x_value, embedding_value) = (x.detach(), embedding.detach());
    let (out, saved) = forward_saving(&weights, &x_value, &embedding_value)?;
    let packed = Tensor::cat(&parameters(unet)?, 0)?;
    let backward = move |grad: &Tensor| backward(&weights, &saved, &x_value, &embedding_value, grad);
    Ok(Fused::apply("unet", [x, embedding, &packed], &out, Box::new(backward))?)
}

/// Every parameter flattened, in [`backward`]'s order of gradients.
fn parameters(unet: &Unet) -> candle_core::Result<Vec<Tensor>> {
    let conv = |c: &super::layers::Conv3x3| -> candle_core::Result<Vec<Tensor>> {
        Ok(vec![c.weights().0.flatten_all()?, c.weights().1.clone()])
    };
    let mut parts = conv(&unet.input)?;
    for block in &unet.down {
        parts.extend(block.parameters()?);
    }
    if let Some([attention, _]) = &unet.attention {
        parts.extend(attention.weights().parameters()?);
    }
    parts.extend(unet.middle.parameters()?);
    for block in &unet.up {
        parts.extend(block.parameters()?);
    }
    if let Some([_, attention]) = &unet.attention {
        parts.extend(attention.weights().parameters()?);
    }
    parts.extend([unet.out_norm.weights().0.clone(), unet.out_norm.weights().1.clone()]);
    parts.extend(conv(&unet.output)?);
    Ok(parts)
}

/// The U-Net's weights as the kernels take them.
struct UnetWeights {
    input: Tensor,
    down: Vec<BlockWeights>,
    attention: Option<[AttentionWeights; 2]>,
    middle: BlockWeights,
    up: Vec<BlockWeights>,
    groups: usize,
    out_gain: Tensor,
    out_bias: Tensor,
    output: Tensor,
}

impl UnetWeights {
    fn of(unet: &Unet) -> candle_core::Result<Self> {
        let blocks = |blocks: &[resblock::ResBlock]| {
            blocks
                .iter()
                .map(BlockWeights::of)
                .collect::<candle_core::Result<Vec<_>>>()
        };
        Ok(Self {
            input: unet.input.kernel()?,
            down: blocks(&unet.down)?,
            attention: unet.attention.as_ref().map(|[a, b]| [a.weights(), b.weights()]),
            middle: BlockWeights::of(&unet.middle)?,
            up: blocks(&unet.up)?,
            groups: unet.out_norm.groups(),
            out_gain: unet.out_norm.weights().0.clone(),
            out_bias: unet.out_norm.weights().1.clone(),
            output: unet.output.kernel()?,
        })
    }

    fn detached(&self) -> Self {
        Self {
            input: self.input.detach(),
            down: self.down.iter().map(BlockWeights::detached).collect(),
            attention: self.attention.as_ref().map(|[a, b]| [a.detached(), b.detached()]),
            middle: self.middle.detached(),
            up: self.up.iter().map(BlockWeights::detached).collect(),
            groups: self.groups,
            out_gain: self.out_gain.detach(),
            out_bias: self.out_bias.detach(),
            output: self.output.detach(),
        }
    }
}

/// A residual block's input and saved activations.
struct BlockPass {
    input: Tensor,
    saved: resblock::Saved,
}

/// Everything [`backward`] needs.
struct Saved {
    input: SavedInput,
    down: Vec<BlockPass>,
    attention_down: Option<(Tensor, AttentionSaved)>,
    middle: BlockPass,
    /// Each up block's pass and the channels of its input that came from below
    /// (the rest are the skip).
    up: Vec<(BlockPass, usize)>,
    attention_up: Option<(Tensor, AttentionSaved)>,
    /// GroupNorm_out's input.
    last: Tensor,
    output: SavedInput,
}

fn block_pass(w: &BlockWeights, input: Tensor, embedding: &Tensor) -> candle_core::Result<(Tensor, BlockPass)> {
    let (skip, residual, saved) = forward_block(w, &input, embedding)?;
    Ok((add(&skip, &residual)?, BlockPass { input, saved }))
}

/// Applies an attention block, if there is one, keeping its input and activations.
fn attend(
    attention: Option<&AttentionWeights>,
    h: Tensor,
) -> candle_core::Result<(Tensor, Option<(Tensor, AttentionSaved)>)> {
    match attention {
        Some(attention) => {
            let (out, saved) = attention_forward(attention, &h)?;
            Ok((out, Some((h, saved))))
        }
        None => Ok((h, None)),
    }
}

/// [`Unet::forward`] on detached tensors, keeping every layer's activations.
fn forward_saving(w: &UnetWeights, x: &Tensor, embedding: &Tensor) -> candle_core::Result<(Tensor, Saved)> {
    let (mut h, input) = conv3x3_keeping_input(x, &w.input)?;
    let (mut down, mut skips, mut attention_down) = (Vec::with_capacity(3), Vec::with_capacity(3), None);
    for (level, block) in w.down.iter().enumerate() {
        let (out, pass) = block_pass(block, h, embedding)?;
        down.push(pass);
        h = out;
        if level == 2 {
            (h, attention_down) = attend(w.attention.as_ref().map(|[down, _]| down), h)?;
        }
        skips.push(h.clone());
        if level < 2 {
            h = pool2x(&h)?;
        }
    }
    let (mut h, middle) = block_pass(&w.middle, h, embedding)?;
    let (mut up, mut attention_up) = (Vec::with_capacity(3), None);
    for (i, block) in w.up.iter().enumerate() {
        let Some(skip) = skips.pop() else { break };
        let from_below = h.dim(D::Minus1)?;
        let (out, pass) = block_pass(block, concat_channels(&h, &skip)?, embedding)?;
        up.push((pass, from_below));
        h = out;
        if i == 0 {
            (h, attention_up) = attend(w.attention.as_ref().map(|[_, up]| up), h)?;
        }
        if i < 2 {
            h = spread2x(&h)?;
        }
    }
    let (out, output) = conv3x3_keeping_input(&group_norm(&h, &w.out_gain, &w.out_bias, w.groups, true)?, &w.output)?;
    let saved = Saved {
        input,
        down,
        attention_down,
        middle,
        up,
        attention_up,
        last: h,
        output,
    };
    Ok((out, saved))
}

/// Accumulates the embedding's gradient over the blocks that read it.
fn accumulate(total: &mut Option<Tensor>, part: Tensor) -> candle_core::Result<()> {
    *total = Some(match total.take() {
        Some(sum) => (sum + part)?,
        None => part,
    });
    Ok(())
}

/// The gradients of the body's input, its embedding and its packed parameters.
fn backward(
    w: &UnetWeights,
    saved: &Saved,
    x: &Tensor,
    embedding: &Tensor,
    grad: &Tensor,
) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
    let (d_normed, d_output) = conv3x3_backward_padded(&saved.output, &w.output, grad)?;
    let (mut d_h, d_out_gain, d_out_bias) =
        group_norm_backward(&saved.last, &w.out_gain, &w.out_bias, w.groups, true, &d_normed)?;
    let mut d_embedding = None;
    let mut up_grads = vec![None; w.up.len()];
    let (mut attention_up_grads, mut attention_down_grads) = (Vec::new(), Vec::new());
    // The skips' gradients by level (the last up block read level 0's).
    let mut d_skips = Vec::with_capacity(3);
    for i in (0..saved.up.len()).rev() {
        if i < 2 {
            d_h = spread2x_backward(&d_h)?;
        }
        if i == 0
            && let (Some([_, attention]), Some((input, s))) = (&w.attention, &saved.attention_up)
        {
            (d_h, attention_up_grads) = attention_backward(attention, input, s, &d_h)?;
        }
        let (pass, from_below) = &saved.up[i];
        let (d_input, d_e, d_p) = backward_block(&w.up[i], &pass.input, embedding, &pass.saved, &d_h)?;
        accumulate(&mut d_embedding, d_e)?;
        up_grads[i] = Some(d_p);
        let (d_below, d_skip) = split_channels(&d_input, *from_below)?;
        d_skips.push(d_skip);
        d_h = d_below;
    }
    let (d_middle, d_e, middle_grads) =
        backward_block(&w.middle, &saved.middle.input, embedding, &saved.middle.saved, &d_h)?;
    accumulate(&mut d_embedding, d_e)?;
    d_h = d_middle;
    let mut down_grads = vec![None; w.down.len()];
    for level in (0..saved.down.len()).rev() {
        if level < 2 {
            d_h = pool2x_backward(&d_h)?;
        }
        if let Some(d_skip) = d_skips.get(level) {
            d_h = add(&d_h, d_skip)?;
        }
        if level == 2
            && let (Some([attention, _]), Some((input, s))) = (&w.attention, &saved.attention_down)
        {
            (d_h, attention_down_grads) = attention_backward(attention, input, s, &d_h)?;
        }
        let pass = &saved.down[level];
        let (d_input, d_e, d_p) = backward_block(&w.down[level], &pass.input, embedding, &pass.saved, &d_h)?;
        accumulate(&mut d_embedding, d_e)?;
        down_grads[level] = Some(d_p);
        d_h = d_input;
    }
    let (d_x, d_input_kernel) = conv3x3_backward_padded(&saved.input, &w.input, &d_h)?;
    let mut parts = vec![d_input_kernel.flatten_all()?];
    parts.extend(down_grads.into_iter().flatten());
    parts.extend(attention_down_grads);
    parts.push(middle_grads);
    parts.extend(up_grads.into_iter().flatten());
    parts.extend(attention_up_grads);
    parts.extend([d_out_gain, d_out_bias, d_output.flatten_all()?]);
    let d_embedding = d_embedding.map_or_else(|| embedding.zeros_like(), Ok)?;
    Ok((d_x.reshape(x.shape())?, d_embedding, Tensor::cat(&parts, 0)?))
}

#[cfg(test)]
mod tests {
    use candle_core::Var;

    use super::*;
    use crate::model::UnetConfig;
    use crate::model::params::ParamStore;
    use crate::model::test_support::{assert_same_gradients, max_diff, ramp};

    /// The fused body against the composition of its layers, differentiated by
    /// candle (whose blocks' own backward is held to candle's in `resblock`).
    #[test]
    fn the_fused_unet_matches_the_composition_of_its_layers() {
        let config = UnetConfig {
            image_size: 8,
            image_channels: 1,
            channels: 4,
            groups: 2,
            attention: true,
        };
        let mut store = ParamStore::fresh(0);
        let unet = Unet::new(&mut store.root(), &config, 6, 2).unwrap();
        for (i, var) in store.vars().values().enumerate() {
            var.set(&(ramp(var.dims(), i) * 0.3).unwrap()).unwrap();
        }
        let x = Var::from_tensor(&ramp(&[2, 8, 8, 1], 90)).unwrap();
        let embedding = Var::from_tensor(&ramp(&[2, 6], 91)).unwrap();
        let weights = ramp(&[2, 8, 8, 2], 92);

        let fused = forward_fused(&unet, &x, &embedding).unwrap();
        let composed = unet.forward_composed(&x, &embedding).unwrap();
        assert_eq!(max_diff(&fused, &composed), 0.0);

        let loss = |out: Tensor| (out * &weights).unwrap().sum_all().unwrap().backward().unwrap();
        let (ours, candles) = (loss(fused), loss(composed));
        let compared = assert_same_gradients(&ours, &candles, store.vars().values().chain([&x, &embedding]));
        assert_eq!(compared, store.vars().len() + 2);

        // The same weights, detached (as inference loads them): the input's
        // gradient still flows, through the fused node, and is the same.
        let tensors = store.tensors().into_iter().collect();
        let mut frozen_store = ParamStore::loaded(tensors, std::path::Path::new("test"), false);
        let frozen = Unet::new(&mut frozen_store.root(), &config, 6, 2).unwrap();
        let frozen_grads = loss(frozen.forward(&x, &embedding).unwrap());
        assert_eq!(assert_same_gradients(&frozen_grads, &ours, [&x, &embedding]), 2);
    }
}
