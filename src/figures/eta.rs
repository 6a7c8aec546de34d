//! DDPM vs DDIM (Song, Meng & Ermon 2021, eq. 12 and 16): one family of
//! samplers, x_s = √ᾱ_s x_θ + √(1 − ᾱ_s − σ²) ε_θ + σ z with
//! σ = η √((1 − ᾱ_s)/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_s). η = 0 is deterministic DDIM,
//! η = 1 is DDPM. The same x_T and the same noise draws for every η, so the
//! paths morph as η moves.

use std::sync::Arc;

use super::Inputs;
use super::common::{self, DETERMINISTIC, Frames, STOCHASTIC};
use super::data::{Backdrop, Figure, Panel, Point, Series};
use super::error::{FigureError, Result};
use crate::diffusion::sampler::{SamplerConfig, SamplerKind, build_sampler};
use crate::diffusion::schedule::posterior_variance_between;
use crate::diffusion::{NoiseRng, Schedule};
use crate::jobs::JobContext;

/// Particles whose paths are drawn.
pub const PARTICLES: usize = 24;
/// Sampling steps.
pub const STEPS: usize = 50;

/// Which member of the family.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Setup {
    /// η: 0 is DDIM, 1 is DDPM.
    pub eta: f64,
    /// Draws x_T and the noise.
    pub seed: u64,
}

impl Default for Setup {
    /// η = 0 (DDIM).
    fn default() -> Self {
        Self { eta: 0.0, seed: 1 }
    }
}

figure_setup!(Setup, {
    eta => "eta": "η, from 0 (DDIM) to 1 (DDPM)",
    seed => "seed": "draws x_T and the noise",
});

/// The paths at one η, and σ_t along them.
#[derive(Clone, Debug, PartialEq)]
pub struct Paths {
    /// η.
    pub eta: f64,
    /// Every particle after each step.
    pub frames: Frames,
    /// (t, σ_t(η)) at each visited step.
    pub sigmas: Vec<Point>,
    /// (t, σ_t) at η = 1: DDPM's √β_post.
    pub ddpm_sigmas: Vec<Point>,
    /// p_0, the data's density.
    pub backdrop: Backdrop,
}

/// The config of the η sampler.
fn config(eta: f64) -> SamplerConfig {
    SamplerConfig {
        kind: SamplerKind::Ddim,
        steps: STEPS,
        eta,
        ..SamplerConfig::default()
    }
}

/// σ_t(η) at each visited step, as (t, σ) points.
///
/// # Errors
/// A bad η.
pub fn sigmas(schedule: &Arc<Schedule>, eta: f64) -> Result<Vec<Point>> {
    let sampler = build_sampler(&config(eta), Arc::clone(schedule))?;
    let timesteps = sampler.timesteps();
    Ok(timesteps
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let s = timesteps.get(i + 1).copied().unwrap_or(0);
            let variance = posterior_variance_between(schedule.alpha_bar(t), schedule.alpha_bar(s));
            [t as f64, eta * variance.sqrt()]
        })
        .collect())
}

/// The paths of [`PARTICLES`] particles at `setup.eta`.
///
/// # Errors
/// η outside [0, 1]; cancelled.
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<Paths> {
    if !(0.0..=1.0).contains(&setup.eta) {
        return Err(FigureError::bad_value(
            "eta",
            &setup.eta.to_string(),
            "must be in [0, 1]",
        ));
    }
    let mut sampler = build_sampler(&config(setup.eta), Arc::clone(&inputs.schedule))?;
    let mut rng = NoiseRng::seed_from(setup.seed);
    let start = rng.randn((PARTICLES, 2), &candle_core::Device::Cpu)?;
    let frames = common::trace(sampler.as_mut(), inputs.mixture.as_ref(), None, &start, &mut rng, job)?;
    Ok(Paths {
        eta: setup.eta,
        frames,
        sigmas: sigmas(&inputs.schedule, setup.eta)?,
        ddpm_sigmas: sigmas(&inputs.schedule, 1.0)?,
        backdrop: common::density_backdrop(&inputs.mixture, 1.0)?,
    })
}

impl Paths {
    /// The mean length of the drawn paths: how far the particles wander.
    #[must_use]
    pub fn mean_path_length(&self) -> f64 {
        let paths = common::paths(&self.frames, usize::MAX);
        let total: f64 = paths
            .iter()
            .map(|path| {
                path.windows(2)
                    .map(|w| (w[1][0] - w[0][0]).hypot(w[1][1] - w[0][1]))
                    .sum::<f64>()
            })
            .sum();
        total / paths.len().max(1) as f64
    }

    /// The paths over p_0, and σ_t(η) against DDPM's.
    #[must_use]
    pub fn figure(&self) -> Figure {
        let color = if self.eta > 0.0 { STOCHASTIC } else { DETERMINISTIC };
        let name = format!("paths at η = {:.2}", self.eta);
        let ends = self.frames.last().cloned().unwrap_or_default();
        let mut plane = Panel::plane(
            "particles from x_T to x_0",
            vec![
                Series::lines(name, color, common::paths(&self.frames, PARTICLES)),
                Series::points("x_0", color, ends),
            ],
        );
        plane.backdrop = Some(self.backdrop.clone());
        let sigma = Panel {
            title: "σ_t of the step from t".into(),
            x_label: "t (training step)".into(),
            y_label: "σ_t (data units)".into(),
            series: vec![
                Series::line(
                    "σ_t at η = 1 (DDPM, √β_post)",
                    [150, 150, 150],
                    self.ddpm_sigmas.clone(),
                ),
                Series::line(format!("σ_t(η = {:.2})", self.eta), STOCHASTIC, self.sigmas.clone()),
            ],
            ..Panel::default()
        };
        let mut figure = Figure {
            panels: vec![plane, sigma],
            ..Figure::default()
        };
        figure.number("mean path length", self.mean_path_length(), "data units");
        if let Some([t, sigma]) = self.sigmas.first() {
            figure.number("first step's t", *t, "");
            figure.number("σ at the first step", *sigma, "data units");
        }
        figure
    }
}
