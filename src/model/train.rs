//! Training a denoiser: the DDPM objective and its Improved-DDPM refinements.
//!
//! Each step draws a batch x_0, a timestep t per row, noise ε, forms
//! x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε (Ho et al. eq. 4) and regresses the network's
//! output on its target: ε, x_0 or v = √ᾱ_t ε − √(1−ᾱ_t) x_0 (Salimans & Ho 2022).
//! That mean squared error is L_simple (Ho et al. eq. 14). A network that
//! predicts the flow velocity is trained by flow matching instead (Lipman et al.
//! 2023, eq. 23; Liu et al. 2023, eq. 1): τ = t/T, x_τ = (1 − τ) x_0 + τ ε, the
//! target ε − x_0, the network's time input τ · [`FLOW_TIME_INPUT`]. Options:
//! - **hybrid loss** L_simple + λ L_vlb (Nichol & Dhariwal 2021, eq. 16), where
//!   L_vlb's mean is detached so it trains only the learned variance;
//! - **importance sampling** of t ∝ √E[L_t²] from the last 10 losses at each t
//!   (Nichol & Dhariwal 2021, eq. 17), uniform until every t has 10;
//! - **label dropout**: each label is replaced by the null class with
//!   probability p, so one network learns p(x|y) and p(x) for classifier-free guidance.
//!
//! Every random draw of step n comes from a generator seeded by (seed, n), so a
//! run resumed from a checkpoint continues exactly as if never interrupted.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{Device, Tensor};

use super::config::{MetaReader, ModelConfig};
use super::error::{Error, Result, weights_error};
use super::network::TrainedModel;
use super::noise_path::{NoisePath, column};
use super::optim::{AdamW, AdamWConfig, Ema};
use super::params::{read_safetensors, write_safetensors};
use super::timestep_sampler::{HISTORY, TimestepSampler};
use crate::data::Dataset;
use crate::diffusion::{AlphaBar, NoiseRng, Prediction, PredictionType, Schedule};

/// How t is drawn for each training row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimestepSampling {
    /// Uniform on 1..=T.
    #[default]
    Uniform,
    /// ∝ √E[L_t²] (Improved DDPM's importance sampler).
    Importance,
}

named_enum!(TimestepSampling, "timestep sampling", [Uniform => "uniform", Importance => "importance"]);

/// The training objective.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Loss {
    /// L_simple: the unweighted MSE on the prediction.
    #[default]
    Simple,
    /// L_simple + λ L_vlb (needs a learned variance to matter).
    Hybrid,
    /// The MSE weighted per t by the ELBO's weight on the target
    /// ([`crate::diffusion::loss_weight::normalized_weights`]): the true bound,
    /// up to a constant, instead of L_simple's uniform weight.
    Elbo,
}

named_enum!(Loss, "loss", [Simple => "simple", Hybrid => "hybrid", Elbo => "elbo"]);

/// Everything about a training run except the model and the data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainConfig {
    /// Rows per step.
    pub batch: usize,
    /// The optimiser.
    pub optimizer: AdamWConfig,
    /// Decay of the weights' moving average.
    pub ema_decay: f64,
    /// Probability of replacing a label by the null class.
    pub label_dropout: f64,
    /// How t is drawn.
    pub timestep_sampling: TimestepSampling,
    /// The objective.
    pub loss: Loss,
    /// λ, the weight of L_vlb in the hybrid loss.
    pub vlb_weight: f64,
    /// Seed of every random draw of the run.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            batch: 32,
            optimizer: AdamWConfig::default(),
            ema_decay: 0.999,
            label_dropout: 0.1,
            timestep_sampling: TimestepSampling::Uniform,
            loss: Loss::Simple,
            vlb_weight: 0.001,
            seed: 0,
        }
    }
}

/// What one step did.
#[derive(Clone, Debug)]
pub struct StepReport {
    /// The step just taken (from 1).
    pub step: usize,
    /// The batch's loss.
    pub loss: f64,
    /// The timesteps drawn for the batch.
    pub timesteps: Vec<usize>,
}

/// A model, its optimiser state and its data, one step at a time.
pub struct Trainer {
    model: TrainedModel,
    schedule: Schedule,
    optimizer: AdamW,
    ema: Ema,
    sampler: TimestepSampler,
    data: Dataset,
    config: TrainConfig,
    step: usize,
}

fn step_rng(seed: u64, step: usize) -> NoiseRng {
    // SplitMix64's increment spreads consecutive steps over the seed space.
    NoiseRng::seed_from(seed ^ (step as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

impl Trainer {
    /// A fresh run: weights drawn from the config's seed.
    ///
    /// # Errors
    /// A model that does not fit the data, or an invalid schedule.
    pub fn new(model_config: ModelConfig, config: TrainConfig, data: Dataset) -> Result<Self> {
        let model = TrainedModel::fresh(model_config, config.seed)?;
        Self::with_model(model, config, data)
    }

    /// A run that starts from a trained model's weights, say a shipped model
    /// trained further: the weights and their new moving average start at the
    /// file's, the optimiser's moments at zero (so warm-up runs again), and the
    /// step count at 0.
    ///
    /// # Errors
    /// [`Error::Weights`] naming the file when it is unreadable or its model is
    /// not `model_config`.
    pub fn from_weights(path: &Path, model_config: ModelConfig, config: TrainConfig, data: Dataset) -> Result<Self> {
        let (tensors, metadata) = read_safetensors(path)?;
        let model = TrainedModel::from_parts_for(tensors, &metadata, path, true)?;
        if *model.config() != model_config {
            return Err(weights_error(
                path,
                "is another model than this run's options describe (architecture, classes, prediction or schedule)",
            ));
        }
        Self::with_model(model, config, data)
    }

    fn with_model(model: TrainedModel, config: TrainConfig, data: Dataset) -> Result<Self> {
        let model_config = *model.config();
        if data.dims != model_config.sample_dims() {
            return Err(Error::Data(format!(
                "{} has {} values per sample, the model takes {}",
                data.name,
                data.dims,
                model_config.sample_dims()
            )));
        }
        if data.is_empty() {
            return Err(Error::Data(format!("{} has no samples", data.name)));
        }
        if model_config.classes > 0 && (data.labels.is_none() || data.classes > model_config.classes) {
            return Err(Error::Data(format!(
                "{} needs labels in 0..{} for a class-conditional model",
                data.name, model_config.classes
            )));
        }
        if config.batch == 0 {
            return Err(Error::Config("the batch must hold at least one sample".into()));
        }
        let model_config = model.config();
        if model_config.prediction == PredictionType::FlowVelocity
            && (config.loss != Loss::Simple || model_config.learned_variance)
        {
            return Err(Error::Config(
                "flow matching trains with the simple loss and no learned variance".into(),
            ));
        }
        let schedule = Schedule::new(&model_config.schedule)?;
        let vars = model.params().vars();
        Ok(Self {
            optimizer: AdamW::new(config.optimizer, vars)?,
            ema: Ema::new(config.ema_decay, vars)?,
            sampler: TimestepSampler::new(config.timestep_sampling, schedule.train_steps()),
            schedule,
            model,
            data,
            config,
            step: 0,
        })
    }

    /// Steps taken so far.
    #[must_use]
    pub fn step_count(&self) -> usize {
        self.step
    }

    /// The timestep sampler (its probabilities are worth plotting).
    #[must_use]
    pub fn timestep_sampler(&self) -> &TimestepSampler {
        &self.sampler
    }

    /// The model with the current (not averaged) weights.
    #[must_use]
    pub fn model(&self) -> &TrainedModel {
        &self.model
    }

    /// One optimisation step.
    ///
    /// # Errors
    /// Tensor failures.
    pub fn step(&mut self) -> Result<StepReport> {
        let mut rng = step_rng(self.config.seed, self.step + 1);
        let (x0, labels) = self.draw_batch(&mut rng)?;
        let (timesteps, mut weights) = self.sampler.draw(self.config.batch, &mut rng);
        if self.config.loss == Loss::Elbo {
            self.weigh_by_the_elbo(&timesteps, &mut weights);
        }
        let noise = rng.randn(x0.shape(), &Device::Cpu)?;
        self.step_on(&x0, &noise, labels.as_deref(), timesteps, &weights)
    }

    /// One step on given pairs of data and noise, unlabelled (rows paired by
    /// index): flow matching with a chosen coupling (minibatch optimal
    /// transport, Tong et al. 2023) or on a first flow's (sample, noise) pairs
    /// (reflow, Liu et al. 2023, §3.2). t is drawn as [`Self::step`] draws it.
    ///
    /// # Errors
    /// `x0` and `noise` of different shapes; tensor failures.
    pub fn step_on_pairs(&mut self, x0: &Tensor, noise: &Tensor) -> Result<StepReport> {
        if x0.shape() != noise.shape() {
            return Err(Error::Config(format!(
                "data {:?} and noise {:?} must have the same shape",
                x0.dims(),
                noise.dims()
            )));
        }
        let mut rng = step_rng(self.config.seed, self.step + 1);
        let (timesteps, weights) = self.sampler.draw(x0.dim(0)?, &mut rng);
        self.step_on(x0, noise, None, timesteps, &weights)
    }

    fn step_on(
        &mut self,
        x0: &Tensor,
        noise: &Tensor,
        labels: Option<&[u32]>,
        timesteps: Vec<usize>,
        weights: &[f64],
    ) -> Result<StepReport> {
        let step = self.step + 1;
        let batch = x0.dim(0)?;
        let prediction = self.model.config().prediction;
        let path = NoisePath::new(&self.schedule, prediction, &timesteps)?;
        let x_t = (x0.broadcast_mul(&path.signal)? + noise.broadcast_mul(&path.sigma)?)?;
        let out = self.model.network().forward(&x_t, &path.time_input, labels)?;
        let target = match prediction {
            PredictionType::Epsilon | PredictionType::Score => noise.clone(),
            PredictionType::Sample => x0.clone(),
            PredictionType::Velocity => (noise.broadcast_mul(&path.signal)? - x0.broadcast_mul(&path.sigma)?)?,
            PredictionType::FlowVelocity => (noise - x0)?,
        };
        let mut row_loss = (&out.prediction - &target)?.sqr()?.mean(1)?;
        if self.config.loss == Loss::Hybrid
            && let Some(variance) = &out.variance_interp
        {
            let vlb = self.vlb_rows(x0, &x_t, &out.prediction.detach(), variance, &timesteps)?;
            row_loss = (row_loss + (vlb * self.config.vlb_weight)?)?;
        }
        let row_values: Vec<f64> = row_loss.to_vec1::<f32>()?.into_iter().map(f64::from).collect();
        let weights = Tensor::from_vec(
            weights.iter().map(|&w| w as f32).collect::<Vec<_>>(),
            batch,
            &Device::Cpu,
        )?;
        let loss = (row_loss * weights)?.mean_all()?;
        let grads = loss.backward()?;
        let vars = self.model.params().vars();
        self.optimizer.step(vars, &grads, step)?;
        self.ema.update(vars, step)?;
        self.sampler.record(&timesteps, &row_values);
        self.step = step;
        Ok(StepReport {
            step,
            loss: f64::from(loss.to_scalar::<f32>()?),
            timesteps,
        })
    }

    /// Rows drawn with replacement, labels with dropout to the null class.
    fn draw_batch(&self, rng: &mut NoiseRng) -> Result<(Tensor, Option<Vec<u32>>)> {
        let indices = self.data.random_indices(self.config.batch, rng);
        let x0 = Tensor::from_vec(
            self.data.gather(&indices),
            (indices.len(), self.data.dims),
            &Device::Cpu,
        )?;
        let classes = self.model.config().classes;
        let labels = match (&self.data.labels, classes) {
            (Some(labels), c) if c > 0 => {
                let null = u32::try_from(c).unwrap_or(u32::MAX);
                Some(
                    indices
                        .iter()
                        .map(|&i| {
                            if rng.uniform() < self.config.label_dropout {
                                null
                            } else {
                                labels[i]
                            }
                        })
                        .collect(),
                )
            }
            _ => None,
        };
        Ok((x0, labels))
    }

    /// L_vlb per row in nats per dimension: KL(q(x_{t−1}|x_t,x_0) ‖ p(x_{t−1}|x_t))
    /// for t > 1, the Gaussian −log p(x_0|x_1) at t = 1 (Ho et al. eq. 5).
    fn vlb_rows(&self, x0: &Tensor, x_t: &Tensor, prediction: &Tensor, interp: &Tensor, t: &[usize]) -> Result<Tensor> {
        let batch = t.len();
        let per_t = |f: &dyn Fn(usize) -> f64| column(t.iter().map(|&t| f(t)));
        let schedule = &self.schedule;
        // log β̃_1 = −∞; Improved DDPM clips it to log β̃_2.
        let log_tilde = |t: usize| schedule.posterior_variance(t.max(2)).ln();
        let log_beta = per_t(&|t| schedule.beta(t).ln())?;
        let log_beta_tilde = per_t(&log_tilde)?;
        let mix = ((interp + 1.0)? * 0.5)?;
        let log_var_p = (mix.broadcast_mul(&log_beta)? + (1.0 - mix)?.broadcast_mul(&log_beta_tilde)?)?;
        let kind = self.model.config().prediction;
        let alpha_bars: Vec<f64> = t.iter().map(|&t| schedule.alpha_bar(t)).collect();
        let x0_hat = Prediction::new(kind, prediction.clone()).x0_at(x_t, AlphaBar::PerRow(&alpha_bars))?;
        let c0 = per_t(&|t| schedule.posterior_mean_coefficients(t).0)?;
        let ct = per_t(&|t| schedule.posterior_mean_coefficients(t).1)?;
        let mean_p = (x0_hat.broadcast_mul(&c0)? + x_t.broadcast_mul(&ct)?)?;
        let mean_q = (x0.broadcast_mul(&c0)? + x_t.broadcast_mul(&ct)?)?;
        let log_var_q = per_t(&log_tilde)?;
        let var_p = log_var_p.exp()?;
        let kl = (((log_var_p.broadcast_sub(&log_var_q)? + log_var_q.broadcast_sub(&log_var_p)?.exp()?)? - 1.0)?
            + ((&mean_q - &mean_p)?.sqr()? / &var_p)?)?;
        let kl = (kl * 0.5)?.mean(1)?;
        let nll =
            (((log_var_p + (2.0 * std::f64::consts::PI).ln())? + ((x0 - &mean_p)?.sqr()? / var_p)?)? * 0.5)?.mean(1)?;
        let first = Tensor::from_vec(
            t.iter().map(|&t| u8::from(t == 1)).collect::<Vec<_>>(),
            batch,
            &Device::Cpu,
        )?;
        Ok(first.where_cond(&nll, &kl)?)
    }

    /// The model with the moving-average weights (what gets saved and sampled).
    ///
    /// # Errors
    /// Tensor failures.
    pub fn ema_model(&self) -> Result<TrainedModel> {
        let metadata = self.model.metadata();
        let tensors: HashMap<String, Tensor> = self.ema.weights.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        TrainedModel::from_parts(tensors, &metadata, Path::new("<moving average>"))
    }

    /// Adds `training.*` metadata that the saved weights will carry.
    pub fn set_info(&mut self, key: &str, value: String) {
        self.model.info.insert(format!("training.{key}"), value);
    }

    /// Writes weights, moving average, optimiser and sampler state, and the step.
    ///
    /// # Errors
    /// [`Error::Weights`] if the file cannot be written.
    pub fn save_checkpoint(&self, path: &Path) -> Result<()> {
        let mut tensors = BTreeMap::new();
        for (name, tensor) in self.model.params().tensors() {
            tensors.insert(format!("param.{name}"), tensor);
        }
        for (prefix, map) in [
            ("ema", &self.ema.weights),
            ("adam.m", &self.optimizer.first),
            ("adam.v", &self.optimizer.second),
        ] {
            for (name, tensor) in map {
                tensors.insert(format!("{prefix}.{name}"), tensor.clone());
            }
        }
        let history: Vec<f32> = self.sampler.history.iter().flatten().map(|&l| l as f32).collect();
        let steps = self.sampler.history.len();
        tensors.insert(
            "sampler.history".into(),
            Tensor::from_vec(history, (steps, HISTORY), &Device::Cpu)?,
        );
        let seen: Vec<u32> = self
            .sampler
            .seen
            .iter()
            .map(|&n| u32::try_from(n).unwrap_or(u32::MAX))
            .collect();
        tensors.insert("sampler.seen".into(), Tensor::from_vec(seen, steps, &Device::Cpu)?);
        let mut metadata = self.model.metadata();
        metadata.insert("checkpoint.step".into(), self.step.to_string());
        metadata.insert("checkpoint.data".into(), self.data.name.clone());
        write_safetensors(path, &tensors, metadata)
    }

    /// Continues a run from a checkpoint written by [`Self::save_checkpoint`].
    ///
    /// # Errors
    /// [`Error::Weights`] naming the file when it is unreadable or does not
    /// match `model_config` or the data set.
    pub fn resume(path: &Path, model_config: ModelConfig, config: TrainConfig, data: Dataset) -> Result<Self> {
        let (mut tensors, metadata) = read_safetensors(path)?;
        let saved = ModelConfig::from_metadata(&metadata).map_err(|e| weights_error(path, e.to_string()))?;
        if saved != model_config {
            return Err(weights_error(
                path,
                "checkpoint is for a different model config; pass --fresh to start over",
            ));
        }
        let reader = MetaReader(&metadata);
        let step: usize = reader
            .get("checkpoint.step")
            .map_err(|e| weights_error(path, e.to_string()))?;
        let saved_data: String = reader
            .get("checkpoint.data")
            .map_err(|e| weights_error(path, e.to_string()))?;
        if saved_data != data.name {
            return Err(weights_error(
                path,
                format!("checkpoint was trained on {saved_data}, not {}", data.name),
            ));
        }
        let mut take = |prefix: &str| -> HashMap<String, Tensor> {
            let keys: Vec<String> = tensors.keys().filter(|k| k.starts_with(prefix)).cloned().collect();
            keys.into_iter()
                .filter_map(|k| tensors.remove(&k).map(|v| (k[prefix.len()..].to_owned(), v)))
                .collect()
        };
        let params = take("param.");
        let ema = take("ema.");
        let first = take("adam.m.");
        let second = take("adam.v.");
        let model = TrainedModel::from_parts_for(params, &metadata, path, true)?;
        let mut trainer = Self::with_model(model, config, data)?;
        let names: Vec<String> = trainer.model.params().vars().keys().cloned().collect();
        for (target, source, what) in [
            (&mut trainer.ema.weights, ema, "moving average"),
            (&mut trainer.optimizer.first, first, "optimiser moments"),
            (&mut trainer.optimizer.second, second, "optimiser moments"),
        ] {
            for name in &names {
                let Some(tensor) = source.get(name) else {
                    return Err(weights_error(path, format!("{what} for '{name}' are missing")));
                };
                target.insert(name.clone(), tensor.clone());
            }
        }
        let history = tensors
            .get("sampler.history")
            .ok_or_else(|| weights_error(path, "sampler history is missing"))?;
        let seen = tensors
            .get("sampler.seen")
            .ok_or_else(|| weights_error(path, "sampler counts are missing"))?;
        let history = history
            .to_vec2::<f32>()
            .map_err(|e| weights_error(path, e.to_string()))?;
        let seen = seen.to_vec1::<u32>().map_err(|e| weights_error(path, e.to_string()))?;
        if history.len() != trainer.sampler.history.len() || seen.len() != history.len() {
            return Err(weights_error(path, "sampler state has the wrong number of timesteps"));
        }
        for (slot, row) in trainer.sampler.history.iter_mut().zip(&history) {
            for (v, &l) in slot.iter_mut().zip(row) {
                *v = f64::from(l);
            }
        }
        trainer.sampler.seen = seen.iter().map(|&n| n as usize).collect();
        trainer.step = step;
        Ok(trainer)
    }
}

impl Trainer {
    /// Multiplies each row's weight by the ELBO's weight at its t, for the
    /// parameterization the network is trained on (its target).
    fn weigh_by_the_elbo(&self, timesteps: &[usize], weights: &mut [f64]) {
        let target = match self.model.config().prediction {
            PredictionType::Epsilon | PredictionType::Score => PredictionType::Epsilon,
            kind => kind,
        };
        let per_t = crate::diffusion::loss_weight::normalized_weights(&self.schedule, target);
        for (w, t) in weights.iter_mut().zip(timesteps) {
            *w *= per_t.get(t.saturating_sub(1)).copied().unwrap_or(1.0);
        }
    }
}

/// The network's time input per unit of flow time τ: τ = 1 is fed as 1000, the
/// timestep range a network of the default T = 1000 sees, so its time embedding
/// spans the same frequencies.
pub const FLOW_TIME_INPUT: f64 = 1000.0;
