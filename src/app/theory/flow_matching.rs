//! The flow-matching scene's view; the figure is [`crate::figures::flow_matching`].

use egui::Slider;

use super::scene_figure::SceneFigure;
use super::view;
use super::{SceneContext, TheoryScene};
use crate::figures::Figure;
use crate::figures::flow_matching::{self, FLOW_STEPS, FlowMatching, LEARNED, Setup};

/// The flow-matching scene.
pub struct FlowMatchingScene {
    setup: Setup,
    /// The flow step drawn: changing it lays the result out again, it does not retrain.
    step: usize,
    figure: SceneFigure<FlowMatching>,
}

impl FlowMatchingScene {
    /// Three flows of 1500 steps, shown half way.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let setup = Setup::default();
        let mut scene = Self {
            step: setup.step,
            setup,
            figure: SceneFigure::new(context, FlowMatching::figure, 2),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let setup = Setup {
            step: self.step,
            ..self.setup
        };
        self.figure
            .restart(move |inputs, job| flow_matching::compute(&setup, inputs, job));
    }

    fn numbers_ui(ui: &mut egui::Ui, figure: &Figure) {
        let number = |name: &str| figure.value(name).unwrap_or(f64::NAN);
        ui.label(format!(
            "Straightness (chord / length, 1 = straight): exact flow {:.3}, PF-ODE {:.3} (the largest \
             mode alone: {:.3} and {:.3}); learned: {}.",
            number("straightness: exact flow"),
            number("straightness: PF-ODE"),
            number("straightness, one mode: exact flow"),
            number("straightness, one mode: PF-ODE"),
            LEARNED
                .map(|name| format!("{name} {:.3}", number(&format!("straightness: {name}"))))
                .join(", "),
        ));
        ui.label(format!(
            "One Euler step lands near a mode: {}; exact flow {:.0}% (it lands on E[x0]).",
            LEARNED
                .map(|name| format!(
                    "{name} {:.0}%",
                    100.0 * number(&format!("one step near a mode: {name}"))
                ))
                .join(", "),
            100.0 * number("one step near a mode: exact flow"),
        ));
    }
}

impl TheoryScene for FlowMatchingScene {
    fn caption(&self) -> &'static str {
        "Flow matching (Lipman et al. 2023; rectified flow, Liu et al. 2023): the straight path \
         x_τ = (1 − τ) x_0 + τ ε, trained to predict u = ε − x_0; sampling follows dx/dτ = u back from \
         τ = 1. It is the VP path rescaled, so the exact mixture gives its velocity. Independent pairs \
         make paths that cross and bend; pairing each batch by optimal transport, or reflowing on the \
         flow's own (noise, sample) pairs, straightens them, until one Euler step lands on the data."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        if self.figure.poll() && self.figure.value().is_some_and(|r| r.shown != self.step) {
            let step = self.step;
            self.figure.lay_out_with(|result| result.figure_at(step));
        }
        let (before, step_before) = (self.setup, self.step);
        ui.horizontal(|ui| {
            ui.add(Slider::new(&mut self.step, 0..=FLOW_STEPS).text("flow step (0 = noise)"));
            view::training_ui(ui, &mut self.setup.steps, &mut self.setup.seed, 5000);
            self.figure.status_ui(ui);
        });
        if self.setup != before {
            self.restart();
        } else if self.step != step_before {
            let step = self.step;
            self.figure.lay_out_with(|result| result.figure_at(step));
        }
        if let Some(figure) = self.figure.figure() {
            Self::numbers_ui(ui, figure);
        }
        if let Some((figure, textures)) = self.figure.parts() {
            let height = ui.available_height().max(300.0);
            view::panel_rows_ui(ui, "flow-matching", &figure.panels, textures, 2, height);
        }
    }
}
