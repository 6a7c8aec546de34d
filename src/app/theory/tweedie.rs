//! The Tweedie's-formula scene's view; the figure is [`crate::figures::tweedie`].

use egui::Slider;

use super::scene_figure::SceneFigure;
use super::view;
use super::{SceneContext, TheoryScene};
use crate::figures::Figure;
use crate::figures::tweedie::{self, Setup, Tweedie};

/// The Tweedie's-formula scene.
pub struct TweedieScene {
    setup: Setup,
    figure: SceneFigure<Tweedie>,
}

impl TweedieScene {
    /// t = 300, 40 particles.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            setup: Setup::default(),
            figure: SceneFigure::new(context, Tweedie::figure, 1),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let setup = self.setup;
        self.figure
            .restart(move |inputs, job| tweedie::compute(&setup, inputs, job));
    }

    fn numbers_ui(ui: &mut egui::Ui, figure: &Figure) {
        let number = |name: &str| figure.value(name).unwrap_or(f64::NAN);
        ui.label(format!(
            "ᾱ_t = {:.4}.  Largest |Tweedie − Bayes| over the particles: {:.1e} (rounding).",
            number("ᾱ_t"),
            number("largest |Tweedie − Bayes|"),
        ));
        ui.label(format!(
            "Mean ‖x0 − guess‖² at t = {:.0} over 2000 points: E[x0|x_t] {:.4}, x_t/√ᾱ_t {:.4}, E[x0] {:.4}",
            number("t"),
            number("mean squared error of E[x0|x_t]"),
            number("mean squared error of x_t/√ᾱ_t"),
            number("mean squared error of E[x0]"),
        ));
    }
}

impl TheoryScene for TweedieScene {
    fn caption(&self) -> &'static str {
        "Tweedie's formula (Luo, §Tweedie): E[x0|x_t] = (x_t + (1−ᾱ_t)∇log p_t(x_t))/√ᾱ_t. From the exact \
         score it equals Bayes' posterior mean, and it is the best guess of x0: better than undoing the \
         scaling (x_t/√ᾱ_t) or ignoring x_t (E[x0]). The x_θ arrow of Four parameterizations points at √ᾱ_t E[x0|x_t]."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.figure.poll();
        let before = self.setup;
        ui.horizontal(|ui| {
            ui.add(Slider::new(&mut self.setup.t, 1..=1000).text("t"));
            ui.add(Slider::new(&mut self.setup.particles, 1..=200).text("particles"));
            ui.add(egui::DragValue::new(&mut self.setup.seed).prefix("Seed "));
            self.figure.status_ui(ui);
        });
        if self.setup != before {
            self.restart();
        }
        if let Some((figure, [textures])) = self.figure.parts() {
            Self::numbers_ui(ui, figure);
            view::panels_ui(
                ui,
                "tweedie",
                &figure.panels,
                textures,
                ui.available_height().max(150.0),
            );
        }
    }
}
