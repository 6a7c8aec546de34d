//! The reverse SDE and the probability-flow ODE (Song et al. 2021, eqs. 6 and 13):
//! dx = [f − g² ∇log p_t] dt + g dw̄ and dx/dt = f − ½ g² ∇log p_t share every
//! marginal p_t. From the same starting points the SDE paths wander and the ODE
//! lines are smooth and deterministic, yet both end with the same mode weights.

use std::sync::Arc;

use super::Inputs;
use super::common::{self, DETERMINISTIC, Frames, STOCHASTIC};
use super::data::{Backdrop, Figure, Panel, Series};
use super::error::{FigureError, Result};
use crate::diffusion::NoiseRng;
use crate::diffusion::sampler::{SamplerConfig, SamplerKind, build_sampler};
use crate::jobs::JobContext;

/// Particles per process.
const PARTICLES: usize = 1000;
/// Steps of each solver.
pub const STEPS: usize = 100;
/// Paths drawn per process.
const PATHS: usize = 8;
/// A density backdrop every this many steps.
const DENSITY_EVERY: usize = 5;

/// The runs, and which step the figure shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Draws x_T (the SDE's noise uses `seed + 1`).
    pub seed: u64,
    /// The step shown, 0 (x_T) to [`STEPS`].
    pub step: usize,
}

impl Default for Setup {
    /// Seed 5, the end of the run.
    fn default() -> Self {
        Self { seed: 5, step: STEPS }
    }
}

figure_setup!(Setup, {
    seed => "seed": "draws x_T and the SDE's noise",
    step => "step": "the step shown, 0 (x_T) to 100",
});

/// Both processes and p_t along the way.
#[derive(Clone, Debug, PartialEq)]
pub struct Processes {
    /// The reverse SDE's particles after each step.
    pub sde: Frames,
    /// The probability-flow ODE's.
    pub ode: Frames,
    /// The final mode weights of the SDE.
    pub sde_weights: Vec<f64>,
    /// Of the ODE.
    pub ode_weights: Vec<f64>,
    /// The level t after each step (index 0: the start).
    pub levels: Vec<usize>,
    /// p_t every [`DENSITY_EVERY`] steps.
    pub densities: Vec<Backdrop>,
    /// The step shown.
    pub shown: usize,
}

/// Both processes from one start, with p_t along the way.
///
/// # Errors
/// A step past [`STEPS`]; cancelled.
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<Processes> {
    if setup.step > STEPS {
        return Err(FigureError::bad_value(
            "step",
            &setup.step.to_string(),
            format!("must be at most {STEPS}"),
        ));
    }
    let (mixture, schedule) = (&inputs.mixture, &inputs.schedule);
    let start = NoiseRng::seed_from(setup.seed).randn((PARTICLES, 2), &candle_core::Device::Cpu)?;
    let run = |kind: SamplerKind| -> Result<(Frames, Vec<usize>)> {
        let config = SamplerConfig {
            kind,
            steps: STEPS,
            ..SamplerConfig::default()
        };
        let mut sampler = build_sampler(&config, Arc::clone(schedule))?;
        let mut levels = sampler.timesteps().to_vec();
        levels.push(0);
        let mut rng = NoiseRng::seed_from(setup.seed + 1);
        let frames = common::trace(sampler.as_mut(), mixture.as_ref(), None, &start, &mut rng, job)?;
        Ok((frames, levels))
    };
    let (sde, levels) = run(SamplerKind::ReverseSde)?;
    let (ode, _) = run(SamplerKind::HeunOde)?;
    let densities = levels
        .iter()
        .step_by(DENSITY_EVERY)
        .map(|&t| common::density_backdrop(mixture, schedule.alpha_bar(t)))
        .collect::<Result<_>>()?;
    let weights = |frames: &Frames| common::mode_fractions(mixture, frames.last().map_or(&[][..], Vec::as_slice));
    Ok(Processes {
        sde_weights: weights(&sde)?,
        ode_weights: weights(&ode)?,
        sde,
        ode,
        levels,
        densities,
        shown: setup.step,
    })
}

impl Processes {
    /// The paths up to `step` over p_t, and the final weights.
    #[must_use]
    pub fn figure_at(&self, step: usize) -> Figure {
        let shown = |frames: &Frames| -> Frames { frames.iter().take(step + 1).cloned().collect() };
        let (sde, ode) = (shown(&self.sde), shown(&self.ode));
        let ends = |frames: &Frames| {
            frames
                .last()
                .map(|f| f.iter().take(PATHS).copied().collect())
                .unwrap_or_default()
        };
        let mut panel = Panel::plane(
            "the same x_T through both processes",
            vec![
                Series::lines("reverse SDE", STOCHASTIC, common::paths(&sde, PATHS)),
                Series::lines("probability-flow ODE", DETERMINISTIC, common::paths(&ode, PATHS)),
                Series::points("reverse SDE now", STOCHASTIC, ends(&sde)),
                Series::points("probability-flow ODE now", DETERMINISTIC, ends(&ode)),
            ],
        );
        panel.backdrop = self.densities.get(step / DENSITY_EVERY).cloned();
        let mut figure = Figure {
            panels: vec![panel],
            ..Figure::default()
        };
        for (name, weights) in [("SDE", &self.sde_weights), ("ODE", &self.ode_weights)] {
            for (k, w) in weights.iter().enumerate() {
                figure.number(format!("{name}: weight of mode {}", k + 1), *w, "");
            }
        }
        figure
    }

    /// [`Self::figure_at`] the step of the setup.
    #[must_use]
    pub fn figure(&self) -> Figure {
        self.figure_at(self.shown)
    }
}
