//! Stochastic branching (Ho et al. 2020, Fig. 6 and 7): stop a DDPM run at
//! step t and finish it many times with fresh noise. Near t = T the branches
//! scatter over every mode; by small t the outcome is decided and they all
//! land where the original did.

use std::sync::Arc;

use candle_core::Tensor;

use super::Inputs;
use super::common::{self, Frames, STOCHASTIC};
use super::data::{Figure, Panel, Point, Series};
use super::error::{FigureError, Result};
use crate::diffusion::NoiseRng;
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{Sampler, SamplerConfig, SamplerKind, build_sampler};
use crate::jobs::JobContext;

/// DDPM steps of the run.
const STEPS: usize = 100;
/// Continuations per branch point.
pub const BRANCHES: usize = 200;
/// Branch paths drawn.
const PATHS: usize = 20;
/// The steps a run is branched at.
const BRANCH_STEPS: [usize; 11] = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 98];

/// The run, and which branch point the figure shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Draws the original run.
    pub seed: u64,
    /// The branch point shown, 0 (t = 991) to 10 (t = 11).
    pub branch: usize,
}

impl Default for Setup {
    /// Seed 7, branched half way.
    fn default() -> Self {
        Self { seed: 7, branch: 5 }
    }
}

figure_setup!(Setup, {
    seed => "seed": "draws the original run",
    branch => "branch": "the branch point shown, 0 (t = 991) to 10 (t = 11)",
});

/// The continuations from one branch point.
#[derive(Clone, Debug, PartialEq)]
pub struct Branch {
    /// The level t the branches start from.
    pub t: usize,
    /// The first [`PATHS`] continuations' paths.
    pub paths: Frames,
    /// Every continuation's end point.
    pub ends: Vec<Point>,
    /// The share that ended in the original run's mode.
    pub same_mode: f64,
}

/// The original run and its branches.
#[derive(Clone, Debug, PartialEq)]
pub struct Branching {
    /// The original run's path.
    pub original: Frames,
    /// One per branch point, from t near T down.
    pub branches: Vec<Branch>,
    /// The branch point shown.
    pub shown: usize,
}

/// Runs steps `from..` of `sampler` on `x`, keeping every position.
fn finish(
    sampler: &mut dyn Sampler,
    mixture: &GaussianMixture,
    from: usize,
    x: Tensor,
    rng: &mut NoiseRng,
    job: &JobContext,
) -> Result<Frames> {
    let mut frames = vec![common::points(&x)?];
    let mut x = x;
    for index in from..sampler.timesteps().len() {
        common::check(job)?;
        x = sampler.step(mixture, None, index, &x, rng)?.x_next;
        frames.push(common::points(&x)?);
    }
    Ok(frames)
}

/// One DDPM run, and [`BRANCHES`] continuations from each branch point.
///
/// # Errors
/// A branch index past the last; cancelled.
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<Branching> {
    if setup.branch >= BRANCH_STEPS.len() {
        let reason = format!("there are {} branch points", BRANCH_STEPS.len());
        return Err(FigureError::bad_value("branch", &setup.branch.to_string(), reason));
    }
    let mixture = inputs.mixture.as_ref();
    let config = SamplerConfig {
        kind: SamplerKind::Ddpm,
        steps: STEPS,
        ..SamplerConfig::default()
    };
    let mut sampler = build_sampler(&config, Arc::clone(&inputs.schedule))?;
    let mut rng = NoiseRng::seed_from(setup.seed);
    let start = rng.randn((1, 2), &candle_core::Device::Cpu)?;
    let original = finish(sampler.as_mut(), mixture, 0, start, &mut rng, job)?;
    let end = original.last().cloned().unwrap_or_default();
    let original_mode = mixture.assign(&common::tensor(&end)?)?;
    let mut branches = Vec::new();
    for (i, &step) in BRANCH_STEPS.iter().enumerate() {
        job.report(format!("branch point {} of {}", i + 1, BRANCH_STEPS.len()));
        let at = original.get(step).and_then(|f| f.first()).copied().unwrap_or_default();
        let x = common::tensor(&vec![at; BRANCHES])?;
        let mut rng = NoiseRng::seed_from(100 + i as u64);
        let frames = finish(sampler.as_mut(), mixture, step, x, &mut rng, job)?;
        let ends = frames.last().cloned().unwrap_or_default();
        let modes = mixture.assign(&common::tensor(&ends)?)?;
        let same = modes.iter().filter(|m| Some(*m) == original_mode.first()).count();
        branches.push(Branch {
            t: sampler.timesteps()[step],
            paths: common::first_paths(frames, PATHS),
            ends,
            same_mode: same as f64 / BRANCHES as f64,
        });
    }
    Ok(Branching {
        original,
        branches,
        shown: setup.branch,
    })
}

impl Branching {
    /// The branches from the point `shown`, and the share against t.
    #[must_use]
    pub fn figure_at(&self, shown: usize) -> Figure {
        let mut panels = Vec::new();
        if let Some(branch) = self.branches.get(shown) {
            panels.push(Panel::plane(
                format!("continuations from t = {}", branch.t),
                vec![
                    Series::lines("continuations", STOCHASTIC, common::paths(&branch.paths, PATHS)),
                    Series::points("end points", STOCHASTIC, branch.ends.clone()),
                    Series::lines("original run", [250, 210, 60], common::paths(&self.original, 1)),
                ],
            ));
        }
        let share = self.branches.iter().map(|b| [b.t as f64, b.same_mode]).collect();
        panels.push(Panel {
            title: "how decided the outcome is".into(),
            x_label: "t branched at (training step)".into(),
            y_label: "share ending in the original's mode".into(),
            series: vec![Series::line("share", STOCHASTIC, share)],
            ..Panel::default()
        });
        let mut figure = Figure {
            panels,
            ..Figure::default()
        };
        for branch in &self.branches {
            figure.number(
                format!("same mode from t = {}", branch.t),
                100.0 * branch.same_mode,
                "%",
            );
        }
        figure
    }

    /// [`Self::figure_at`] the branch point of the setup.
    #[must_use]
    pub fn figure(&self) -> Figure {
        self.figure_at(self.shown)
    }
}
