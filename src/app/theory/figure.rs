//! Pieces the theory scenes' views share: how sampler paths, the noised
//! density, arrows and points are drawn. The computing helpers are
//! [`crate::figures::common`]'s; the ones here return the one-line message a
//! scene shows, for the views that still compute in the window.

use candle_core::Tensor;
use egui::{Color32, ColorImage};
use egui_plot::{Line, PlotImage, PlotPoint, PlotPoints, PlotUi};

use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::Sampler;
use crate::diffusion::{Denoiser, NoiseRng};
use crate::figures::common;
use crate::figures::data::Raster;
use crate::figures::error::FigureError;
use crate::jobs::JobContext as Cancel;

pub use crate::figures::common::{
    Frames, VIEW_MAX, VIEW_MIN, arrow_grid, arrow_tips, first_paths, fractions_text, median_distance, path,
    weights_text,
};
pub use crate::figures::data::Point;

/// Any error as the one-line message a scene shows.
pub fn message(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The rows of a `[n, 2]` tensor.
///
/// # Errors
/// A tensor that is not `[n, 2]`.
pub fn points(x: &Tensor) -> Result<Vec<Point>, String> {
    Ok(common::points(x)?)
}

/// Points as a `[n, 2]` f32 tensor.
///
/// # Errors
/// Only if candle cannot allocate it.
pub fn tensor(points: &[Point]) -> Result<Tensor, String> {
    Ok(common::tensor(points)?)
}

/// Runs `sampler` from `start`, keeping every step; `None` if cancelled.
///
/// # Errors
/// The sampler's failure, as a message.
pub fn trace(
    sampler: &mut dyn Sampler,
    model: &dyn Denoiser,
    labels: Option<&[u32]>,
    start: &Tensor,
    rng: &mut NoiseRng,
    cancel: &Cancel,
) -> Result<Option<Frames>, String> {
    match common::trace(sampler, model, labels, start, rng, cancel) {
        Ok(frames) => Ok(Some(frames)),
        Err(FigureError::Cancelled) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Runs `sampler` unconditionally from `start` to the end, honouring `cancel`.
///
/// # Errors
/// The sampler's failure, or "cancelled".
pub fn run_to_end(
    sampler: &mut dyn Sampler,
    model: &dyn Denoiser,
    start: &Tensor,
    rng: &mut NoiseRng,
    cancel: &Cancel,
) -> Result<Tensor, String> {
    Ok(common::run_to_end(sampler, model, start, rng, cancel)?)
}

/// The fraction of `points` that landed in each of the mixture's components.
///
/// # Errors
/// Tensor failures.
pub fn mode_fractions(mixture: &GaussianMixture, points: &[Point]) -> Result<Vec<f64>, String> {
    Ok(common::mode_fractions(mixture, points)?)
}

/// p_t over the view as a grey image (white = dense), for a plot's background.
///
/// # Errors
/// Tensor failures.
pub fn density_image(mixture: &GaussianMixture, alpha_bar: f64) -> Result<ColorImage, String> {
    Ok(super::view::density_image(&common::density_backdrop(
        mixture, alpha_bar,
    )?))
}

/// A component's colour, the same in every scene.
#[must_use]
pub fn component_color(k: usize) -> Color32 {
    super::view::color(common::component_color(k))
}

/// The colour of deterministic paths (ODE, DDIM) and of stochastic ones (SDE, DDPM).
pub const DETERMINISTIC: Color32 = Color32::from_rgb(
    common::DETERMINISTIC[0],
    common::DETERMINISTIC[1],
    common::DETERMINISTIC[2],
);
/// See [`DETERMINISTIC`].
pub const STOCHASTIC: Color32 = Color32::from_rgb(common::STOCHASTIC[0], common::STOCHASTIC[1], common::STOCHASTIC[2]);

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

/// Draws a density image under the plot's other items.
pub fn density_ui(plot_ui: &mut PlotUi<'_>, texture: &egui::TextureHandle) {
    let center = PlotPoint::new(
        f64::midpoint(VIEW_MIN[0], VIEW_MAX[0]),
        f64::midpoint(VIEW_MIN[1], VIEW_MAX[1]),
    );
    let size = egui::vec2((VIEW_MAX[0] - VIEW_MIN[0]) as f32, (VIEW_MAX[1] - VIEW_MIN[1]) as f32);
    plot_ui.image(PlotImage::new("p_t", texture, center, size));
}

/// Draws the first `count` particles' paths in one colour; only the first is named.
pub fn paths_ui(plot_ui: &mut PlotUi<'_>, name: &str, frames: &Frames, count: usize, color: Color32) {
    let particles = frames.first().map_or(0, Vec::len).min(count);
    for i in 0..particles {
        let line = Line::new(name, PlotPoints::from(path(frames, i)))
            .color(color)
            .width(1.2);
        // One legend entry per colour: egui_plot merges items with the same name.
        plot_ui.line(line);
    }
}

/// A square plot over the view, sized to `size`.
#[must_use]
pub fn plane_plot(id: &str, size: egui::Vec2) -> egui_plot::Plot<'static> {
    egui_plot::Plot::new(id.to_owned())
        .width(size.x)
        .height(size.y)
        .data_aspect(1.0)
        .include_x(VIEW_MIN[0])
        .include_x(VIEW_MAX[0])
        .include_y(VIEW_MIN[1])
        .include_y(VIEW_MAX[1])
        .legend(egui_plot::Legend::default())
}

/// Loads a density image as a texture once it arrives.
pub fn upload(ctx: &egui::Context, name: &str, image: &ColorImage) -> egui::TextureHandle {
    ctx.load_texture(name, image.clone(), egui::TextureOptions::LINEAR)
}

/// Draws arrows from `origins` to `tips`.
pub fn arrows_ui(plot_ui: &mut PlotUi<'_>, name: &str, origins: &[Point], tips: &[Point], color: Color32) {
    plot_ui.arrows(
        egui_plot::Arrows::new(
            name,
            PlotPoints::from(origins.to_vec()),
            PlotPoints::from(tips.to_vec()),
        )
        .color(color)
        .tip_length(6.0),
    );
}

/// Draws points.
pub fn points_ui(plot_ui: &mut PlotUi<'_>, name: &str, points: &[Point], radius: f32, color: Color32) {
    plot_ui.points(
        egui_plot::Points::new(name, PlotPoints::from(points.to_vec()))
            .radius(radius)
            .color(color),
    );
}

/// The density p_t drawn behind a plot, computed once off the UI thread.
pub struct Backdrop {
    image: super::job::Computation<ColorImage>,
    texture: Option<egui::TextureHandle>,
}

impl Backdrop {
    /// Starts computing `mixture`'s density at `alpha_bar`.
    #[must_use]
    pub fn new(repaint: &egui::Context, mixture: &std::sync::Arc<GaussianMixture>, alpha_bar: f64) -> Self {
        let mut image = super::job::Computation::default();
        let mixture = std::sync::Arc::clone(mixture);
        image.restart(repaint, move |_| density_image(&mixture, alpha_bar));
        Self { image, texture: None }
    }

    /// Uploads the image once it has arrived.
    pub fn poll(&mut self, ctx: &egui::Context) {
        if self.image.poll()
            && let Some(image) = self.image.value()
        {
            self.texture = Some(upload(ctx, "backdrop", image));
        }
    }

    /// "computing…" while the density is not there yet; scenes put it at the
    /// end of a row, so that it never moves a control when it goes.
    pub fn status_ui(&self, ui: &mut egui::Ui) {
        self.image.status_ui(ui);
    }

    /// Draws the density, if ready.
    pub fn ui(&self, plot_ui: &mut PlotUi<'_>) {
        if let Some(texture) = &self.texture {
            density_ui(plot_ui, texture);
        }
    }
}

/// Shows `texture` at `side` points square, with a caption under it.
pub fn image_ui(ui: &mut egui::Ui, texture: &egui::TextureHandle, side: f32, caption: &str) {
    ui.vertical(|ui| {
        ui.add(egui::Image::new((texture.id(), egui::vec2(side, side))));
        ui.label(caption);
    });
}
