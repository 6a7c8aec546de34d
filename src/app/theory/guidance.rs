//! The guidance scene's view; the figure is [`crate::figures::guidance`].

use egui::Slider;

use super::job::Computation;
use super::view::{self, FigureCache, Textures};
use super::{SceneContext, TheoryScene};
use crate::diffusion::guidance::{GuidanceKind, SigmaInterval};
use crate::figures::guidance::{self, Guidance, Setup};

/// The guidance scene.
pub struct GuidanceScene {
    context: SceneContext,
    setup: Setup,
    figure: Computation<Guidance>,
    textures: Textures,
    /// The figure, laid out once per result (and shown step).
    laid_out: FigureCache<()>,
}

impl GuidanceScene {
    /// Classifier guidance toward class 1 (weight 0.2) at γ = 1.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            context: context.clone(),
            setup: Setup::default(),
            figure: Computation::default(),
            textures: Textures::default(),
            laid_out: FigureCache::default(),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let (setup, inputs) = (self.setup, self.context.inputs.clone());
        self.figure.restart(&self.context.repaint, move |job| {
            guidance::compute(&setup, &inputs, job).map_err(String::from)
        });
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.setup.kind, GuidanceKind::Classifier, "Classifier guidance");
            ui.selectable_value(&mut self.setup.kind, GuidanceKind::ClassifierFree, "Classifier-free");
            ui.separator();
            for class in 0..3 {
                ui.selectable_value(&mut self.setup.class, class, format!("class {class}"));
            }
        });
        ui.horizontal(|ui| {
            ui.add(Slider::new(&mut self.setup.gamma, 0.0..=10.0).text("γ (guidance)"));
            for gamma in [0.0, 1.0, 3.0, 8.0] {
                if ui.button(format!("γ = {gamma}")).clicked() {
                    self.setup.gamma = gamma;
                }
            }
            ui.add(Slider::new(&mut self.setup.t, 1..=1000).text("arrows at t"));
        });
        ui.horizontal_wrapped(|ui| {
            ui.label("Guided levels:");
            for (high, label) in [(f64::INFINITY, "every σ"), (2.0, "σ ≤ 2"), (0.5, "σ ≤ 0.5")] {
                let interval = SigmaInterval { low: 0.0, high };
                ui.selectable_value(&mut self.setup.interval, interval, label);
            }
        });
    }
}

impl TheoryScene for GuidanceScene {
    fn caption(&self) -> &'static str {
        "Classifier guidance: ∇log p_γ(x_t|y) = ∇log p(x_t) + γ∇log p(y|x_t). Classifier-free: \
         ε_γ = ε_u + γ(ε_c − ε_u). Arrows are steps toward the data, (1−ᾱ_t)∇log p = −√(1−ᾱ_t) ε. \
         γ = 1 samples p(x|y) exactly; larger γ sharpens the class, then collapses it. Guided \
         only at low σ, where each blob is already its class's, the class keeps its spread."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        if self.figure.poll() {
            self.laid_out.clear();
            self.textures.clear();
        }
        let before = self.setup;
        self.controls_ui(ui);
        if self.setup != before {
            self.restart();
        }
        let Some(figure) = self.figure.value() else {
            self.figure.status_ui(ui);
            return;
        };
        ui.horizontal(|ui| {
            if let Some(stats) = &figure.statistics {
                ui.label(format!(
                    "samples in class {}: {:.1} %, their mean {:.3} from the class mean, per-axis spread {:.3} (the class alone: {:.3})",
                    figure.setup.class,
                    100.0 * stats.share,
                    stats.offset,
                    stats.spread,
                    stats.class_std
                ));
            }
            self.figure.status_ui(ui);
        });
        let panels = &self.laid_out.get((), || figure.figure()).panels;
        view::panels_ui(
            ui,
            "guidance",
            panels,
            &mut self.textures,
            ui.available_height().max(150.0),
        );
    }
}
