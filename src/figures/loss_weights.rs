//! Loss weights per t (Luo 2022, `shared/seeds/000_9adf4b751b0c0e64.txt`,
//! lines 450–525; Ho et al. 2020, eq. 12 and 14): the ELBO's weight on the
//! x0, ε, score and v errors in SNR form ([`crate::diffusion::loss_weight`]),
//! for each schedule against L_simple's uniform weight; then DDPM's ablation
//! in miniature: the 2D MLP trained under L_simple and under the ELBO's
//! weight, its ε error per t against the exact one, and its samples.

use std::sync::Arc;

use super::Inputs;
use super::common::{self, DETERMINISTIC, STOCHASTIC, schedule_color};
use super::data::{Figure, Panel, Point, Series};
use super::error::{FigureError, Result};
use super::learned::{self, Errors};
use crate::data::Dataset;
use crate::diffusion::loss_weight::{elbo_weight, normalized_weights};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{SamplerConfig, build_sampler};
use crate::diffusion::{NoiseRng, PredictionType, Schedule, ScheduleConfig, ScheduleKind};
use crate::jobs::JobContext;
use crate::model::TrainedModel;
use crate::model::train::{Loss, Trainer};

/// Samples drawn from each trained model.
const SAMPLES: usize = 600;
/// The most training steps a figure asks for (each model).
const MAX_STEPS: usize = 100_000;

/// How long each of the two models trains: 1500 steps by default (0: the
/// weights alone).
pub type Setup = super::setup::Training<1500, 0>;

/// One trained model's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Trained {
    /// Its objective.
    pub loss: Loss,
    /// Its ε error against the exact one, by t.
    pub errors: Errors,
    /// DDIM-50 samples from it.
    pub samples: Vec<Point>,
    /// The share of its samples in each mode.
    pub mode_fractions: Vec<f64>,
    /// The share of its samples more than 3 standard deviations from every
    /// component's mean: off the data.
    pub off_data: f64,
}

/// The weights, and the two trained models.
#[derive(Clone, Debug, PartialEq)]
pub struct LossWeights {
    /// Each schedule's ELBO weight on ‖ε − ε̂‖², t = 1..=T, median 1.
    pub schedules: Vec<(ScheduleKind, Vec<f64>)>,
    /// The linear schedule's weight on each parameterization, t = 2..=T:
    /// (kind, weights).
    pub parameterizations: Vec<(PredictionType, Vec<f64>)>,
    /// L_simple's model, then the ELBO-weighted one (none with 0 steps).
    pub trained: Vec<Trained>,
}

/// The parameterizations, their names and colours.
const KINDS: [(PredictionType, &str, [u8; 3]); 4] = [
    (PredictionType::Sample, "x0", [120, 200, 110]),
    (PredictionType::Epsilon, "ε", [240, 150, 60]),
    (PredictionType::Score, "score", [100, 180, 250]),
    (PredictionType::Velocity, "v", [230, 120, 200]),
];

/// Computes the weights and trains both models.
///
/// # Errors
/// Too many steps; a training failure; cancelled.
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<LossWeights> {
    if setup.steps > MAX_STEPS {
        return Err(FigureError::bad_value(
            "steps",
            &setup.steps.to_string(),
            format!("at most {MAX_STEPS}"),
        ));
    }
    let mut schedules = Vec::new();
    for kind in ScheduleKind::ALL {
        let schedule = Schedule::new(&ScheduleConfig::of_kind(*kind))?;
        schedules.push((*kind, normalized_weights(&schedule, PredictionType::Epsilon)));
    }
    let linear = inputs.schedule.as_ref();
    let parameterizations = KINDS
        .iter()
        .map(|(kind, _, _)| {
            let weights = (2..=linear.train_steps())
                .map(|t| elbo_weight(linear, t, *kind))
                .collect();
            (*kind, weights)
        })
        .collect();
    let mut trained = Vec::new();
    if setup.steps > 0 {
        for loss in [Loss::Simple, Loss::Elbo] {
            trained.push(train(setup, loss, inputs, job)?);
        }
    }
    Ok(LossWeights {
        schedules,
        parameterizations,
        trained,
    })
}

fn train(setup: &Setup, loss: Loss, inputs: &Inputs, job: &JobContext) -> Result<Trained> {
    job.report(format!("training under {loss}"));
    let data = Dataset::from_mixture_samples(&inputs.mixture, 5000, 0, "the three-blob mixture")?;
    let (model, mut config) = common::mlp_2d(setup.seed);
    config.loss = loss;
    let mut trainer = Trainer::new(model, config, data)?;
    common::train(&mut trainer, setup.steps, job)?;
    let model = trainer.ema_model()?;
    let samples = sample(&model, setup.seed, job)?;
    Ok(Trained {
        loss,
        errors: learned::compare(&model, inputs, job)?,
        mode_fractions: common::mode_fractions(&inputs.mixture, &samples)?,
        off_data: off_data_share(&inputs.mixture, &samples),
        samples,
    })
}

/// The share of `points` more than 3 standard deviations from every component's mean.
#[must_use]
pub fn off_data_share(mixture: &GaussianMixture, points: &[Point]) -> f64 {
    let off = points
        .iter()
        .filter(|p| {
            mixture.components().iter().all(|c| {
                let distance = (p[0] - c.mean[0]).hypot(p[1] - c.mean[1]);
                distance > 3.0 * c.std
            })
        })
        .count();
    off as f64 / points.len().max(1) as f64
}

fn sample(model: &TrainedModel, seed: u64, job: &JobContext) -> Result<Vec<Point>> {
    let schedule = Arc::new(Schedule::new(&ScheduleConfig::default())?);
    let mut sampler = build_sampler(&SamplerConfig::default(), schedule)?;
    let mut rng = NoiseRng::seed_from(seed);
    let start = rng.randn((SAMPLES, 2), &candle_core::Device::Cpu)?;
    common::points(&common::run_to_end(sampler.as_mut(), model, &start, &mut rng, job)?)
}

/// log₁₀ of each weight against t, from `first_t`.
fn log_curve(weights: &[f64], first_t: usize) -> Vec<Point> {
    weights
        .iter()
        .enumerate()
        .map(|(i, w)| [(i + first_t) as f64, w.max(1e-300).log10()])
        .collect()
}

impl LossWeights {
    /// The weights per schedule and per parameterization; the trained models'
    /// errors and samples.
    #[must_use]
    pub fn figure(&self) -> Figure {
        let big_t = self.schedules.first().map_or(0, |(_, w)| w.len());
        let mut by_schedule: Vec<Series> = self
            .schedules
            .iter()
            .map(|(kind, w)| Series::line(kind.name(), schedule_color(*kind), log_curve(w, 1)))
            .collect();
        by_schedule.push(Series::line(
            "L_simple",
            [150, 150, 150],
            vec![[1.0, 0.0], [big_t as f64, 0.0]],
        ));
        let by_kind = KINDS
            .iter()
            .zip(&self.parameterizations)
            .map(|((_, name, color), (_, w))| Series::line(*name, *color, log_curve(w, 2)))
            .collect();
        let mut panels = vec![
            Panel {
                title: "ELBO weight on ‖ε − ε_θ‖², median 1".into(),
                x_label: "t (training step)".into(),
                y_label: "log₁₀ weight".into(),
                series: by_schedule,
                ..Panel::default()
            },
            Panel {
                title: "ELBO weight on each error, linear".into(),
                x_label: "t (training step)".into(),
                y_label: "log₁₀ weight".into(),
                series: by_kind,
                ..Panel::default()
            },
        ];
        let mut figure = Figure::default();
        if !self.trained.is_empty() {
            panels.extend(self.trained_panels());
            for trained in &self.trained {
                let (small, large) = split_errors(&trained.errors);
                figure.number(format!("{}: mean relative ε error, t ≤ 30", trained.loss), small, "");
                figure.number(format!("{}: mean relative ε error, t ≥ 300", trained.loss), large, "");
                figure.number(
                    format!("{}: samples in the heaviest mode", trained.loss),
                    trained.mode_fractions.first().copied().unwrap_or(0.0),
                    "",
                );
                figure.number(format!("{}: samples off the data", trained.loss), trained.off_data, "");
            }
        }
        figure.panels = panels;
        figure
    }

    fn trained_panels(&self) -> [Panel; 2] {
        let colors = [DETERMINISTIC, STOCHASTIC];
        let errors = self
            .trained
            .iter()
            .zip(colors)
            .map(|(m, color)| {
                let points = m
                    .errors
                    .by_t
                    .iter()
                    .map(|(t, e)| [(*t as f64).log10(), e.max(1e-12).log10()])
                    .collect();
                Series::line(m.loss.name(), color, points)
            })
            .collect();
        let samples = self
            .trained
            .iter()
            .zip(colors)
            .map(|(m, color)| Series::points(m.loss.name(), color, m.samples.clone()))
            .collect();
        [
            Panel {
                title: "ε error of the trained MLPs, by t".into(),
                x_label: "log₁₀ t".into(),
                y_label: "log₁₀ E‖ε_θ − ε*‖² / E‖ε‖²".into(),
                series: errors,
                ..Panel::default()
            },
            Panel::plane("DDIM-50 samples", samples),
        ]
    }
}

/// The mean relative error over t ≤ 30 and over t ≥ 300.
#[must_use]
pub fn split_errors(errors: &Errors) -> (f64, f64) {
    let mean = |keep: &dyn Fn(usize) -> bool| {
        let chosen: Vec<f64> = errors.by_t.iter().filter(|(t, _)| keep(*t)).map(|(_, e)| *e).collect();
        chosen.iter().sum::<f64>() / chosen.len().max(1) as f64
    };
    (mean(&|t| t <= 30), mean(&|t| t >= 300))
}
