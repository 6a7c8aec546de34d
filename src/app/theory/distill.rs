//! The distillation scene's view; the figure is [`crate::figures::distill`].

use super::job::Computation;
use super::view::{self, FigureCache, Textures};
use super::{SceneContext, TheoryScene};
use crate::figures::common::fractions_text;
use crate::figures::distill::{self, Distillation, Setup, steps_text};

/// The distillation scene.
pub struct DistillScene {
    shown: usize,
    result: Computation<Distillation>,
    textures: Textures,
    /// The figure, laid out once per result (and shown step).
    laid_out: FigureCache<usize>,
}

impl DistillScene {
    /// Distils at once (about a minute on two cores).
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut result = Computation::default();
        let (setup, inputs) = (Setup::default(), context.inputs.clone());
        result.restart(&context.repaint, move |job| {
            distill::compute(&setup, &inputs, job).map_err(String::from)
        });
        Self {
            shown: 3,
            result,
            textures: Textures::default(),
            laid_out: FigureCache::default(),
        }
    }
}

impl TheoryScene for DistillScene {
    fn caption(&self) -> &'static str {
        "Progressive distillation: the student learns the target x_tgt = (z_c − r z_a)/(√ᾱ_c − r√ᾱ_a), r = √(1−ᾱ_c)/√(1−ᾱ_a), \
         so that one DDIM step z_a → z_c lands where its teacher's two steps z_a → z_b → z_c do; \
         16 → 8 → 4 → 2 → 1 steps, each student teaching the next."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        if self.result.poll() {
            self.laid_out.clear();
        }
        self.result.status_ui(ui);
        let Some(result) = self.result.value() else {
            return;
        };
        let before = self.shown;
        ui.horizontal(|ui| {
            ui.label("Student:");
            for (i, round) in result.rounds.iter().enumerate() {
                ui.selectable_value(&mut self.shown, i, steps_text(round.steps));
            }
        });
        if self.shown != before {
            self.textures.clear();
        }
        let Some(round) = result.rounds.get(self.shown) else {
            return;
        };
        ui.label(format!(
            "{}: distilled student {:.3} from the 16-step teacher's samples, DDIM with the exact model {:.3} (median distances); student's mode weights {}",
            steps_text(round.steps),
            round.student_distance,
            round.naive_distance,
            fractions_text(&round.student_weights)
        ));
        let shown = self.shown;
        let panels = &self.laid_out.get(shown, || result.figure_at(shown)).panels;
        view::panels_ui(
            ui,
            "distillation",
            panels,
            &mut self.textures,
            ui.available_height().max(150.0),
        );
    }
}
