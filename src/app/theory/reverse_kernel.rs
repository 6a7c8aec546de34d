//! The true-reverse-kernel scene's view; the figure is
//! [`crate::figures::reverse_kernel`].

use egui::Slider;

use super::scene_figure::SceneFigure;
use super::view;
use super::{SceneContext, TheoryScene};
use crate::figures::reverse_kernel::{self, ReverseKernel, Setup};

/// The true-reverse-kernel scene.
pub struct ReverseKernelScene {
    setup: Setup,
    kernel: SceneFigure<ReverseKernel>,
}

impl ReverseKernelScene {
    /// t = 400, Δ = 350.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            setup: Setup::default(),
            kernel: SceneFigure::new(context, ReverseKernel::figure, 1),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let setup = self.setup;
        self.kernel
            .restart(move |inputs, job| reverse_kernel::compute(&setup, inputs, job));
    }

    fn numbers_ui(ui: &mut egui::Ui, kernel: &ReverseKernel) {
        let a = kernel.at_delta;
        ui.label(format!(
            "From t = {} to s = {}: KL(q(x_s|x_t) ‖ Gaussian) = {:.4} (best), {:.4} (σ² = β_post), {:.4} (σ² = β) nats",
            kernel.setup.t,
            kernel.setup.t - kernel.setup.delta,
            a.kl_best,
            a.kl_posterior_var,
            a.kl_beta,
        ));
        let upper = if a.entropy_growth >= 0.0 {
            "holds: the forward step raised the entropy"
        } else {
            "fails: the forward step lowered the entropy (the data's variance exceeds 1)"
        };
        ui.label(format!(
            "H(x_s|x_t) = {:.3} nats; lower bound {:.3}, upper bound H(x_t|x_s) = {:.3} ({upper}; H(x_t) − H(x_s) = {:.3})",
            a.entropy, a.entropy_lower, a.entropy_upper, a.entropy_growth
        ));
    }
}

impl TheoryScene for ReverseKernelScene {
    fn caption(&self) -> &'static str {
        "The true reverse step q(x_s|x_t) ∝ p_s(x_s) q(x_t|x_s), s = t − Δ, by Bayes on a grid (left), with \
         the Gaussians q(x_s|x_t,x0) of the x0 behind x_t and the model's Gaussian. It is Gaussian only for \
         small Δ (Sohl-Dickstein et al. 2015): the KL to the best Gaussian grows as it turns multimodal."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.kernel.poll();
        let before = self.setup;
        ui.horizontal(|ui| {
            ui.add(Slider::new(&mut self.setup.t, 2..=1000).text("t"));
            let top = self.setup.t.saturating_sub(1).max(1);
            self.setup.delta = self.setup.delta.clamp(1, top);
            ui.add(Slider::new(&mut self.setup.delta, 1..=top).logarithmic(true).text("Δ"));
            ui.add(egui::DragValue::new(&mut self.setup.seed).prefix("Seed "));
            self.kernel.status_ui(ui);
        });
        if self.setup != before {
            self.restart();
        }
        if let Some(kernel) = self.kernel.value() {
            Self::numbers_ui(ui, kernel);
        }
        if let Some((figure, [textures])) = self.kernel.parts() {
            view::plane_and_plots_ui(
                ui,
                "reverse-kernel",
                &figure.panels,
                textures,
                ui.available_height().max(240.0),
            );
        }
    }
}
