//! The branching scene's view; the figure is [`crate::figures::branching`].

use super::job::Computation;
use super::view::{self, FigureCache, Textures};
use super::{SceneContext, TheoryScene};
use crate::figures::branching::{self, BRANCHES, Branching, Setup};

/// The branching scene.
pub struct BranchingScene {
    /// Index of the branch point shown.
    shown: usize,
    result: Computation<Branching>,
    textures: Textures,
    /// The figure, laid out once per result (and shown step).
    laid_out: FigureCache<usize>,
}

impl BranchingScene {
    /// Runs and branches at once.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut result = Computation::default();
        let (setup, inputs) = (Setup::default(), context.inputs.clone());
        result.restart(&context.repaint, move |job| {
            branching::compute(&setup, &inputs, job).map_err(String::from)
        });
        Self {
            shown: setup.branch,
            result,
            textures: Textures::default(),
            laid_out: FigureCache::default(),
        }
    }
}

impl TheoryScene for BranchingScene {
    fn caption(&self) -> &'static str {
        "Stop a DDPM run at step t and finish it again and again with fresh noise z in \
         x_{t−1} = μ_post(x_t, x_θ) + σ_t z. Early on the branches reach every mode; later the outcome \
         is already decided (DDPM, Fig. 7)."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        if self.result.poll() {
            self.laid_out.clear();
        }
        let Some(result) = self.result.value() else {
            self.result.status_ui(ui);
            return;
        };
        ui.horizontal(|ui| {
            ui.label("Branch at:");
            for (i, branch) in result.branches.iter().enumerate() {
                ui.selectable_value(&mut self.shown, i, format!("t = {}", branch.t));
            }
        });
        let Some(branch) = result.branches.get(self.shown) else {
            return;
        };
        ui.label(format!(
            "branching at t = {}: {:.1} % of {BRANCHES} continuations end in the original's mode",
            branch.t,
            100.0 * branch.same_mode
        ));
        let shown = self.shown;
        let panels = &self.laid_out.get(shown, || result.figure_at(shown)).panels;
        view::panels_ui(
            ui,
            "branching",
            panels,
            &mut self.textures,
            ui.available_height().max(150.0),
        );
    }
}
