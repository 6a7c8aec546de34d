//! The image half of the DDIM-inversion scene's view; the figure is
//! [`crate::figures::inversion_images`].

use super::figure;
use super::job::Computation;
use crate::figures::inversion_images::{self, Inverted, STEPS};

/// The image half of the inversion scene.
pub struct ImageInversion {
    names: Vec<String>,
    pair: (usize, usize),
    result: Computation<Inverted>,
    textures: Vec<(String, egui::TextureHandle)>,
    repaint: egui::Context,
}

impl ImageInversion {
    /// The T-shirt and the sneaker.
    #[must_use]
    pub fn new(repaint: &egui::Context) -> Self {
        let mut inversion = Self {
            names: crate::assets::SAMPLE_IMAGES
                .iter()
                .map(|(name, _)| (*name).to_owned())
                .collect(),
            pair: (0, 7),
            result: Computation::default(),
            textures: Vec::new(),
            repaint: repaint.clone(),
        };
        inversion.restart();
        inversion
    }

    fn restart(&mut self) {
        let pair = self.pair;
        self.textures.clear();
        self.result.restart(&self.repaint, move |job| {
            inversion_images::compute(pair, job).map_err(String::from)
        });
    }

    /// The picker, the numbers and the row of images.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.result.poll();
        let before = self.pair;
        for (label, slot) in [("A", &mut self.pair.0), ("B", &mut self.pair.1)] {
            ui.horizontal_wrapped(|ui| {
                ui.label(label);
                for (i, name) in self.names.iter().enumerate() {
                    ui.selectable_value(slot, i, format!("{label}: {name}"));
                }
            });
        }
        if self.pair != before {
            self.restart();
        }
        self.result.status_ui(ui);
        let Some(result) = self.result.value() else {
            return;
        };
        if self.textures.is_empty() {
            self.textures = result
                .row
                .iter()
                .map(|(name, values)| {
                    let texture =
                        ui.ctx()
                            .load_texture(name, figure::gray_image(values), egui::TextureOptions::NEAREST);
                    (name.clone(), texture)
                })
                .collect();
        }
        ui.label(format!(
            "round trip (invert, then decode with {STEPS} DDIM steps), RMS per pixel: A {:.4}, B {:.4}",
            result.round_trip[0], result.round_trip[1]
        ));
        let side = (ui.available_width() / 9.0 - 12.0).clamp(48.0, 120.0);
        ui.horizontal(|ui| {
            for (name, texture) in &self.textures {
                figure::image_ui(ui, texture, side, name);
            }
        });
    }
}
