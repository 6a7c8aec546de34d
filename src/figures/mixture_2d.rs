//! The 2D mixture scene without a window: particles from x_T ~ N(0, I) run
//! to data by any sampler on the exact three-blob mixture, whose score is
//! known in closed form, over p_0; and the schedule's ᾱ_t and log SNR.

use std::sync::Arc;

use super::Inputs;
use super::common::{self, DETERMINISTIC, STOCHASTIC};
use super::data::{Figure, Panel, Series};
use super::error::{FigureError, Result};
use crate::diffusion::sampler::{SamplerConfig, SamplerKind, build_sampler};
use crate::diffusion::{NoiseRng, Schedule, ScheduleConfig, ScheduleKind};
use crate::jobs::JobContext;

/// Paths drawn.
const PATHS: usize = 24;

/// The run, as the explorer's controls set it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Setup {
    /// The sampler.
    pub sampler: SamplerKind,
    /// Its steps.
    pub steps: usize,
    /// DDIM's η (0: deterministic, 1: DDPM).
    pub eta: f64,
    /// The noise schedule.
    pub schedule: ScheduleKind,
    /// Particles.
    pub particles: usize,
    /// Draws x_T and the noise.
    pub seed: u64,
}

impl Default for Setup {
    /// The explorer's defaults: DDIM, 50 steps, 2000 particles, seed 42.
    fn default() -> Self {
        Self {
            sampler: SamplerKind::Ddim,
            steps: 50,
            eta: 0.0,
            schedule: ScheduleKind::Linear,
            particles: 2000,
            seed: 42,
        }
    }
}

figure_setup!(Setup, {
    sampler => "sampler": "ddim, ddpm, euler-ode, heun-ode, reverse-sde, dpm-solver++, langevin, annealed-langevin",
    steps => "steps": "sampling steps",
    eta => "eta": "DDIM's η, 0 to 1",
    schedule => "schedule": "linear, scaled-linear, cosine or sigmoid",
    particles => "particles": "how many points are sampled",
    seed => "seed": "draws x_T and the noise",
});

/// One run on the mixture.
///
/// # Errors
/// No particles; a bad sampler setting; cancelled.
pub fn figure(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<Figure> {
    if setup.particles == 0 {
        return Err(FigureError::bad_value("particles", "0", "must be at least 1"));
    }
    let schedule = Arc::new(Schedule::new(&ScheduleConfig::of_kind(setup.schedule))?);
    let config = SamplerConfig {
        kind: setup.sampler,
        steps: setup.steps,
        eta: setup.eta,
        ..SamplerConfig::default()
    };
    let mut sampler = build_sampler(&config, Arc::clone(&schedule))?;
    let mut rng = NoiseRng::seed_from(setup.seed);
    let start = rng.randn((setup.particles, 2), &candle_core::Device::Cpu)?;
    let mixture = inputs.mixture.as_ref();
    let frames = common::trace(sampler.as_mut(), mixture, None, &start, &mut rng, job)?;
    let ends = frames.last().cloned().unwrap_or_default();
    let mut plane = Panel::plane(
        format!("{} steps of {}", setup.steps, setup.sampler),
        vec![
            Series::lines("paths", STOCHASTIC, common::paths(&frames, PATHS)),
            Series::points("x_0", DETERMINISTIC, ends.clone()),
        ],
    );
    plane.backdrop = Some(common::density_backdrop(mixture, 1.0)?);
    let big_t = schedule.train_steps();
    let curve = |f: &dyn Fn(usize) -> f64| (1..=big_t).map(|t| [t as f64, f(t)]).collect();
    let color = common::schedule_color(setup.schedule);
    let curves = Panel {
        title: format!("the {} schedule", setup.schedule),
        x_label: "t (training step)".into(),
        y_label: "ᾱ_t; log SNR / 10".into(),
        series: vec![
            Series::line("ᾱ_t", color, curve(&|t| schedule.alpha_bar(t))),
            Series::line(
                "log SNR(t) / 10",
                [150, 150, 150],
                curve(&|t| schedule.log_snr(t) / 10.0),
            ),
        ],
        ..Panel::default()
    };
    let mut figure = Figure {
        panels: vec![plane, curves],
        ..Figure::default()
    };
    for (k, w) in common::mode_fractions(mixture, &ends)?.iter().enumerate() {
        figure.number(format!("x_0: weight of mode {}", k + 1), *w, "");
    }
    Ok(figure)
}
