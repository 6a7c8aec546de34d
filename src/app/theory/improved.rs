//! The learned-variance scene's view; the figure is [`crate::figures::improved`].

use super::job::Computation;
use super::view::{self, FigureCache, Textures};
use super::{SceneContext, TheoryScene};
use crate::figures::improved::{self, ELBO_POINTS, Improved, Setup};

/// The Improved DDPM scene.
pub struct ImprovedScene {
    result: Computation<Improved>,
    textures: Textures,
    /// The figure, laid out once per result (and shown step).
    laid_out: FigureCache<()>,
}

impl ImprovedScene {
    /// Trains at once (about a minute on two cores).
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut result = Computation::default();
        let inputs = context.inputs.clone();
        result.restart(&context.repaint, move |job| {
            improved::compute(&Setup::default(), &inputs, job).map_err(String::from)
        });
        Self {
            result,
            textures: Textures::default(),
            laid_out: FigureCache::default(),
        }
    }
}

impl TheoryScene for ImprovedScene {
    fn caption(&self) -> &'static str {
        "Improved DDPM: Σ_θ = exp(v log β_t + (1−v) log β_post), learned with L_hybrid = L_simple + λ L_vlb, \
         t drawn ∝ √E[L_t²] (importance sampling). Left: where the learned variance sits between β_post (0) \
         and β_t (1); right: the probability of drawing each t."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        if self.result.poll() {
            self.laid_out.clear();
        }
        self.result.status_ui(ui);
        let Some(result) = self.result.value() else {
            return;
        };
        ui.label(format!(
            "bound over {ELBO_POINTS} points: learned variance {:.4} bits/dim, σ² = β_post {:.4}, σ² = β_t {:.4}",
            result.bits[0], result.bits[1], result.bits[2]
        ));
        ui.label(format!(
            "importance sampling: p(t ≤ 100) = {:.3} (uniform: 0.100)",
            result.early_share()
        ));
        let panels = &self.laid_out.get((), || result.figure()).panels;
        view::panels_ui(
            ui,
            "improved",
            panels,
            &mut self.textures,
            ui.available_height().max(150.0),
        );
    }
}
