//! Stochastic branching (Ho et al. 2020, Fig. 6 and 7): stop a DDPM run at
//! step t and finish it many times with fresh noise. Near t = T the branches
//! scatter over every mode; by small t the outcome is decided and they all
//! land where the original did.

use std::sync::Arc;

use candle_core::Tensor;
use egui::Color32;
use egui_plot::{Legend, Line, Plot, PlotPoints, VLine};

use super::figure::{self, Frames, Point};
use super::job::Computation;
use super::{SceneContext, TheoryScene};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{Sampler, SamplerConfig, SamplerKind, build_sampler};
use crate::diffusion::{NoiseRng, Schedule};
use crate::jobs::JobContext as Cancel;

/// DDPM steps of the run.
const STEPS: usize = 100;
/// Continuations per branch point.
const BRANCHES: usize = 200;
/// Branch paths drawn.
const PATHS: usize = 20;
/// The steps a run is branched at.
const BRANCH_STEPS: [usize; 11] = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 98];

/// The continuations from one branch point.
pub struct Branch {
    /// The level t the branches start from.
    t: usize,
    /// The first [`PATHS`] continuations' paths.
    paths: Frames,
    /// Every continuation's end point.
    ends: Vec<Point>,
    /// The share that ended in the original run's mode.
    same_mode: f64,
}

/// The original run and its branches.
pub struct Branching {
    original: Frames,
    branches: Vec<Branch>,
}

/// The branching scene.
pub struct BranchingScene {
    /// Index into [`BRANCH_STEPS`].
    shown: usize,
    result: Computation<Branching>,
}

/// Runs steps `from..` of `sampler` on `x`, keeping every position.
fn finish(
    sampler: &mut dyn Sampler,
    mixture: &GaussianMixture,
    from: usize,
    x: Tensor,
    rng: &mut NoiseRng,
    cancel: &Cancel,
) -> Result<Frames, String> {
    let mut frames = vec![figure::points(&x)?];
    let mut x = x;
    for index in from..sampler.timesteps().len() {
        if cancel.is_cancelled() {
            return Err("cancelled".into());
        }
        x = sampler
            .step(mixture, None, index, &x, rng)
            .map_err(figure::message)?
            .x_next;
        frames.push(figure::points(&x)?);
    }
    Ok(frames)
}

fn compute(mixture: &GaussianMixture, schedule: Arc<Schedule>, cancel: &Cancel) -> Result<Branching, String> {
    let config = SamplerConfig {
        kind: SamplerKind::Ddpm,
        steps: STEPS,
        ..SamplerConfig::default()
    };
    let mut sampler = build_sampler(&config, schedule).map_err(figure::message)?;
    let mut rng = NoiseRng::seed_from(7);
    let start = rng.randn((1, 2), &candle_core::Device::Cpu).map_err(figure::message)?;
    let original = finish(sampler.as_mut(), mixture, 0, start, &mut rng, cancel)?;
    let end = original.last().cloned().unwrap_or_default();
    let original_mode = mixture.assign(&figure::tensor(&end)?).map_err(figure::message)?;
    let mut branches = Vec::new();
    for (i, &step) in BRANCH_STEPS.iter().enumerate() {
        let at = original.get(step).and_then(|f| f.first()).copied().unwrap_or_default();
        let x = figure::tensor(&vec![at; BRANCHES])?;
        let mut rng = NoiseRng::seed_from(100 + i as u64);
        let frames = finish(sampler.as_mut(), mixture, step, x, &mut rng, cancel)?;
        let ends = frames.last().cloned().unwrap_or_default();
        let modes = mixture.assign(&figure::tensor(&ends)?).map_err(figure::message)?;
        let same = modes.iter().filter(|m| Some(*m) == original_mode.first()).count();
        let same_mode = same as f64 / BRANCHES as f64;
        branches.push(Branch {
            t: sampler.timesteps()[step],
            paths: frames
                .into_iter()
                .map(|f| f.into_iter().take(PATHS).collect())
                .collect(),
            ends,
            same_mode,
        });
    }
    Ok(Branching { original, branches })
}

impl BranchingScene {
    /// Runs and branches at once.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut result = Computation::default();
        let mixture = Arc::clone(&context.mixture);
        let schedule = Arc::clone(&context.schedule);
        result.restart(&context.repaint, move |cancel| compute(&mixture, schedule, cancel));
        Self { shown: 5, result }
    }

    fn share_plot_ui(&self, ui: &mut egui::Ui, result: &Branching, size: egui::Vec2) {
        let points: Vec<[f64; 2]> = result.branches.iter().map(|b| [b.t as f64, b.same_mode]).collect();
        let cursor = result.branches.get(self.shown).map_or(0.0, |b| b.t as f64);
        Plot::new("same mode share")
            .width(size.x)
            .height(size.y)
            .legend(Legend::default())
            .x_axis_label("t branched at")
            .y_axis_label("share ending in the original's mode")
            .include_y(0.0)
            .include_y(1.0)
            .show(ui, |plot_ui| {
                plot_ui.line(
                    Line::new("share", PlotPoints::from(points))
                        .color(figure::STOCHASTIC)
                        .width(2.0),
                );
                plot_ui.vline(VLine::new("shown", cursor).color(Color32::GRAY));
            });
    }
}

impl TheoryScene for BranchingScene {
    fn caption(&self) -> &'static str {
        "Stop a DDPM run at step t and finish it again and again with fresh noise z in \
         x_{t−1} = μ_post(x_t, x_θ) + σ_t z. Early on the branches reach every mode; later the outcome \
         is already decided (DDPM, Fig. 7)."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.result.poll();
        let Some(result) = self.result.value() else {
            self.result.status_ui(ui);
            return;
        };
        ui.horizontal(|ui| {
            ui.label("Branch at:");
            for (i, branch) in result.branches.iter().enumerate() {
                ui.selectable_value(&mut self.shown, i, format!("t = {}", branch.t));
            }
        });
        let Some(branch) = result.branches.get(self.shown) else {
            return;
        };
        ui.label(format!(
            "branching at t = {}: {:.1} % of {BRANCHES} continuations end in the original's mode",
            branch.t,
            100.0 * branch.same_mode
        ));
        let size = egui::vec2(ui.available_width() / 2.0 - 8.0, ui.available_height().max(150.0));
        ui.horizontal(|ui| {
            figure::plane_plot("branches", size).show(ui, |plot_ui| {
                figure::paths_ui(plot_ui, "continuations", &branch.paths, PATHS, figure::STOCHASTIC);
                figure::points_ui(plot_ui, "end points", &branch.ends, 1.5, figure::STOCHASTIC);
                figure::paths_ui(plot_ui, "original run", &result.original, 1, Color32::WHITE);
            });
            self.share_plot_ui(ui, result, size);
        });
    }
}
