//! The DPM-Solver++ scene's view; the figure is [`crate::figures::dpm_solver`].

use super::job::Computation;
use super::view::{self, FigureCache, Textures};
use super::{SceneContext, TheoryScene};
use crate::figures::dpm_solver::{self, Comparison, SOLVERS, STEP_COUNTS, Setup};

/// The DPM-Solver++ scene.
pub struct DpmSolverScene {
    /// Index into `STEP_COUNTS` of the paths shown.
    shown: usize,
    comparison: Computation<Comparison>,
    textures: Textures,
    /// The figure, laid out once per result (and shown step).
    laid_out: FigureCache<usize>,
}

impl DpmSolverScene {
    /// Measures every solver at every step count.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut comparison = Computation::default();
        let (setup, inputs) = (Setup::default(), context.inputs.clone());
        comparison.restart(&context.repaint, move |job| {
            dpm_solver::compute(&setup, &inputs, job).map_err(String::from)
        });
        Self {
            shown: STEP_COUNTS.iter().position(|&n| n == setup.steps).unwrap_or(0),
            comparison,
            textures: Textures::default(),
            laid_out: FigureCache::default(),
        }
    }
}

impl TheoryScene for DpmSolverScene {
    fn caption(&self) -> &'static str {
        "DPM-Solver++(2M) solves the probability-flow ODE in λ = log SNR with the exact linear part \
         and a second-order multistep estimate of x_θ: x_s = (σ_s/σ_t) x_t − α_s(e^{−h} − 1) D_t. \
         Its end points reach the reference ODE solution in far fewer steps than DDIM or Euler."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        if self.comparison.poll() {
            self.laid_out.clear();
        }
        ui.horizontal(|ui| {
            ui.label("Steps shown:");
            for (i, steps) in STEP_COUNTS.iter().enumerate() {
                ui.selectable_value(&mut self.shown, i, format!("{steps}"));
            }
            self.comparison.status_ui(ui);
        });
        let Some(comparison) = self.comparison.value() else {
            return;
        };
        let steps = STEP_COUNTS[self.shown];
        let errors: Vec<String> = SOLVERS
            .iter()
            .zip(&comparison.errors)
            .map(|((_, name, _), e)| format!("{name} {:.4}", e[self.shown]))
            .collect();
        ui.label(format!(
            "median end-point error at {steps} steps: {}",
            errors.join(", ")
        ));
        let shown = self.shown;
        let panels = &self.laid_out.get(shown, || comparison.figure_at(shown)).panels;
        view::panels_ui(
            ui,
            "dpm-solver",
            panels,
            &mut self.textures,
            ui.available_height().max(150.0),
        );
    }
}
