//! The two-forms-of-one-ELBO scene's view; the figure is
//! [`crate::figures::elbo_forms`].

use egui::Slider;

use super::scene_figure::SceneFigure;
use super::view;
use super::{SceneContext, TheoryScene};
use crate::figures::elbo_forms::{self, ElboForms, Setup};

/// The two-forms-of-one-ELBO scene.
pub struct ElboFormsScene {
    setup: Setup,
    forms: SceneFigure<ElboForms>,
}

impl ElboFormsScene {
    /// 2000 chains, Su's losses at t = 300.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            setup: Setup::default(),
            forms: SceneFigure::new(context, ElboForms::figure, 1),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let setup = self.setup;
        self.forms
            .restart(move |inputs, job| elbo_forms::compute(&setup, inputs, job));
    }

    fn numbers_ui(ui: &mut egui::Ui, forms: &ElboForms) {
        for set in forms.forms.iter().chain(&forms.losses) {
            let (mean, error) = set.mean_and_error();
            ui.label(format!(
                "{}: mean {mean:.4} ± {error:.4}, variance {:.4}",
                set.name,
                set.variance()
            ));
        }
        ui.label(format!(
            "variance ratios: consistency / denoising matching {:.1}, two noises / merged {:.2}",
            forms.variance_ratio(),
            forms.loss_variance_ratio()
        ));
    }
}

impl TheoryScene for ElboFormsScene {
    fn caption(&self) -> &'static str {
        "One x0's ELBO, estimated many times: consistency terms, each from its own (x_(t−1), x_t, x_(t+1)), \
         against denoising-matching KLs in closed form under one x_t (Luo): the same mean, a lower variance. \
         With a closed-form KL(q(x_t|x_(t−1)) ‖ p_θ(x_t|x_(t+1))) the consistency form is biased. Right: Su merges two noises into one."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.forms.poll();
        let before = self.setup;
        ui.horizontal(|ui| {
            ui.add(
                Slider::new(&mut self.setup.chains, 100..=20_000)
                    .logarithmic(true)
                    .text("chains"),
            );
            ui.add(Slider::new(&mut self.setup.t, 2..=1000).text("Su's t"));
            ui.add(egui::DragValue::new(&mut self.setup.seed).prefix("Seed "));
            self.forms.status_ui(ui);
        });
        if self.setup != before {
            self.restart();
        }
        if let Some(forms) = self.forms.value() {
            Self::numbers_ui(ui, forms);
        }
        if let Some((figure, [textures])) = self.forms.parts() {
            view::panels_ui(
                ui,
                "elbo-forms",
                &figure.panels,
                textures,
                ui.available_height().max(150.0),
            );
        }
    }
}
