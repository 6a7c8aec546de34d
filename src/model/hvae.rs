//! A Markovian hierarchical VAE (Luo 2022, `shared/seeds/000_9adf4b751b0c0e64.txt`,
//! lines 165–214): p(x, z_{1:T}) = p(z_T) p_θ(x|z_1) Π_{t≥2} p_θ(z_{t−1}|z_t)
//! and q_φ(z_{1:T}|x) = q_φ(z_1|x) Π_{t≥2} q_φ(z_t|z_{t−1}) (eq. 23–24), every
//! factor a diagonal Gaussian from a small MLP.
//!
//! The encoder can instead be fixed to q(z_t|z_{t−1}) = N(√α_t z_{t−1},
//! (1 − α_t) I) with z_0 = x: the second of the three constraints that make
//! the HVAE a variational diffusion model (lines 216–262). The ELBO is the
//! single-draw estimate of eq. 28 split as Luo's eq. 45 splits it:
//! reconstruction log p(x|z_1), consistency log p(z_t|z_{t+1}) − log q(z_t|z_{t−1})
//! for t < T, and prior matching log p(z_T) − log q(z_T|z_{T−1}).

use candle_core::{Device, Tensor};

use super::error::{Error, Result};
use super::layers::Linear;
use super::optim::{AdamW, AdamWConfig};
use super::params::{ParamStore, Scope};
use super::vae::{reparameterise, scalar, variational_adam};
use crate::diffusion::NoiseRng;

/// The encoder's kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Encoder {
    /// Every q_φ(z_t|z_{t−1}) an MLP.
    Learned,
    /// q(z_t|z_{t−1}) = N(√α_t z_{t−1}, (1 − α_t) I), α_t at index t − 1.
    Fixed(Vec<f64>),
}

/// The model's shape.
#[derive(Clone, Debug, PartialEq)]
pub struct HvaeConfig {
    /// Dimensions of x.
    pub data_dims: usize,
    /// Dimensions of every z_t.
    pub latent_dims: usize,
    /// T, the number of latent levels.
    pub levels: usize,
    /// Width of every MLP's hidden layers.
    pub hidden: usize,
    /// Learned or fixed encoders.
    pub encoder: Encoder,
    /// Rows per training step.
    pub batch: usize,
}

/// One Gaussian factor: an MLP from its condition to a mean and a log-variance.
struct Factor {
    layers: [Linear; 2],
    head: Linear,
    outputs: usize,
}

impl Factor {
    fn new(scope: &mut Scope<'_>, inputs: usize, outputs: usize, hidden: usize) -> Result<Self> {
        Ok(Self {
            layers: [
                Linear::new(&mut scope.sub(0), inputs, hidden, false)?,
                Linear::new(&mut scope.sub(1), hidden, hidden, false)?,
            ],
            head: Linear::new(&mut scope.sub("head"), hidden, 2 * outputs, false)?,
            outputs,
        })
    }

    /// (mean, log-variance), the log-variance kept in (−8, 8) by 8 tanh(·/8).
    fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let h = self.layers[0].forward(x)?.silu()?;
        let h = self.layers[1].forward(&h)?.silu()?;
        let out = self.head.forward(&h)?;
        let mean = out.narrow(1, 0, self.outputs)?;
        let log_var = (out
            .narrow(1, self.outputs, self.outputs)?
            .affine(1.0 / 8.0, 0.0)?
            .tanh()?
            * 8.0)?;
        Ok((mean, log_var))
    }
}

/// log N(x; mean, exp(log_var)) per row, `[B]`.
fn log_normal(x: &Tensor, mean: &Tensor, log_var: &Tensor) -> Result<Tensor> {
    let dims = x.dim(1)? as f64;
    let squared = ((x - mean)?.sqr()? / log_var.exp()?)?;
    Ok(((squared + log_var)?.sum(1)? * -0.5)?.affine(1.0, -0.5 * dims * (2.0 * std::f64::consts::PI).ln())?)
}

/// One draw's ELBO terms per row, `[B]` each.
pub struct ElboDraw {
    /// log p(x|z_1).
    pub reconstruction: Tensor,
    /// Σ_{t<T} log p(z_t|z_{t+1}) − log q(z_t|z_{t−1}).
    pub consistency: Tensor,
    /// log p(z_T) − log q(z_T|z_{T−1}).
    pub prior_matching: Tensor,
    /// The draws z_1 … z_T.
    pub latents: Vec<Tensor>,
}

/// A training step's terms, averaged over its batch (nats per data point).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HvaeStep {
    /// The step, from 1.
    pub step: usize,
    /// log p(x|z_1).
    pub reconstruction: f64,
    /// The consistency terms' sum.
    pub consistency: f64,
    /// The prior-matching term.
    pub prior_matching: f64,
}

impl HvaeStep {
    /// The ELBO, the three parts' sum.
    #[must_use]
    pub fn elbo(&self) -> f64 {
        self.reconstruction + self.consistency + self.prior_matching
    }
}

/// The hierarchical VAE and its optimiser.
pub struct Hvae {
    config: HvaeConfig,
    /// q(z_1|x), q(z_2|z_1), …: empty when the encoder is fixed.
    encoders: Vec<Factor>,
    /// p(x|z_1), p(z_1|z_2), …, p(z_{T−1}|z_T).
    decoders: Vec<Factor>,
    store: ParamStore,
    optimizer: AdamW,
    step: usize,
}

impl Hvae {
    /// A fresh model from `seed`.
    ///
    /// # Errors
    /// No levels; fixed encoders with a latent size other than the data's, or
    /// with other than T values of α; an allocation failure.
    pub fn new(config: HvaeConfig, seed: u64) -> Result<Self> {
        if config.levels == 0 {
            return Err(Error::Config("a hierarchical VAE needs at least one level".into()));
        }
        if let Encoder::Fixed(alphas) = &config.encoder
            && (config.latent_dims != config.data_dims || alphas.len() != config.levels)
        {
            return Err(Error::Config(
                "fixed encoders need latents the size of the data and one α per level".into(),
            ));
        }
        let mut store = ParamStore::fresh(seed);
        let (d, z, h) = (config.data_dims, config.latent_dims, config.hidden);
        let mut root = store.root();
        let mut encoders = Vec::new();
        if config.encoder == Encoder::Learned {
            let mut scope = root.sub("encoder");
            for t in 0..config.levels {
                encoders.push(Factor::new(&mut scope.sub(t), if t == 0 { d } else { z }, z, h)?);
            }
        }
        let mut scope = root.sub("decoder");
        let mut decoders = vec![Factor::new(&mut scope.sub(0), z, d, h)?];
        for t in 1..config.levels {
            decoders.push(Factor::new(&mut scope.sub(t), z, z, h)?);
        }
        let optimizer = variational_adam(store.vars(), AdamWConfig::default().learning_rate)?;
        Ok(Self {
            config,
            encoders,
            decoders,
            store,
            optimizer,
            step: 0,
        })
    }

    /// Its configuration.
    #[must_use]
    pub fn config(&self) -> &HvaeConfig {
        &self.config
    }

    /// The number of learned numbers in the encoder and in the decoder.
    #[must_use]
    pub fn parameter_counts(&self) -> (usize, usize) {
        let mut counts = (0, 0);
        for (name, var) in self.store.vars() {
            let n = var.as_tensor().elem_count();
            if name.starts_with("encoder") {
                counts.0 += n;
            } else {
                counts.1 += n;
            }
        }
        counts
    }

    /// q(z_t|z_{t−1}) for level t (0-based `level`): mean and log-variance.
    fn encode(&self, level: usize, below: &Tensor) -> Result<(Tensor, Tensor)> {
        match &self.config.encoder {
            Encoder::Learned => self.encoders[level].forward(below),
            Encoder::Fixed(alphas) => {
                let alpha = alphas[level];
                let log_var = (below.zeros_like()? + (1.0 - alpha).ln())?;
                Ok(((below * alpha.sqrt())?, log_var))
            }
        }
    }

    /// Draws z_1 … z_T from q(·|x) and splits one draw's ELBO into its terms.
    ///
    /// # Errors
    /// `x` is not `[B, data_dims]`.
    pub fn elbo_draw(&self, x: &Tensor, rng: &mut NoiseRng) -> Result<ElboDraw> {
        let levels = self.config.levels;
        let mut latents: Vec<Tensor> = Vec::with_capacity(levels);
        let mut log_q = Vec::with_capacity(levels);
        for level in 0..levels {
            let below = latents.last().unwrap_or(x).clone();
            let (mean, log_var) = self.encode(level, &below)?;
            let noise = rng.randn(mean.shape(), &Device::Cpu)?;
            let z = reparameterise(&mean, &log_var, &noise)?;
            log_q.push(log_normal(&z, &mean, &log_var)?);
            latents.push(z);
        }
        let (mean, log_var) = self.decoders[0].forward(&latents[0])?;
        let reconstruction = log_normal(x, &mean, &log_var)?;
        let mut consistency = reconstruction.zeros_like()?;
        for t in 1..levels {
            // log p(z_t|z_{t+1}) − log q(z_t|z_{t−1}), 1-based t.
            let (mean, log_var) = self.decoders[t].forward(&latents[t])?;
            let log_p = log_normal(&latents[t - 1], &mean, &log_var)?;
            consistency = (consistency + (log_p - &log_q[t - 1])?)?;
        }
        let top = &latents[levels - 1];
        let log_prior = log_normal(top, &top.zeros_like()?, &top.zeros_like()?)?;
        let prior_matching = (log_prior - &log_q[levels - 1])?;
        Ok(ElboDraw {
            reconstruction,
            consistency,
            prior_matching,
            latents,
        })
    }

    /// One Adam step on −ELBO over `x`.
    ///
    /// # Errors
    /// Tensor failures.
    pub fn train_step(&mut self, x: &Tensor, rng: &mut NoiseRng) -> Result<HvaeStep> {
        let draw = self.elbo_draw(x, rng)?;
        let parts = [&draw.reconstruction, &draw.consistency, &draw.prior_matching].map(Tensor::mean_all);
        let [reconstruction, consistency, prior_matching] = parts;
        let (reconstruction, consistency, prior_matching) = (reconstruction?, consistency?, prior_matching?);
        let loss = ((&reconstruction + &consistency)? + &prior_matching)?.neg()?;
        let grads = loss.backward()?;
        self.step += 1;
        self.optimizer.step(self.store.vars(), &grads, self.step)?;
        Ok(HvaeStep {
            step: self.step,
            reconstruction: scalar(&reconstruction)?,
            consistency: scalar(&consistency)?,
            prior_matching: scalar(&prior_matching)?,
        })
    }

    /// `n` ancestral samples: z_T ~ N(0, I), then each p_θ(z_{t−1}|z_t), then p_θ(x|z_1).
    ///
    /// # Errors
    /// Tensor failures.
    pub fn sample(&self, n: usize, rng: &mut NoiseRng) -> Result<Tensor> {
        let mut z = rng.randn((n, self.config.latent_dims), &Device::Cpu)?;
        for decoder in self.decoders.iter().rev() {
            let (mean, log_var) = decoder.forward(&z)?;
            let noise = rng.randn(mean.shape(), &Device::Cpu)?;
            z = reparameterise(&mean, &log_var, &noise)?;
        }
        Ok(z)
    }
}
