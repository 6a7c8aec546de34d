//! The EDM scene's view; the figure is [`crate::figures::edm`].

use egui::Slider;

use super::scene_figure::SceneFigure;
use super::view;
use super::{SceneContext, TheoryScene};
use crate::figures::Figure;
use crate::figures::common::weights_text;
use crate::figures::edm::{self, Edm, Setup};

/// The EDM scene.
pub struct EdmScene {
    setup: Setup,
    true_weights: String,
    figure: SceneFigure<Edm>,
}

impl EdmScene {
    /// EDM's 18 levels and S_churn = 40.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            setup: Setup::default(),
            true_weights: weights_text(&context.mixture),
            figure: SceneFigure::new(context, Edm::figure, 2),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let setup = self.setup;
        self.figure
            .restart(move |inputs, job| edm::compute(&setup, inputs, job));
    }

    fn numbers_ui(ui: &mut egui::Ui, figure: &Figure, true_weights: &str) {
        let number = |name: &str| figure.value(name).unwrap_or(f64::NAN);
        let weights = |sampler: &str| {
            (1..=3)
                .map(|k| format!("{:.2}", number(&format!("{sampler}: weight of mode {k}"))))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        ui.label(format!(
            "EDM Heun: {:.0} model evaluations, mode weights {}; stochastic: {}; true {true_weights}.",
            number("EDM Heun model evaluations"),
            weights("Heun"),
            weights("stochastic"),
        ));
    }
}

impl TheoryScene for EdmScene {
    fn caption(&self) -> &'static str {
        "EDM (Karras et al. 2022) designs in σ = √((1 − ᾱ)/ᾱ), the noise level of x/√ᾱ: every VP schedule \
         is a curve σ(t). Its ρ = 7 spacing (eq. 5) spends the steps at small σ; its preconditioning keeps \
         the network's input and target at unit variance; Heun in σ (Algorithm 1) needs 2N − 1 evaluations, \
         and churn (Algorithm 2) adds noise back where it corrects errors."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.figure.poll();
        let before = self.setup;
        ui.horizontal(|ui| {
            ui.add(
                Slider::new(&mut self.setup.steps, 2..=100)
                    .logarithmic(true)
                    .text("Karras levels N"),
            );
            ui.add(Slider::new(&mut self.setup.churn, 0.0..=80.0).text("S_churn"));
            self.figure.status_ui(ui);
        });
        if self.setup != before {
            self.restart();
        }
        if let Some(figure) = self.figure.figure() {
            Self::numbers_ui(ui, figure, &self.true_weights);
        }
        if let Some((figure, textures)) = self.figure.parts() {
            let height = ui.available_height().max(300.0);
            view::panel_rows_ui(ui, "edm", &figure.panels, textures, 2, height);
        }
    }
}
