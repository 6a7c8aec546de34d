//! One output, four ways (Ho et al. 2020, eq. 15; Song et al. 2021; Salimans &
//! Ho 2022, §4). The exact denoiser's answer at one x_t, expressed as ε_θ, x_θ,
//! the score s_θ and v_θ by the engine's conversions, with the formulas written out
//! and drawn as arrows from x_t.

use std::sync::Arc;

use egui::{Color32, Slider};

use super::figure::{self, Point};
use super::job::Computation;
use super::{SceneContext, TheoryScene};
use crate::diffusion::param::{Prediction, PredictionType};
use crate::diffusion::sampler::add_noise;
use crate::diffusion::{Denoiser, NoiseLevel, NoiseRng};

/// The settings a figure is computed for.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Setup {
    t: usize,
    seed: u64,
}

/// x0, the noise, x_t and the four predictions.
pub struct FourWays {
    x0: Point,
    noise: Point,
    x_t: Point,
    alpha_bar: f64,
    /// ε_θ, x_θ, s_θ, v_θ, in that order.
    predictions: [Point; 4],
}

/// The four-ways scene.
pub struct FourWaysScene {
    context: SceneContext,
    setup: Setup,
    figure: Computation<FourWays>,
}

const KINDS: [(PredictionType, &str, Color32); 4] = [
    (PredictionType::Epsilon, "ε_θ", Color32::from_rgb(240, 150, 60)),
    (PredictionType::Sample, "x_θ", Color32::from_rgb(120, 200, 110)),
    (PredictionType::Score, "s_θ", Color32::from_rgb(100, 180, 250)),
    (PredictionType::Velocity, "v_θ", Color32::from_rgb(230, 120, 200)),
];

fn vector_text(p: Point) -> String {
    format!("({:.4}, {:.4})", p[0], p[1])
}

impl FourWaysScene {
    /// t = 300 of the linear schedule.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            context: context.clone(),
            setup: Setup { t: 300, seed: 2 },
            figure: Computation::default(),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let setup = self.setup;
        let mixture = Arc::clone(&self.context.mixture);
        let schedule = Arc::clone(&self.context.schedule);
        self.figure.restart(&self.context.repaint, move |_| {
            let mut rng = NoiseRng::seed_from(setup.seed);
            let (x0, _) = mixture.sample(1, None, &mut rng).map_err(figure::message)?;
            let noise = rng.randn((1, 2), &candle_core::Device::Cpu).map_err(figure::message)?;
            let x_t = add_noise(&schedule, &x0, &noise, setup.t).map_err(figure::message)?;
            let alpha_bar = schedule.alpha_bar(setup.t);
            let level = NoiseLevel {
                t: setup.t as f64,
                alpha_bar,
            };
            let out = mixture.predict(&x_t, level, None).map_err(figure::message)?;
            let convert = |kind: PredictionType| -> Result<Point, String> {
                let p: Prediction = out.prediction.to_kind(kind, &x_t, alpha_bar).map_err(figure::message)?;
                first(&p.value)
            };
            Ok(FourWays {
                x0: first(&x0)?,
                noise: first(&noise)?,
                x_t: first(&x_t)?,
                alpha_bar,
                predictions: [
                    convert(KINDS[0].0)?,
                    convert(KINDS[1].0)?,
                    convert(KINDS[2].0)?,
                    convert(KINDS[3].0)?,
                ],
            })
        });
    }

    fn formulas_ui(ui: &mut egui::Ui, f: &FourWays) {
        let (a, s) = (f.alpha_bar.sqrt(), (1.0 - f.alpha_bar).sqrt());
        let [eps, x0, score, v] = f.predictions;
        ui.label(format!(
            "x0 = {} (drawn from the mixture), ε = {} (the noise added)",
            vector_text(f.x0),
            vector_text(f.noise)
        ));
        ui.label(format!(
            "x_t = √ᾱ_t x0 + √(1−ᾱ_t) ε = {}, ᾱ_t = {:.6}",
            vector_text(f.x_t),
            f.alpha_bar
        ));
        egui::Grid::new("four ways formulas").striped(true).show(ui, |ui| {
            ui.label(format!("ε_θ = {}", vector_text(eps)));
            ui.label("the model's estimate of the noise ε");
            ui.end_row();
            ui.label(format!("x_θ = {}", vector_text(x0)));
            ui.label(format!(
                "= (x_t − √(1−ᾱ_t) ε_θ)/√ᾱ_t = ({:.4}, {:.4})",
                (f.x_t[0] - s * eps[0]) / a,
                (f.x_t[1] - s * eps[1]) / a
            ));
            ui.end_row();
            ui.label(format!("s_θ = {}", vector_text(score)));
            ui.label(format!("= −ε_θ/√(1−ᾱ_t) = ({:.4}, {:.4})", -eps[0] / s, -eps[1] / s));
            ui.end_row();
            ui.label(format!("v_θ = {}", vector_text(v)));
            ui.label(format!(
                "= √ᾱ_t ε_θ − √(1−ᾱ_t) x_θ = ({:.4}, {:.4})",
                a * eps[0] - s * x0[0],
                a * eps[1] - s * x0[1]
            ));
            ui.end_row();
        });
    }

    fn arrows_ui(ui: &mut egui::Ui, f: &FourWays) {
        let (a, s) = (f.alpha_bar.sqrt(), (1.0 - f.alpha_bar).sqrt());
        let [eps, x0, score, v] = f.predictions;
        // Each drawn as the displacement it implies at x_t, in data units.
        let displacements = [
            [s * eps[0], s * eps[1]],
            [a * x0[0] - f.x_t[0], a * x0[1] - f.x_t[1]],
            [(1.0 - f.alpha_bar) * score[0], (1.0 - f.alpha_bar) * score[1]],
            v,
        ];
        let size = egui::vec2(ui.available_width(), ui.available_height().max(150.0));
        figure::plane_plot("four ways", size).show(ui, |plot_ui| {
            figure::points_ui(plot_ui, "x0", &[f.x0], 5.0, Color32::WHITE);
            figure::points_ui(plot_ui, "x_t", &[f.x_t], 5.0, Color32::GRAY);
            for ((_, name, color), d) in KINDS.iter().zip(displacements) {
                let tip = [f.x_t[0] + d[0], f.x_t[1] + d[1]];
                figure::arrows_ui(plot_ui, name, &[f.x_t], &[tip], *color);
            }
        });
    }
}

fn first(x: &candle_core::Tensor) -> Result<Point, String> {
    figure::points(x)?.first().copied().ok_or_else(|| "empty tensor".into())
}

impl TheoryScene for FourWaysScene {
    fn caption(&self) -> &'static str {
        "One prediction, four parameterizations: x_θ = (x_t − √(1−ᾱ_t) ε_θ)/√ᾱ_t, s_θ = ∇log p_t(x_t) = \
         −ε_θ/√(1−ᾱ_t), v_θ = √ᾱ_t ε_θ − √(1−ᾱ_t) x_θ. Arrows from x_t: √(1−ᾱ_t) ε_θ, √ᾱ_t x_θ − x_t, \
         (1−ᾱ_t) s_θ and v_θ."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.figure.poll();
        let before = self.setup;
        ui.horizontal(|ui| {
            ui.add(Slider::new(&mut self.setup.t, 1..=999).text("t"));
            ui.add(egui::DragValue::new(&mut self.setup.seed).prefix("Seed "));
            self.figure.status_ui(ui);
        });
        if self.setup != before {
            self.restart();
        }
        if let Some(f) = self.figure.value() {
            Self::formulas_ui(ui, f);
            Self::arrows_ui(ui, f);
        }
    }
}
