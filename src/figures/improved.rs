//! Improved DDPM (Nichol & Dhariwal 2021): a learned reverse variance and
//! importance-sampled t. An MLP with a variance head is trained on the mixture
//! with the hybrid loss L_simple + λ L_vlb, t drawn ∝ √E[L_t²] (eq. 17).
//! Its σ_t² is log-interpolated between β_post and β_t (eq. 15) by the network's
//! v ∈ [−1, 1]; the figure shows where it sits at each t, the sampler's
//! probabilities, and the bound in bits/dim under each choice of variance.

use candle_core::Tensor;

use super::Inputs;
use super::common::{self, DETERMINISTIC, STOCHASTIC};
use super::data::{Figure, Panel, Point, Series};
use super::error::{FigureError, Result};
use crate::data::Dataset;
use crate::diffusion::elbo::{Decoder, ElboConfig, elbo_terms};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{DdpmVariance, add_noise};
use crate::diffusion::{Denoiser, NoiseLevel, NoiseRng, Schedule, ScheduleConfig};
use crate::jobs::JobContext;
use crate::model::train::{Loss, TimestepSampling, TrainConfig, Trainer};
use crate::model::{Architecture, MlpConfig, ModelConfig, TrainedModel};

/// Points per t when reading the variance head.
const POINTS: usize = 500;
/// x0 whose bound is averaged.
pub const ELBO_POINTS: usize = 16;

/// How long the model trains: 2000 steps by default, about a minute on two cores.
pub type Setup = super::setup::Training<2000, 0>;

/// What the trained model shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Improved {
    /// (t, where log σ_t² sits between log β_post (0) and log β_t (1)), averaged.
    pub interpolation: Vec<Point>,
    /// (t, p_t) of the importance sampler.
    pub probabilities: Vec<Point>,
    /// Bits/dim with the learned variance, β_post and β.
    pub bits: [f64; 3],
}

/// Trains the MLP with its variance head, then reads the head and the bound.
///
/// # Errors
/// No steps; a training failure; cancelled.
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<Improved> {
    if setup.steps == 0 {
        return Err(FigureError::bad_value("steps", "0", "must be at least 1"));
    }
    let (mixture, schedule) = (inputs.mixture.as_ref(), inputs.schedule.as_ref());
    let data = Dataset::from_mixture_samples(mixture, 5000, 0, "the three-blob mixture")?;
    let model = ModelConfig {
        architecture: Architecture::Mlp(MlpConfig::default()),
        classes: 0,
        learned_variance: true,
        schedule: ScheduleConfig::default(),
        ..ModelConfig::default()
    };
    let config = TrainConfig {
        batch: 256,
        loss: Loss::Hybrid,
        timestep_sampling: TimestepSampling::Importance,
        seed: setup.seed,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(model, config, data)?;
    for step in 1..=setup.steps {
        common::check(job)?;
        let report = trainer.step()?;
        if step % 50 == 0 {
            job.report(format!(
                "training step {step} of {}: hybrid loss {:.3}",
                setup.steps, report.loss
            ));
        }
    }
    let probabilities = trainer
        .timestep_sampler()
        .probabilities()
        .iter()
        .enumerate()
        .map(|(i, p)| [(i + 1) as f64, *p])
        .collect();
    let trained = trainer.ema_model()?;
    job.report("reading the variance head and the bound…");
    Ok(Improved {
        interpolation: interpolation(&trained, mixture, schedule)?,
        probabilities,
        bits: bounds(&trained, mixture, schedule, job)?,
    })
}

/// The variance head's mean (v + 1)/2 at t = 2, 12, 22, …: 0 is β_post, 1 is β_t.
fn interpolation(model: &TrainedModel, mixture: &GaussianMixture, schedule: &Schedule) -> Result<Vec<Point>> {
    let mut rng = NoiseRng::seed_from(4);
    let mut points = Vec::new();
    for t in (2..=schedule.train_steps()).step_by(10) {
        let (x0, _) = mixture.sample(POINTS, None, &mut rng)?;
        let noise = rng.randn_like(&x0)?;
        let x_t = add_noise(schedule, &x0, &noise, t)?;
        let level = NoiseLevel {
            t: t as f64,
            alpha_bar: schedule.alpha_bar(t),
        };
        let out = model.predict(&x_t, level, None)?;
        let v: Tensor = out
            .variance_interp
            .ok_or_else(|| FigureError::Other("the model has no variance head".into()))?;
        let mean = v.mean_all()?.to_scalar::<f32>()?;
        points.push([t as f64, (f64::from(mean) + 1.0) / 2.0]);
    }
    Ok(points)
}

/// The bound in bits/dim, averaged over [`ELBO_POINTS`] x0, with each variance.
fn bounds(model: &TrainedModel, mixture: &GaussianMixture, schedule: &Schedule, job: &JobContext) -> Result<[f64; 3]> {
    let mut rng = NoiseRng::seed_from(5);
    let (x0, _) = mixture.sample(ELBO_POINTS, None, &mut rng)?;
    let keep_going = || !job.is_cancelled();
    let mut bits = [0.0; 3];
    for (slot, variance) in [DdpmVariance::Learned, DdpmVariance::Small, DdpmVariance::Large]
        .into_iter()
        .enumerate()
    {
        let config = ElboConfig {
            variance,
            decoder: Decoder::Gaussian,
        };
        let mut rng = NoiseRng::seed_from(6);
        for row in 0..ELBO_POINTS {
            let terms = elbo_terms(schedule, model, &x0.get(row)?, None, config, &mut rng, &keep_going)?;
            bits[slot] += terms.bits_per_dim() / ELBO_POINTS as f64;
        }
    }
    Ok(bits)
}

impl Improved {
    /// p(t ≤ 100) under the importance sampler (uniform: 0.1).
    #[must_use]
    pub fn early_share(&self) -> f64 {
        self.probabilities.iter().take(100).map(|p| p[1]).sum()
    }

    /// The learned interpolation and the sampler's probabilities, by t.
    #[must_use]
    pub fn figure(&self) -> Figure {
        let big_t = self.probabilities.len() as f64;
        let mut figure = Figure {
            panels: vec![
                Panel {
                    title: "where the learned variance sits".into(),
                    x_label: "t (training step)".into(),
                    y_label: "v: 0 = β_post, 1 = β_t".into(),
                    series: vec![Series::line(
                        "learned interpolation",
                        STOCHASTIC,
                        self.interpolation.clone(),
                    )],
                    ..Panel::default()
                },
                Panel {
                    title: "which t training draws".into(),
                    x_label: "t (training step)".into(),
                    y_label: "p(t)".into(),
                    series: vec![
                        Series::line("p_t ∝ √E[L_t²]", DETERMINISTIC, self.probabilities.clone()),
                        Series::line(
                            "uniform 1/T",
                            [150, 150, 150],
                            vec![[1.0, 1.0 / big_t.max(1.0)], [big_t, 1.0 / big_t.max(1.0)]],
                        ),
                    ],
                    ..Panel::default()
                },
            ],
            ..Figure::default()
        };
        for (name, bits) in ["learned variance", "β_post", "β_t"].iter().zip(self.bits) {
            figure.number(format!("bound with {name}"), bits, "bits/dim");
        }
        figure.number("p(t ≤ 100)", self.early_share(), "");
        figure
    }
}
