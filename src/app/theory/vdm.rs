//! The VDM scene's view; the figure is [`crate::figures::vdm`].

use super::job::Computation;
use super::view::{self, FigureCache, Textures};
use super::{SceneContext, TheoryScene};
use crate::figures::vdm::{self, SAMPLES, Setup, Vdm};

/// The VDM scene.
pub struct VdmScene {
    result: Computation<Vdm>,
    textures: Textures,
    /// The figure, laid out once per result (and shown step).
    laid_out: FigureCache<()>,
}

impl VdmScene {
    /// Trains at once (about a minute on two cores).
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut result = Computation::default();
        let inputs = context.inputs.clone();
        result.restart(&context.repaint, move |job| {
            vdm::compute(&Setup::default(), &inputs, job).map_err(String::from)
        });
        Self {
            result,
            textures: Textures::default(),
            laid_out: FigureCache::default(),
        }
    }
}

impl TheoryScene for VdmScene {
    fn caption(&self) -> &'static str {
        "VDM: log SNR(t) = −γ_η(t), monotone and learned with the network. The loss \
         L∞ = ½ E[γ′(t)‖ε − ε_θ(z_t)‖²] has the same mean for every schedule with the same end points; \
         the schedule is trained to minimise its variance E[L²], which flattens the loss over t."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        if self.result.poll() {
            self.laid_out.clear();
        }
        self.result.status_ui(ui);
        let Some(result) = self.result.value() else {
            return;
        };
        for judged in &result.judged {
            ui.colored_label(
                view::color(judged.color),
                format!(
                    "{}: loss mean {:.3}, std {:.3} (nats, {SAMPLES} samples)",
                    judged.name, judged.mean, judged.std
                ),
            );
        }
        let panels = &self.laid_out.get((), || result.figure()).panels;
        view::panels_ui(ui, "vdm", panels, &mut self.textures, ui.available_height().max(150.0));
    }
}
