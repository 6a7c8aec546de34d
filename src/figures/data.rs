//! A figure as plain data: the curves, points and images a scene draws, and
//! the numbers it prints. The window draws it with egui_plot, `noisescope
//! figure` writes it as CSV, PNG and text, and the tests read its numbers.

/// A point of a plot: (x, y) in the axes' units.
pub type Point = [f64; 2];

/// An sRGB colour; the window and the PNG use the same one.
pub type Rgb = [u8; 3];

/// How a series is marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// Each of the series' lines as a polyline.
    Line,
    /// Every point as a dot.
    Points,
    /// Bars from y = 0 to each point's y, centred on its x.
    Bars,
    /// Each line is `[origin, tip]`: an arrow.
    Arrows,
}

/// One named series of a panel: one or more lines of points, all in one colour
/// and one legend entry (40 particle paths are one series).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Its legend entry.
    pub name: String,
    /// Its colour.
    pub color: Rgb,
    /// How it is drawn.
    pub mark: Mark,
    /// Its points, as separate lines (one for a single curve).
    pub lines: Vec<Vec<Point>>,
}

impl Series {
    /// One curve.
    #[must_use]
    pub fn line(name: impl Into<String>, color: Rgb, points: Vec<Point>) -> Self {
        Self::new(name, color, Mark::Line, vec![points])
    }

    /// Many curves under one legend entry.
    #[must_use]
    pub fn lines(name: impl Into<String>, color: Rgb, lines: Vec<Vec<Point>>) -> Self {
        Self::new(name, color, Mark::Line, lines)
    }

    /// A cloud of points.
    #[must_use]
    pub fn points(name: impl Into<String>, color: Rgb, points: Vec<Point>) -> Self {
        Self::new(name, color, Mark::Points, vec![points])
    }

    /// Bars at each point's x, of its height.
    #[must_use]
    pub fn bars(name: impl Into<String>, color: Rgb, points: Vec<Point>) -> Self {
        Self::new(name, color, Mark::Bars, vec![points])
    }

    /// Arrows from each origin to its tip.
    #[must_use]
    pub fn arrows(name: impl Into<String>, color: Rgb, origins: &[Point], tips: &[Point]) -> Self {
        let lines = origins.iter().zip(tips).map(|(o, t)| vec![*o, *t]).collect();
        Self::new(name, color, Mark::Arrows, lines)
    }

    fn new(name: impl Into<String>, color: Rgb, mark: Mark, lines: Vec<Vec<Point>>) -> Self {
        Self {
            name: name.into(),
            color,
            mark,
            lines,
        }
    }

    /// Every point of every line.
    pub fn all_points(&self) -> impl Iterator<Item = Point> + '_ {
        self.lines.iter().flatten().copied()
    }
}

/// A grey image, values in [−1, 1] (−1 black), `NaN` for a hidden pixel.
#[derive(Clone, Debug, PartialEq)]
pub struct Raster {
    /// What it shows.
    pub name: String,
    /// Pixels per row.
    pub width: usize,
    /// The values, row by row from the top.
    pub values: Vec<f32>,
}

impl Raster {
    /// Rows of the image.
    #[must_use]
    pub fn height(&self) -> usize {
        self.values.len().checked_div(self.width).unwrap_or(0)
    }
}

/// A density drawn behind a panel: values in [0, 1] over the panel's view.
#[derive(Clone, Debug, PartialEq)]
pub struct Backdrop {
    /// Pixels per side (square).
    pub side: usize,
    /// The values, row by row from the top (the largest y).
    pub values: Vec<f32>,
    /// The lower-left corner of the area it covers.
    pub min: Point,
    /// The upper-right corner.
    pub max: Point,
}

/// One plot of a figure.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Panel {
    /// What the panel shows.
    pub title: String,
    /// The x axis' label, with its unit.
    pub x_label: String,
    /// The y axis' label, with its unit.
    pub y_label: String,
    /// Its series, drawn in order.
    pub series: Vec<Series>,
    /// One unit on x is as long as one on y (the plane).
    pub equal_aspect: bool,
    /// A density under the series.
    pub backdrop: Option<Backdrop>,
    /// An area the view always shows (the plane of the 2D scenes), lower-left
    /// and upper-right corners.
    pub bounds: Option<[Point; 2]>,
}

impl Panel {
    /// A training run's loss, log₁₀, against the step; `losses` are (step, loss).
    #[must_use]
    pub fn training(losses: &[Point]) -> Self {
        let log_losses = losses.iter().map(|[s, l]| [*s, l.max(1e-12).log10()]).collect();
        Self {
            title: "training".into(),
            x_label: "training step".into(),
            y_label: "log₁₀ loss".into(),
            series: vec![Series::line("log₁₀ loss", super::common::STOCHASTIC, log_losses)],
            ..Self::default()
        }
    }

    /// A panel of the plane every 2D scene shows: x from −4.5 to 4.5, y from
    /// −4 to 4, one unit as long on both axes.
    #[must_use]
    pub fn plane(title: impl Into<String>, series: Vec<Series>) -> Self {
        Self {
            title: title.into(),
            x_label: "x1 (data units)".into(),
            y_label: "x2 (data units)".into(),
            series,
            equal_aspect: true,
            backdrop: None,
            bounds: Some([super::common::VIEW_MIN, super::common::VIEW_MAX]),
        }
    }
}

/// A number a scene prints, by name, with its unit ("" for none).
#[derive(Clone, Debug, PartialEq)]
pub struct Number {
    /// What it is ("total bound").
    pub name: String,
    /// Its value.
    pub value: f64,
    /// Its unit ("bits/dim").
    pub unit: String,
}

/// A figure: its panels, its images and its numbers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figure {
    /// The plots.
    pub panels: Vec<Panel>,
    /// Images, shown in rows.
    pub images: Vec<Raster>,
    /// Images per row (0: seven).
    pub image_columns: usize,
    /// The numbers printed beside it.
    pub numbers: Vec<Number>,
}

impl Figure {
    /// Adds a number.
    pub fn number(&mut self, name: impl Into<String>, value: f64, unit: &str) {
        self.numbers.push(Number {
            name: name.into(),
            value,
            unit: unit.into(),
        });
    }

    /// The value of the number called `name`.
    #[must_use]
    pub fn value(&self, name: &str) -> Option<f64> {
        self.numbers.iter().find(|n| n.name == name).map(|n| n.value)
    }
}
