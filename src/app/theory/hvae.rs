//! The hierarchical-VAE-to-diffusion scene's view; the figure is
//! [`crate::figures::hvae`].

use egui::Slider;

use super::scene_figure::SceneFigure;
use super::view;
use super::{SceneContext, TheoryScene};
use crate::figures::Figure;
use crate::figures::hvae::{self, DIFFUSION_STEPS, HvaeToDiffusion, STAGES, Setup};

/// The hierarchical-VAE-to-diffusion scene.
pub struct HvaeScene {
    setup: Setup,
    /// The stage and the T drawn: changing them lays the result out again.
    shown: (usize, usize),
    figure: SceneFigure<HvaeToDiffusion>,
}

impl HvaeScene {
    /// 1000 steps per stage; stage 4 and T = 1000 drawn.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let setup = Setup::default();
        let mut scene = Self {
            shown: (setup.stage, setup.diffusion_steps),
            setup,
            figure: SceneFigure::new(context, HvaeToDiffusion::figure, 2),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let setup = Setup {
            stage: self.shown.0,
            diffusion_steps: self.shown.1,
            ..self.setup
        };
        self.figure
            .restart(move |inputs, job| hvae::compute(&setup, inputs, job));
    }

    fn lay_out_again(&mut self) {
        let (stage, steps) = self.shown;
        self.figure.lay_out_with(|result| result.figure_at(stage, steps));
    }

    fn numbers_ui(ui: &mut egui::Ui, figure: &Figure, stage: usize) {
        let number = |name: &str| figure.value(name).unwrap_or(f64::NAN);
        let n = stage;
        ui.label(format!(
            "Stage {n}, {}: ELBO {:.2} = reconstruction {:.2} + consistency {:.2} + prior matching {:.2} nats.  \
             Learned: encoder {:.0}, decoder {:.0} numbers.  Samples near a mode: {:.0} %.",
            STAGES[n.clamp(1, STAGES.len()) - 1],
            number(&format!("stage {n}: ELBO")),
            number(&format!("stage {n}: reconstruction")),
            number(&format!("stage {n}: consistency")),
            number(&format!("stage {n}: prior matching")),
            number(&format!("stage {n}: encoder parameters")),
            number(&format!("stage {n}: decoder parameters")),
            100.0 * number(&format!("stage {n}: samples near a mode")),
        ));
        let diffusion: Vec<String> = DIFFUSION_STEPS
            .iter()
            .map(|t| {
                format!(
                    "T = {t}: −ELBO {:.2}, {:.0} % near a mode",
                    number(&format!("T = {t}: −ELBO")),
                    100.0 * number(&format!("T = {t}: samples near a mode")),
                )
            })
            .collect();
        ui.label(format!("Diffusion with the best mean:  {}.", diffusion.join(";  ")));
    }
}

impl TheoryScene for HvaeScene {
    fn caption(&self) -> &'static str {
        "From the hierarchical VAE to diffusion (Luo, §VDM): a Markovian HVAE with three latent levels, then \
         its three constraints one at a time: latents the data's size, the encoder fixed to \
         N(√α_t x_{t−1}, (1−α_t) I), and α_t chosen so that q(x_T) → N(0, I). What is left to learn is the \
         decoder: a diffusion model. Then diffusion models at T = 2, 10, 100, 1000."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        if self.figure.poll()
            && self
                .figure
                .value()
                .is_some_and(|r| (r.setup.stage, r.setup.diffusion_steps) != self.shown)
        {
            self.lay_out_again();
        }
        let (before, shown_before) = (self.setup, self.shown);
        ui.horizontal(|ui| {
            ui.add(Slider::new(&mut self.shown.0, 1..=STAGES.len()).text("stage"));
            ui.label("diffusion T:");
            for t in DIFFUSION_STEPS {
                ui.selectable_value(&mut self.shown.1, t, t.to_string());
            }
            view::training_ui(ui, &mut self.setup.steps, &mut self.setup.seed, 5000);
            self.figure.status_ui(ui);
        });
        if self.setup != before {
            self.restart();
        } else if self.shown != shown_before {
            self.lay_out_again();
        }
        if let Some(figure) = self.figure.figure() {
            Self::numbers_ui(ui, figure, self.shown.0);
        }
        if let Some((figure, textures)) = self.figure.parts() {
            let height = ui.available_height().max(300.0);
            view::panel_rows_ui(ui, "hvae", &figure.panels, textures, 3, height);
        }
    }
}
