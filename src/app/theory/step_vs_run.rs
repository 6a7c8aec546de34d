//! The step-k-against-a-k-step-run scene's view; the figure is
//! [`crate::figures::step_vs_run`].

use egui::Slider;

use super::scene_figure::SceneFigure;
use super::view::{self, Textures};
use super::{SceneContext, TheoryScene};
use crate::figures::Figure;
use crate::figures::step_vs_run::{self, Setup, StepVsRun};

/// The scene.
pub struct StepVsRunScene {
    setup: Setup,
    figure: SceneFigure<StepVsRun>,
}

impl StepVsRunScene {
    /// Step 10 of 50 against a 10-step run.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            setup: Setup::default(),
            figure: SceneFigure::new(context, StepVsRun::figure, 2),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let setup = self.setup;
        self.figure.restart(move |_, job| step_vs_run::compute(&setup, job));
    }

    /// The σ curves at the left, the three rows of images at the right.
    fn layout_ui(ui: &mut egui::Ui, figure: &Figure, textures: &mut [Textures]) {
        let [curves, images] = textures else {
            return;
        };
        let (width, height) = (ui.available_width(), ui.available_height().max(300.0));
        let spacing = ui.spacing().item_spacing.x;
        let per_row = 4.0;
        // Three rows of images with a caption each, as large as the height allows.
        let side = ((height - 3.0 * 28.0) / 3.0).min((width * 0.55 - 3.0 * spacing) / per_row);
        ui.horizontal_top(|ui| {
            let plot_width = width - per_row * (side + spacing) - spacing;
            ui.allocate_ui(egui::vec2(plot_width, height), |ui| {
                view::panels_ui(ui, "step-vs-run", &figure.panels, curves, height - 24.0);
            });
            ui.vertical(|ui| view::images_ui(ui, &figure.images, images, 4, side));
        });
    }
}

impl TheoryScene for StepVsRunScene {
    fn caption(&self) -> &'static str {
        "Why does step 10 of a 50-step run not look like a 10-step run? From the same x_T and the same \
         DDIM, step k of N stands at t_k of the N-step spacing, still noisy (and its x̂0, what a preview \
         shows, is a blurred guess); the k-step run has walked its own spacing to t = 0. The σ each has \
         reached after every step tells them apart."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.figure.poll();
        let before = self.setup;
        ui.horizontal(|ui| {
            ui.add(
                Slider::new(&mut self.setup.total_steps, 2..=200)
                    .logarithmic(true)
                    .text("N, the long run"),
            );
            self.setup.step = self.setup.step.min(self.setup.total_steps);
            ui.add(Slider::new(&mut self.setup.step, 1..=self.setup.total_steps).text("k"));
            self.figure.status_ui(ui);
        });
        if self.setup != before {
            self.restart();
        }
        if let Some(figure) = self.figure.figure() {
            let number = |name: &str| figure.value(name).unwrap_or(f64::NAN);
            ui.label(format!(
                "Step {} of {}: t = {:.0}, σ = {:.3}.  The {}-step run's end: σ = {:.0}.",
                self.setup.step,
                self.setup.total_steps,
                number("t of the long run at step k"),
                number(&format!("σ of the {}-step run at step k", self.setup.total_steps)),
                self.setup.step,
                number("σ of the k-step run at its end"),
            ));
        }
        if let Some((figure, textures)) = self.figure.parts() {
            Self::layout_ui(ui, figure, textures);
        }
    }
}
