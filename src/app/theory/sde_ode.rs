//! The SDE-vs-ODE scene's view; the figure is [`crate::figures::sde_ode`].

use egui::Slider;

use super::job::Computation;
use super::view::{self, FigureCache, Textures};
use super::{SceneContext, TheoryScene};
use crate::figures::common::{fractions_text, weights_text};
use crate::figures::sde_ode::{self, Processes, STEPS, Setup};

/// The SDE vs ODE scene.
pub struct SdeOdeScene {
    context: SceneContext,
    step: usize,
    runs: Computation<Processes>,
    textures: Textures,
    /// The figure, laid out once per result (and shown step).
    laid_out: FigureCache<usize>,
}

impl SdeOdeScene {
    /// Runs both from one seeded N(0, I) start.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut runs = Computation::default();
        let (setup, inputs) = (Setup::default(), context.inputs.clone());
        runs.restart(&context.repaint, move |job| {
            sde_ode::compute(&setup, &inputs, job).map_err(String::from)
        });
        Self {
            context: context.clone(),
            step: setup.step,
            runs,
            textures: Textures::default(),
            laid_out: FigureCache::default(),
        }
    }
}

impl TheoryScene for SdeOdeScene {
    fn caption(&self) -> &'static str {
        "Reverse SDE dx = [f − g²∇log p_t]dt + g dw_rev (orange, w_rev a reverse-time Wiener process) and probability-flow ODE \
         dx/dt = f − ½g²∇log p_t (blue) from the same x_T, over the density p_t. Both have the \
         marginals p_t; only the ODE is deterministic."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        if self.runs.poll() {
            self.laid_out.clear();
        }
        let before = self.step;
        ui.horizontal(|ui| {
            ui.add(Slider::new(&mut self.step, 0..=STEPS).text("step"));
            if let Some(runs) = self.runs.value() {
                let t = runs.levels.get(self.step).copied().unwrap_or(0);
                let alpha_bar = self.context.schedule.alpha_bar(t);
                ui.label(format!("t = {t}, ᾱ_t = {alpha_bar:.4}"));
            }
            self.runs.status_ui(ui);
        });
        if self.step != before {
            self.textures.clear();
        }
        let Some(runs) = self.runs.value() else {
            return;
        };
        for (name, weights) in [
            ("reverse SDE", &runs.sde_weights),
            ("probability-flow ODE", &runs.ode_weights),
        ] {
            ui.label(format!("{name}: final mode weights {}", fractions_text(weights)));
        }
        ui.label(format!("true weights: {}", weights_text(&self.context.mixture)));
        let shown = self.step;
        let panels = &self.laid_out.get(shown, || runs.figure_at(shown)).panels;
        view::panels_ui(
            ui,
            "sde vs ode",
            panels,
            &mut self.textures,
            ui.available_height().max(150.0),
        );
    }
}
