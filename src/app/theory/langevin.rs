//! The Langevin scene's view; the figure is [`crate::figures::langevin`].

use egui::Slider;

use super::job::Computation;
use super::view::{self, FigureCache, Textures};
use super::{SceneContext, TheoryScene};
use crate::figures::common::{fractions_text, weights_text};
use crate::figures::langevin::{self, LEVELS, LangevinRuns, Setup};

/// The Langevin scene.
pub struct LangevinScene {
    context: SceneContext,
    /// The annealed level shown (0 = the start, LEVELS = the end).
    level: usize,
    runs: Computation<LangevinRuns>,
    textures: Textures,
    /// The figure, laid out once per result (and shown step).
    laid_out: FigureCache<usize>,
}

impl LangevinScene {
    /// Runs both samplers from the same N(0, I) start.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut runs = Computation::default();
        let (setup, inputs) = (Setup::default(), context.inputs.clone());
        runs.restart(&context.repaint, move |job| {
            langevin::compute(&setup, &inputs, job).map_err(String::from)
        });
        Self {
            context: context.clone(),
            level: setup.level,
            runs,
            textures: Textures::default(),
            laid_out: FigureCache::default(),
        }
    }

    fn labels_ui(&self, ui: &mut egui::Ui, runs: &LangevinRuns) {
        ui.horizontal(|ui| {
            let width = ui.available_width() / 2.0 - 8.0;
            ui.vertical(|ui| {
                ui.set_width(width);
                ui.label(format!(
                    "plain Langevin, {LEVELS}×30 updates on ∇log p_0: mode weights {}",
                    fractions_text(&runs.plain_fractions)
                ));
            });
            let index = runs.field_index(self.level);
            let t = runs.levels.get(index).copied().unwrap_or(1);
            let sigma = runs.sigmas.get(index).copied().unwrap_or(0.0);
            ui.vertical(|ui| {
                ui.set_width(width);
                ui.label(format!(
                    "annealed Langevin after level {} of {LEVELS} (t = {t}, σ = {sigma:.3}): mode weights {}",
                    self.level,
                    fractions_text(runs.annealed_at(self.level))
                ));
            });
        });
    }
}

impl TheoryScene for LangevinScene {
    fn caption(&self) -> &'static str {
        "Langevin dynamics x ← x + (α/2)∇log p(x) + √α z samples p, but between separated modes it \
         moves only by chance: plain Langevin keeps the weights of where the particles started. \
         Annealed Langevin runs it on p_σ for falling σ (α ∝ σ²) and recovers the weights 0.70 / 0.20 / 0.10."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        if self.runs.poll() {
            self.laid_out.clear();
        }
        let before = self.level;
        ui.horizontal(|ui| {
            ui.add(Slider::new(&mut self.level, 0..=LEVELS).text("annealing level"));
            ui.label(format!("true weights: {}", weights_text(&self.context.mixture)));
            self.runs.status_ui(ui);
        });
        if self.level != before {
            self.textures.clear();
        }
        if let Some(runs) = self.runs.value() {
            self.labels_ui(ui, runs);
            let shown = self.level;
            let panels = &self.laid_out.get(shown, || runs.figure_at(shown)).panels;
            view::panels_ui(
                ui,
                "langevin",
                panels,
                &mut self.textures,
                ui.available_height().max(150.0),
            );
        }
    }
}
