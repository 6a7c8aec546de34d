//! The inpainting scene's view; the figure is [`crate::figures::inpaint`].

use super::figure;
use super::job::Computation;
use super::{SceneContext, TheoryScene};
use crate::figures::inpaint::{self, Hidden, Inpainted, SAMPLES, STRIP, Setup};

/// The inpainting scene.
pub struct InpaintScene {
    context: SceneContext,
    names: Vec<String>,
    setup: Setup,
    result: Computation<Inpainted>,
    textures: Vec<(String, egui::TextureHandle)>,
}

impl InpaintScene {
    /// Hides the right half of the built-in T-shirt.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            context: context.clone(),
            names: crate::assets::SAMPLE_IMAGES
                .iter()
                .map(|(name, _)| (*name).to_owned())
                .collect(),
            setup: Setup::default(),
            result: Computation::default(),
            textures: Vec::new(),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let setup = self.setup;
        self.textures.clear();
        self.result.restart(&self.context.repaint, move |job| {
            inpaint::compute(&setup, job).map_err(String::from)
        });
    }

    fn upload(&mut self, ctx: &egui::Context) {
        let Some(result) = self.result.value() else {
            return;
        };
        if !self.textures.is_empty() {
            return;
        }
        self.textures = result
            .images()
            .into_iter()
            .map(|raster| {
                let texture = ctx.load_texture(
                    &raster.name,
                    figure::gray_image(&raster.values),
                    egui::TextureOptions::NEAREST,
                );
                (raster.name, texture)
            })
            .collect();
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            for (i, name) in self.names.iter().enumerate() {
                ui.selectable_value(&mut self.setup.image, i, name);
            }
        });
        ui.horizontal(|ui| {
            for (hidden, label) in Hidden::LABELLED {
                ui.selectable_value(&mut self.setup.hidden, hidden, label);
            }
            ui.add(egui::DragValue::new(&mut self.setup.seed).prefix("Seed "));
        });
    }
}

impl TheoryScene for InpaintScene {
    fn caption(&self) -> &'static str {
        "Inpainting by multiplying distributions (Sohl-Dickstein et al. 2015): after every reverse \
         step to level s, the known pixels are replaced by √ᾱ_s x0 + √(1−ᾱ_s) ε, a fresh draw from \
         q(x_s|x0); the U-Net fills in the hidden ones to match. Blue marks the hidden pixels."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.result.poll();
        let before = self.setup;
        self.controls_ui(ui);
        if self.setup != before {
            self.restart();
        }
        self.upload(ui.ctx());
        let Some(result) = self.result.value() else {
            self.result.status_ui(ui);
            return;
        };
        ui.horizontal(|ui| {
            ui.label(format!(
                "known pixels after sampling: max |x − x0| = {:.4}",
                result.known_max_diff
            ));
            self.result.status_ui(ui);
        });
        ui.label(format!(
            "hidden pixels, RMS error against the original (mean of {SAMPLES}): inpainted {:.3}, free samples of the class {:.3}",
            result.inpainted_error, result.free_error
        ));
        let side = (ui.available_width() / 8.0 - 14.0).clamp(48.0, 140.0);
        let rows: [&[(String, egui::TextureHandle)]; 3] = [
            self.textures.get(..2 + STRIP.len()).unwrap_or_default(),
            self.textures
                .get(2 + STRIP.len()..2 + STRIP.len() + SAMPLES)
                .unwrap_or_default(),
            self.textures.get(2 + STRIP.len() + SAMPLES..).unwrap_or_default(),
        ];
        for row in rows {
            ui.horizontal(|ui| {
                for (name, texture) in row {
                    figure::image_ui(ui, texture, side, name);
                }
            });
        }
    }
}
