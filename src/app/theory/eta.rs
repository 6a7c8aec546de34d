//! DDPM vs DDIM (Song, Meng & Ermon 2021, eq. 12 and 16): one family of
//! samplers, x_s = √ᾱ_s x_θ + √(1 − ᾱ_s − σ²) ε_θ + σ z with
//! σ = η √((1 − ᾱ_s)/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_s). η = 0 is deterministic DDIM,
//! η = 1 is DDPM. The same x_T and the same noise draws for every η, so the
//! paths morph as the slider moves.

use std::sync::Arc;

use egui::Slider;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::figure::{self, Frames};
use super::job::Computation;
use super::{SceneContext, TheoryScene};
use crate::diffusion::sampler::{SamplerConfig, SamplerKind, build_sampler};
use crate::diffusion::schedule::posterior_variance_between;
use crate::diffusion::{NoiseRng, Schedule};

/// Particles whose paths are drawn.
const PARTICLES: usize = 24;
/// Sampling steps.
const STEPS: usize = 50;

/// The η scene.
pub struct EtaScene {
    context: SceneContext,
    eta: f64,
    seed: u64,
    paths: Computation<Frames>,
    backdrop: figure::Backdrop,
}

impl EtaScene {
    /// Starts at η = 0 (DDIM).
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            context: context.clone(),
            eta: 0.0,
            seed: 1,
            paths: Computation::default(),
            backdrop: figure::Backdrop::new(&context.repaint, &context.mixture, 1.0),
        };
        scene.restart();
        scene
    }

    fn config(&self) -> SamplerConfig {
        SamplerConfig {
            kind: SamplerKind::Ddim,
            steps: STEPS,
            eta: self.eta,
            ..SamplerConfig::default()
        }
    }

    fn restart(&mut self) {
        let config = self.config();
        let mixture = Arc::clone(&self.context.mixture);
        let schedule = Arc::clone(&self.context.schedule);
        let seed = self.seed;
        self.paths.restart(&self.context.repaint, move |cancel| {
            let mut sampler = build_sampler(&config, schedule).map_err(figure::message)?;
            let mut rng = NoiseRng::seed_from(seed);
            let start = rng
                .randn((PARTICLES, 2), &candle_core::Device::Cpu)
                .map_err(figure::message)?;
            let frames = figure::trace(sampler.as_mut(), mixture.as_ref(), None, &start, &mut rng, cancel)?;
            frames.ok_or_else(|| "cancelled".to_owned())
        });
    }

    /// σ_t(η) at each visited step, as (t, σ) points.
    fn sigmas(&self, eta: f64) -> Vec<[f64; 2]> {
        let schedule: &Schedule = &self.context.schedule;
        let Ok(sampler) = build_sampler(&self.config(), Arc::clone(&self.context.schedule)) else {
            return Vec::new();
        };
        let timesteps = sampler.timesteps();
        timesteps
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let s = timesteps.get(i + 1).copied().unwrap_or(0);
                let variance = posterior_variance_between(schedule.alpha_bar(t), schedule.alpha_bar(s));
                [t as f64, eta * variance.sqrt()]
            })
            .collect()
    }

    fn paths_ui(&mut self, ui: &mut egui::Ui, size: egui::Vec2) {
        self.backdrop.poll(ui.ctx());
        figure::plane_plot("eta paths", size).show(ui, |plot_ui| {
            self.backdrop.ui(plot_ui);
            if let Some(frames) = self.paths.value() {
                let color = if self.eta > 0.0 {
                    figure::STOCHASTIC
                } else {
                    figure::DETERMINISTIC
                };
                let name = format!("paths at η = {:.2}", self.eta);
                figure::paths_ui(plot_ui, &name, frames, PARTICLES, color);
                if let Some(ends) = frames.last() {
                    figure::points_ui(plot_ui, &name, ends, 3.0, color);
                }
            }
        });
    }

    fn sigma_ui(&self, ui: &mut egui::Ui, size: egui::Vec2) {
        Plot::new("sigma of eta")
            .width(size.x)
            .height(size.y)
            .legend(Legend::default())
            .x_axis_label("t")
            .include_y(0.0)
            .show(ui, |plot_ui| {
                plot_ui.line(
                    Line::new("σ_t at η = 1 (DDPM, √β_post)", PlotPoints::from(self.sigmas(1.0)))
                        .color(egui::Color32::GRAY)
                        .style(egui_plot::LineStyle::dashed_loose()),
                );
                plot_ui.line(
                    Line::new(
                        format!("σ_t(η = {:.2})", self.eta),
                        PlotPoints::from(self.sigmas(self.eta)),
                    )
                    .color(figure::STOCHASTIC)
                    .width(2.0),
                );
            });
    }
}

/// The mean length of the drawn paths: how far the particles wander.
fn mean_path_length(frames: &Frames) -> f64 {
    let particles = frames.first().map_or(0, Vec::len);
    let total: f64 = (0..particles)
        .map(|i| {
            figure::path(frames, i)
                .windows(2)
                .map(|w| (w[1][0] - w[0][0]).hypot(w[1][1] - w[0][1]))
                .sum::<f64>()
        })
        .sum();
    total / particles.max(1) as f64
}

impl TheoryScene for EtaScene {
    fn caption(&self) -> &'static str {
        "x_s = √ᾱ_s x_θ + √(1 − ᾱ_s − σ²) ε_θ + σ z, σ = η √((1−ᾱ_s)/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_s). \
         Same x_T, same noise: η = 0 (DDIM) follows smooth deterministic paths, η = 1 is DDPM's \
         jittery random walk."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.paths.poll();
        let before = (self.eta, self.seed);
        ui.horizontal(|ui| {
            ui.add(Slider::new(&mut self.eta, 0.0..=1.0).text("η"));
            if ui.button("DDIM (η = 0)").clicked() {
                self.eta = 0.0;
            }
            if ui.button("DDPM (η = 1)").clicked() {
                self.eta = 1.0;
            }
            ui.add(egui::DragValue::new(&mut self.seed).prefix("Seed "));
        });
        if (self.eta, self.seed) != before {
            self.restart();
        }
        ui.horizontal(|ui| {
            if let Some(frames) = self.paths.value() {
                ui.label(format!("mean path length: {:.3}", mean_path_length(frames)));
            }
            if let Some([t, sigma]) = self.sigmas(self.eta).first() {
                ui.label(format!("σ at the first step (from t = {t}): {sigma:.4}"));
            }
            self.paths.status_ui(ui);
            self.backdrop.status_ui(ui);
        });
        let size = egui::vec2(ui.available_width() / 2.0 - 8.0, ui.available_height().max(150.0));
        ui.horizontal(|ui| {
            self.paths_ui(ui, size);
            self.sigma_ui(ui, size);
        });
    }
}
