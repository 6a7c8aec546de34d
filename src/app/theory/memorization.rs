//! The memorization scene's view; the figure is [`crate::figures::memorization`].

use super::figure;
use super::job::Computation;
use super::{SceneContext, TheoryScene};
use crate::figures::memorization::{self, Memorization, Setup};

/// The memorization scene.
pub struct MemorizationScene {
    context: SceneContext,
    setup: Setup,
    result: Computation<Memorization>,
    textures: Vec<Vec<(egui::TextureHandle, egui::TextureHandle)>>,
}

impl MemorizationScene {
    /// Class 0 (T-shirt/top).
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            context: context.clone(),
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
            memorization::compute(&setup, job).map_err(String::from)
        });
    }

    fn upload(&mut self, ctx: &egui::Context) {
        let Some(result) = self.result.value() else {
            return;
        };
        if !self.textures.is_empty() {
            return;
        }
        let load = |name: String, values: &[f32]| {
            ctx.load_texture(name, figure::gray_image(values), egui::TextureOptions::NEAREST)
        };
        self.textures = result
            .rows
            .iter()
            .enumerate()
            .map(|(r, row)| {
                row.samples
                    .iter()
                    .zip(&row.nearest)
                    .enumerate()
                    .map(|(i, (s, n))| (load(format!("m{r}s{i}"), s), load(format!("m{r}n{i}"), n)))
                    .collect()
            })
            .collect();
    }
}

impl TheoryScene for MemorizationScene {
    fn caption(&self) -> &'static str {
        "The optimal denoiser of a finite training set, E[x0|x_t] = Σ_i w_i(x_t) x0^(i), can only \
         reproduce its training images. A trained network generalises: each sample is shown above \
         its nearest training image, with the RMS distance between them."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.result.poll();
        let before = self.setup.class;
        ui.horizontal_wrapped(|ui| {
            for (class, name) in crate::data::idx::FASHION_MNIST_CLASSES.iter().enumerate() {
                ui.selectable_value(&mut self.setup.class, class as u32, *name);
            }
        });
        if self.setup.class != before {
            self.restart();
        }
        self.upload(ui.ctx());
        self.result.status_ui(ui);
        let Some(result) = self.result.value() else {
            return;
        };
        // Three rows of two images each, with a line of text per row and per pair.
        let side = ((ui.available_height() - 140.0) / 6.0)
            .min(ui.available_width() / 12.0 - 10.0)
            .clamp(32.0, 90.0);
        for (row, textures) in result.rows.iter().zip(&self.textures) {
            let mean = row.mean_distance();
            ui.label(format!(
                "{}: mean distance to the nearest training image {mean:.3}",
                row.name
            ));
            ui.horizontal(|ui| {
                for ((sample, nearest), distance) in textures.iter().zip(&row.distances) {
                    ui.vertical(|ui| {
                        ui.add(egui::Image::new((sample.id(), egui::vec2(side, side))));
                        ui.add(egui::Image::new((nearest.id(), egui::vec2(side, side))));
                        ui.label(format!("{distance:.3}"));
                    });
                }
            });
        }
    }
}
