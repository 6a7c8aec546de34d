//! The ELBO scene's view; the figure is [`crate::figures::elbo`].

use super::job::Computation;
use super::view::{self, FigureCache, Textures};
use super::{SceneContext, TheoryScene};
use crate::diffusion::ScheduleKind;
use crate::figures::elbo::{self, Bound, Setup, bits_per_dim};

/// The ELBO scene.
pub struct ElboScene {
    context: SceneContext,
    setup: Setup,
    bound: Computation<Bound>,
    textures: Textures,
    /// The figure, laid out once per result (and shown step).
    laid_out: FigureCache<()>,
}

impl ElboScene {
    /// The linear schedule, no rescaling.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            context: context.clone(),
            setup: Setup::default(),
            bound: Computation::default(),
            textures: Textures::default(),
            laid_out: FigureCache::default(),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let (setup, inputs) = (self.setup, self.context.inputs.clone());
        self.bound.restart(&self.context.repaint, move |job| {
            elbo::compute(&setup, &inputs, job).map_err(String::from)
        });
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            for kind in [ScheduleKind::Linear, ScheduleKind::Cosine] {
                ui.selectable_value(&mut self.setup.kind, kind, kind.name());
            }
            ui.checkbox(&mut self.setup.zero_terminal_snr, "zero terminal SNR");
            ui.add(egui::DragValue::new(&mut self.setup.seed).prefix("x0 seed "));
        });
    }
}

impl TheoryScene for ElboScene {
    fn caption(&self) -> &'static str {
        "−log p(x0) ≤ L_T + Σ L_{t−1} + L_0, with L_T = KL(q(x_T|x0) ‖ N(0,I)), L_{t−1} = \
         KL(q(x_{t−1}|x_t,x0) ‖ p(x_{t−1}|x_t)), L_0 = −log p(x0|x1). Bars in bits/dim for one x0; \
         right: bits spent against the error of x_θ along the reverse process (DDPM, Fig. 5)."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        if self.bound.poll() {
            self.laid_out.clear();
            self.textures.clear();
        }
        let before = self.setup;
        self.controls_ui(ui);
        if self.setup != before {
            self.restart();
        }
        let Some(bound) = self.bound.value() else {
            self.bound.status_ui(ui);
            return;
        };
        let terms = &bound.terms;
        ui.horizontal(|ui| {
            ui.label(format!("x0 = ({:.2}, {:.2})", bound.x0[0], bound.x0[1]));
            ui.label(format!("√ᾱ_T = {:.4}", bound.sqrt_alpha_bar_last));
            self.bound.status_ui(ui);
        });
        ui.label(format!(
            "total {:.4} bits/dim = L_T {:.3e} + Σ L_(t−1) {:.4} + L_0 {:.4}",
            terms.bits_per_dim(),
            bits_per_dim(terms.prior_nats, terms.dims),
            bound.steps_bits_per_dim(),
            bits_per_dim(terms.decoder_nats, terms.dims)
        ));
        let figure = self.laid_out.get((), || bound.figure());
        view::panels_ui(
            ui,
            "elbo",
            &figure.panels,
            &mut self.textures,
            ui.available_height().max(150.0),
        );
    }
}
