//! EDM's σ view (Karras, Aittala, Aila & Laine 2022): every VP schedule is a
//! noise level σ = √((1 − ᾱ)/ᾱ) on x̃ = x/√ᾱ, the axis EDM designs in.
//!
//! - **σ(t)** of each schedule on a log axis.
//! - **Karras spacing**: σ_i = (σ_max^{1/ρ} + i/(N − 1)(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ,
//!   ρ = 7 (eq. 5), against log-SNR and leading spacing, as the σ of the t visited.
//! - **Preconditioning** (Table 1): D(x; σ) = c_skip x + c_out F(c_in x; c_noise) with
//!   c_skip = σ_d²/(σ² + σ_d²), c_out = σ σ_d/√(σ² + σ_d²), c_in = 1/√(σ² + σ_d²),
//!   c_noise = ¼ ln σ, σ_d = 0.5: the network's input and target keep unit variance
//!   at every σ.
//! - **The samplers**: EDM Heun (Algorithm 1) and the stochastic sampler with
//!   churn (Algorithm 2) on the exact mixture, from the same noise.

use std::sync::Arc;

use super::Inputs;
use super::common::{self, DETERMINISTIC, Frames, STOCHASTIC, schedule_color};
use super::data::{Figure, Panel, Point, Series};
use super::error::{FigureError, Result};
use crate::diffusion::sampler::edm::EdmConfig;
use crate::diffusion::sampler::{SamplerConfig, SamplerKind, build_sampler};
use crate::diffusion::timesteps::{edm_sigma, inference_timesteps};
use crate::diffusion::{NoiseRng, Schedule, ScheduleConfig, ScheduleKind, TimestepSpacing};
use crate::jobs::JobContext;

/// EDM's σ_data (their choice for images scaled to [−1, 1]).
pub const SIGMA_DATA: f64 = 0.5;
/// Particles per sampler.
const PARTICLES: usize = 1000;
/// Paths drawn per sampler.
const PATHS: usize = 10;

/// The levels and the churn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Setup {
    /// N, the Karras levels of both samplers (2N − 1 evaluations for Heun).
    pub steps: usize,
    /// S_churn of the stochastic sampler.
    pub churn: f64,
    /// Draws the noise.
    pub seed: u64,
}

impl Default for Setup {
    /// EDM's 18 levels (35 evaluations), S_churn = 40.
    fn default() -> Self {
        Self {
            steps: 18,
            churn: EdmConfig::default().churn,
            seed: 0,
        }
    }
}

figure_setup!(Setup, {
    steps => "steps": "N, the Karras levels of both samplers",
    churn => "churn": "S_churn of the stochastic sampler",
    seed => "seed": "draws the noise",
});

/// c_skip, c_out, c_in, c_noise at σ (Karras et al. Table 1).
#[must_use]
pub fn preconditioning(sigma: f64) -> [f64; 4] {
    let total = sigma * sigma + SIGMA_DATA * SIGMA_DATA;
    [
        SIGMA_DATA * SIGMA_DATA / total,
        sigma * SIGMA_DATA / total.sqrt(),
        total.sqrt().recip(),
        0.25 * sigma.ln(),
    ]
}

/// Everything the figure shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Edm {
    /// (schedule, log₁₀ σ at t = 1..=T).
    pub sigma_curves: Vec<(ScheduleKind, Vec<Point>)>,
    /// (spacing, log₁₀ σ of each visited t, by step index).
    pub spacings: Vec<(TimestepSpacing, Vec<Point>)>,
    /// EDM Heun's particles after each step.
    pub heun: Frames,
    /// The stochastic sampler's.
    pub stochastic: Frames,
    /// Mode weights of the two.
    pub weights: [Vec<f64>; 2],
    /// N.
    pub steps: usize,
}

/// The σ view, the spacings and both samplers' runs.
///
/// # Errors
/// N outside 2..=1000, a negative churn; cancelled.
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<Edm> {
    if !(2..=1000).contains(&setup.steps) {
        return Err(FigureError::bad_value(
            "steps",
            &setup.steps.to_string(),
            "must lie in 2..=1000",
        ));
    }
    if !(setup.churn >= 0.0 && setup.churn.is_finite()) {
        return Err(FigureError::bad_value(
            "churn",
            &setup.churn.to_string(),
            "must be finite and ≥ 0",
        ));
    }
    let sigma_curves = ScheduleKind::ALL
        .iter()
        .map(|&kind| {
            let schedule = Schedule::new(&ScheduleConfig::of_kind(kind))?;
            let curve = (1..=schedule.train_steps())
                .map(|t| [t as f64, edm_sigma(&schedule, t).log10()])
                .collect();
            Ok((kind, curve))
        })
        .collect::<Result<_>>()?;
    let schedule = &inputs.schedule;
    let spacings = [
        TimestepSpacing::Karras,
        TimestepSpacing::LogSnr,
        TimestepSpacing::Leading,
    ]
    .iter()
    .map(|&spacing| {
        let visited = inference_timesteps(schedule, setup.steps, spacing)?;
        let points = visited
            .iter()
            .enumerate()
            .map(|(i, &t)| [i as f64, edm_sigma(schedule, t).log10()])
            .collect();
        Ok((spacing, points))
    })
    .collect::<Result<_>>()?;
    let start = NoiseRng::seed_from(setup.seed).randn((PARTICLES, 2), &candle_core::Device::Cpu)?;
    let run = |kind: SamplerKind| -> Result<Frames> {
        let config = SamplerConfig {
            kind,
            steps: setup.steps,
            spacing: kind.default_spacing(),
            edm: EdmConfig {
                churn: setup.churn,
                ..EdmConfig::default()
            },
            ..SamplerConfig::default()
        };
        let mut sampler = build_sampler(&config, Arc::clone(schedule))?;
        let mut rng = NoiseRng::seed_from(setup.seed + 1);
        common::trace(sampler.as_mut(), inputs.mixture.as_ref(), None, &start, &mut rng, job)
    };
    let (heun, stochastic) = (run(SamplerKind::EdmHeun)?, run(SamplerKind::EdmStochastic)?);
    let weights =
        |frames: &Frames| common::mode_fractions(&inputs.mixture, frames.last().map_or(&[][..], Vec::as_slice));
    Ok(Edm {
        sigma_curves,
        spacings,
        weights: [weights(&heun)?, weights(&stochastic)?],
        heun,
        stochastic,
        steps: setup.steps,
    })
}

impl Edm {
    /// The four panels and the numbers.
    #[must_use]
    pub fn figure(&self) -> Figure {
        let sigma = Panel {
            title: "σ = √((1 − ᾱ)/ᾱ) of each schedule".into(),
            x_label: "t (training step)".into(),
            y_label: "log₁₀ σ".into(),
            series: self
                .sigma_curves
                .iter()
                .map(|(kind, curve)| Series::lines(kind.to_string(), schedule_color(*kind), vec![curve.clone()]))
                .collect(),
            ..Panel::default()
        };
        let spacing = Panel {
            title: format!("σ of the {} levels visited (linear schedule)", self.steps),
            x_label: "step".into(),
            y_label: "log₁₀ σ".into(),
            series: self
                .spacings
                .iter()
                .enumerate()
                .map(|(i, (spacing, points))| {
                    Series::points(spacing.to_string(), common::class_color(i), points.clone())
                })
                .collect(),
            ..Panel::default()
        };
        let grid: Vec<f64> = (0..=120).map(|i| -2.0 + 4.5 * f64::from(i) / 120.0).collect();
        let names = ["c_skip", "c_out", "c_in", "c_noise"];
        let preconditioning = Panel {
            title: format!("EDM preconditioning, σ_data = {SIGMA_DATA}"),
            x_label: "log₁₀ σ".into(),
            y_label: "coefficient".into(),
            series: names
                .iter()
                .enumerate()
                .map(|(k, name)| {
                    let line = grid.iter().map(|&l| [l, preconditioning(10f64.powf(l))[k]]).collect();
                    Series::lines(*name, common::class_color(k), vec![line])
                })
                .collect(),
            ..Panel::default()
        };
        let samplers = Panel::plane(
            "EDM's samplers on the mixture, from the same noise",
            vec![
                Series::lines(
                    "EDM Heun (Algorithm 1)",
                    DETERMINISTIC,
                    common::paths(&self.heun, PATHS),
                ),
                Series::lines(
                    "EDM stochastic (Algorithm 2)",
                    STOCHASTIC,
                    common::paths(&self.stochastic, PATHS),
                ),
                Series::points(
                    "Heun samples",
                    DETERMINISTIC,
                    self.heun.last().cloned().unwrap_or_default(),
                ),
                Series::points(
                    "stochastic samples",
                    STOCHASTIC,
                    self.stochastic.last().cloned().unwrap_or_default(),
                ),
            ],
        );
        let mut figure = Figure {
            panels: vec![sigma, spacing, preconditioning, samplers],
            ..Figure::default()
        };
        figure.number("EDM Heun model evaluations", (2 * self.steps - 1) as f64, "");
        for (name, weights) in [("Heun", &self.weights[0]), ("stochastic", &self.weights[1])] {
            for (k, w) in weights.iter().enumerate() {
                figure.number(format!("{name}: weight of mode {}", k + 1), *w, "");
            }
        }
        figure
    }
}
