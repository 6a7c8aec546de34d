//! The DDPM-vs-DDIM scene's view; the figure is [`crate::figures::eta`].

use egui::Slider;

use super::job::Computation;
use super::view::{self, FigureCache, Textures};
use super::{SceneContext, TheoryScene};
use crate::figures::eta::{self, Paths, Setup};

/// The η scene.
pub struct EtaScene {
    context: SceneContext,
    setup: Setup,
    paths: Computation<Paths>,
    textures: Textures,
    /// The figure, laid out once per result (and shown step).
    laid_out: FigureCache<()>,
}

impl EtaScene {
    /// Starts at η = 0 (DDIM).
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            context: context.clone(),
            setup: Setup::default(),
            paths: Computation::default(),
            textures: Textures::default(),
            laid_out: FigureCache::default(),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let (setup, inputs) = (self.setup, self.context.inputs.clone());
        self.paths.restart(&self.context.repaint, move |job| {
            eta::compute(&setup, &inputs, job).map_err(String::from)
        });
    }
}

impl TheoryScene for EtaScene {
    fn caption(&self) -> &'static str {
        "x_s = √ᾱ_s x_θ + √(1 − ᾱ_s − σ²) ε_θ + σ z, σ = η √((1−ᾱ_s)/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_s). \
         Same x_T, same noise: η = 0 (DDIM) follows smooth deterministic paths, η = 1 is DDPM's \
         jittery random walk."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        if self.paths.poll() {
            self.laid_out.clear();
            self.textures.clear();
        }
        let before = self.setup;
        ui.horizontal(|ui| {
            ui.add(Slider::new(&mut self.setup.eta, 0.0..=1.0).text("η"));
            if ui.button("DDIM (η = 0)").clicked() {
                self.setup.eta = 0.0;
            }
            if ui.button("DDPM (η = 1)").clicked() {
                self.setup.eta = 1.0;
            }
            ui.add(egui::DragValue::new(&mut self.setup.seed).prefix("Seed "));
        });
        if self.setup != before {
            self.restart();
        }
        ui.horizontal(|ui| {
            if let Some(paths) = self.paths.value() {
                ui.label(format!("mean path length: {:.3}", paths.mean_path_length()));
                if let Some([t, sigma]) = paths.sigmas.first() {
                    ui.label(format!("σ at the first step (from t = {t}): {sigma:.4}"));
                }
            }
            self.paths.status_ui(ui);
        });
        if let Some(paths) = self.paths.value() {
            let panels = &self.laid_out.get((), || paths.figure()).panels;
            view::panels_ui(ui, "eta", panels, &mut self.textures, ui.available_height().max(150.0));
        }
    }
}
