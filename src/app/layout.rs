//! The window's layout, figure first. From left to right: the controls, with
//! the scene menu at their top (they fold to a thin strip), the figure, and
//! the side strip (the caption, the timeline and the plots, stacked; it folds
//! too). A 16:9 projector is
//! wider than a square figure, so what the figure cannot use goes to the strip
//! beside it, never below it: the figure keeps the window's whole height.

use std::time::Instant;

use egui::Vec2;

use super::background::Background;
use super::controls::Scene;
use super::frame_stats::FrameStats;
use super::navigator::{self, NavigatorRequests};
use super::{ExplorerApp, keys, presentation, teaching};

/// The side strip's narrowest width, in points.
const STRIP_MIN_WIDTH: f32 = 240.0;
/// The folded controls' and strip's width, in points.
const FOLDED_WIDTH: f32 = 36.0;

/// What is shown around the figure.
pub struct LayoutState {
    /// Whether the controls panel is open (folded: a thin strip).
    pub controls_open: bool,
    /// Whether the side strip (caption, timeline, plots) is open.
    pub strip_open: bool,
    /// The strip's width once its edge is dragged (`None`: what the figure leaves).
    pub strip_width: Option<f32>,
    /// The light theme.
    pub light: bool,
    /// Frame times (F12, `--frame-stats`).
    pub frame_stats: FrameStats,
    /// Where the figure was drawn in the last frame, in points.
    pub figure_rect: Option<egui::Rect>,
    /// The side panels drawn in the last frame (controls, strip), in points.
    pub panel_rects: Vec<egui::Rect>,
    /// Whether egui or the clear paints the panels' background.
    pub background: Background,
}

impl Default for LayoutState {
    fn default() -> Self {
        Self {
            controls_open: true,
            strip_open: true,
            strip_width: None,
            light: false,
            frame_stats: FrameStats::default(),
            figure_rect: None,
            panel_rects: Vec::new(),
            background: Background::Painted,
        }
    }
}

/// The largest size of an image of `pixels` that fits `available` (points)
/// magnified by a whole number of screen pixels per image pixel, so nearest-
/// neighbour sampling keeps every pixel square; an image larger than the space
/// is shrunk to fit instead.
#[must_use]
pub fn whole_number_fit(available: Vec2, pixels: Vec2, pixels_per_point: f32) -> Vec2 {
    let pixels = pixels.max(Vec2::splat(1.0));
    let fit = (available.x * pixels_per_point / pixels.x).min(available.y * pixels_per_point / pixels.y);
    let scale = if fit >= 1.0 { fit.floor() } else { fit.max(0.01) };
    pixels * scale / pixels_per_point
}

/// Allocates, centred in `ui`, the largest whole-number magnification of an
/// image of `pixels` ([`whole_number_fit`]); its rectangle.
pub fn allocate_whole_number_ui(ui: &mut egui::Ui, pixels: Vec2) -> egui::Rect {
    let size = whole_number_fit(ui.available_size(), pixels, ui.ctx().pixels_per_point());
    ui.vertical_centered(|ui| ui.allocate_exact_size(size, egui::Sense::hover()).0)
        .inner
}

/// `panel` filled with `color` except for `hole`, as plain quads: no
/// anti-aliased edges, so the pieces meet without seams. The hole shrinks by a
/// point so that its opaque figure, drawn on top, covers the boundary.
fn fill_around(panel: egui::Rect, hole: Option<egui::Rect>, color: egui::Color32) -> egui::Shape {
    let mut mesh = egui::Mesh::default();
    let hole = hole.map(|h| h.shrink(1.0).intersect(panel)).filter(|h| h.is_positive());
    let Some(hole) = hole else {
        mesh.add_colored_rect(panel, color);
        return egui::Shape::mesh(mesh);
    };
    let pieces = [
        // Above and below the hole, the panel's whole width; beside it, its rows.
        egui::Rect::from_x_y_ranges(panel.x_range(), panel.top()..=hole.top()),
        egui::Rect::from_x_y_ranges(panel.x_range(), hole.bottom()..=panel.bottom()),
        egui::Rect::from_x_y_ranges(panel.left()..=hole.left(), hole.y_range()),
        egui::Rect::from_x_y_ranges(hole.right()..=panel.right(), hole.y_range()),
    ];
    for piece in pieces.into_iter().filter(|r| r.is_positive()) {
        mesh.add_colored_rect(piece, color);
    }
    egui::Shape::mesh(mesh)
}

impl ExplorerApp {
    /// Where the figure was drawn in the last frame (points).
    #[must_use]
    pub fn figure_rect(&self) -> Option<egui::Rect> {
        self.layout.figure_rect
    }

    /// From now on the window's clear paints the panels' background, not egui
    /// (see [`Background`]): for a real window, whose clear colour eframe takes
    /// from [`eframe::App::clear_color`].
    pub fn clear_background(&mut self, ctx: &egui::Context) {
        if self.layout.background == Background::Painted {
            self.layout.background = Background::clear_instead_of_painting(ctx);
        }
    }

    /// On a software renderer ([`crate::render::is_software`]), egui draws
    /// shapes without feathering, its anti-aliasing of edges: a feathered
    /// edge is a band of thin triangles one pixel wide, which the GPU draws
    /// for next to nothing and a software rasteriser pays for block by block.
    /// At rest in the 2D scene at 1280×720 on lavapipe it halves egui's
    /// triangles (9 046 to 4 078) and takes 0.5–1.5 ms off a 9–10.5 ms frame
    /// in three runs of `examples/region_costs`. Text is drawn from its glyph
    /// texture either way; lines and curved edges lose their soft pixel.
    ///
    /// Its widgets also get square corners. A rounded rectangle is filled as
    /// a fan of slivers from one corner, each crossing the whole rectangle,
    /// so a software rasteriser shades most of its blocks several times; a
    /// square one is two triangles. In the 2D scene at 1280×720 it takes
    /// egui's triangles from 4 076 to 2 260 and the 4×4-pixel blocks they
    /// touch from 42 929 to 24 831. A GPU keeps both.
    /// Returns whether it changed anything.
    pub fn fit_renderer(ctx: &egui::Context, render_state: Option<&egui_wgpu::RenderState>) -> bool {
        let software = render_state.is_some_and(crate::render::is_software);
        if software {
            ctx.tessellation_options_mut(|options| options.feathering = false);
            ctx.all_styles_mut(square_corners);
        }
        software
    }

    /// The model thread's priority: beside a software renderer it takes only
    /// the CPU time the rasteriser leaves ([`crate::jobs::Priority::Background`]);
    /// a GPU leaves the CPU to the model.
    pub(crate) fn model_priority(render_state: Option<&egui_wgpu::RenderState>) -> crate::jobs::Priority {
        if render_state.is_some_and(crate::render::is_software) {
            crate::jobs::Priority::Background
        } else {
            crate::jobs::Priority::Normal
        }
    }

    /// The side panels drawn in the last frame: the controls and the strip.
    #[must_use]
    pub fn panel_rects(&self) -> &[egui::Rect] {
        &self.layout.panel_rects
    }

    /// Whether the light theme is on.
    #[must_use]
    pub fn is_light(&self) -> bool {
        self.layout.light
    }

    /// Whether the controls panel is open.
    #[must_use]
    pub fn controls_open(&self) -> bool {
        self.layout.controls_open
    }

    /// Shows the scene `id` (from the next frame on, as a click in the navigator does).
    pub fn show_scene(&mut self, id: crate::scenes::SceneId) {
        self.controls.scene = Scene::from_id(id);
    }

    /// Switches to the light theme (or back to the dark one).
    pub fn set_light_theme(&mut self, light: bool) {
        self.layout.light = light;
        self.sync_theme(&self.repaint.clone());
    }

    /// Makes egui's theme the one chosen. Checked every frame, because the
    /// shell may set its own after the app is built (egui_kittest does).
    fn sync_theme(&self, ctx: &egui::Context) {
        let theme = if self.layout.light {
            egui::Theme::Light
        } else {
            egui::Theme::Dark
        };
        if ctx.theme() != theme {
            ctx.set_theme(theme);
        }
    }

    /// Acts on the navigator header's buttons and the layout keys.
    fn apply_layout_requests(&mut self, header: NavigatorRequests, keys: keys::KeyActions, ctx: &egui::Context) {
        self.show_help ^= header.help;
        if header.present {
            self.toggle_presentation(ctx);
        }
        if header.theme || keys.toggle_theme {
            self.set_light_theme(!self.layout.light);
        }
        self.layout.controls_open ^= header.fold ^ keys.toggle_controls;
        self.layout.strip_open ^= keys.toggle_strip;
        self.layout.frame_stats.shown ^= keys.toggle_frame_stats;
        let next = header
            .scene
            .or_else(|| (keys.scene_step != 0).then(|| Scene::from_id(self.controls.scene.id().step(keys.scene_step))));
        if let Some(scene) = next {
            self.controls.scene = scene;
        }
    }

    /// Switches presentation mode (its type and full screen) and what goes
    /// with it here: presenting leaves the figure, the caption and the
    /// timeline, so the strip that holds the last two opens and the controls
    /// fold (C brings them back, cut to what a lesson changes); leaving, the
    /// controls come back.
    pub(super) fn toggle_presentation(&mut self, ctx: &egui::Context) {
        self.presentation.toggle(ctx);
        let presenting = self.presentation.is_on();
        self.layout.controls_open = !presenting;
        if presenting {
            self.layout.strip_open = true;
        }
    }

    /// The controls at the left, headed by the scene menu, or the thin strip
    /// they fold to; what the header and the lesson section asked for.
    fn controls_panel_ui(&mut self, ui: &mut egui::Ui) -> (NavigatorRequests, teaching::LessonRequests) {
        let mut lesson_requests = teaching::LessonRequests::default();
        let scene = self.controls.scene;
        if !self.layout.controls_open {
            let header = egui::Panel::left("controls-folded")
                .resizable(false)
                .exact_size(FOLDED_WIDTH)
                .show(ui, |ui| navigator::folded_ui(ui, scene))
                .inner;
            return (header, lesson_requests);
        }
        let light = self.layout.light;
        // Presenting, the type is larger: its own panel width, remembered apart.
        let (id, width) = if self.presentation.is_on() {
            ("controls-present", 300.0)
        } else {
            ("controls", 230.0)
        };
        let before = ui.available_rect_before_wrap();
        let panel = egui::Panel::left(id)
            .resizable(true)
            .default_size(width)
            .size_range(180.0..=420.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .show(ui, |ui| {
                        let header = navigator::header_ui(ui, scene, light);
                        ui.separator();
                        lesson_requests = self.scene_controls_ui(ui);
                        header
                    })
                    .inner
            });
        // As for the strip: the space the panel used, not its response rect.
        let used = egui::Rect::from_min_max(
            before.min,
            egui::pos2(ui.available_rect_before_wrap().min.x, before.max.y),
        );
        self.layout.panel_rects.push(used);
        (panel.inner, lesson_requests)
    }

    /// The controls of the scene shown, and the lesson and export sections.
    fn scene_controls_ui(&mut self, ui: &mut egui::Ui) -> teaching::LessonRequests {
        if !matches!(self.controls.scene, Scene::Theory(_)) {
            self.controls.ui(ui);
        }
        if self.controls.scene == Scene::ImageBatch {
            ui.separator();
            self.image_scene.batch_controls_ui(ui);
        }
        if self.controls.scene == Scene::ImageForward {
            ui.separator();
            self.image_scene.controls_ui(ui);
        }
        if self.controls.scene == Scene::Train2D {
            ui.separator();
            if self.train_scene.controls_ui(ui) {
                self.train_scene
                    .start(&self.plane.mixture, self.controls.settings.schedule);
            }
        }
        ui.separator();
        let position = self.teaching.lesson.as_ref().map(super::lesson::Lesson::position_text);
        let requests = self.teaching.panel.ui(ui, position);
        // A theory scene's figures are rebuilt from its own controls; the export
        // panel's files (curves, points, frames) belong to the other scenes.
        if !self.presentation.is_on() && !matches!(self.controls.scene, Scene::Theory(_)) {
            ui.separator();
            self.export.ui(ui, self.controls.scene);
        }
        requests
    }

    /// The strip at the right: the caption, the timeline, the status and the
    /// plots, stacked; what the figure leaves of the window's width.
    fn side_strip_ui(&mut self, ui: &mut egui::Ui) {
        if !self.layout.strip_open {
            egui::Panel::right("strip-folded")
                .resizable(false)
                .exact_size(FOLDED_WIDTH)
                .show(ui, |ui| {
                    if ui
                        .button("◀")
                        .on_hover_text("show the plots and the timeline (P)")
                        .clicked()
                    {
                        self.layout.strip_open = true;
                    }
                });
            return;
        }
        let available = ui.available_size();
        // The figure is square (or nearly) and takes the whole height: the
        // strip gets the width it leaves, unless the user dragged its edge.
        let auto_width = available.x - available.y;
        let width = self
            .layout
            .strip_width
            .unwrap_or(auto_width)
            .clamp(STRIP_MIN_WIDTH, (available.x * 0.7).max(STRIP_MIN_WIDTH));
        let before = ui.available_rect_before_wrap();
        egui::Panel::right("strip")
            .resizable(false)
            .exact_size(width)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| self.strip_contents_ui(ui));
            });
        // The panel's response rect grows with any content wider than the
        // panel (and, at the right, moves with it): take the space it used.
        let rect = egui::Rect::from_min_max(
            egui::pos2(ui.available_rect_before_wrap().max.x, before.min.y),
            before.max,
        );
        self.layout.panel_rects.push(rect);
        // Our own resize handle: egui's resizable panel keeps one width for every
        // window size, where the strip should follow the window until dragged.
        let handle = egui::Rect::from_x_y_ranges(rect.left() - 3.0..=rect.left() + 3.0, rect.y_range());
        let response = ui.interact(handle, ui.scope_id().with("strip-resize"), egui::Sense::drag());
        if response.hovered() || response.dragged() {
            ui.ctx().set_cursor_icon(egui::CursorIcon::ResizeHorizontal);
        }
        if response.dragged() {
            self.layout.strip_width = Some(width - response.drag_delta().x);
        }
        if response.double_clicked() {
            self.layout.strip_width = None;
        }
    }

    fn strip_contents_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            if ui.button("Hide ▶").on_hover_text("fold this strip (P)").clicked() {
                self.layout.strip_open = false;
            }
            self.lesson_strip_ui(ui);
        });
        let scene = self.controls.scene;
        if scene == Scene::ImageForward {
            let t = self.image_scene.t.min(self.schedule.train_steps());
            self.caption_ui(ui, "x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε", t, 0.0);
            ui.separator();
            self.image_scene.forward_controls_ui(ui);
        } else if matches!(scene, Scene::Mixture2D | Scene::ImageBatch) {
            let sigma = self
                .run
                .frames
                .get(self.timeline.current + 1)
                .map_or(0.0, |f| f.noise_std);
            let equation = presentation::equation(&self.controls.settings);
            self.caption_ui(ui, equation, self.timeline.current_t, sigma);
            ui.separator();
            self.timeline.ui(ui);
            if !self.status.is_empty() {
                let status = ui.label(&self.status);
                if let Some(secs) = self.run.elapsed_secs {
                    status.on_hover_text(format!("the whole run took {secs:.3} s on the worker thread"));
                }
            }
        }
        ui.separator();
        self.plots.ui(ui);
    }

    /// The figure: the scene's own view, or a plot made big by its title.
    ///
    /// The panel's fill is painted around an opaque figure, not under it: a
    /// software renderer shades every covered pixel, and under the figure the
    /// fill was a third of a 1280×720 window shaded for nothing.
    fn figure_ui(&mut self, ui: &mut egui::Ui) {
        let scene = self.controls.scene;
        if scene != Scene::ImageForward {
            self.plots.set_comparison(Vec::new());
        }
        let plane = self.plane_frame();
        let frame = egui::Frame::central_panel(ui.style());
        let fill = frame.fill;
        let background = ui.painter().add(egui::Shape::Noop);
        let mut opaque_figure = None;
        let panel = egui::CentralPanel::default()
            .frame(frame.fill(egui::Color32::TRANSPARENT))
            .show(ui, |ui| {
                if self.plots.big_plot().is_some() {
                    self.layout.figure_rect = Some(ui.max_rect());
                    self.plots.big_ui(ui);
                    return;
                }
                self.layout.figure_rect = match scene {
                    Scene::ImageForward => self.image_scene_ui(ui),
                    Scene::Train2D => {
                        self.train_scene.ui(ui);
                        Some(ui.min_rect())
                    }
                    Scene::ImageBatch => {
                        // The grid shades every pixel of its rectangle.
                        opaque_figure = self.image_scene.batch_ui(ui, plane.step, plane.alpha_bar);
                        opaque_figure
                    }
                    Scene::Mixture2D | Scene::Theory(_) => {
                        let rect = ui
                            .vertical_centered(|ui| self.plane.viewer.ui(ui, plane, self.render_state.as_ref()))
                            .inner;
                        // The density shades the whole square; without it the particles float.
                        opaque_figure = plane.show_density.then_some(rect);
                        Some(rect)
                    }
                };
            });
        // Transparent where the clear paints the background.
        if fill != egui::Color32::TRANSPARENT {
            ui.painter()
                .set(background, fill_around(panel.response.rect, opaque_figure, fill));
        }
    }

    /// A theory scene fills the window beside the controls: its plots are the figure.
    fn theory_ui(&mut self, ui: &mut egui::Ui, topic: super::theory::Topic) {
        if self.teaching.lesson.as_ref().is_some_and(|l| l.current.is_some()) {
            egui::Panel::top("lesson").show(ui, |ui| ui.horizontal_wrapped(|ui| self.lesson_strip_ui(ui)));
        }
        egui::CentralPanel::default().show(ui, |ui| {
            self.layout.figure_rect = Some(ui.max_rect());
            self.theory.ui(ui, topic);
        });
    }
}

impl eframe::App for ExplorerApp {
    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        self.layout.background.clear_color(visuals)
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let started = Instant::now();
        self.sync_theme(ui.ctx());
        self.poll_background();
        let keys = keys::read(ui.ctx());
        self.apply_keys(keys, ui.ctx());
        self.handle_lesson(teaching::LessonRequests {
            step: keys.lesson_step,
            ..teaching::LessonRequests::default()
        });
        self.apply_pending_t();
        if self.show_help {
            keys::help_ui(ui.ctx(), &mut self.show_help);
        }
        self.watch_gpu(ui.ctx());
        self.notice_ui(ui.ctx());
        let dt_secs = ui.input(|i| i.stable_dt);
        if self.timeline.advance(dt_secs) {
            ui.ctx().request_repaint();
        }
        self.controls.essentials_only = self.presentation.is_on();
        self.plots.line_width = if self.presentation.is_on() {
            presentation::LINE_WIDTH
        } else {
            2.0
        };
        self.layout.panel_rects.clear();
        let (header, lesson_requests) = self.controls_panel_ui(ui);
        self.handle_lesson(lesson_requests);
        if let Scene::Theory(topic) = self.controls.scene {
            self.theory_ui(ui, topic);
        } else {
            let shown_t = self.timeline.current_t;
            self.side_strip_ui(ui);
            self.figure_ui(ui);
            if self.timeline.current_t != shown_t {
                // The strip drew the old t before this frame's scrub: draw again.
                ui.ctx().request_repaint();
            }
        }
        // After drawing: a scene change takes effect next frame, in handle_requests.
        self.apply_layout_requests(header, keys, ui.ctx());
        self.handle_requests();
        self.layout.frame_stats.overlay_ui(ui.ctx());
        self.layout.frame_stats.record(started);
    }
}

/// Every widget, window and menu of `style` with square corners (see
/// [`ExplorerApp::fit_renderer`]).
fn square_corners(style: &mut egui::Style) {
    let widgets = &mut style.visuals.widgets;
    for visuals in [
        &mut widgets.noninteractive,
        &mut widgets.inactive,
        &mut widgets.hovered,
        &mut widgets.active,
        &mut widgets.open,
    ] {
        visuals.corner_radius = egui::CornerRadius::ZERO;
    }
    style.visuals.window_corner_radius = egui::CornerRadius::ZERO;
    style.visuals.menu_corner_radius = egui::CornerRadius::ZERO;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fill_around_a_figure_covers_the_rest_of_the_panel_once() {
        let panel = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(100.0, 80.0));
        let hole = egui::Rect::from_min_max(egui::pos2(21.0, 11.0), egui::pos2(61.0, 71.0));
        let egui::Shape::Mesh(mesh) = fill_around(panel, Some(hole), egui::Color32::RED) else {
            panic!("a mesh");
        };
        // Two triangles per piece; their areas add up to the panel less the
        // hole shrunk by a point (38 × 58), so no piece overlaps another.
        let area: f32 = mesh
            .indices
            .chunks(3)
            .map(|t| {
                let [a, b, c] = [0, 1, 2].map(|i| mesh.vertices[t[i] as usize].pos);
                ((b - a).x * (c - a).y - (b - a).y * (c - a).x).abs() / 2.0
            })
            .sum();
        assert!((area - (100.0 * 80.0 - 38.0 * 58.0)).abs() < 1e-3, "{area}");
        assert_eq!(mesh.indices.len(), 4 * 6);
        let egui::Shape::Mesh(whole) = fill_around(panel, None, egui::Color32::RED) else {
            panic!("a mesh");
        };
        assert_eq!(whole.indices.len(), 6, "no figure: the whole panel");
    }

    #[test]
    fn square_corners_make_a_filled_button_two_triangles() {
        let mut style = egui::Style::default();
        let rounded = style.visuals.widgets.inactive.corner_radius;
        assert_ne!(rounded, egui::CornerRadius::ZERO, "egui's default rounds its buttons");
        square_corners(&mut style);
        let triangles = |corner_radius| {
            let rect = egui::Rect::from_min_size(egui::pos2(10.0, 10.0), Vec2::new(120.0, 20.0));
            let shape = egui::epaint::RectShape::filled(rect, corner_radius, egui::Color32::GRAY);
            let mut tessellator = egui::epaint::Tessellator::new(
                1.0,
                egui::epaint::TessellationOptions {
                    feathering: false,
                    ..Default::default()
                },
                [1, 1],
                Vec::new(),
            );
            let mut mesh = egui::epaint::Mesh::default();
            tessellator.tessellate_rect(&shape, &mut mesh);
            mesh.indices.len() / 3
        };
        assert_eq!(triangles(style.visuals.widgets.inactive.corner_radius), 2);
        assert!(
            triangles(rounded) > 8,
            "a rounded fill is a fan: {}",
            triangles(rounded)
        );
        for visuals in [&style.visuals.widgets.hovered, &style.visuals.widgets.active] {
            assert_eq!(visuals.corner_radius, egui::CornerRadius::ZERO);
        }
        assert_eq!(style.visuals.menu_corner_radius, egui::CornerRadius::ZERO);
    }

    #[test]
    fn images_magnify_by_whole_numbers_and_shrink_when_too_large() {
        let fit = whole_number_fit(Vec2::new(700.0, 500.0), Vec2::new(28.0, 28.0), 1.0);
        assert_eq!(fit, Vec2::splat(17.0 * 28.0));
        // At 2 pixels per point a whole number of screen pixels: 35 per image pixel.
        let fit = whole_number_fit(Vec2::new(700.0, 500.0), Vec2::new(28.0, 28.0), 2.0);
        assert_eq!(fit, Vec2::splat(35.0 * 28.0 / 2.0));
        let fit = whole_number_fit(Vec2::new(100.0, 100.0), Vec2::new(400.0, 200.0), 1.0);
        assert_eq!(fit, Vec2::new(100.0, 50.0));
    }
}
