//! The reverse SDE and the probability-flow ODE (Song et al. 2021, eqs. 6 and 13):
//! dx = [f − g² ∇log p_t] dt + g dw̄ and dx/dt = f − ½ g² ∇log p_t share every
//! marginal p_t. From the same starting points the SDE paths wander and the ODE
//! lines are smooth and deterministic, yet both end with the same mode weights.

use std::sync::Arc;

use egui::{ColorImage, Slider};

use super::figure::{self, Frames};
use super::job::Computation;
use super::{SceneContext, TheoryScene};
use crate::diffusion::NoiseRng;
use crate::diffusion::sampler::{SamplerConfig, SamplerKind, build_sampler};

/// Particles per process.
const PARTICLES: usize = 1000;
/// Steps of each solver.
const STEPS: usize = 100;
/// Paths drawn per process.
const PATHS: usize = 8;
/// A density image every this many steps.
const DENSITY_EVERY: usize = 5;

/// Both processes and p_t along the way.
pub struct Processes {
    sde: Frames,
    ode: Frames,
    /// The final mode weights of each.
    sde_weights: Vec<f64>,
    ode_weights: Vec<f64>,
    /// The level t after each step (index 0: the start).
    levels: Vec<usize>,
    densities: Vec<ColorImage>,
}

/// The SDE vs ODE scene.
pub struct SdeOdeScene {
    context: SceneContext,
    step: usize,
    runs: Computation<Processes>,
    texture: Option<(usize, egui::TextureHandle)>,
}

impl SdeOdeScene {
    /// Runs both from one seeded N(0, I) start.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut runs = Computation::default();
        let mixture = Arc::clone(&context.mixture);
        let schedule = Arc::clone(&context.schedule);
        runs.restart(&context.repaint, move |cancel| {
            let start = NoiseRng::seed_from(5)
                .randn((PARTICLES, 2), &candle_core::Device::Cpu)
                .map_err(figure::message)?;
            let run = |kind: SamplerKind| -> Result<(Frames, Vec<usize>), String> {
                let config = SamplerConfig {
                    kind,
                    steps: STEPS,
                    ..SamplerConfig::default()
                };
                let mut sampler = build_sampler(&config, Arc::clone(&schedule)).map_err(figure::message)?;
                let mut levels = sampler.timesteps().to_vec();
                levels.push(0);
                let mut rng = NoiseRng::seed_from(6);
                let frames = figure::trace(sampler.as_mut(), mixture.as_ref(), None, &start, &mut rng, cancel)?;
                Ok((frames.ok_or("cancelled")?, levels))
            };
            let (sde, levels) = run(SamplerKind::ReverseSde)?;
            let (ode, _) = run(SamplerKind::HeunOde)?;
            let densities = levels
                .iter()
                .step_by(DENSITY_EVERY)
                .map(|&t| figure::density_image(&mixture, schedule.alpha_bar(t)))
                .collect::<Result<_, _>>()?;
            let weights =
                |frames: &Frames| figure::mode_fractions(&mixture, frames.last().map_or(&[][..], Vec::as_slice));
            Ok(Processes {
                sde_weights: weights(&sde)?,
                ode_weights: weights(&ode)?,
                sde,
                ode,
                levels,
                densities,
            })
        });
        Self {
            context: context.clone(),
            step: STEPS,
            runs,
            texture: None,
        }
    }

    fn density_texture(&mut self, ctx: &egui::Context) -> Option<egui::TextureHandle> {
        let index = self.step / DENSITY_EVERY;
        if self.texture.as_ref().is_none_or(|(i, _)| *i != index) {
            let image = self.runs.value()?.densities.get(index)?;
            self.texture = Some((index, figure::upload(ctx, "sde-ode-density", image)));
        }
        self.texture.as_ref().map(|(_, t)| t.clone())
    }
}

impl TheoryScene for SdeOdeScene {
    fn caption(&self) -> &'static str {
        "Reverse SDE dx = [f − g²∇log p_t]dt + g dw_rev (orange, w_rev a reverse-time Wiener process) and probability-flow ODE \
         dx/dt = f − ½g²∇log p_t (blue) from the same x_T, over the density p_t. Both have the \
         marginals p_t; only the ODE is deterministic."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.runs.poll();
        ui.horizontal(|ui| {
            ui.add(Slider::new(&mut self.step, 0..=STEPS).text("step"));
            if let Some(runs) = self.runs.value() {
                let t = runs.levels.get(self.step).copied().unwrap_or(0);
                let alpha_bar = self.context.schedule.alpha_bar(t);
                ui.label(format!("t = {t}, ᾱ_t = {alpha_bar:.4}"));
            }
            self.runs.status_ui(ui);
        });
        let Some(texture) = self.density_texture(ui.ctx()) else {
            return;
        };
        let Some(runs) = self.runs.value() else {
            return;
        };
        let mixture = &self.context.mixture;
        for (name, weights) in [
            ("reverse SDE", &runs.sde_weights),
            ("probability-flow ODE", &runs.ode_weights),
        ] {
            ui.label(format!(
                "{name}: final mode weights {}",
                figure::fractions_text(weights)
            ));
        }
        ui.label(format!("true weights: {}", figure::weights_text(mixture)));
        let size = egui::vec2(ui.available_width(), ui.available_height().max(150.0));
        let shown = |frames: &Frames| -> Frames { frames.iter().take(self.step + 1).cloned().collect() };
        let (sde, ode) = (shown(&runs.sde), shown(&runs.ode));
        figure::plane_plot("sde vs ode", size).show(ui, |plot_ui| {
            figure::density_ui(plot_ui, &texture);
            figure::paths_ui(
                plot_ui,
                "reverse SDE",
                &sde,
                PATHS,
                figure::STOCHASTIC.gamma_multiply(0.6),
            );
            figure::paths_ui(plot_ui, "probability-flow ODE", &ode, PATHS, figure::DETERMINISTIC);
            if let (Some(s), Some(o)) = (sde.last(), ode.last()) {
                figure::points_ui(
                    plot_ui,
                    "reverse SDE",
                    &s[..PATHS.min(s.len())],
                    3.0,
                    figure::STOCHASTIC,
                );
                figure::points_ui(
                    plot_ui,
                    "probability-flow ODE",
                    &o[..PATHS.min(o.len())],
                    3.0,
                    figure::DETERMINISTIC,
                );
            }
        });
    }
}
