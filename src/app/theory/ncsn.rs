//! The score-matching-and-NCSN scene's view; the figure is [`crate::figures::ncsn`].

use egui::Slider;

use super::scene_figure::SceneFigure;
use super::view;
use super::{SceneContext, TheoryScene};
use crate::figures::Figure;
use crate::figures::common::{fractions_text, weights_text};
use crate::figures::ncsn::{self, LEVELS, Ncsn, Setup};

/// The score-matching-and-NCSN scene.
pub struct NcsnScene {
    setup: Setup,
    /// The level drawn: changing it lays the result out again, it does not retrain.
    level: usize,
    /// The mixture's weights, "0.70 / 0.20 / 0.10".
    true_weights: String,
    figure: SceneFigure<Ncsn>,
}

impl NcsnScene {
    /// 1500 training steps, σ_min shown.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let setup = Setup::default();
        let mut scene = Self {
            level: setup.level,
            setup,
            true_weights: weights_text(&context.mixture),
            figure: SceneFigure::new(context, Ncsn::figure, 2),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let setup = Setup {
            level: self.level,
            ..self.setup
        };
        self.figure
            .restart(move |inputs, job| ncsn::compute(&setup, inputs, job));
    }

    fn numbers_ui(ui: &mut egui::Ui, figure: &Figure, result: &Ncsn, mixture: &str) {
        let number = |name: &str| figure.value(name).unwrap_or(f64::NAN);
        ui.label(format!(
            "Level {:.0} of {LEVELS}: σ = {:.3}, matching VP ᾱ = {:.4}.  One loss: σ²·DSM = {:.4} = ε-loss {:.4}.  \
             DSM {:.2} = ESM + C {:.2} (± {:.2}, Vincent 2011).",
            number("level"),
            number("σ"),
            number("ᾱ of the matching VP level"),
            number("σ² DSM"),
            number("ε-loss"),
            number("DSM"),
            number("ESM + C"),
            2.0 * number("standard error of DSM − ESM − C"),
        ));
        let (on_data, on_plane) = (number("ε error where the data are"), number("ε error over the plane"));
        ui.label(format!(
            "‖ε_θ − ε*‖² where the data are {on_data:.4}, over the whole plane {on_plane:.4} ({:.0}×).  \
             Mode weights: annealed {}, plain Langevin at σ_min {}, true {mixture}.",
            on_plane / on_data,
            fractions_text(&result.annealed_fractions),
            fractions_text(&result.plain_fractions),
        ));
    }
}

impl TheoryScene for NcsnScene {
    fn caption(&self) -> &'static str {
        "Score matching and NCSN (Song & Ermon 2019; Luo, §Score-based models): denoising score matching \
         at σ is the ε-loss over σ², and differs from matching the true score by a constant. Naive score \
         matching at one small σ fails three ways: the score of data on a manifold blows up, the learned \
         score is wrong where no data fall, and Langevin loses the mixture's weights. Perturbing with \
         geometric σ (VE: p ∗ N(0, σ²)) and annealing fixes all three; VP is VE scaled by √ᾱ."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        if self.figure.poll() && self.figure.value().is_some_and(|r| r.shown != self.level) {
            let level = self.level;
            self.figure.lay_out_with(|result| result.figure_at(level));
        }
        let (before, level_before) = (self.setup, self.level);
        ui.horizontal(|ui| {
            ui.add(Slider::new(&mut self.level, 1..=LEVELS).text("noise level (1 = σ_max)"));
            view::training_ui(ui, &mut self.setup.steps, &mut self.setup.seed, 3000);
            self.figure.status_ui(ui);
        });
        if self.setup != before {
            self.restart();
        } else if self.level != level_before {
            let level = self.level;
            self.figure.lay_out_with(|result| result.figure_at(level));
        }
        if let (Some(figure), Some(result)) = (self.figure.figure(), self.figure.value()) {
            Self::numbers_ui(ui, figure, result, &self.true_weights);
        }
        if let Some((figure, textures)) = self.figure.parts() {
            let height = ui.available_height().max(300.0);
            view::panel_rows_ui(ui, "ncsn", &figure.panels, textures, 3, height);
        }
    }
}
