//! A variational autoencoder (Kingma & Welling 2014; Luo 2022,
//! `shared/seeds/000_9adf4b751b0c0e64.txt`, lines 96–164).
//!
//! An MLP encoder gives q_φ(z|x) = N(μ_φ(x), diag σ_φ²(x)); an MLP decoder
//! gives p_θ(x|z). The ELBO is
//! E_q[log p_θ(x|z)] − KL(q_φ(z|x) ‖ N(0, I)) (Luo eq. 19): the
//! reconstruction term, estimated with one reparameterised draw
//! z = μ + σ ⊙ ε (eq. 21), and the prior-matching term, in closed form.
//! Images use a Bernoulli decoder on pixels in [0, 1]; points a Gaussian one
//! with a fixed spread.

use candle_core::{DType, Device, Tensor};

use super::error::Result;
use super::layers::Linear;
use super::optim::{AdamW, AdamWConfig};
use super::params::ParamStore;
use crate::data::Dataset;
use crate::diffusion::NoiseRng;

/// How the decoder scores a data point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Likelihood {
    /// Independent Bernoulli pixels: the data's [−1, 1] read as
    /// probabilities in [0, 1]; the decoder outputs logits.
    Bernoulli,
    /// N(x; decoder(z), std² I).
    Gaussian {
        /// The decoder's fixed standard deviation (data units).
        std: f64,
    },
}

/// The network and its training.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VaeConfig {
    /// Dimensions of a data point (784 for Fashion-MNIST).
    pub dims: usize,
    /// Width of the encoder's and decoder's two hidden layers.
    pub hidden: usize,
    /// Dimensions of z.
    pub latent: usize,
    /// The decoder's likelihood.
    pub likelihood: Likelihood,
    /// Rows per training step.
    pub batch: usize,
    /// Adam's step size.
    pub learning_rate: f64,
}

impl Default for VaeConfig {
    /// Fashion-MNIST: 784 → 256 → 256 → 2, Bernoulli pixels, batches of 128.
    fn default() -> Self {
        Self {
            dims: 784,
            hidden: 256,
            latent: 2,
            likelihood: Likelihood::Bernoulli,
            batch: 128,
            learning_rate: 1e-3,
        }
    }
}

/// One training step's terms, averaged over its batch (nats per data point).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VaeStep {
    /// The step, from 1.
    pub step: usize,
    /// E_q[log p_θ(x|z)].
    pub reconstruction: f64,
    /// KL(q_φ(z|x) ‖ N(0, I)).
    pub prior_matching: f64,
}

impl VaeStep {
    /// The ELBO: reconstruction − prior matching.
    #[must_use]
    pub fn elbo(&self) -> f64 {
        self.reconstruction - self.prior_matching
    }
}

/// The encoder and decoder, with their optimiser.
pub struct Vae {
    config: VaeConfig,
    encoder: [Linear; 2],
    mean: Linear,
    log_var: Linear,
    decoder: [Linear; 3],
    store: ParamStore,
    optimizer: AdamW,
    step: usize,
}

impl Vae {
    /// A fresh network from `seed`.
    ///
    /// # Errors
    /// Only if candle cannot allocate.
    pub fn new(config: VaeConfig, seed: u64) -> Result<Self> {
        let mut store = ParamStore::fresh(seed);
        let (d, h, l) = (config.dims, config.hidden, config.latent);
        let mut root = store.root();
        let mut e = root.sub("encoder");
        let encoder = [
            Linear::new(&mut e.sub(0), d, h, false)?,
            Linear::new(&mut e.sub(1), h, h, false)?,
        ];
        let mean = Linear::new(&mut e.sub("mean"), h, l, false)?;
        let log_var = Linear::new(&mut e.sub("log_var"), h, l, false)?;
        let mut dec = root.sub("decoder");
        let decoder = [
            Linear::new(&mut dec.sub(0), l, h, false)?,
            Linear::new(&mut dec.sub(1), h, h, false)?,
            Linear::new(&mut dec.sub(2), h, d, false)?,
        ];
        let optimizer = variational_adam(store.vars(), config.learning_rate)?;
        Ok(Self {
            config,
            encoder,
            mean,
            log_var,
            decoder,
            store,
            optimizer,
            step: 0,
        })
    }

    /// Its configuration.
    #[must_use]
    pub fn config(&self) -> &VaeConfig {
        &self.config
    }

    /// q_φ(z|x)'s mean and log-variance, `[B, latent]` each.
    ///
    /// # Errors
    /// `x` is not `[B, dims]`.
    pub fn encode(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let h = self.encoder[0].forward(x)?.silu()?;
        let h = self.encoder[1].forward(&h)?.silu()?;
        Ok((self.mean.forward(&h)?, self.log_var.forward(&h)?))
    }

    /// The decoder's output for `z`: pixel logits (Bernoulli) or the mean (Gaussian).
    ///
    /// # Errors
    /// `z` is not `[B, latent]`.
    pub fn decode_raw(&self, z: &Tensor) -> Result<Tensor> {
        let h = self.decoder[0].forward(z)?.silu()?;
        let h = self.decoder[1].forward(&h)?.silu()?;
        self.decoder[2].forward(&h)
    }

    /// The decoder's mean in the data's scale: for images, 2·sigmoid(logits) − 1 in [−1, 1].
    ///
    /// # Errors
    /// `z` is not `[B, latent]`.
    pub fn decode(&self, z: &Tensor) -> Result<Tensor> {
        let raw = self.decode_raw(z)?;
        Ok(match self.config.likelihood {
            Likelihood::Bernoulli => candle_nn::ops::sigmoid(&raw)?.affine(2.0, -1.0)?,
            Likelihood::Gaussian { .. } => raw,
        })
    }

    /// log p_θ(x|z) per row, `[B]`.
    ///
    /// # Errors
    /// Shapes that do not fit.
    pub fn log_likelihood(&self, x: &Tensor, z: &Tensor) -> Result<Tensor> {
        let raw = self.decode_raw(z)?;
        Ok(match self.config.likelihood {
            Likelihood::Bernoulli => {
                // x log σ(l) + (1 − x) log(1 − σ(l)) = x l − softplus(l), x in [0, 1].
                let target = x.affine(0.5, 0.5)?;
                let softplus = (raw.relu()? + (raw.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
                ((target * &raw)? - softplus)?.sum(1)?
            }
            Likelihood::Gaussian { std } => {
                let dims = self.config.dims as f64;
                let constant = -0.5 * dims * (2.0 * std::f64::consts::PI * std * std).ln();
                ((x - raw)?.sqr()?.sum(1)? * (-0.5 / (std * std)))?.affine(1.0, constant)?
            }
        })
    }

    /// The ELBO's two terms per row with one draw z = μ + σ ⊙ ε (`noise` is ε):
    /// (log p_θ(x|z), KL(q ‖ N(0, I)) = ½ Σ (μ² + σ² − 1 − log σ²)), `[B]` each.
    ///
    /// # Errors
    /// Shapes that do not fit.
    pub fn terms(&self, x: &Tensor, noise: &Tensor) -> Result<(Tensor, Tensor)> {
        let (mean, log_var) = self.encode(x)?;
        let z = reparameterise(&mean, &log_var, noise)?;
        let kl = ((mean.sqr()? + log_var.exp()?)? - (&log_var + 1.0)?)?
            .sum(1)?
            .affine(0.5, 0.0)?;
        Ok((self.log_likelihood(x, &z)?, kl))
    }

    /// One Adam step on −ELBO over a batch drawn from `data`.
    ///
    /// # Errors
    /// Tensor failures; data of another width.
    pub fn train_step(&mut self, data: &Dataset, rng: &mut NoiseRng) -> Result<VaeStep> {
        let x = batch(data, self.config.batch, rng)?;
        let noise = rng.randn((x.dim(0)?, self.config.latent), &Device::Cpu)?;
        let (reconstruction, kl) = self.terms(&x, &noise)?;
        let (reconstruction, kl) = (reconstruction.mean_all()?, kl.mean_all()?);
        let loss = (&kl - &reconstruction)?;
        let grads = loss.backward()?;
        self.step += 1;
        self.optimizer.step(self.store.vars(), &grads, self.step)?;
        Ok(VaeStep {
            step: self.step,
            reconstruction: scalar(&reconstruction)?,
            prior_matching: scalar(&kl)?,
        })
    }
}

/// `rows` rows of `data` drawn with replacement, `[rows, dims]`.
///
/// # Errors
/// An empty data set.
pub fn batch(data: &Dataset, rows: usize, rng: &mut NoiseRng) -> Result<Tensor> {
    if data.is_empty() {
        return Err(super::error::Error::Config("the data set is empty".into()));
    }
    let indices = data.random_indices(rows, rng);
    Ok(Tensor::from_vec(
        data.gather(&indices),
        (rows, data.dims),
        &Device::Cpu,
    )?)
}

/// z = μ + σ ⊙ ε with σ = exp(½ log σ²): the reparameterised draw (Luo eq. 21),
/// differentiable in μ and log σ².
///
/// # Errors
/// Shapes that differ.
pub fn reparameterise(mean: &Tensor, log_var: &Tensor, noise: &Tensor) -> Result<Tensor> {
    Ok((mean + (log_var.affine(0.5, 0.0)?.exp()? * noise)?)?)
}

/// The optimiser of the variational models: Adam at `learning_rate`, a short
/// warm-up, and gradients clipped only when they explode (the ELBO's are large).
///
/// # Errors
/// Only if candle cannot allocate.
pub(super) fn variational_adam(
    vars: &std::collections::BTreeMap<String, candle_core::Var>,
    learning_rate: f64,
) -> Result<AdamW> {
    AdamW::new(
        AdamWConfig {
            learning_rate,
            warmup_steps: 100,
            max_grad_norm: 100.0,
            ..AdamWConfig::default()
        },
        vars,
    )
}

/// A scalar tensor's value.
///
/// # Errors
/// Not a scalar.
pub(super) fn scalar(x: &Tensor) -> Result<f64> {
    Ok(f64::from(x.to_dtype(DType::F32)?.to_scalar::<f32>()?))
}
