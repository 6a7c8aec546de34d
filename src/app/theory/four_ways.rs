//! The four-parameterizations scene's view; the figure is
//! [`crate::figures::four_ways`].

use egui::Slider;

use super::job::Computation;
use super::view::{self, FigureCache, Textures};
use super::{SceneContext, TheoryScene};
use crate::figures::data::Point;
use crate::figures::four_ways::{self, FourWays, Setup};

/// The four-ways scene.
pub struct FourWaysScene {
    context: SceneContext,
    setup: Setup,
    figure: Computation<FourWays>,
    textures: Textures,
    /// The figure, laid out once per result (and shown step).
    laid_out: FigureCache<()>,
}

fn vector_text(p: Point) -> String {
    format!("({:.4}, {:.4})", p[0], p[1])
}

impl FourWaysScene {
    /// t = 300 of the linear schedule.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            context: context.clone(),
            setup: Setup::default(),
            figure: Computation::default(),
            textures: Textures::default(),
            laid_out: FigureCache::default(),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let (setup, inputs) = (self.setup, self.context.inputs.clone());
        self.figure.restart(&self.context.repaint, move |_| {
            four_ways::compute(&setup, &inputs).map_err(String::from)
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
}

impl TheoryScene for FourWaysScene {
    fn caption(&self) -> &'static str {
        "One prediction, four parameterizations: x_θ = (x_t − √(1−ᾱ_t) ε_θ)/√ᾱ_t, s_θ = ∇log p_t(x_t) = \
         −ε_θ/√(1−ᾱ_t), v_θ = √ᾱ_t ε_θ − √(1−ᾱ_t) x_θ. Arrows from x_t: √(1−ᾱ_t) ε_θ, √ᾱ_t x_θ − x_t, \
         (1−ᾱ_t) s_θ and v_θ."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        if self.figure.poll() {
            self.laid_out.clear();
            self.textures.clear();
        }
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
            let panels = &self.laid_out.get((), || f.figure()).panels;
            view::panels_ui(
                ui,
                "four ways",
                panels,
                &mut self.textures,
                ui.available_height().max(150.0),
            );
        }
    }
}
