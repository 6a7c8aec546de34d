//! Guidance on the labelled mixture, where every part is exact.
//! - Classifier guidance (Dhariwal & Nichol 2021, eq. 14):
//!   ∇log p_γ(x_t | y) = ∇log p(x_t) + γ ∇log p(y | x_t), with the exact noisy classifier.
//! - Classifier-free guidance (Ho & Salimans 2022, eq. 6): ε_γ = ε_u + γ (ε_c − ε_u).
//!
//! γ = 1 samples p(x | y) exactly; larger γ sharpens the class toward its mode,
//! and very large γ collapses it.

use std::sync::Arc;

use egui::{Color32, Slider};

use super::figure::{self, Point};
use super::job::Computation;
use super::{SceneContext, TheoryScene};
use crate::diffusion::denoiser::NoisyClassifier;
use crate::diffusion::guidance::{GuidanceConfig, GuidanceKind, Guided};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{SamplerConfig, build_sampler};
use crate::diffusion::{Denoiser, NoiseLevel, NoiseRng, Schedule};

/// Particles sampled.
const PARTICLES: usize = 800;

/// The settings a figure is computed for.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Setup {
    kind: GuidanceKind,
    class: u32,
    gamma: f64,
    t: usize,
}

/// The arrows at level t and the guided samples.
pub struct Guidance {
    /// (1 − ᾱ_t) × the unconditional score (classifier) or −√(1−ᾱ_t) ε_u (CFG).
    unconditional: Vec<Point>,
    /// The guidance term: γ ∇log p(y | x_t) or γ (ε_c − ε_u), scaled alike.
    guidance: Vec<Point>,
    /// Their sum: the guided field.
    guided: Vec<Point>,
    samples: Vec<Point>,
    /// The guided class, and how its samples came out.
    class: u32,
    statistics: Option<ClassStatistics>,
}

/// What the samples of the guided class look like.
struct ClassStatistics {
    /// The fraction of samples in the class's component.
    share: f64,
    /// The distance of their mean from the component's mean.
    offset: f64,
    /// Their per-axis standard deviation about their own mean.
    spread: f64,
    /// The component's own standard deviation.
    class_std: f64,
}

/// The guidance scene.
pub struct GuidanceScene {
    context: SceneContext,
    setup: Setup,
    grid: Vec<Point>,
    figure: Computation<Guidance>,
    backdrop: figure::Backdrop,
}

impl GuidanceScene {
    /// Classifier guidance toward class 1 (weight 0.2) at γ = 1.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            context: context.clone(),
            setup: Setup {
                kind: GuidanceKind::Classifier,
                class: 1,
                gamma: 1.0,
                t: 600,
            },
            grid: figure::arrow_grid(11),
            figure: Computation::default(),
            backdrop: figure::Backdrop::new(&context.repaint, &context.mixture, 1.0),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let setup = self.setup;
        let mixture = Arc::clone(&self.context.mixture);
        let schedule = Arc::clone(&self.context.schedule);
        let grid = self.grid.clone();
        self.figure.restart(&self.context.repaint, move |cancel| {
            let (unconditional, guidance) = fields(&mixture, &schedule, setup, &grid)?;
            let guided = unconditional
                .iter()
                .zip(&guidance)
                .map(|(u, g)| [u[0] + g[0], u[1] + g[1]])
                .collect();
            let config = GuidanceConfig {
                kind: setup.kind,
                scale: setup.gamma,
            };
            let model = Guided::new(mixture.as_ref(), Some(mixture.as_ref()), config).map_err(figure::message)?;
            let mut sampler = build_sampler(&SamplerConfig::default(), schedule).map_err(figure::message)?;
            let labels = vec![setup.class; PARTICLES];
            let mut rng = NoiseRng::seed_from(4);
            let start = rng
                .randn((PARTICLES, 2), &candle_core::Device::Cpu)
                .map_err(figure::message)?;
            let frames = figure::trace(sampler.as_mut(), &model, Some(&labels), &start, &mut rng, cancel)?;
            let samples = frames.and_then(|mut f| f.pop()).ok_or("cancelled")?;
            Ok(Guidance {
                unconditional,
                guidance,
                guided,
                statistics: class_statistics(&mixture, setup.class, &samples),
                class: setup.class,
                samples,
            })
        });
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.setup.kind, GuidanceKind::Classifier, "Classifier guidance");
            ui.selectable_value(&mut self.setup.kind, GuidanceKind::ClassifierFree, "Classifier-free");
            ui.separator();
            for class in 0..3 {
                ui.selectable_value(&mut self.setup.class, class, format!("class {class}"));
            }
        });
        ui.horizontal(|ui| {
            ui.add(Slider::new(&mut self.setup.gamma, 0.0..=10.0).text("γ (guidance)"));
            for gamma in [0.0, 1.0, 3.0, 8.0] {
                if ui.button(format!("γ = {gamma}")).clicked() {
                    self.setup.gamma = gamma;
                }
            }
            ui.add(Slider::new(&mut self.setup.t, 1..=1000).text("arrows at t"));
        });
    }
}

/// The share of samples in the class's component, how far their mean lies
/// from the component's mean, their per-axis spread about their own mean,
/// and the component's std.
fn class_statistics(mixture: &GaussianMixture, class: u32, samples: &[Point]) -> Option<ClassStatistics> {
    let k = mixture.components().iter().position(|c| c.label == Some(class))?;
    let component = &mixture.components()[k];
    let assigned = mixture.assign(&figure::tensor(samples).ok()?).ok()?;
    let inside: Vec<Point> = samples
        .iter()
        .zip(&assigned)
        .filter(|(_, a)| **a == k)
        .map(|(p, _)| *p)
        .collect();
    let (count, total) = (inside.len().max(1) as f64, samples.len().max(1) as f64);
    let mean = inside
        .iter()
        .fold([0.0, 0.0], |m, p| [m[0] + p[0] / count, m[1] + p[1] / count]);
    let squared: f64 = inside
        .iter()
        .map(|p| (p[0] - mean[0]).powi(2) + (p[1] - mean[1]).powi(2))
        .sum();
    Some(ClassStatistics {
        share: inside.len() as f64 / total,
        offset: (mean[0] - component.mean[0]).hypot(mean[1] - component.mean[1]),
        spread: (squared / (2.0 * count)).sqrt(),
        class_std: component.std,
    })
}

/// The unconditional field and the guidance term on the grid, as steps of
/// (1 − ᾱ_t) × score (= −√(1 − ᾱ_t) ε).
fn fields(
    mixture: &GaussianMixture,
    schedule: &Schedule,
    setup: Setup,
    grid: &[Point],
) -> Result<(Vec<Point>, Vec<Point>), String> {
    let alpha_bar = schedule.alpha_bar(setup.t);
    let level = NoiseLevel {
        t: setup.t as f64,
        alpha_bar,
    };
    let x = figure::tensor(grid)?;
    let labels = vec![setup.class; grid.len()];
    let scale = |p: Vec<Point>, by: f64| p.iter().map(|v| [v[0] * by, v[1] * by]).collect::<Vec<_>>();
    match setup.kind {
        GuidanceKind::Classifier => {
            let score = mixture.score(&x, alpha_bar, None).map_err(figure::message)?;
            let grad = mixture.log_prob_grad(&x, level, &labels).map_err(figure::message)?;
            let step = 1.0 - alpha_bar;
            Ok((
                scale(figure::points(&score)?, step),
                scale(figure::points(&grad)?, step * setup.gamma),
            ))
        }
        GuidanceKind::ClassifierFree => {
            let epsilon = |labels: Option<&[u32]>| -> Result<Vec<Point>, String> {
                let out = mixture.predict(&x, level, labels).map_err(figure::message)?;
                figure::points(&out.prediction.epsilon(&x, alpha_bar).map_err(figure::message)?)
            };
            let (eps_u, eps_c) = (epsilon(None)?, epsilon(Some(&labels))?);
            let toward_data = -(1.0 - alpha_bar).sqrt();
            let difference: Vec<Point> = eps_c
                .iter()
                .zip(&eps_u)
                .map(|(c, u)| [c[0] - u[0], c[1] - u[1]])
                .collect();
            Ok((scale(eps_u, toward_data), scale(difference, toward_data * setup.gamma)))
        }
    }
}

impl TheoryScene for GuidanceScene {
    fn caption(&self) -> &'static str {
        "Classifier guidance: ∇log p_γ(x_t|y) = ∇log p(x_t) + γ∇log p(y|x_t). Classifier-free: \
         ε_γ = ε_u + γ(ε_c − ε_u). Arrows are steps toward the data, (1−ᾱ_t)∇log p = −√(1−ᾱ_t) ε. \
         γ = 1 samples p(x|y) exactly; larger γ sharpens the class, then collapses it."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.figure.poll();
        self.backdrop.poll(ui.ctx());
        let before = self.setup;
        self.controls_ui(ui);
        if self.setup != before {
            self.restart();
        }
        let Some(figure) = self.figure.value() else {
            self.figure.status_ui(ui);
            self.backdrop.status_ui(ui);
            return;
        };
        ui.horizontal(|ui| {
            if let Some(stats) = &figure.statistics {
                ui.label(format!(
                    "samples in class {}: {:.1} %, their mean {:.3} from the class mean, per-axis spread {:.3} (the class alone: {:.3})",
                    figure.class,
                    100.0 * stats.share,
                    stats.offset,
                    stats.spread,
                    stats.class_std
                ));
            }
            self.figure.status_ui(ui);
            self.backdrop.status_ui(ui);
        });
        let (u_name, g_name, sum_name) = match self.setup.kind {
            GuidanceKind::Classifier => ("∇log p(x_t)", "γ∇log p(y|x_t)", "guided score"),
            GuidanceKind::ClassifierFree => ("−ε_u", "−γ(ε_c − ε_u)", "−ε_γ (guided)"),
        };
        let size = egui::vec2(ui.available_width() / 2.0 - 8.0, ui.available_height().max(150.0));
        ui.horizontal(|ui| {
            figure::plane_plot("guidance arrows", size).show(ui, |plot_ui| {
                let arrows = [
                    (u_name, &figure.unconditional, Color32::GRAY),
                    (g_name, &figure.guidance, figure::STOCHASTIC),
                    (sum_name, &figure.guided, Color32::from_rgb(120, 200, 110)),
                ];
                for (name, vectors, color) in arrows {
                    let tips = figure::arrow_tips(&self.grid, vectors, 0.6);
                    figure::arrows_ui(plot_ui, name, &self.grid, &tips, color);
                }
            });
            figure::plane_plot("guided samples", size).show(ui, |plot_ui| {
                self.backdrop.ui(plot_ui);
                figure::points_ui(
                    plot_ui,
                    &format!("samples, γ = {:.1}", self.setup.gamma),
                    &figure.samples,
                    1.5,
                    figure::DETERMINISTIC,
                );
            });
        });
    }
}
