//! A small class-conditional U-Net (Ronneberger et al. 2015, as used by DDPM,
//! Ho et al. 2020, Appendix B), shrunk to train on two CPU cores.
//!
//! Three resolutions (28, 14, 7 for Fashion-MNIST) with channels C, 2C, 2C; one
//! residual block per resolution on the way down and up, skip connections by
//! concatenation, optional self-attention at the lowest resolution, and the
//! time (plus class) embedding added inside every residual block.

use candle_core::Tensor;

use super::config::UnetConfig;
use super::error::Result;
use super::layers::{Conv3x3, GroupNorm, SelfAttention, downsample, upsample};
use super::params::Scope;
use super::resblock::ResBlock;
use super::tensor_ops::concat_channels;
use super::unet_training::forward_fused;

/// The U-Net; input and output are `[B, H, W, C_image]` (channels last).
pub struct Unet {
    pub(super) input: Conv3x3,
    pub(super) down: [ResBlock; 3],
    pub(super) middle: ResBlock,
    pub(super) attention: Option<[SelfAttention; 2]>,
    pub(super) up: [ResBlock; 3],
    pub(super) out_norm: GroupNorm,
    pub(super) output: Conv3x3,
}

impl Unet {
    /// Builds the network; `embedding` is the width of the time embedding and
    /// `outputs` the channels of the output (the image's, doubled for a learned variance).
    ///
    /// # Errors
    /// A loaded file lacks weights or has them in another shape.
    pub fn new(scope: &mut Scope<'_>, config: &UnetConfig, embedding: usize, outputs: usize) -> Result<Self> {
        let (c, g) = (config.channels, config.groups);
        let widths = [c, 2 * c, 2 * c];
        let mut down_scope = scope.sub("down");
        let down = [
            ResBlock::new(&mut down_scope.sub(0), c, widths[0], embedding, g)?,
            ResBlock::new(&mut down_scope.sub(1), widths[0], widths[1], embedding, g)?,
            ResBlock::new(&mut down_scope.sub(2), widths[1], widths[2], embedding, g)?,
        ];
        let mut up_scope = scope.sub("up");
        let up = [
            ResBlock::new(&mut up_scope.sub(2), 2 * widths[2], widths[2], embedding, g)?,
            ResBlock::new(&mut up_scope.sub(1), widths[2] + widths[1], widths[1], embedding, g)?,
            ResBlock::new(&mut up_scope.sub(0), widths[1] + widths[0], c, embedding, g)?,
        ];
        let attention = if config.attention {
            Some([
                SelfAttention::new(&mut scope.sub("attention.down"), widths[2], g)?,
                SelfAttention::new(&mut scope.sub("attention.up"), widths[2], g)?,
            ])
        } else {
            None
        };
        Ok(Self {
            input: Conv3x3::new(&mut scope.sub("input"), config.image_channels, c, false)?,
            down,
            middle: ResBlock::new(&mut scope.sub("middle"), widths[2], widths[2], embedding, g)?,
            attention,
            up,
            out_norm: GroupNorm::new(&mut scope.sub("out_norm"), c, g)?,
            output: Conv3x3::new(&mut scope.sub("output"), c, outputs, true)?,
        })
    }

    /// `x`: `[B, H, W, C_image]`; `embedding`: `[B, E]`.
    ///
    /// # Errors
    /// Shapes that do not fit the network.
    pub fn forward(&self, x: &Tensor, embedding: &Tensor) -> Result<Tensor> {
        // Anything that needs a gradient (training weights are variables) makes
        // the body one node of candle's graph with its own backward pass
        // (`unet_training`); inference keeps no graph.
        if self.input.weights().0.is_variable() || x.track_op() || embedding.track_op() {
            return forward_fused(self, x, embedding);
        }
        self.forward_composed(x, embedding)
    }

    /// The network as a composition of its layers (differentiable by candle
    /// when the weights are tracked).
    ///
    /// # Errors
    /// Shapes that do not fit the network.
    pub(super) fn forward_composed(&self, x: &Tensor, embedding: &Tensor) -> Result<Tensor> {
        let mut h = self.input.forward(x)?;
        let mut skips = Vec::with_capacity(3);
        for (level, block) in self.down.iter().enumerate() {
            h = block.forward(&h, embedding)?;
            if level == 2
                && let Some([attention, _]) = &self.attention
            {
                h = attention.forward(&h)?;
            }
            skips.push(h.clone());
            if level < 2 {
                h = downsample(&h)?;
            }
        }
        h = self.middle.forward(&h, embedding)?;
        for (i, block) in self.up.iter().enumerate() {
            let Some(skip) = skips.pop() else { break };
            h = block.forward(&concat_channels(&h, &skip)?, embedding)?;
            if i == 0
                && let Some([_, attention]) = &self.attention
            {
                h = attention.forward(&h)?;
            }
            if i < 2 {
                h = upsample(&h)?;
            }
        }
        self.output.forward(&self.out_norm.forward(&h, true)?)
    }
}
