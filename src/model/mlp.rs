//! An MLP denoiser for points in a few dimensions (the 2D toys).
//!
//! h_0 = W_in x; h_{k+1} = SiLU(W_k h_k + e), where e is the time (plus class)
//! embedding projected to the hidden width; out = W_out h_L.

use candle_core::Tensor;

use super::config::MlpConfig;
use super::error::Result;
use super::layers::Linear;
use super::params::Scope;

/// The MLP; input `[B, dims]`, output `[B, outputs]`.
pub struct Mlp {
    input: Linear,
    hidden: Vec<Linear>,
    output: Linear,
}

impl Mlp {
    /// Builds the network (its embedding is `hidden` wide).
    ///
    /// # Errors
    /// A loaded file lacks weights or has them in another shape.
    pub fn new(scope: &mut Scope<'_>, config: &MlpConfig, outputs: usize) -> Result<Self> {
        let mut hidden_scope = scope.sub("hidden");
        let hidden = (0..config.layers)
            .map(|i| Linear::new(&mut hidden_scope.sub(i), config.hidden, config.hidden, false))
            .collect::<Result<_>>()?;
        Ok(Self {
            input: Linear::new(&mut scope.sub("input"), config.dims, config.hidden, false)?,
            hidden,
            output: Linear::new(&mut scope.sub("output"), config.hidden, outputs, false)?,
        })
    }

    /// `x`: `[B, dims]`; `embedding`: `[B, hidden]` (already projected).
    ///
    /// # Errors
    /// Shapes that do not fit the network.
    pub fn forward(&self, x: &Tensor, embedding: &Tensor) -> Result<Tensor> {
        let mut h = self.input.forward(x)?;
        for layer in &self.hidden {
            h = layer.forward(&(h + embedding)?)?.silu()?;
        }
        self.output.forward(&h)
    }
}
