//! The loss-weights scene's view; the figure is [`crate::figures::loss_weights`].

use super::scene_figure::SceneFigure;
use super::view;
use super::{SceneContext, TheoryScene};
use crate::figures::Figure;
use crate::figures::loss_weights::{self, LossWeights, Setup};

/// The loss-weights scene: the weights at once, then the two trained models.
pub struct LossWeightsScene {
    setup: Setup,
    /// The weights alone (instant), shown while the models train.
    weights: SceneFigure<LossWeights>,
    /// The weights and both trained models.
    trained: SceneFigure<LossWeights>,
}

impl LossWeightsScene {
    /// Draws the weights and starts training both models (about a minute on two cores).
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            setup: Setup::default(),
            weights: SceneFigure::new(context, LossWeights::figure, 2),
            trained: SceneFigure::new(context, LossWeights::figure, 2),
        };
        scene.weights.restart(|inputs, job| {
            let weights_only = Setup { steps: 0, seed: 0 };
            loss_weights::compute(&weights_only, inputs, job)
        });
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let setup = self.setup;
        self.trained
            .restart(move |inputs, job| loss_weights::compute(&setup, inputs, job));
    }

    fn numbers_ui(ui: &mut egui::Ui, figure: &Figure) {
        for loss in ["simple", "elbo"] {
            let number = |what: &str| figure.value(&format!("{loss}: {what}")).unwrap_or(f64::NAN);
            ui.label(format!(
                "trained with {loss}: relative ε error {:.4} at t ≤ 30, {:.4} at t ≥ 300; samples: {:.0} % in the 0.7 mode, \
                 {:.1} % off the data (> 3 std from every mode)",
                number("mean relative ε error, t ≤ 30"),
                number("mean relative ε error, t ≥ 300"),
                100.0 * number("samples in the heaviest mode"),
                100.0 * number("samples off the data"),
            ));
        }
    }
}

impl TheoryScene for LossWeightsScene {
    fn caption(&self) -> &'static str {
        "The ELBO's term at t is ½(SNR(t−1) − SNR(t))‖x0 − x_θ‖², the same as ½(SNR(t−1)/SNR(t) − 1)‖ε − ε_θ‖² \
         (DDPM eq. 12), ×(1−ᾱ_t) on the score and on v. L_simple weights ‖ε − ε_θ‖² by 1 instead, moving \
         weight from small t to large t. Below: the 2D MLP trained both ways (DDPM's ablation in miniature)."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.weights.poll();
        self.trained.poll();
        let before = self.setup;
        ui.horizontal(|ui| {
            ui.add(egui::Slider::new(&mut self.setup.steps, 100..=5000).text("training steps"));
            ui.add(egui::DragValue::new(&mut self.setup.seed).prefix("Seed "));
            self.trained.status_ui(ui);
        });
        if self.setup != before {
            self.restart();
        }
        let shown = if self.trained.figure().is_some() {
            &mut self.trained
        } else {
            &mut self.weights
        };
        let Some((figure, textures)) = shown.parts() else {
            return;
        };
        if figure.panels.len() > 2 {
            Self::numbers_ui(ui, figure);
        }
        view::panel_rows_ui(ui, "loss-weights", &figure.panels, textures, 2, ui.available_height());
    }
}
