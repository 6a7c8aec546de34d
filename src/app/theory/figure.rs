//! Pieces the theory scenes' figures share: sampler paths, the noised density
//! as an image, which mode samples landed in, and how each is drawn.

use std::fmt::Display;
use std::ops::ControlFlow;

use candle_core::{Device, Tensor};
use egui::{Color32, ColorImage};
use egui_plot::{Line, PlotImage, PlotPoint, PlotPoints, PlotUi};

use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{Sampler, run_sampler};
use crate::diffusion::{Denoiser, NoiseRng};
use crate::jobs::JobContext as Cancel;

/// A point of the plane.
pub type Point = [f64; 2];

/// The plane every 2D scene shows: x from −4.5 to 4.5, y from −4 to 4.
pub const VIEW_MIN: Point = [-4.5, -4.0];
/// The view's upper corner.
pub const VIEW_MAX: Point = [4.5, 4.0];

/// Pixels per side of a density image.
const DENSITY_PIXELS: usize = 160;

/// Any error as the one-line message a scene shows.
pub fn message(e: impl Display) -> String {
    e.to_string()
}

/// The rows of a `[n, 2]` tensor.
///
/// # Errors
/// A tensor that is not `[n, 2]`.
pub fn points(x: &Tensor) -> Result<Vec<Point>, String> {
    let rows = x
        .to_dtype(candle_core::DType::F64)
        .and_then(|x| x.to_vec2::<f64>())
        .map_err(message)?;
    rows.iter()
        .map(|r| match r.as_slice() {
            [a, b] => Ok([*a, *b]),
            _ => Err(format!("expected 2D points, got rows of {}", r.len())),
        })
        .collect()
}

/// Points as a `[n, 2]` f32 tensor.
///
/// # Errors
/// Only if candle cannot allocate it.
pub fn tensor(points: &[Point]) -> Result<Tensor, String> {
    let values: Vec<f32> = points.iter().flat_map(|p| [p[0] as f32, p[1] as f32]).collect();
    Tensor::from_vec(values, (points.len(), 2), &Device::Cpu).map_err(message)
}

/// Every particle's position before the first step and after each step:
/// `frames[k][i]` is particle i after k steps.
pub type Frames = Vec<Vec<Point>>;

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
    let mut frames = vec![points(start)?];
    let mut failure = None;
    let finished = run_sampler(sampler, model, labels, start, rng, |out| {
        if cancel.is_cancelled() {
            return ControlFlow::Break(());
        }
        match points(&out.x_next) {
            Ok(p) => {
                frames.push(p);
                ControlFlow::Continue(())
            }
            Err(e) => {
                failure = Some(e);
                ControlFlow::Break(())
            }
        }
    })
    .map_err(message)?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(finished.map(|_| frames))
}

/// Particle `i`'s path through `frames`.
#[must_use]
pub fn path(frames: &Frames, i: usize) -> Vec<Point> {
    frames.iter().filter_map(|f| f.get(i).copied()).collect()
}

/// The first `count` particles of every frame: the paths a figure draws.
#[must_use]
pub fn first_paths(frames: Frames, count: usize) -> Frames {
    frames
        .into_iter()
        .map(|f| f.into_iter().take(count).collect())
        .collect()
}

/// The median distance between matching points: a few particles that cross
/// into another mode would swamp a mean.
#[must_use]
pub fn median_distance(a: &[Point], b: &[Point]) -> f64 {
    let mut distances: Vec<f64> = a.iter().zip(b).map(|(p, q)| (p[0] - q[0]).hypot(p[1] - q[1])).collect();
    distances.sort_by(f64::total_cmp);
    distances.get(distances.len() / 2).copied().unwrap_or(0.0)
}

/// The fraction of `points` that landed in each of the mixture's components.
///
/// # Errors
/// Tensor failures.
pub fn mode_fractions(mixture: &GaussianMixture, points: &[Point]) -> Result<Vec<f64>, String> {
    let mut counts = vec![0_usize; mixture.components().len()];
    for k in mixture.assign(&tensor(points)?).map_err(message)? {
        counts[k] += 1;
    }
    let total = points.len().max(1) as f64;
    Ok(counts.iter().map(|&n| n as f64 / total).collect())
}

/// Fractions as "0.70 / 0.20 / 0.10".
#[must_use]
pub fn fractions_text(fractions: &[f64]) -> String {
    fractions
        .iter()
        .map(|f| format!("{f:.2}"))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The mixture's weights as "0.70 / 0.20 / 0.10".
#[must_use]
pub fn weights_text(mixture: &GaussianMixture) -> String {
    let weights: Vec<f64> = mixture.components().iter().map(|c| c.weight).collect();
    fractions_text(&weights)
}

/// p_t over the view as a grey image (white = dense), for a plot's background.
///
/// # Errors
/// Tensor failures.
pub fn density_image(mixture: &GaussianMixture, alpha_bar: f64) -> Result<ColorImage, String> {
    let n = DENSITY_PIXELS;
    let at = |i: usize, lo: f64, hi: f64| lo + (hi - lo) * (i as f64 + 0.5) / n as f64;
    let mut grid = Vec::with_capacity(n * n);
    for row in 0..n {
        // Row 0 is the top of the image: the largest y.
        let y = at(n - 1 - row, VIEW_MIN[1], VIEW_MAX[1]);
        grid.extend((0..n).map(|col| [at(col, VIEW_MIN[0], VIEW_MAX[0]), y]));
    }
    let log_p = mixture.log_density(&tensor(&grid)?, alpha_bar).map_err(message)?;
    let max = log_p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pixels = log_p
        .iter()
        .map(|l| {
            // √ of the relative density: the tails stay visible.
            let v = (20.0 + 120.0 * ((l - max) / 2.0).exp()) as u8;
            Color32::from_gray(v)
        })
        .collect();
    Ok(ColorImage::new([n, n], pixels))
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

/// A component's colour, the same in every scene.
#[must_use]
pub fn component_color(k: usize) -> Color32 {
    const COLORS: [Color32; 4] = [
        Color32::from_rgb(240, 150, 60),
        Color32::from_rgb(100, 180, 250),
        Color32::from_rgb(120, 200, 110),
        Color32::from_rgb(230, 120, 200),
    ];
    COLORS[k % COLORS.len()]
}

/// The colour of deterministic paths (ODE, DDIM) and of stochastic ones (SDE, DDPM).
pub const DETERMINISTIC: Color32 = Color32::from_rgb(100, 180, 250);
/// See [`DETERMINISTIC`].
pub const STOCHASTIC: Color32 = Color32::from_rgb(240, 150, 60);

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

/// A regular grid of arrow origins over the view, `per_side` along x.
#[must_use]
pub fn arrow_grid(per_side: usize) -> Vec<Point> {
    let step = (VIEW_MAX[0] - VIEW_MIN[0]) / per_side as f64;
    let mut grid = Vec::new();
    let mut y = VIEW_MIN[1] + step / 2.0;
    while y < VIEW_MAX[1] {
        grid.extend((0..per_side).map(|i| {
            let x = VIEW_MIN[0] + step * (i as f64 + 0.5);
            [x, y]
        }));
        y += step;
    }
    grid
}

/// Arrows from `origins` along `vectors`, each at most `max_length` long
/// (direction kept), so that steep fields stay readable.
#[must_use]
pub fn arrow_tips(origins: &[Point], vectors: &[Point], max_length: f64) -> Vec<Point> {
    origins
        .iter()
        .zip(vectors)
        .map(|(o, v)| {
            let length = v[0].hypot(v[1]);
            let scale = if length > max_length { max_length / length } else { 1.0 };
            [o[0] + v[0] * scale, o[1] + v[1] * scale]
        })
        .collect()
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

/// A square grey image of values in [−1, 1] (−1 black, +1 white); `NaN`
/// marks a hidden pixel, drawn in a muted blue.
#[must_use]
pub fn gray_image(values: &[f32]) -> ColorImage {
    let side = (values.len() as f64).sqrt() as usize;
    let pixels = values
        .iter()
        .map(|v| {
            if v.is_nan() {
                Color32::from_rgb(40, 70, 120)
            } else {
                let level = ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8;
                Color32::from_gray(level)
            }
        })
        .collect();
    ColorImage::new([side, side], pixels)
}

/// Shows `texture` at `side` points square, with a caption under it.
pub fn image_ui(ui: &mut egui::Ui, texture: &egui::TextureHandle, side: f32, caption: &str) {
    ui.vertical(|ui| {
        ui.add(egui::Image::new((texture.id(), egui::vec2(side, side))));
        ui.label(caption);
    });
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
    let keep_going = |_: &crate::diffusion::sampler::StepOutput| {
        if cancel.is_cancelled() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    run_sampler(sampler, model, None, start, rng, keep_going)
        .map_err(message)?
        .ok_or_else(|| "cancelled".into())
}
