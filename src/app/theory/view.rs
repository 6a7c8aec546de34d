//! A figure's data ([`crate::figures::Figure`]) drawn in the window: each
//! panel an egui_plot under a title line that carries its legend (each series'
//! name in its colour), so no legend sits on the data; images in a row.

use egui::{Color32, ColorImage, TextureHandle, TextureOptions};
use egui_plot::{Arrows, Bar, BarChart, Line, Plot, PlotImage, PlotPoint, PlotPoints, Points};

use crate::figures::Figure;
use crate::figures::data::{Backdrop, Mark, Panel, Raster, Rgb, Series};

/// A figure colour as egui's.
#[must_use]
pub fn color(rgb: Rgb) -> Color32 {
    Color32::from_rgb(rgb[0], rgb[1], rgb[2])
}

/// Textures of a figure's images and backdrops, uploaded once per result.
#[derive(Default)]
pub struct Textures {
    images: Option<Vec<TextureHandle>>,
    backdrops: Option<Vec<Option<TextureHandle>>>,
}

impl Textures {
    /// Forgets the textures: the next draw uploads the new result's.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    fn images(&mut self, ctx: &egui::Context, images: &[Raster]) -> &[TextureHandle] {
        self.images.get_or_insert_with(|| {
            images
                .iter()
                .map(|raster| ctx.load_texture(&raster.name, gray_image(raster), TextureOptions::NEAREST))
                .collect()
        })
    }

    fn backdrops(&mut self, ctx: &egui::Context, panels: &[Panel]) -> &[Option<TextureHandle>] {
        self.backdrops.get_or_insert_with(|| {
            panels
                .iter()
                .map(|panel| {
                    let backdrop = panel.backdrop.as_ref()?;
                    Some(ctx.load_texture("backdrop", density_image(backdrop), TextureOptions::LINEAR))
                })
                .collect()
        })
    }
}

/// A figure laid out once per result and view setting, not once per frame.
pub struct FigureCache<K> {
    key: Option<K>,
    figure: Figure,
}

impl<K> Default for FigureCache<K> {
    fn default() -> Self {
        Self {
            key: None,
            figure: Figure::default(),
        }
    }
}

impl<K: PartialEq> FigureCache<K> {
    /// Forgets the figure: a new result arrived.
    pub fn clear(&mut self) {
        self.key = None;
    }

    /// The figure for `key`, laid out by `lay_out` only when the key changed.
    pub fn get(&mut self, key: K, lay_out: impl FnOnce() -> Figure) -> &Figure {
        if self.key.as_ref() != Some(&key) {
            self.figure = lay_out();
            self.key = Some(key);
        }
        &self.figure
    }
}

/// Draws `panels` side by side, filling `height`; `textures` holds their backdrops.
pub fn panels_ui(ui: &mut egui::Ui, id: &str, panels: &[Panel], textures: &mut Textures, height: f32) {
    let backdrops = textures.backdrops(ui.ctx(), panels).to_vec();
    let count = panels.len().max(1) as f32;
    let spacing = ui.spacing().item_spacing.x;
    let width = (ui.available_width() - spacing * (count - 1.0)) / count;
    ui.horizontal_top(|ui| {
        for (i, panel) in panels.iter().enumerate() {
            let backdrop = backdrops.get(i).cloned().flatten();
            ui.vertical(|ui| {
                panel_ui(ui, &format!("{id}-{i}"), panel, backdrop.as_ref(), [width, height]);
            });
        }
    });
}

/// Draws `panels` in rows of `per_row`, one row per entry of `textures` (a
/// row's backdrops are cached by their place in it), the rows sharing `height`.
pub fn panel_rows_ui(
    ui: &mut egui::Ui,
    id: &str,
    panels: &[Panel],
    textures: &mut [Textures],
    per_row: usize,
    height: f32,
) {
    let row_height = (height / textures.len().max(1) as f32 - 8.0).max(120.0);
    for (r, (row, row_textures)) in panels.chunks(per_row.max(1)).zip(textures.iter_mut()).enumerate() {
        panels_ui(ui, &format!("{id}-{r}"), row, row_textures, row_height);
    }
}

/// Draws the first of `panels` (a plane) as large as `height` allows, up to
/// 55 % of the width, and the others stacked beside it.
pub fn plane_and_plots_ui(ui: &mut egui::Ui, id: &str, panels: &[Panel], textures: &mut Textures, height: f32) {
    let backdrops = textures.backdrops(ui.ctx(), panels).to_vec();
    let Some((plane, plots)) = panels.split_first() else {
        return;
    };
    let spacing = ui.spacing().item_spacing;
    let plane_width = if plots.is_empty() {
        ui.available_width()
    } else {
        height.min(0.55 * ui.available_width())
    };
    let plots_width = ui.available_width() - plane_width - spacing.x;
    let count = plots.len().max(1) as f32;
    let plot_height = (height - spacing.y * (count - 1.0)) / count;
    let backdrop = |i: usize| backdrops.get(i).cloned().flatten();
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            panel_ui(
                ui,
                &format!("{id}-0"),
                plane,
                backdrop(0).as_ref(),
                [plane_width, height],
            );
        });
        ui.vertical(|ui| {
            for (i, panel) in plots.iter().enumerate() {
                let size = [plots_width, plot_height];
                panel_ui(ui, &format!("{id}-{}", i + 1), panel, backdrop(i + 1).as_ref(), size);
            }
        });
    });
}

/// A training scene's controls: its steps (a log slider from 100 to
/// `max_steps`) and its seed.
pub fn training_ui(ui: &mut egui::Ui, steps: &mut usize, seed: &mut u64, max_steps: usize) {
    ui.add(
        egui::Slider::new(steps, 100..=max_steps)
            .logarithmic(true)
            .text("training steps"),
    );
    ui.add(egui::DragValue::new(seed).prefix("Seed "));
}

/// Draws `images` in rows of `per_row`, each `side` points square with its name under it.
pub fn images_ui(ui: &mut egui::Ui, images: &[Raster], textures: &mut Textures, per_row: usize, side: f32) {
    let handles = textures.images(ui.ctx(), images);
    for (row, chunk) in handles.chunks(per_row.max(1)).zip(images.chunks(per_row.max(1))) {
        ui.horizontal(|ui| {
            for (texture, raster) in row.iter().zip(chunk) {
                ui.vertical(|ui| {
                    // The caption wraps under its image instead of widening the row.
                    ui.set_max_width(side);
                    ui.add(egui::Image::new((texture.id(), egui::vec2(side, side))));
                    ui.add(egui::Label::new(&raster.name).wrap());
                });
            }
        });
    }
}

/// One panel: its title line with the legend, then the plot.
fn panel_ui(ui: &mut egui::Ui, id: &str, panel: &Panel, backdrop: Option<&TextureHandle>, [width, height]: [f32; 2]) {
    let title_line = ui.horizontal_wrapped(|ui| {
        ui.set_max_width(width);
        ui.label(egui::RichText::new(&panel.title).strong());
        for series in &panel.series {
            let mark = match series.mark {
                Mark::Line => "━",
                Mark::Points => "●",
                Mark::Bars => "▮",
                Mark::Arrows => "→",
            };
            ui.colored_label(color(series.color), format!("{mark} {}", series.name));
        }
    });
    // The legend may wrap: the plot gets what the title line left.
    let title_height = title_line.response.rect.height() + ui.spacing().item_spacing.y;
    let mut plot = Plot::new(id.to_owned())
        .width(width)
        .height((height - title_height).max(120.0))
        .x_axis_label(panel.x_label.clone())
        .y_axis_label(panel.y_label.clone());
    if panel.equal_aspect {
        plot = plot.data_aspect(1.0);
    }
    // The backdrop's area and the panel's own bounds (the plane) are always in view.
    let areas = [panel.backdrop.as_ref().map(|b| [b.min, b.max]), panel.bounds];
    for [min, max] in areas.into_iter().flatten() {
        plot = plot
            .include_x(min[0])
            .include_x(max[0])
            .include_y(min[1])
            .include_y(max[1]);
    }
    plot.show(ui, |plot_ui| {
        if let (Some(texture), Some(b)) = (backdrop, &panel.backdrop) {
            let center = PlotPoint::new(f64::midpoint(b.min[0], b.max[0]), f64::midpoint(b.min[1], b.max[1]));
            let size = egui::vec2((b.max[0] - b.min[0]) as f32, (b.max[1] - b.min[1]) as f32);
            plot_ui.image(PlotImage::new("p_t", texture, center, size));
        }
        for series in &panel.series {
            series_ui(plot_ui, series);
        }
    });
}

fn series_ui(plot_ui: &mut egui_plot::PlotUi<'_>, series: &Series) {
    let c = color(series.color);
    match series.mark {
        Mark::Line => {
            // One legend entry per series: egui_plot merges items with the same name.
            let width = if series.lines.len() > 1 { 1.2 } else { 2.0 };
            for line in &series.lines {
                plot_ui.line(
                    Line::new(&series.name, PlotPoints::from(line.clone()))
                        .color(c)
                        .width(width),
                );
            }
        }
        Mark::Points => {
            let points: Vec<[f64; 2]> = series.all_points().collect();
            plot_ui.points(Points::new(&series.name, PlotPoints::from(points)).radius(3.0).color(c));
        }
        Mark::Bars => {
            let bars = series.all_points().map(|p| Bar::new(p[0], p[1])).collect();
            plot_ui.bar_chart(BarChart::new(&series.name, bars).color(c));
        }
        Mark::Arrows => {
            let (origins, tips): (Vec<[f64; 2]>, Vec<[f64; 2]>) = series
                .lines
                .iter()
                .filter_map(|l| Some((*l.first()?, *l.last()?)))
                .unzip();
            plot_ui.arrows(
                Arrows::new(&series.name, PlotPoints::from(origins), PlotPoints::from(tips))
                    .color(c)
                    .tip_length(6.0),
            );
        }
    }
}

/// A grey image of values in [−1, 1] (−1 black, +1 white); `NaN` marks a
/// hidden pixel, drawn in a muted blue.
#[must_use]
pub fn gray_image(raster: &Raster) -> ColorImage {
    let pixels = raster
        .values
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
    ColorImage::new([raster.width, raster.height()], pixels)
}

/// A density backdrop as a grey image (white = dense) for a plot's background.
#[must_use]
pub fn density_image(backdrop: &Backdrop) -> ColorImage {
    let pixels = backdrop
        .values
        .iter()
        .map(|v| Color32::from_gray((20.0 + 120.0 * v.clamp(0.0, 1.0)) as u8))
        .collect();
    ColorImage::new([backdrop.side, backdrop.side], pixels)
}
