//! Variational diffusion models (Kingma et al. 2021): a learned noise schedule.
//!
//! The schedule is γ(t) = −log SNR(t) on t ∈ [0, 1], with α_t² = sigmoid(−γ)
//! and σ_t² = sigmoid(γ) (VDM eq. 3–4). In continuous time the diffusion loss
//! is L∞ = ½ E_{t~U(0,1), ε} [γ′(t) ‖ε − ε̂(z_t; t)‖²] (eq. 17), and its value
//! depends on the schedule only through the end points γ(0) and γ(1) (eq. 19).
//! The shape in between changes only the *variance* of the Monte-Carlo
//! estimate, so VDM learns it by minimising E[L²] while the network minimises
//! E[L] (§3.5, App. I.2). Here the end points are fixed and the shape is
//! monotone by construction: γ is piecewise linear over [`KNOTS`] equal pieces
//! whose rises are a softmax of free parameters times γ(1) − γ(0).
//!
//! The network sees the noise level, not t: its time input is
//! 1000 (γ − γ(0)) / (γ(1) − γ(0)), so one network serves every schedule with
//! these end points and the schedules can be compared on it.

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor, Var};

use super::error::{Error, Result};
use super::network::TrainedModel;
use super::optim::{AdamW, AdamWConfig};
use crate::data::Dataset;
use crate::diffusion::{NoiseRng, PredictionType};

/// Linear pieces of the learned γ(t).
pub const KNOTS: usize = 24;

/// A monotone γ(t) with fixed end points.
pub struct LearnedSchedule {
    gamma_start: f64,
    gamma_end: f64,
    /// Free parameters; the rises are their softmax.
    raw: Var,
}

impl LearnedSchedule {
    /// γ linear in t from `gamma_start` to `gamma_end` (all rises equal).
    ///
    /// # Errors
    /// End points that do not rise, or an allocation failure.
    pub fn new(gamma_start: f64, gamma_end: f64) -> Result<Self> {
        if gamma_end.is_nan() || gamma_start.is_nan() || gamma_end <= gamma_start {
            return Err(Error::Config("γ must rise from t = 0 to t = 1".into()));
        }
        Ok(Self {
            gamma_start,
            gamma_end,
            raw: Var::zeros(KNOTS, DType::F32, &Device::Cpu)?,
        })
    }

    /// The rise over each piece, `[KNOTS]`.
    fn rises(&self) -> Result<Tensor> {
        Ok((candle_nn::ops::softmax(self.raw.as_tensor(), 0)? * (self.gamma_end - self.gamma_start))?)
    }

    /// γ(t) and γ′(t) for each t in [0, 1], `[B]` each, differentiable in the schedule.
    ///
    /// # Errors
    /// Tensor failures.
    pub fn gamma(&self, t: &[f64]) -> Result<(Tensor, Tensor)> {
        let rises = self.rises()?;
        // γ at the start of each piece: γ(0) + the rises before it.
        let starts = ((rises.cumsum(0)? - &rises)? + self.gamma_start)?;
        let mut one_hot = vec![0.0_f32; t.len() * KNOTS];
        let mut within = Vec::with_capacity(t.len());
        for (row, &u) in t.iter().enumerate() {
            let position = u.clamp(0.0, 1.0) * KNOTS as f64;
            let piece = (position.floor() as usize).min(KNOTS - 1);
            one_hot[row * KNOTS + piece] = 1.0;
            within.push((position - piece as f64) as f32);
        }
        let one_hot = Tensor::from_vec(one_hot, (t.len(), KNOTS), &Device::Cpu)?;
        let within = Tensor::from_vec(within, t.len(), &Device::Cpu)?;
        let piece_start = one_hot.matmul(&starts.unsqueeze(1)?)?.squeeze(1)?;
        let piece_rise = one_hot.matmul(&rises.unsqueeze(1)?)?.squeeze(1)?;
        let slope = (&piece_rise * KNOTS as f64)?;
        Ok(((piece_start + (piece_rise * within)?)?, slope))
    }

    /// γ(t) at `n` + 1 evenly spaced t, for plotting: `(t, γ)`.
    ///
    /// # Errors
    /// Tensor failures.
    pub fn curve(&self, n: usize) -> Result<Vec<(f64, f64)>> {
        let t: Vec<f64> = (0..=n).map(|i| i as f64 / n.max(1) as f64).collect();
        let (gamma, _) = self.gamma(&t)?;
        let gamma: Vec<f32> = gamma.to_vec1()?;
        Ok(t.into_iter().zip(gamma.into_iter().map(f64::from)).collect())
    }

    /// The network's time input for noise level γ: 0 at γ(0), 1000 at γ(1).
    #[must_use]
    pub fn network_time(&self, gamma: f64) -> f64 {
        1000.0 * (gamma - self.gamma_start) / (self.gamma_end - self.gamma_start)
    }

    /// γ(0) and γ(1).
    #[must_use]
    pub fn end_points(&self) -> (f64, f64) {
        (self.gamma_start, self.gamma_end)
    }
}

/// Per-sample continuous-time losses ½ γ′(t) ‖ε − ε̂(z_t)‖², `[B]`, with
/// (γ, γ′) at each row's t from `gamma`.
///
/// # Errors
/// Tensor or network failures.
pub fn diffusion_losses(
    model: &TrainedModel,
    schedule: &LearnedSchedule,
    x0: &Tensor,
    noise: &Tensor,
    gamma: &Tensor,
    slope: &Tensor,
) -> Result<Tensor> {
    let alpha = candle_nn::ops::sigmoid(&gamma.neg()?)?.sqrt()?.unsqueeze(1)?;
    let sigma = candle_nn::ops::sigmoid(gamma)?.sqrt()?.unsqueeze(1)?;
    let z = (x0.broadcast_mul(&alpha)? + noise.broadcast_mul(&sigma)?)?;
    let levels: Vec<f64> = gamma
        .to_vec1::<f32>()?
        .into_iter()
        .map(|g| schedule.network_time(f64::from(g)))
        .collect();
    let eps = model.network().forward(&z, &levels, None)?.prediction;
    Ok(((noise - eps)?.sqr()?.sum(1)? * slope)?.affine(0.5, 0.0)?)
}

/// Trains an ε-predicting network and the schedule's shape together.
pub struct VdmTrainer<'a> {
    model: TrainedModel,
    schedule: LearnedSchedule,
    network_optimizer: AdamW,
    schedule_optimizer: AdamW,
    schedule_vars: BTreeMap<String, Var>,
    data: &'a Dataset,
    batch: usize,
    step: usize,
}

/// One step's figures.
#[derive(Clone, Copy, Debug)]
pub struct VdmStep {
    /// E[L] over the batch (nats).
    pub loss: f64,
    /// E[L²] − E[L]² over the batch: what the schedule minimises.
    pub loss_variance: f64,
}

impl<'a> VdmTrainer<'a> {
    /// Joint training of `model` (ε-prediction) and `schedule` on `data`.
    ///
    /// # Errors
    /// A model that does not predict ε or does not fit the data.
    pub fn new(model: TrainedModel, schedule: LearnedSchedule, data: &'a Dataset, batch: usize) -> Result<Self> {
        if model.config().prediction != PredictionType::Epsilon {
            return Err(Error::Config("VDM's network predicts ε".into()));
        }
        if data.dims != model.config().sample_dims() || data.is_empty() || batch == 0 {
            return Err(Error::Data(format!("{} does not fit the network", data.name)));
        }
        let schedule_vars = BTreeMap::from([("schedule".to_owned(), schedule.raw.clone())]);
        let schedule_config = AdamWConfig {
            learning_rate: 3e-3,
            ..AdamWConfig::default()
        };
        Ok(Self {
            network_optimizer: AdamW::new(AdamWConfig::default(), model.params().vars())?,
            schedule_optimizer: AdamW::new(schedule_config, &schedule_vars)?,
            schedule_vars,
            model,
            schedule,
            data,
            batch,
            step: 0,
        })
    }

    /// One step: the network descends E[L], the schedule descends E[L²].
    ///
    /// # Errors
    /// Tensor failures.
    pub fn step(&mut self) -> Result<VdmStep> {
        self.step += 1;
        let mut rng = NoiseRng::seed_from((self.step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let n = self.data.len();
        let mut rows = Vec::with_capacity(self.batch * self.data.dims);
        for _ in 0..self.batch {
            let i = ((rng.uniform() * n as f64) as usize).min(n - 1);
            rows.extend_from_slice(self.data.row(i));
        }
        let x0 = Tensor::from_vec(rows, (self.batch, self.data.dims), &Device::Cpu)?;
        let noise = rng.randn_like(&x0)?;
        // Low-discrepancy t (VDM App. I.1): one uniform offset, evenly spread.
        let offset = rng.uniform();
        let t: Vec<f64> = (0..self.batch)
            .map(|i| (offset + i as f64 / self.batch as f64).fract())
            .collect();
        let (gamma, slope) = self.schedule.gamma(&t)?;
        let losses = diffusion_losses(&self.model, &self.schedule, &x0, &noise, &gamma, &slope)?;
        let mean = losses.mean_all()?;
        let second = losses.sqr()?.mean_all()?;
        let network_grads = mean.backward()?;
        let schedule_grads = second.backward()?;
        self.network_optimizer
            .step(self.model.params().vars(), &network_grads, self.step)?;
        self.schedule_optimizer
            .step(&self.schedule_vars, &schedule_grads, self.step)?;
        let (mean, second) = (
            f64::from(mean.to_scalar::<f32>()?),
            f64::from(second.to_scalar::<f32>()?),
        );
        Ok(VdmStep {
            loss: mean,
            loss_variance: second - mean * mean,
        })
    }

    /// The network and the learned schedule.
    #[must_use]
    pub fn parts(&self) -> (&TrainedModel, &LearnedSchedule) {
        (&self.model, &self.schedule)
    }
}
