//! Learned vs exact: an MLP trained on samples of the mixture, its ε_θ
//! compared with the mixture's exact ε* = −√(1−ᾱ_t) ∇log p_t at every t.
//! The error E‖ε_θ − ε*‖², relative to the size E‖ε‖² = D of the noise being
//! predicted, is plotted against t. The window trains the same model live
//! (`live_training`), streaming its losses, then calls [`compare`].

use super::Inputs;
use super::common::{self, DETERMINISTIC};
use super::data::{Figure, Panel, Point, Series};
use super::error::{FigureError, Result};
use crate::data::Dataset;
use crate::diffusion::sampler::add_noise;
use crate::diffusion::{Denoiser, NoiseLevel, NoiseRng};
use crate::jobs::JobContext;
use crate::model::train::{TrainConfig, Trainer};
use crate::model::{ModelConfig, TrainedModel};

/// Points per t of the comparison.
const POINTS: usize = 2000;
/// The levels compared, log-spaced from 1 to T.
const LEVELS: usize = 25;

/// How long the MLP trains: 1500 steps by default.
pub type Setup = super::setup::Training<1500, 0>;

/// The MLP trained, its training, and the data it trains on.
///
/// # Errors
/// Only if the mixture cannot be sampled.
pub fn training(setup: &Setup, inputs: &Inputs) -> Result<(ModelConfig, TrainConfig, Dataset)> {
    let data = Dataset::from_mixture_samples(&inputs.mixture, 5000, 0, "the three-blob mixture")?;
    let (model, config) = common::mlp_2d(setup.seed);
    Ok((model, config, data))
}

/// The relative ε error at each compared t.
#[derive(Clone, Debug, PartialEq)]
pub struct Errors {
    /// `(t, relative error)`.
    pub by_t: Vec<(usize, f64)>,
}

impl Errors {
    /// The median over t.
    #[must_use]
    pub fn median(&self) -> f64 {
        let mut values: Vec<f64> = self.by_t.iter().map(|(_, e)| *e).collect();
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied().unwrap_or(0.0)
    }

    /// The worst t and its error.
    #[must_use]
    pub fn worst(&self) -> (usize, f64) {
        self.by_t
            .iter()
            .copied()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, 0.0))
    }
}

/// The training's losses and the comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Learned {
    /// (step, loss).
    pub losses: Vec<Point>,
    /// The comparison with the exact ε.
    pub errors: Errors,
}

/// The log-spaced levels 1 ..= T.
fn levels(big_t: usize) -> Vec<usize> {
    let mut levels: Vec<usize> = (0..LEVELS)
        .map(|i| (big_t as f64).powf(i as f64 / (LEVELS - 1) as f64).round() as usize)
        .collect();
    levels.dedup();
    levels
}

/// `model`'s ε against the exact one at every compared t.
///
/// # Errors
/// Tensor failures; cancelled.
pub fn compare(model: &TrainedModel, inputs: &Inputs, job: &JobContext) -> Result<Errors> {
    let (mixture, schedule) = (inputs.mixture.as_ref(), inputs.schedule.as_ref());
    let mut rng = NoiseRng::seed_from(11);
    let mut by_t = Vec::new();
    for t in levels(schedule.train_steps()) {
        common::check(job)?;
        let (x0, _) = mixture.sample(POINTS, None, &mut rng)?;
        let noise = rng.randn_like(&x0)?;
        let x_t = add_noise(schedule, &x0, &noise, t)?;
        let alpha_bar = schedule.alpha_bar(t);
        let level = NoiseLevel { t: t as f64, alpha_bar };
        let epsilon = |model: &dyn Denoiser| -> Result<Vec<Point>> {
            let out = model.predict(&x_t, level, None)?;
            common::points(&out.prediction.epsilon(&x_t, alpha_bar)?)
        };
        let (learned, exact) = (epsilon(model)?, epsilon(mixture)?);
        let error: f64 = learned
            .iter()
            .zip(&exact)
            .map(|(l, e)| (l[0] - e[0]).powi(2) + (l[1] - e[1]).powi(2))
            .sum();
        // E‖ε‖² = D = 2 per point: ε ~ N(0, I).
        let size = 2.0 * learned.len().max(1) as f64;
        by_t.push((t, error / size));
    }
    Ok(Errors { by_t })
}

/// Trains the MLP, then compares it with the exact ε.
///
/// # Errors
/// No steps; a training failure; cancelled.
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<Learned> {
    let (losses, model) = train_mlp(setup, inputs, job)?;
    Ok(Learned {
        losses,
        errors: compare(&model, inputs, job)?,
    })
}

/// Trains the MLP on the mixture's samples; returns its losses and its EMA weights.
///
/// # Errors
/// No steps; a training failure; cancelled.
pub fn train_mlp(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<(Vec<Point>, TrainedModel)> {
    if setup.steps == 0 {
        return Err(FigureError::bad_value("steps", "0", "must be at least 1"));
    }
    let (model, config, data) = training(setup, inputs)?;
    let mut trainer = Trainer::new(model, config, data)?;
    let losses = common::train(&mut trainer, setup.steps, job)?;
    Ok((losses, trainer.ema_model()?))
}

/// The loss curve (log₁₀) and the relative error against log₁₀ t.
#[must_use]
pub fn figure(losses: &[Point], errors: Option<&Errors>) -> Figure {
    let mut error_series = Vec::new();
    if let Some(errors) = errors {
        let points = errors.by_t.iter().map(|(t, e)| [(*t as f64).log10(), *e]).collect();
        error_series.push(Series::line("E‖ε_θ − ε*‖² / E‖ε‖²", DETERMINISTIC, points));
    }
    let mut figure = Figure {
        panels: vec![
            Panel::training(losses),
            Panel {
                title: "the learned ε against the exact one".into(),
                x_label: "log₁₀ t".into(),
                y_label: "relative ε error".into(),
                series: error_series,
                ..Panel::default()
            },
        ],
        ..Figure::default()
    };
    if let Some(errors) = errors {
        let (worst_t, worst) = errors.worst();
        figure.number("median relative ε error", errors.median(), "");
        figure.number("worst relative ε error", worst, "");
        figure.number("worst t", worst_t as f64, "");
    }
    figure
}

impl Learned {
    /// See [`figure`].
    #[must_use]
    pub fn figure(&self) -> Figure {
        figure(&self.losses, Some(&self.errors))
    }
}
