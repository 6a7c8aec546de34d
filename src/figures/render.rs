//! A figure drawn into a PNG without a window: the `image` crate's pixels,
//! lines and dots drawn here, text rasterised from the shipped DejaVu Sans by
//! `ab_glyph`. Panels sit two to a row, each with its title and legend above
//! the axes (never over the data); the figure's images follow in rows.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use image::{Rgba, RgbaImage};

use super::data::{Backdrop, Figure, Mark, Panel, Point, Raster, Rgb};

/// One panel's size in pixels.
const PANEL_WIDTH: u32 = 640;
/// See [`PANEL_WIDTH`].
const PANEL_HEIGHT: u32 = 440;
/// Panels per row.
const COLUMNS: u32 = 2;
/// An image's side in pixels.
const IMAGE_SIDE: u32 = 112;
/// Images per row.
const IMAGES_PER_ROW: u32 = 7;
/// Room under an image for its name.
const IMAGE_CAPTION: u32 = 22;
/// Height of the figure's title line.
const TITLE_HEIGHT: u32 = 36;
/// Space between the panel's frame and its plot area: left, right, top, bottom.
const MARGIN: [f32; 4] = [72.0, 16.0, 52.0, 48.0];

const BACKGROUND: Rgb = [255, 255, 255];
const INK: Rgb = [30, 30, 30];
const GRID: Rgb = [225, 225, 225];

/// Draws `figure` under `title`.
#[must_use]
pub fn render(title: &str, figure: &Figure) -> RgbaImage {
    let per_row = if figure.image_columns == 0 {
        IMAGES_PER_ROW
    } else {
        figure.image_columns as u32
    };
    let panel_rows = (figure.panels.len() as u32).div_ceil(COLUMNS);
    let image_rows = (figure.images.len() as u32).div_ceil(per_row);
    let columns = (figure.panels.len() as u32).clamp(1, COLUMNS);
    let width = (columns * PANEL_WIDTH).max(per_row.min(figure.images.len() as u32) * (IMAGE_SIDE + 8) + 16);
    // Large rasters (a sheet of tiles) get what the row has room for.
    let widest = figure.images.iter().map(|r| r.width).max().unwrap_or(0);
    let room = (width.saturating_sub(16) / per_row.max(1)).saturating_sub(8);
    let side = IMAGE_SIDE.max(u32::try_from(widest).unwrap_or(u32::MAX).min(room));
    let height = TITLE_HEIGHT + panel_rows * PANEL_HEIGHT + image_rows * (side + IMAGE_CAPTION + 8) + 8;
    let mut canvas = Canvas::new(width, height);
    canvas.text(12.0, 8.0, 22.0, INK, title);
    for (i, panel) in figure.panels.iter().enumerate() {
        let (col, row) = (i as u32 % COLUMNS, i as u32 / COLUMNS);
        let origin = [(col * PANEL_WIDTH) as f32, (TITLE_HEIGHT + row * PANEL_HEIGHT) as f32];
        canvas.panel(panel, origin);
    }
    let top = TITLE_HEIGHT + panel_rows * PANEL_HEIGHT;
    for (i, raster) in figure.images.iter().enumerate() {
        let (col, row) = (i as u32 % per_row, i as u32 / per_row);
        let x = 16 + col * (side + 8);
        let y = top + row * (side + IMAGE_CAPTION + 8);
        canvas.raster(raster, [x, y], side);
        canvas.text(x as f32, (y + side + 3) as f32, 13.0, INK, &raster.name);
    }
    canvas.image
}

/// A grid cell's side in pixels.
const GRID_CELL: u32 = 168;
/// Room above the grid for the column labels, and left of it for the row labels.
const GRID_HEADER: [u32; 2] = [28, 150];

/// Draws a comparison grid under `title`: `labels` names the rows and the
/// columns, and each cell's raster (in row order, `col_labels.len()` to a row)
/// is captioned with its name.
#[must_use]
pub fn render_grid(title: &str, row_labels: &[String], col_labels: &[String], cells: &[Raster]) -> RgbaImage {
    let cols = col_labels.len().max(1) as u32;
    let rows = row_labels.len().max(1) as u32;
    let pitch = [GRID_CELL + 12, GRID_CELL + IMAGE_CAPTION + 12];
    let cells_width = GRID_HEADER[1] + cols * pitch[0] + 8;
    let height = TITLE_HEIGHT + GRID_HEADER[0] + rows * pitch[1];
    // Wide enough for the title too: a grid of two columns is narrower than its axes' text.
    let title_width = Canvas::new(1, 1).text_width(20.0, title).ceil() as u32 + 24;
    let mut canvas = Canvas::new(cells_width.max(title_width), height);
    canvas.text(12.0, 8.0, 20.0, INK, title);
    let top = TITLE_HEIGHT + GRID_HEADER[0];
    for (c, label) in col_labels.iter().enumerate() {
        let x = GRID_HEADER[1] + c as u32 * pitch[0];
        canvas.text(x as f32, (TITLE_HEIGHT + 4) as f32, 16.0, INK, label);
    }
    for (r, label) in row_labels.iter().enumerate() {
        let y = top + r as u32 * pitch[1] + GRID_CELL / 2 - 8;
        canvas.text(12.0, y as f32, 16.0, INK, label);
    }
    for (i, raster) in cells.iter().enumerate() {
        let (col, row) = (i as u32 % cols, i as u32 / cols);
        let (x, y) = (GRID_HEADER[1] + col * pitch[0], top + row * pitch[1]);
        canvas.raster(raster, [x, y], GRID_CELL);
        canvas.text(x as f32, (y + GRID_CELL + 3) as f32, 14.0, INK, &raster.name);
    }
    canvas.image
}

/// The pixels and the font.
struct Canvas {
    image: RgbaImage,
    font: Option<FontRef<'static>>,
}

/// Maps data coordinates to pixels inside a plot area.
#[derive(Clone, Copy)]
struct Frame {
    /// Plot area in pixels: left, top, right, bottom.
    area: [f32; 4],
    /// Data range: x min, x max, y min, y max.
    range: [f64; 4],
}

impl Frame {
    fn to_pixel(self, p: Point) -> [f32; 2] {
        let [left, top, right, bottom] = self.area;
        let [x0, x1, y0, y1] = self.range;
        let fx = ((p[0] - x0) / (x1 - x0)) as f32;
        let fy = ((p[1] - y0) / (y1 - y0)) as f32;
        [left + fx * (right - left), bottom - fy * (bottom - top)]
    }
}

impl Canvas {
    fn new(width: u32, height: u32) -> Self {
        let [r, g, b] = BACKGROUND;
        Self {
            image: RgbaImage::from_pixel(width, height, Rgba([r, g, b, 255])),
            font: FontRef::try_from_slice(crate::assets::FALLBACK_FONT.bytes).ok(),
        }
    }

    /// Mixes `color` into one pixel with weight `coverage` (0..=1).
    fn blend(&mut self, x: i64, y: i64, color: Rgb, coverage: f32) {
        let (Ok(x), Ok(y)) = (u32::try_from(x), u32::try_from(y)) else {
            return;
        };
        if x >= self.image.width() || y >= self.image.height() || coverage <= 0.0 {
            return;
        }
        let a = coverage.min(1.0);
        let pixel = self.image.get_pixel_mut(x, y);
        for (channel, target) in pixel.0.iter_mut().zip(color) {
            *channel = (f32::from(*channel) * (1.0 - a) + f32::from(target) * a).round() as u8;
        }
    }

    /// Writes `text` with its top-left corner at (x, y), `size` px high; returns its width.
    fn text(&mut self, x: f32, y: f32, size: f32, color: Rgb, text: &str) -> f32 {
        let Some(font) = self.font.clone() else {
            return 0.0;
        };
        let scaled = font.as_scaled(PxScale::from(size));
        let mut caret = x;
        for c in text.chars() {
            let mut glyph = scaled.scaled_glyph(c);
            glyph.position = point(caret, y + scaled.ascent());
            caret += scaled.h_advance(glyph.id);
            if let Some(outline) = font.outline_glyph(glyph) {
                let bounds = outline.px_bounds();
                outline.draw(|gx, gy, coverage| {
                    let px = bounds.min.x as i64 + i64::from(gx);
                    let py = bounds.min.y as i64 + i64::from(gy);
                    self.blend(px, py, color, coverage);
                });
            }
        }
        caret - x
    }

    /// How wide `text` would be.
    fn text_width(&self, size: f32, text: &str) -> f32 {
        self.font.as_ref().map_or(0.0, |font| {
            let scaled = font.as_scaled(PxScale::from(size));
            text.chars().map(|c| scaled.h_advance(scaled.glyph_id(c))).sum()
        })
    }

    /// A soft dot of radius `r` at (x, y).
    fn dot(&mut self, x: f32, y: f32, r: f32, color: Rgb) {
        let reach = (r + 1.0).ceil() as i64;
        let (cx, cy) = (x.round() as i64, y.round() as i64);
        for py in cy - reach..=cy + reach {
            for px in cx - reach..=cx + reach {
                let d = (px as f32 - x).hypot(py as f32 - y);
                self.blend(px, py, color, r + 0.5 - d);
            }
        }
    }

    /// A line of width about `2r`, stamped with dots every half pixel.
    fn line(&mut self, a: [f32; 2], b: [f32; 2], r: f32, color: Rgb) {
        let length = (b[0] - a[0]).hypot(b[1] - a[1]);
        if !length.is_finite() || length > 1e5 {
            return;
        }
        let steps = (length * 2.0).ceil().max(1.0) as usize;
        for i in 0..=steps {
            let f = i as f32 / steps as f32;
            self.dot(a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), r, color);
        }
    }

    fn rect(&mut self, [left, top, right, bottom]: [f32; 4], color: Rgb) {
        for y in top.round() as i64..bottom.round() as i64 {
            for x in left.round() as i64..right.round() as i64 {
                self.blend(x, y, color, 1.0);
            }
        }
    }

    fn panel(&mut self, panel: &Panel, origin: [f32; 2]) {
        let area = [
            origin[0] + MARGIN[0],
            origin[1] + MARGIN[2],
            origin[0] + PANEL_WIDTH as f32 - MARGIN[1],
            origin[1] + PANEL_HEIGHT as f32 - MARGIN[3],
        ];
        let frame = Frame {
            area,
            range: data_range(panel, area),
        };
        self.title_and_legend(panel, origin);
        self.axes(panel, frame);
        if let Some(backdrop) = &panel.backdrop {
            self.backdrop(backdrop, frame);
        }
        for series in &panel.series {
            self.series(series.mark, &series.lines, series.color, frame);
        }
    }

    /// The panel's title, then each series' name in its colour, on one line.
    fn title_and_legend(&mut self, panel: &Panel, origin: [f32; 2]) {
        let mut x = origin[0] + 12.0;
        let y = origin[1] + 6.0;
        x += self.text(x, y, 16.0, INK, &panel.title) + 16.0;
        for series in &panel.series {
            let width = self.text_width(14.0, &series.name);
            if x + width > origin[0] + PANEL_WIDTH as f32 - 8.0 {
                break;
            }
            x += self.text(x, y + 2.0, 14.0, series.color, &series.name) + 12.0;
        }
    }

    fn axes(&mut self, panel: &Panel, frame: Frame) {
        let [left, top, right, bottom] = frame.area;
        let [x0, x1, y0, y1] = frame.range;
        for tick in ticks(x0, x1) {
            let [px, _] = frame.to_pixel([tick, y0]);
            self.line([px, top], [px, bottom], 0.4, GRID);
            let label = tick_label(tick);
            let w = self.text_width(12.0, &label);
            self.text(px - w / 2.0, bottom + 4.0, 12.0, INK, &label);
        }
        for tick in ticks(y0, y1) {
            let [_, py] = frame.to_pixel([x0, tick]);
            self.line([left, py], [right, py], 0.4, GRID);
            let label = tick_label(tick);
            let w = self.text_width(12.0, &label);
            self.text(left - w - 6.0, py - 7.0, 12.0, INK, &label);
        }
        for (a, b) in [
            ([left, top], [right, top]),
            ([right, top], [right, bottom]),
            ([right, bottom], [left, bottom]),
            ([left, bottom], [left, top]),
        ] {
            self.line(a, b, 0.5, INK);
        }
        let w = self.text_width(13.0, &panel.x_label);
        self.text((left + right - w) / 2.0, bottom + 22.0, 13.0, INK, &panel.x_label);
        // No rotated text: the y label sits above the axis, left-aligned.
        self.text(left - MARGIN[0] + 8.0, top - 20.0, 13.0, INK, &panel.y_label);
    }

    fn backdrop(&mut self, backdrop: &Backdrop, frame: Frame) {
        let [left, top] = frame.to_pixel([backdrop.min[0], backdrop.max[1]]);
        let [right, bottom] = frame.to_pixel([backdrop.max[0], backdrop.min[1]]);
        let n = backdrop.side.max(1);
        for py in top.round() as i64..bottom.round() as i64 {
            for px in left.round() as i64..right.round() as i64 {
                let col = (((px as f32 - left) / (right - left)) * n as f32) as usize;
                let row = (((py as f32 - top) / (bottom - top)) * n as f32) as usize;
                let v = backdrop
                    .values
                    .get(row.min(n - 1) * n + col.min(n - 1))
                    .copied()
                    .unwrap_or(0.0);
                // Dense is dark on the white page.
                self.blend(px, py, [60, 60, 90], 0.6 * v.clamp(0.0, 1.0));
            }
        }
    }

    fn series(&mut self, mark: Mark, lines: &[Vec<Point>], color: Rgb, frame: Frame) {
        for line in lines {
            let pixels: Vec<[f32; 2]> = line.iter().map(|&p| frame.to_pixel(p)).collect();
            match mark {
                Mark::Line => {
                    for pair in pixels.windows(2) {
                        self.line(pair[0], pair[1], 0.9, color);
                    }
                }
                Mark::Points => {
                    for p in &pixels {
                        self.dot(p[0], p[1], 2.0, color);
                    }
                }
                Mark::Bars => self.bars(line, color, frame),
                Mark::Arrows => {
                    if let [a, b] = pixels[..] {
                        self.arrow(a, b, color);
                    }
                }
            }
        }
    }

    fn bars(&mut self, points: &[Point], color: Rgb, frame: Frame) {
        let half = bar_half_width(points);
        for p in points {
            let [left, top] = frame.to_pixel([p[0] - half, p[1].max(0.0)]);
            let [right, bottom] = frame.to_pixel([p[0] + half, p[1].min(0.0)]);
            self.rect([left, top, right, bottom], color);
        }
    }

    fn arrow(&mut self, a: [f32; 2], b: [f32; 2], color: Rgb) {
        self.line(a, b, 0.6, color);
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let length = dx.hypot(dy);
        if length < 1.0 {
            return;
        }
        let (ux, uy) = (dx / length, dy / length);
        let head = 5.0_f32.min(length / 2.0);
        for side in [-1.0, 1.0] {
            let tip = [
                b[0] - head * (ux - side * 0.5 * uy),
                b[1] - head * (uy + side * 0.5 * ux),
            ];
            self.line(b, tip, 0.6, color);
        }
    }

    /// Draws `raster` `side` pixels square at `[x, y]`, nearest-neighbour.
    fn raster(&mut self, raster: &Raster, [x, y]: [u32; 2], side: u32) {
        let (w, h) = (raster.width.max(1), raster.height().max(1));
        for py in 0..side {
            for px in 0..side {
                let col = (px as usize * w) / side as usize;
                let row = (py as usize * h) / side as usize;
                let v = raster.values.get(row * w + col).copied().unwrap_or(f32::NAN);
                let color = if v.is_nan() {
                    [40, 70, 120]
                } else {
                    let level = ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8;
                    [level; 3]
                };
                self.blend(i64::from(x + px), i64::from(y + py), color, 1.0);
            }
        }
    }
}

/// Half a bar's width: 0.4 of the closest spacing of `points`, or 0.4 for one bar.
fn bar_half_width(points: &[Point]) -> f64 {
    let spacing = points
        .windows(2)
        .map(|w| (w[1][0] - w[0][0]).abs())
        .fold(f64::INFINITY, f64::min);
    if spacing.is_finite() { 0.4 * spacing } else { 0.4 }
}

/// The data range of a panel, padded by 5 %; for an equal-aspect panel the
/// shorter side is widened so that one unit is as long on both axes.
fn data_range(panel: &Panel, area: [f32; 4]) -> [f64; 4] {
    let mut range = [f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY];
    let mut include = |p: Point| {
        if p[0].is_finite() && p[1].is_finite() {
            range = [
                range[0].min(p[0]),
                range[1].max(p[0]),
                range[2].min(p[1]),
                range[3].max(p[1]),
            ];
        }
    };
    for series in &panel.series {
        series.all_points().for_each(&mut include);
        if series.mark == Mark::Bars {
            // Bars stand on y = 0 and are as wide as they are drawn.
            for line in &series.lines {
                let half = bar_half_width(line);
                for p in line {
                    include([p[0] - half, 0.0]);
                    include([p[0] + half, 0.0]);
                }
            }
        }
    }
    if let Some(backdrop) = &panel.backdrop {
        include(backdrop.min);
        include(backdrop.max);
    }
    if let Some([min, max]) = panel.bounds {
        include(min);
        include(max);
    }
    if !range[0].is_finite() {
        return [0.0, 1.0, 0.0, 1.0];
    }
    for (lo, hi) in [(0, 1), (2, 3)] {
        let span = (range[hi] - range[lo]).max(1e-9 * range[hi].abs().max(1.0));
        range[lo] -= 0.05 * span;
        range[hi] += 0.05 * span;
    }
    if panel.equal_aspect {
        let pixels = [f64::from(area[2] - area[0]), f64::from(area[3] - area[1])];
        let per_pixel = ((range[1] - range[0]) / pixels[0]).max((range[3] - range[2]) / pixels[1]);
        for (axis, (lo, hi)) in [(0, 1), (2, 3)].into_iter().enumerate() {
            let centre = f64::midpoint(range[lo], range[hi]);
            range[lo] = centre - per_pixel * pixels[axis] / 2.0;
            range[hi] = centre + per_pixel * pixels[axis] / 2.0;
        }
    }
    range
}

/// About five round tick values in [lo, hi] (steps of 1, 2 or 5 × 10^k).
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return Vec::new();
    }
    let raw = span / 5.0;
    let magnitude = 10_f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// A tick's label: short, without float noise.
fn tick_label(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-3..1e5).contains(&magnitude) {
        format!("{value:.0e}")
    } else {
        let text = format!("{value:.3}");
        text.trim_end_matches('0')
            .trim_end_matches('.')
            .replace("-0", "−0")
            .replace('-', "−")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::data::Series;

    #[test]
    fn ticks_are_round_and_inside_the_range() {
        assert_eq!(ticks(0.0, 1000.0), vec![0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]);
        assert_eq!(ticks(-4.2, 4.2), vec![-4.0, -2.0, 0.0, 2.0, 4.0]);
        assert_eq!(tick_label(0.30000000000000004), "0.3");
        assert_eq!(tick_label(-2.0), "−2");
    }

    #[test]
    fn a_series_is_drawn_in_its_colour_inside_its_panel() {
        let figure = Figure {
            panels: vec![Panel {
                title: "t".into(),
                series: vec![Series::line("diagonal", [200, 0, 0], vec![[0.0, 0.0], [1.0, 1.0]])],
                ..Panel::default()
            }],
            ..Figure::default()
        };
        let image = render("test", &figure);
        assert_eq!(image.width(), PANEL_WIDTH);
        // The middle of the diagonal: the centre of the plot area.
        let x = (MARGIN[0] + (PANEL_WIDTH as f32 - MARGIN[0] - MARGIN[1]) / 2.0) as u32;
        let y = TITLE_HEIGHT + (MARGIN[2] + (PANEL_HEIGHT as f32 - MARGIN[2] - MARGIN[3]) / 2.0) as u32;
        let red = (y - 2..=y + 2).any(|y| image.get_pixel(x, y).0[..3] == [200, 0, 0]);
        assert!(red, "no red near the middle of the diagonal");
    }
}
