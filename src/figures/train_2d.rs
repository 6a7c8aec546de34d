//! The Train 2D scene without a window: an MLP trained with L_simple
//! (Ho et al. 2020, eq. 14) on a 2D toy data set, its loss curve, and DDIM
//! samples from it beside the data.

use std::sync::Arc;

use super::common::{self, DETERMINISTIC};
use super::data::{Figure, Panel, Series};
use super::error::{FigureError, Result};
use crate::data::toys::Toy;
use crate::diffusion::sampler::{SamplerConfig, build_sampler};
use crate::diffusion::{NoiseRng, Schedule, ScheduleConfig};
use crate::jobs::JobContext;
use crate::model::train::Trainer;

/// Samples drawn from the trained model.
const SAMPLES: usize = 1000;

/// What is learned, for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// The toy data set.
    pub toy: Toy,
    /// Training steps (batches of 256).
    pub steps: usize,
    /// The training run's and the samples' seed.
    pub seed: u64,
}

impl Default for Setup {
    /// Two moons, 2000 steps.
    fn default() -> Self {
        Self {
            toy: Toy::TwoMoons,
            steps: 2000,
            seed: 0,
        }
    }
}

figure_setup!(Setup, {
    toy => "toy": "two-moons, swiss-roll, checkerboard or rings",
    steps => "steps": "training steps (batches of 256)",
    seed => "seed": "the training run and the samples",
});

/// Trains, samples, and lays out the loss and the samples over the data.
///
/// # Errors
/// No steps; a training failure; cancelled.
pub fn figure(setup: &Setup, job: &JobContext) -> Result<Figure> {
    if setup.steps == 0 {
        return Err(FigureError::bad_value("steps", "0", "must be at least 1"));
    }
    let data = setup.toy.sample(5000, 0);
    let shown: Vec<[f64; 2]> = data
        .rows
        .chunks_exact(2)
        .take(SAMPLES)
        .map(|p| [f64::from(p[0]), f64::from(p[1])])
        .collect();
    let (model, config) = common::mlp_2d(setup.seed);
    let mut trainer = Trainer::new(model, config, data)?;
    let losses = common::train(&mut trainer, setup.steps, job)?;
    let trained = trainer.ema_model()?;
    let schedule = Arc::new(Schedule::new(&ScheduleConfig::default())?);
    let mut sampler = build_sampler(&SamplerConfig::default(), schedule)?;
    let mut rng = NoiseRng::seed_from(setup.seed);
    let start = rng.randn((SAMPLES, 2), &candle_core::Device::Cpu)?;
    let samples = common::points(&common::run_to_end(sampler.as_mut(), &trained, &start, &mut rng, job)?)?;
    let mut figure = Figure {
        panels: vec![
            Panel::training(&losses),
            Panel::plane(
                format!("DDIM-50 samples over {}", setup.toy),
                vec![
                    Series::points("data", [150, 150, 150], shown),
                    Series::points("samples", DETERMINISTIC, samples),
                ],
            ),
        ],
        ..Figure::default()
    };
    let tail = losses.len().saturating_sub(100);
    let recent: Vec<f64> = losses[tail..].iter().map(|p| p[1]).collect();
    figure.number(
        "loss over the last 100 steps",
        recent.iter().sum::<f64>() / recent.len().max(1) as f64,
        "",
    );
    Ok(figure)
}
