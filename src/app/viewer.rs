//! The 2D viewer: particles at x_t over the noised density p_t, with trails and
//! the score field as arrows.

use std::sync::Arc;

use candle_core::{Device, Tensor};
use egui::{Color32, Rect, Stroke, Vec2};

use crate::diffusion::mixture::GaussianMixture;
use crate::render::plane::{PlaneCallback, PlaneResources, ViewUniform};

/// Arrows per side of the score grid.
const ARROW_GRID: usize = 17;
/// Trails cover at most this many particles, to keep the software rasteriser
/// fast: a trail's cost is per segment, and 150 trails held lavapipe's binning
/// and rasteriser threads for about a third of the 2D picture's work. With 100,
/// a 1000-step run streamed about 9% faster a frame (8 pairs of alternating
/// rounds in one process), and the paths read as clearly among 2000 particles.
const TRAIL_PARTICLES: u32 = 100;
/// Trails cover at most this many recent steps: a 1000-step run drew 1000
/// segments per particle per frame, 300 ms a frame on lavapipe (the benchmark).
const TRAIL_STEPS: u32 = 100;
/// Trails have about this many segments at most, each spanning several steps
/// when the trail covers more: a software renderer pays for every triangle,
/// and 100 one-step segments of each of 150 trails were a fifth of a frame.
const TRAIL_SEGMENTS: u32 = 25;
/// A trail's width in points.
const TRAIL_WIDTH_POINTS: f32 = 1.0;
/// Trails at most this many pixels wide (a 1280×720 or 1920×1080 screen at
/// one pixel a point) are drawn as one-pixel GPU lines: one primitive a
/// segment, where a quad is two triangles, and llvmpipe pays for every
/// primitive (the 2D scene redrawn every frame: the trails from about 10 to
/// 3–7 ms of rasteriser time a frame, `examples/region_costs -- scrub`).
/// Wider ones stay quads, which scale with the screen.
const LINE_TRAIL_MAX_PIXELS: f32 = 1.5;

/// What the viewer shows this frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlaneFrame {
    /// The frame index on the GPU.
    pub step: u32,
    /// Frames in the whole run.
    pub frames: u32,
    /// Particles per frame.
    pub particles: u32,
    /// ᾱ at the frame's t.
    pub alpha_bar: f64,
    /// Whether to draw the density, the score arrows and the trails.
    pub show_density: bool,
    /// See `show_density`.
    pub show_score: bool,
    /// See `show_density`.
    pub show_trails: bool,
    /// Whether to draw each particle's x̂0, joined to it.
    pub show_x0: bool,
}

/// The central 2D view.
pub struct PlaneViewer {
    mixture: Arc<GaussianMixture>,
    half_extent: f32,
    arrows_alpha_bar: Option<f64>,
}

impl PlaneViewer {
    /// A viewer framing `mixture`.
    #[must_use]
    pub fn new(mixture: Arc<GaussianMixture>) -> Self {
        let half_extent = frame_extent(&mixture);
        Self {
            mixture,
            half_extent,
            arrows_alpha_bar: None,
        }
    }

    /// The data half-width shown (the view is [−h, h]² around the origin).
    #[must_use]
    pub fn half_extent(&self) -> f32 {
        self.half_extent
    }

    /// Draws the view, square and as large as fits; its rectangle. The score
    /// arrows go to the GPU through `render_state` (none without one).
    pub fn ui(&mut self, ui: &mut egui::Ui, frame: PlaneFrame, render_state: Option<&egui_wgpu::RenderState>) -> Rect {
        let size = ui.available_size();
        let side = size.x.min(size.y).max(50.0);
        let (rect, _response) = ui.allocate_exact_size(Vec2::splat(side), egui::Sense::hover());
        let rect = Rect::from_center_size(rect.center(), Vec2::splat(side));
        let scale = 1.0 / self.half_extent;
        // In points, like every other size in the UI: the same look on a 4K screen.
        let radius_points = 1.6;
        let clip_per_point = 2.0 / side;
        let trail_pixels = TRAIL_WIDTH_POINTS * ui.ctx().pixels_per_point();
        let trail_lines = trail_pixels <= LINE_TRAIL_MAX_PIXELS;
        // Stronger than the 0.12 that suited 300 trails: half as many now
        // carry the same picture of the flow. A one-pixel line lays down as
        // much colour along its length as the quad it stands for.
        let trail_alpha = if trail_lines { 0.18 * trail_pixels } else { 0.18 };
        let view = ViewUniform {
            center: [0.0, 0.0],
            scale: [scale, scale],
            point_radius: [radius_points * clip_per_point; 2],
            trail_half_width: [0.5 * TRAIL_WIDTH_POINTS * clip_per_point; 2],
            alpha_bar: frame.alpha_bar as f32,
            density_gain: 1.0,
            padding: [0.0; 2],
            particle_color: [0.55, 0.85, 1.0, 0.85],
            trail_color: [0.55, 0.85, 1.0, trail_alpha],
            // The density's amber family would hide it; a light green reads on both.
            x0_color: [0.6, 1.0, 0.55, 0.9],
            arrow_color: [1.0, 1.0, 1.0, 150.0 / 255.0],
            arrow_geometry: [
                clip_per_point,
                0.45 * side / ARROW_GRID as f32,
                SHAFT_HALF_WIDTH_POINTS,
                HEAD_LENGTH_POINTS,
            ],
        };
        // The same stride all run long, so a trail's shape holds still as it plays.
        let trail_stride = TRAIL_STEPS
            .min(frame.frames.saturating_sub(1))
            .div_ceil(TRAIL_SEGMENTS)
            .max(1);
        let trail_from = if frame.show_trails {
            frame
                .step
                .saturating_sub(TRAIL_STEPS)
                .next_multiple_of(trail_stride)
                .min(frame.step)
        } else {
            frame.step
        };
        let callback = PlaneCallback {
            view,
            step: frame.step,
            trail_from,
            trail_stride,
            particles: frame.particles,
            trail_particles: if frame.show_trails { TRAIL_PARTICLES } else { 0 },
            trail_lines,
            show_density: frame.show_density,
            density_side: crate::render::plane::density_side_for(
                rect.width().max(rect.height()) * ui.ctx().pixels_per_point(),
                self.half_extent,
                self.mixture.narrowest_noised_std(frame.alpha_bar),
            ),
            show_score: frame.show_score,
            show_x0: frame.show_x0,
            view_pixels: (side * ui.ctx().pixels_per_point()).round() as u32,
        };
        ui.painter()
            .add(egui_wgpu::Callback::new_paint_callback(rect, callback));
        if frame.show_score {
            self.upload_arrows(render_state, frame.alpha_bar);
        }
        self.axes_ui(ui, rect);
        rect
    }

    /// Recomputes the score arrows when ᾱ changed and hands them to the GPU.
    fn upload_arrows(&mut self, render_state: Option<&egui_wgpu::RenderState>, alpha_bar: f64) {
        if self.arrows_alpha_bar == Some(alpha_bar) {
            return;
        }
        let Some(state) = render_state else {
            return;
        };
        let arrows = score_grid(&self.mixture, self.half_extent, alpha_bar).unwrap_or_default();
        if let Some(plane) = state.renderer.write().callback_resources.get_mut::<PlaneResources>() {
            plane.set_arrows(&state.device, &state.queue, &arrows);
            self.arrows_alpha_bar = Some(alpha_bar);
        }
    }

    fn axes_ui(&self, ui: &egui::Ui, rect: Rect) {
        let painter = ui.painter();
        let color = Color32::from_gray(160);
        painter.rect_stroke(rect, 0.0, Stroke::new(1.0, color), egui::StrokeKind::Inside);
        let h = self.half_extent;
        for (text, anchor, align) in [
            (format!("{:.1}", -h), rect.left_bottom(), egui::Align2::LEFT_BOTTOM),
            (format!("{h:.1}"), rect.right_bottom(), egui::Align2::RIGHT_BOTTOM),
            (format!("{h:.1}"), rect.left_top(), egui::Align2::LEFT_TOP),
        ] {
            painter.text(anchor, align, text, egui::FontId::proportional(12.0), color);
        }
    }
}

/// Half the arrow shaft's width, in points.
const SHAFT_HALF_WIDTH_POINTS: f32 = 0.6;
/// The longest an arrow's head gets, in points.
const HEAD_LENGTH_POINTS: f32 = 6.0;

/// p_t on a `grid × grid` lattice over the view (rows from the top), relative
/// to its largest value there and on a sqrt scale, like the density shader.
#[must_use]
pub fn density_levels(mixture: &GaussianMixture, half_extent: f32, alpha_bar: f64, grid: usize) -> Vec<f64> {
    let mut points = Vec::with_capacity(grid * grid * 2);
    for row in 0..grid {
        for col in 0..grid {
            let (u, v) = ((col as f32 + 0.5) / grid as f32, (row as f32 + 0.5) / grid as f32);
            points.extend([(2.0 * u - 1.0) * half_extent, (1.0 - 2.0 * v) * half_extent]);
        }
    }
    let log_density = Tensor::from_vec(points, (grid * grid, 2), &Device::Cpu)
        .ok()
        .and_then(|x| mixture.log_density(&x, alpha_bar).ok())
        .unwrap_or_default();
    let peak = log_density.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    log_density.iter().map(|l| (l - peak).exp().sqrt()).collect()
}

/// A square around the origin that holds every component's mean ± 3 std.
fn frame_extent(mixture: &GaussianMixture) -> f32 {
    let reach = mixture
        .components()
        .iter()
        .map(|c| c.mean.iter().take(2).map(|m| m.abs()).fold(0.0, f64::max) + 3.0 * c.std)
        .fold(3.0, f64::max);
    let reach = reach as f32;
    reach * 1.1
}

/// Score directions on a grid, scaled so the longest arrow has length 1.
/// The exact score on an `ARROW_GRID²` lattice over the view: each arrow's
/// origin (data units) and direction, the longest of length 1.
fn score_grid(mixture: &GaussianMixture, half_extent: f32, alpha_bar: f64) -> Option<Vec<[f32; 4]>> {
    let alpha_bar = alpha_bar.min(1.0 - 1e-6);
    let mut points = Vec::with_capacity(ARROW_GRID * ARROW_GRID * 2);
    for row in 0..ARROW_GRID {
        for col in 0..ARROW_GRID {
            let u = (col as f32 + 0.5) / ARROW_GRID as f32 * 2.0 - 1.0;
            let v = (row as f32 + 0.5) / ARROW_GRID as f32 * 2.0 - 1.0;
            points.extend([u * half_extent, v * half_extent]);
        }
    }
    let x = Tensor::from_vec(points.clone(), (ARROW_GRID * ARROW_GRID, 2), &Device::Cpu).ok()?;
    let score: Vec<Vec<f32>> = mixture.score(&x, alpha_bar, None).ok()?.to_vec2().ok()?;
    let longest = score.iter().map(|s| s[0].hypot(s[1])).fold(1e-12, f32::max);
    Some(
        score
            .iter()
            .enumerate()
            .map(|(i, s)| [points[2 * i], points[2 * i + 1], s[0] / longest, s[1] / longest])
            .collect(),
    )
}
