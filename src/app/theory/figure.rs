//! Pieces the image scenes' views share: a grey image as a texture, and an
//! image with its caption.

use egui::ColorImage;

use crate::figures::data::Raster;

/// A square grey image of values in [−1, 1] (−1 black, +1 white); `NaN`
/// marks a hidden pixel, drawn in a muted blue.
#[must_use]
pub fn gray_image(values: &[f32]) -> ColorImage {
    super::view::gray_image(&Raster {
        name: String::new(),
        width: values.len().isqrt(),
        values: values.to_vec(),
    })
}

/// Shows `texture` at `side` points square, with a caption under it.
pub fn image_ui(ui: &mut egui::Ui, texture: &egui::TextureHandle, side: f32, caption: &str) {
    ui.vertical(|ui| {
        ui.add(egui::Image::new((texture.id(), egui::vec2(side, side))));
        ui.label(caption);
    });
}
