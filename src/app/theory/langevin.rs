//! Langevin dynamics (Song & Ermon 2019): x ← x + (α/2) ∇log p(x) + √α z.
//!
//! Plain Langevin on the data score mixes between separated modes only by
//! chance, so it keeps the weights of wherever the particles started (§3.2.2).
//! Annealed Langevin (Algorithm 1) runs it level by level on p_σ for falling σ:
//! the noisy levels spread the mass with the right weights, then sharpen.

use std::sync::Arc;

use egui::Slider;

use super::figure::{self, Frames, Point};
use super::job::Computation;
use super::{SceneContext, TheoryScene};
use crate::diffusion::sampler::{SamplerConfig, SamplerKind, build_sampler};
use crate::diffusion::{NoiseRng, Schedule};

/// Particles per sampler.
const PARTICLES: usize = 1000;
/// Noise levels of the annealed run (and plain Langevin's step count).
const LEVELS: usize = 50;
/// Particles drawn in the plots.
const SHOWN: usize = 400;

/// Both runs and the score field at every annealed level.
pub struct LangevinRuns {
    plain: Frames,
    annealed: Frames,
    /// The mode weights at the end of plain Langevin.
    plain_fractions: Vec<f64>,
    /// The mode weights after each annealed level (index 0: the start).
    annealed_fractions: Vec<Vec<f64>>,
    /// The levels t of the annealed run, in order.
    levels: Vec<usize>,
    /// 0.3 σ_t ∇log p_t on the arrow grid, per level.
    fields: Vec<Vec<Point>>,
}

/// The Langevin scene.
pub struct LangevinScene {
    context: SceneContext,
    /// The annealed level shown (0 = the start, LEVELS = the end).
    level: usize,
    runs: Computation<LangevinRuns>,
    grid: Vec<Point>,
}

impl LangevinScene {
    /// Runs both samplers from the same N(0, I) start.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut runs = Computation::default();
        let mixture = Arc::clone(&context.mixture);
        let schedule = Arc::clone(&context.schedule);
        let grid = figure::arrow_grid(17);
        let job_grid = grid.clone();
        runs.restart(&context.repaint, move |cancel| {
            let run = |kind: SamplerKind, seed: u64| -> Result<(Frames, Vec<usize>), String> {
                let config = SamplerConfig {
                    kind,
                    steps: LEVELS,
                    ..SamplerConfig::default()
                };
                let mut sampler = build_sampler(&config, Arc::clone(&schedule)).map_err(figure::message)?;
                let mut rng = NoiseRng::seed_from(seed);
                let start = rng
                    .randn((PARTICLES, 2), &candle_core::Device::Cpu)
                    .map_err(figure::message)?;
                let levels = sampler.timesteps().to_vec();
                let frames = figure::trace(sampler.as_mut(), mixture.as_ref(), None, &start, &mut rng, cancel)?;
                Ok((frames.ok_or("cancelled")?, levels))
            };
            let (plain, _) = run(SamplerKind::Langevin, 3)?;
            let (annealed, levels) = run(SamplerKind::AnnealedLangevin, 3)?;
            let fields = levels
                .iter()
                .map(|&t| score_field(&mixture, &schedule, t, &job_grid))
                .collect::<Result<_, _>>()?;
            let plain_fractions = figure::mode_fractions(&mixture, plain.last().map_or(&[][..], Vec::as_slice))?;
            let annealed_fractions = annealed
                .iter()
                .map(|frame| figure::mode_fractions(&mixture, frame))
                .collect::<Result<_, _>>()?;
            Ok(LangevinRuns {
                plain_fractions,
                annealed_fractions,
                plain,
                annealed,
                levels,
                fields,
            })
        });
        Self {
            context: context.clone(),
            level: LEVELS,
            runs,
            grid,
        }
    }

    fn plain_ui(&self, ui: &mut egui::Ui, runs: &LangevinRuns, size: egui::Vec2) {
        let Some(last) = runs.plain.last() else {
            return;
        };
        ui.vertical(|ui| {
            ui.set_width(size.x);
            let fractions = &runs.plain_fractions;
            ui.label(format!(
                "plain Langevin, {LEVELS}×30 updates on ∇log p_0: mode weights {}",
                figure::fractions_text(fractions)
            ));
            figure::plane_plot("plain langevin", size).show(ui, |plot_ui| {
                figure::points_ui(
                    plot_ui,
                    "plain Langevin",
                    &last[..SHOWN.min(last.len())],
                    1.5,
                    figure::STOCHASTIC,
                );
            });
        });
    }

    fn annealed_ui(&self, ui: &mut egui::Ui, runs: &LangevinRuns, size: egui::Vec2) {
        let frame = runs.annealed.get(self.level).or(runs.annealed.last());
        let Some(frame) = frame else {
            return;
        };
        ui.vertical(|ui| {
            ui.set_width(size.x);
            let fractions = runs.annealed_fractions.get(self.level).map_or(&[][..], Vec::as_slice);
            // Level k's updates ran at levels[k − 1]; the start is level 0.
            let field_index = self.level.saturating_sub(1).min(runs.levels.len().saturating_sub(1));
            let t = runs.levels.get(field_index).copied().unwrap_or(1);
            let sigma = (1.0 - self.context.schedule.alpha_bar(t)).sqrt();
            ui.label(format!(
                "annealed Langevin after level {} of {LEVELS} (t = {t}, σ = {sigma:.3}): mode weights {}",
                self.level,
                figure::fractions_text(fractions)
            ));
            figure::plane_plot("annealed langevin", size).show(ui, |plot_ui| {
                if let Some(field) = runs.fields.get(field_index) {
                    let tips = figure::arrow_tips(&self.grid, field, 0.45);
                    figure::arrows_ui(
                        plot_ui,
                        "σ ∇log p_σ (direction of the score)",
                        &self.grid,
                        &tips,
                        egui::Color32::GRAY,
                    );
                }
                figure::points_ui(
                    plot_ui,
                    "annealed Langevin",
                    &frame[..SHOWN.min(frame.len())],
                    1.5,
                    figure::DETERMINISTIC,
                );
            });
        });
    }
}

/// 0.3 σ_t ∇log p_t (= −0.3 ε_θ) at every grid point: the score's direction,
/// with a length that stays readable at every σ.
fn score_field(
    mixture: &crate::diffusion::mixture::GaussianMixture,
    schedule: &Schedule,
    t: usize,
    grid: &[Point],
) -> Result<Vec<Point>, String> {
    let alpha_bar = schedule.alpha_bar(t);
    let score = mixture
        .score(&figure::tensor(grid)?, alpha_bar, None)
        .map_err(figure::message)?;
    let score = figure::points(&score)?;
    let scale = 0.3 * (1.0 - alpha_bar).sqrt();
    Ok(score.iter().map(|s| [s[0] * scale, s[1] * scale]).collect())
}

impl TheoryScene for LangevinScene {
    fn caption(&self) -> &'static str {
        "Langevin dynamics x ← x + (α/2)∇log p(x) + √α z samples p, but between separated modes it \
         moves only by chance: plain Langevin keeps the weights of where the particles started. \
         Annealed Langevin runs it on p_σ for falling σ (α ∝ σ²) and recovers the weights 0.70 / 0.20 / 0.10."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.runs.poll();
        ui.horizontal(|ui| {
            ui.add(Slider::new(&mut self.level, 0..=LEVELS).text("annealing level"));
            ui.label(format!("true weights: {}", figure::weights_text(&self.context.mixture)));
            self.runs.status_ui(ui);
        });
        let size = egui::vec2(
            ui.available_width() / 2.0 - 8.0,
            ui.available_height().max(150.0) - 24.0,
        );
        if let Some(value) = self.runs.value() {
            ui.horizontal(|ui| {
                self.plain_ui(ui, value, size);
                self.annealed_ui(ui, value, size);
            });
        }
    }
}
