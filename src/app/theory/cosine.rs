//! The cosine-vs-linear scene's view; the figure is [`crate::figures::cosine`].

use super::view::{self, Textures};
use super::{SceneContext, TheoryScene};
use crate::figures::common::schedule_color;
use crate::figures::cosine::{self, Comparison, GONE, Setup};

/// The cosine-vs-linear scene.
pub struct CosineScene {
    setup: Setup,
    names: Vec<String>,
    /// The figure of `setup` (a few milliseconds: computed when it changes).
    comparison: Option<(Setup, Result<Comparison, String>)>,
    textures: Textures,
}

impl CosineScene {
    /// The T-shirt under both schedules.
    #[must_use]
    pub fn new(_context: &SceneContext) -> Self {
        Self {
            setup: Setup::default(),
            names: crate::assets::SAMPLE_IMAGES
                .iter()
                .map(|(name, _)| (*name).to_owned())
                .collect(),
            comparison: None,
            textures: Textures::default(),
        }
    }
}

impl TheoryScene for CosineScene {
    fn caption(&self) -> &'static str {
        "Improved DDPM's cosine schedule ᾱ_t = f(t)/f(0), f(t) = cos²(((t/T + 0.008)/1.008)·π/2), \
         against the linear β_t = 10⁻⁴ … 0.02. Same image, same ε, same t: under the linear schedule \
         the image is gone long before t = T."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            for (i, name) in self.names.iter().enumerate() {
                ui.selectable_value(&mut self.setup.image, i, name);
            }
        });
        if self.comparison.as_ref().is_none_or(|(s, _)| *s != self.setup) {
            self.comparison = Some((self.setup, cosine::compute(&self.setup).map_err(String::from)));
            self.textures.clear();
        }
        let Some((_, result)) = &self.comparison else {
            return;
        };
        let comparison = match result {
            Ok(comparison) => comparison,
            Err(message) => {
                ui.colored_label(ui.visuals().error_fg_color, message);
                return;
            }
        };
        for row in &comparison.rows {
            ui.colored_label(
                view::color(schedule_color(row.kind)),
                format!(
                    "{}: the image is gone (√ᾱ_t < {GONE}) for {:.1} % of the T steps",
                    row.kind,
                    100.0 * row.share_gone
                ),
            );
        }
        let figure = comparison.figure();
        let side = (ui.available_width() / 7.0 - 12.0).clamp(40.0, 110.0);
        view::images_ui(ui, &figure.images, &mut self.textures, cosine::SHOWN_T.len(), side);
        view::panels_ui(ui, "cosine", &figure.panels, &mut self.textures, ui.available_height());
    }
}
