//! DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2): a second-order multistep
//! solver of the probability-flow ODE in log-SNR, which reaches in a few steps
//! where first-order solvers (DDIM, Euler) need many. The reference is the same
//! ODE solved by Heun's method over all T = 1000 levels; the error is the median
//! distance of the end points from it. Every solver visits levels evenly spaced
//! in log-SNR from t = T to t = 1 (DPM-Solver's own choice, §3.4), so the error
//! falls as N⁻² for DPM-Solver++ and N⁻¹ for DDIM.

use std::sync::Arc;

use super::Inputs;
use super::common::{self, Frames};
use super::data::{Figure, Panel, Rgb, Series};
use super::error::{FigureError, Result};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{SamplerConfig, SamplerKind, build_sampler};
use crate::diffusion::{NoiseRng, Schedule, TimestepSpacing};
use crate::jobs::JobContext;

/// Particles whose end points are compared.
const PARTICLES: usize = 200;
/// Paths drawn.
const PATHS: usize = 12;
/// The step counts measured.
pub const STEP_COUNTS: [usize; 8] = [4, 6, 8, 10, 15, 20, 30, 50];
/// The solvers compared, with their colours.
pub const SOLVERS: [(SamplerKind, &str, Rgb); 3] = [
    (SamplerKind::DpmSolverPp, "DPM-Solver++(2M)", [120, 200, 110]),
    (SamplerKind::Ddim, "DDIM (η = 0)", [100, 180, 250]),
    (SamplerKind::EulerOde, "Euler ODE", [240, 150, 60]),
];

/// The start, and which step count's paths the figure shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Draws the starting points.
    pub seed: u64,
    /// The step count whose paths are drawn (one of 4, 6, 8, 10, 15, 20, 30, 50).
    pub steps: usize,
}

impl Default for Setup {
    /// Seed 9, the paths of 20 steps.
    fn default() -> Self {
        Self { seed: 9, steps: 20 }
    }
}

figure_setup!(Setup, {
    seed => "seed": "draws the starting points",
    steps => "steps": "whose paths are drawn: 4, 6, 8, 10, 15, 20, 30 or 50",
});

/// Errors per solver and step count, and the paths drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// `errors[solver][i]`: median end-point error at `STEP_COUNTS[i]` steps.
    pub errors: Vec<Vec<f64>>,
    /// DPM-Solver++'s paths at each step count.
    pub dpm_paths: Vec<Frames>,
    /// The reference paths.
    pub reference: Frames,
    /// Index into [`STEP_COUNTS`] of the paths shown.
    pub shown: usize,
}

fn solve(
    mixture: &GaussianMixture,
    schedule: &Arc<Schedule>,
    kind: SamplerKind,
    steps: usize,
    start: &candle_core::Tensor,
    job: &JobContext,
) -> Result<Frames> {
    // Every solver starts at t = T, where the reference starts, and ends at t = 1.
    let config = SamplerConfig {
        kind,
        steps,
        spacing: TimestepSpacing::LogSnr,
        ..SamplerConfig::default()
    };
    let mut sampler = build_sampler(&config, Arc::clone(schedule))?;
    // The ODE solvers draw no noise; the generator is only there for the signature.
    let mut rng = NoiseRng::seed_from(0);
    common::trace(sampler.as_mut(), mixture, None, start, &mut rng, job)
}

/// Every solver at every step count against the 1000-step reference.
///
/// # Errors
/// A step count that is not measured; cancelled.
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<Comparison> {
    let shown = STEP_COUNTS.iter().position(|&n| n == setup.steps).ok_or_else(|| {
        FigureError::bad_value(
            "steps",
            &setup.steps.to_string(),
            "must be one of 4, 6, 8, 10, 15, 20, 30, 50",
        )
    })?;
    let (mixture, schedule) = (inputs.mixture.as_ref(), &inputs.schedule);
    let start = NoiseRng::seed_from(setup.seed).randn((PARTICLES, 2), &candle_core::Device::Cpu)?;
    job.report("the reference: Heun over all 1000 levels");
    let reference = solve(
        mixture,
        schedule,
        SamplerKind::HeunOde,
        schedule.train_steps(),
        &start,
        job,
    )?;
    let target = reference.last().cloned().unwrap_or_default();
    let mut errors = Vec::new();
    let mut dpm_paths = Vec::new();
    for (kind, name, _) in SOLVERS {
        job.report(name);
        let mut row = Vec::new();
        for steps in STEP_COUNTS {
            let frames = solve(mixture, schedule, kind, steps, &start, job)?;
            row.push(common::median_distance(
                frames.last().map_or(&[][..], Vec::as_slice),
                &target,
            ));
            if kind == SamplerKind::DpmSolverPp {
                dpm_paths.push(common::first_paths(frames, PATHS));
            }
        }
        errors.push(row);
    }
    Ok(Comparison {
        errors,
        dpm_paths,
        reference: common::first_paths(reference, PATHS),
        shown,
    })
}

impl Comparison {
    /// DPM-Solver++'s paths at `STEP_COUNTS[shown]` over the reference, and
    /// every solver's error against the step count, log–log.
    #[must_use]
    pub fn figure_at(&self, shown: usize) -> Figure {
        let steps = STEP_COUNTS.get(shown).copied().unwrap_or(0);
        let color = SOLVERS[0].2;
        let mut series = vec![Series::lines(
            "reference ODE (Heun, 1000 steps)",
            [150, 150, 150],
            common::paths(&self.reference, PATHS),
        )];
        if let Some(paths) = self.dpm_paths.get(shown) {
            let name = format!("DPM-Solver++, {steps} steps");
            series.push(Series::lines(name.clone(), color, common::paths(paths, PATHS)));
            series.push(Series::points(
                format!("{name}: levels"),
                color,
                paths.iter().flatten().copied().collect(),
            ));
        }
        let plane = Panel::plane("paths from the same x_T", series);
        let curves = SOLVERS
            .iter()
            .zip(&self.errors)
            .map(|((_, name, color), errors)| {
                let points = STEP_COUNTS
                    .iter()
                    .zip(errors)
                    .map(|(&n, e)| [(n as f64).log10(), e.max(1e-12).log10()])
                    .collect();
                Series::line(*name, *color, points)
            })
            .collect();
        let error = Panel {
            title: "end-point error against steps".into(),
            x_label: "log₁₀ steps".into(),
            y_label: "log₁₀ median error (data units)".into(),
            series: curves,
            ..Panel::default()
        };
        let mut figure = Figure {
            panels: vec![plane, error],
            ..Figure::default()
        };
        for ((_, name, _), errors) in SOLVERS.iter().zip(&self.errors) {
            for (n, e) in STEP_COUNTS.iter().zip(errors) {
                figure.number(format!("{name} error at {n} steps"), *e, "data units");
            }
        }
        figure
    }

    /// [`Self::figure_at`] the step count of the setup.
    #[must_use]
    pub fn figure(&self) -> Figure {
        self.figure_at(self.shown)
    }
}
