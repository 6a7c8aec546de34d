//! Schedule plots with a cursor at the current t; dragging a plot scrubs, and
//! clicking a plot's title makes it the big figure.

use std::sync::Arc;

use egui_plot::{Line, Plot, PlotPoints, VLine};

use crate::diffusion::Schedule;

/// The plots under the viewer.
pub struct PlotsPanel {
    /// The schedule plotted.
    schedule: Arc<Schedule>,
    /// The cursor position.
    pub cursor_t: usize,
    /// A t the user dragged to, for the app to scrub to.
    requested_t: Option<f64>,
    /// L_{t−1} in nats for t = 2..=T, and the bound in bits/dim, once computed.
    kl: Option<(Vec<f64>, f64)>,
    /// Other schedules overlaid on the schedule plots: name, colour, table.
    comparison: Vec<(String, egui::Color32, Arc<Schedule>)>,
    /// Width of every curve in points (thicker in presentation mode).
    pub line_width: f32,
    /// The plot shown large in the figure's place (a click on its title).
    big: Option<PlotKind>,
    /// Bumped when the schedule, the comparison or the KL terms change.
    data_generation: u64,
    /// Each plot's curves as last drawn, thinned and simplified: a plot
    /// redrawn at the same size over the same data reuses them, where
    /// computing them anew cost every frame of a streaming run about a
    /// millisecond of the UI pass (T points a curve through the schedule).
    drawn_curves: Vec<(CurvesKey, Curves)>,
}

/// A plot's curves: each one's name, colour and points.
type Curves = Vec<(String, egui::Color32, Vec<[f64; 2]>)>;

/// What a plot's curves were computed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CurvesKey {
    kind: PlotKind,
    /// The plot's width and height in points and the pixels per point, as bits.
    size_bits: [u32; 3],
    /// [`PlotsPanel::data_generation`] when they were computed.
    data_generation: u64,
}

impl PlotsPanel {
    /// Plots of `schedule`.
    #[must_use]
    pub fn new(schedule: Arc<Schedule>) -> Self {
        Self {
            schedule,
            cursor_t: 0,
            requested_t: None,
            kl: None,
            comparison: Vec::new(),
            line_width: 2.0,
            big: None,
            data_generation: 0,
            drawn_curves: Vec::new(),
        }
    }

    /// Overlays other schedules' first curve on each schedule plot (empty: none).
    pub fn set_comparison(&mut self, comparison: Vec<(String, egui::Color32, Arc<Schedule>)>) {
        // The window sets it every frame, building the compared schedules
        // anew each time: only a change of what they hold makes the curves anew.
        let same = comparison.len() == self.comparison.len()
            && comparison
                .iter()
                .zip(&self.comparison)
                .all(|(new, old)| new.0 == old.0 && new.1 == old.1 && (Arc::ptr_eq(&new.2, &old.2) || new.2 == old.2));
        if !same {
            self.comparison = comparison;
            self.data_generation += 1;
        }
    }

    /// The bound in bits/dim of the current run's first sample, once computed.
    #[must_use]
    pub fn elbo_bits_per_dim(&self) -> Option<f64> {
        self.kl.as_ref().map(|(_, bits)| *bits)
    }

    /// L_{t−1} in nats for t = 2..=T, once computed.
    #[must_use]
    pub fn kl_nats(&self) -> Option<&[f64]> {
        self.kl.as_ref().map(|(nats, _)| nats.as_slice())
    }

    /// Forgets the KL terms of the previous run.
    pub fn clear_kl(&mut self) {
        self.kl = None;
        self.data_generation += 1;
    }

    /// Shows L_{t−1} (nats, t = 2..=T) and the total bits/dim.
    pub fn set_kl(&mut self, step_nats: Vec<f64>, bits_per_dim: f64) {
        self.kl = Some((step_nats, bits_per_dim));
        self.data_generation += 1;
    }

    /// Replaces the schedule plotted.
    pub fn set_schedule(&mut self, schedule: Arc<Schedule>) {
        self.schedule = schedule;
        self.data_generation += 1;
    }

    /// Takes the t the user dragged a cursor to.
    pub fn take_requested_t(&mut self) -> Option<f64> {
        self.requested_t.take()
    }

    /// The plot shown as the big figure, if one is.
    #[must_use]
    pub fn big_plot(&self) -> Option<PlotKind> {
        self.big
    }

    /// Makes `kind` the big figure (or, with `None`, gives the figure back).
    pub fn set_big_plot(&mut self, kind: Option<PlotKind>) {
        self.big = kind;
    }

    /// Draws the plots stacked in the side strip; the big one keeps a title line.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let big_t = self.schedule.train_steps();
        ui.add(
            egui::Label::new(format!(
                "ᾱ_T = {:.3e} (signal left at t = T)   log SNR(T) = {:.2}",
                self.schedule.alpha_bar(big_t),
                self.schedule.log_snr(big_t)
            ))
            .wrap(),
        );
        match &self.kl {
            Some((_, bits)) => ui.label(format!("ELBO of the first sample: {bits:.3} bits/dim")),
            None => ui.label("ELBO: computed when the run finishes"),
        };
        let small: Vec<PlotKind> = PlotKind::ALL.into_iter().filter(|k| Some(*k) != self.big).collect();
        // Three plots share what is left of the strip's height; the fourth
        // scrolls into view. The axes' labels take about four lines of type.
        let line = ui.text_style_height(&egui::TextStyle::Body);
        let height = (ui.available_height() / 3.0 - 2.0 * line).clamp(90.0 + 4.0 * line, 300.0);
        for kind in small {
            self.plot_ui(ui, kind, height);
        }
    }

    /// Draws the big plot filling `ui` (the figure's place).
    pub fn big_ui(&mut self, ui: &mut egui::Ui) {
        if let Some(kind) = self.big {
            let height = ui.available_height() - 48.0;
            self.plot_ui(ui, kind, height.max(100.0));
        }
    }

    /// One plot under its title line: the title (a click makes it the big
    /// figure, or gives the figure back) and each curve's name in its colour,
    /// so no legend sits on the data.
    fn plot_ui(&mut self, ui: &mut egui::Ui, kind: PlotKind, height: f32) {
        let width = ui.available_width();
        let lines = self.curves_for(kind, width, height, ui.ctx().pixels_per_point());
        ui.horizontal_wrapped(|ui| {
            let big = self.big == Some(kind);
            let hint = if big {
                "give the figure back"
            } else {
                "show this plot as the figure"
            };
            if ui
                .selectable_label(big, egui::RichText::new(kind.title()).strong())
                .on_hover_text(hint)
                .clicked()
            {
                self.big = if big { None } else { Some(kind) };
            }
            for (name, color, _) in &lines {
                ui.colored_label(*color, format!("━ {name}"));
            }
        });
        let cursor = self.cursor_t as f64;
        let cursor_color = if ui.visuals().dark_mode {
            egui::Color32::from_rgb(250, 220, 90)
        } else {
            egui::Color32::from_rgb(150, 110, 0)
        };
        let response = Plot::new(kind.title())
            .width(width)
            .height(height)
            .allow_drag(false)
            .allow_zoom(false)
            .allow_scroll(false)
            // The strip's own fill shows through: the plot's darker one shaded
            // each plot's area a second time.
            .show_background(false)
            .x_axis_label("t")
            .show(ui, |plot_ui| {
                for (name, color, points) in lines {
                    plot_ui.line(
                        Line::new(name, PlotPoints::from(points))
                            .width(self.line_width)
                            .color(color),
                    );
                }
                plot_ui.vline(
                    VLine::new("current t", cursor)
                        .width(self.line_width)
                        .color(cursor_color),
                );
            });
        let pointer = response.response.interact_pointer_pos();
        if let Some(pos) = pointer
            && (response.response.dragged() || response.response.clicked())
        {
            self.requested_t = Some(response.transform.value_from_position(pos).x);
        }
    }

    /// `kind`'s curves for a plot `width` × `height` points at
    /// `pixels_per_point`, as last drawn if nothing they show has changed.
    fn curves_for(&mut self, kind: PlotKind, width: f32, height: f32, pixels_per_point: f32) -> Curves {
        let key = CurvesKey {
            kind,
            size_bits: [width.to_bits(), height.to_bits(), pixels_per_point.to_bits()],
            data_generation: self.data_generation,
        };
        if let Some((_, curves)) = self.drawn_curves.iter().find(|(drawn, _)| *drawn == key) {
            return curves.clone();
        }
        let schedule = Arc::clone(&self.schedule);
        let columns = (width * pixels_per_point).max(1.0) as usize;
        let mut lines = self.series(kind, &schedule, columns);
        if kind != PlotKind::Kl {
            // Each compared schedule's first curve only, in the schedule's colour.
            for (name, color, other) in &self.comparison {
                let first = kind.curve_names()[0];
                lines.push((format!("{first} {name}"), *color, self.curve(kind, other, 0, columns)));
            }
        }
        // A software renderer pays for every segment: keep only the points a
        // quarter of a pixel would show (the axes span the data, so the scale is
        // at least this fine).
        let (low, high) = lines
            .iter()
            .flat_map(|(_, _, points)| points.iter().map(|p| p[1]))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| (lo.min(y), hi.max(y)));
        let pixels_per_point = f64::from(pixels_per_point);
        let units_per_pixel = [
            schedule.train_steps() as f64 / (f64::from(width) * pixels_per_point).max(1.0),
            (high - low).max(1e-12) / (f64::from(height) * pixels_per_point).max(1.0),
        ];
        for (_, _, points) in &mut lines {
            *points = simplify_polyline(points, units_per_pixel, 0.25);
        }
        self.drawn_curves.retain(|(drawn, _)| drawn.kind != kind);
        self.drawn_curves.push((key, lines.clone()));
        lines
    }

    /// `kind`'s curves over t = 1..=T of `schedule`, each thinned to `columns`.
    fn series(
        &self,
        kind: PlotKind,
        schedule: &Schedule,
        columns: usize,
    ) -> Vec<(String, egui::Color32, Vec<[f64; 2]>)> {
        kind.curve_names()
            .iter()
            .enumerate()
            .map(|(k, name)| {
                (
                    (*name).to_owned(),
                    CURVE_COLORS[k % CURVE_COLORS.len()],
                    self.curve(kind, schedule, k, columns),
                )
            })
            .collect()
    }

    /// Curve `k` of `kind` over t = 1..=T of `schedule`, thinned to `columns`.
    fn curve(&self, kind: PlotKind, schedule: &Schedule, k: usize, columns: usize) -> Vec<[f64; 2]> {
        let kl = self.kl.as_ref().map(|(nats, _)| nats.as_slice()).unwrap_or_default();
        let points: Vec<[f64; 2]> = (1..=schedule.train_steps())
            .map(|t| [t as f64, kind.value(schedule, kl, t, k)])
            .filter(|p| p[1].is_finite())
            .collect();
        thin_min_max(&points, columns)
    }
}

/// Curve colours, by the curve's place in its plot (readable on dark and light).
const CURVE_COLORS: [egui::Color32; 3] = [
    egui::Color32::from_rgb(60, 150, 230),
    egui::Color32::from_rgb(230, 120, 40),
    egui::Color32::from_rgb(60, 170, 80),
];

/// One of the strip's plots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlotKind {
    /// ᾱ_t, √ᾱ_t and √(1−ᾱ_t).
    Signal,
    /// log SNR(t), and EDM's noise level log₁₀ σ.
    LogSnr,
    /// β_t and the posterior variance, log₁₀.
    Beta,
    /// The per-step KL terms of the ELBO, log₁₀ nats.
    Kl,
}

impl PlotKind {
    /// Every plot, in the strip's order.
    pub const ALL: [Self; 4] = [Self::Signal, Self::LogSnr, Self::Beta, Self::Kl];

    /// The plot's title.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::Signal => "signal",
            Self::LogSnr => "log SNR(t) and σ",
            Self::Beta => "β_t",
            Self::Kl => "KL terms",
        }
    }

    fn curve_names(self) -> &'static [&'static str] {
        match self {
            Self::Signal => &["ᾱ_t", "√ᾱ_t", "√(1−ᾱ_t)"],
            // EDM's σ = √((1 − ᾱ)/ᾱ) = e^{−λ/2} (Karras et al. 2022), on a log axis.
            Self::LogSnr => &["log SNR(t)", "log₁₀ σ"],
            // β spans orders of magnitude (1e-4 to 0.999 for cosine): a log scale.
            Self::Beta => &["log₁₀ β_t (forward)", "log₁₀ β_post (posterior variance)"],
            Self::Kl => &["log₁₀ L_{t−1} (nats)"],
        }
    }

    /// Curve `k` at `t` (NaN where there is none, which the plot leaves out).
    fn value(self, schedule: &Schedule, kl_nats: &[f64], t: usize, k: usize) -> f64 {
        let a = schedule.alpha_bar(t);
        match (self, k) {
            (Self::Signal, 0) => a,
            (Self::Signal, 1) => a.sqrt(),
            (Self::Signal, _) => (1.0 - a).sqrt(),
            (Self::LogSnr, 0) => schedule.log_snr(t),
            (Self::LogSnr, _) => crate::diffusion::timesteps::edm_sigma(schedule, t).log10(),
            (Self::Beta, 0) => schedule.beta(t).log10(),
            (Self::Beta, _) => schedule.posterior_variance(t).log10(),
            // 1e-12 floors exact zeros; missing terms (t = 1) are NaN.
            (Self::Kl, _) => t
                .checked_sub(2)
                .and_then(|i| kl_nats.get(i))
                .map_or(f64::NAN, |n| n.max(1e-12).log10()),
        }
    }
}

/// Keeps, per screen column, a curve's lowest and highest point, in order, and
/// its two ends: a 1000-point curve on a 240-pixel plot looks the same (its
/// jags included) and costs half the triangles.
#[must_use]
pub fn thin_min_max(points: &[[f64; 2]], columns: usize) -> Vec<[f64; 2]> {
    if points.len() <= 2 * columns.max(1) {
        return points.to_vec();
    }
    let (first, last) = (points[0][0], points[points.len() - 1][0]);
    let span = (last - first).max(f64::MIN_POSITIVE);
    let columns_f = columns as f64;
    let mut thinned = Vec::with_capacity(2 * columns + 2);
    let mut start = 0;
    while start < points.len() {
        let column = (((points[start][0] - first) / span * columns_f) as usize).min(columns - 1);
        let mut end = start + 1;
        while end < points.len() && (((points[end][0] - first) / span * columns_f) as usize).min(columns - 1) == column
        {
            end += 1;
        }
        let bucket = &points[start..end];
        let low = bucket
            .iter()
            .enumerate()
            .min_by(|a, b| a.1[1].total_cmp(&b.1[1]))
            .map_or(0, |(i, _)| i);
        let high = bucket
            .iter()
            .enumerate()
            .max_by(|a, b| a.1[1].total_cmp(&b.1[1]))
            .map_or(0, |(i, _)| i);
        let (a, b) = (low.min(high), low.max(high));
        thinned.push(bucket[a]);
        if b != a {
            thinned.push(bucket[b]);
        }
        start = end;
    }
    // The curve's ends stay where they are.
    if thinned.first() != points.first() {
        thinned.insert(0, points[0]);
    }
    if thinned.last() != points.last() {
        thinned.push(points[points.len() - 1]);
    }
    thinned
}

/// The points of the polyline `points` that keep it within `tolerance_pixels`
/// of itself (Ramer–Douglas–Peucker), distances measured in pixels of
/// `units_per_pixel` (x, y); the ends stay.
#[must_use]
pub fn simplify_polyline(points: &[[f64; 2]], units_per_pixel: [f64; 2], tolerance_pixels: f64) -> Vec<[f64; 2]> {
    let n = points.len();
    if n <= 2 {
        return points.to_vec();
    }
    let pixel = |p: [f64; 2]| [p[0] / units_per_pixel[0], p[1] / units_per_pixel[1]];
    let mut keep = vec![false; n];
    (keep[0], keep[n - 1]) = (true, true);
    let mut spans = vec![(0, n - 1)];
    while let Some((first, last)) = spans.pop() {
        let (a, b) = (pixel(points[first]), pixel(points[last]));
        let chord = [b[0] - a[0], b[1] - a[1]];
        let chord_length = chord[0].hypot(chord[1]);
        let distance = |p: [f64; 2]| {
            let (dx, dy) = (p[0] - a[0], p[1] - a[1]);
            if chord_length > 0.0 {
                (dx * chord[1] - dy * chord[0]).abs() / chord_length
            } else {
                dx.hypot(dy)
            }
        };
        let farthest = (first + 1..last)
            .map(|i| (i, distance(pixel(points[i]))))
            .max_by(|x, y| x.1.total_cmp(&y.1));
        if let Some((i, d)) = farthest
            && d > tolerance_pixels
        {
            keep[i] = true;
            spans.extend([(first, i), (i, last)]);
        }
    }
    points
        .iter()
        .zip(keep)
        .filter_map(|(p, kept)| kept.then_some(*p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plots_curves_are_kept_until_what_they_show_changes() {
        use crate::diffusion::{ScheduleConfig, ScheduleKind};
        let schedule = |kind| {
            Arc::new(
                Schedule::new(&ScheduleConfig {
                    kind,
                    ..ScheduleConfig::default()
                })
                .unwrap(),
            )
        };
        let mut plots = PlotsPanel::new(schedule(ScheduleKind::Linear));
        let signal = |plots: &mut PlotsPanel| plots.curves_for(PlotKind::Signal, 220.0, 120.0, 1.0);
        let linear = signal(&mut plots);
        // √ᾱ at t = 1000 of the linear schedule: √4.036e-5 = 0.00635.
        let sqrt_alpha_bar_end = linear[1].2.last().unwrap()[1];
        assert!(
            (sqrt_alpha_bar_end - 4.036e-5_f64.sqrt()).abs() < 1e-4,
            "{sqrt_alpha_bar_end}"
        );
        assert_eq!(plots.drawn_curves.len(), 1);
        // Marked, the kept entry shows whether the next call reuses it.
        plots.drawn_curves[0].1[0].0 = "kept".to_owned();
        assert_eq!(signal(&mut plots)[0].0, "kept", "the same plot again: the kept curves");
        assert_eq!(
            plots.curves_for(PlotKind::Signal, 221.0, 120.0, 1.0)[0].0,
            "ᾱ_t",
            "another size: new curves"
        );
        let generation = plots.data_generation;
        plots.set_comparison(Vec::new());
        assert_eq!(plots.data_generation, generation, "no comparison again is no change");
        let cosine_schedule = schedule(ScheduleKind::Cosine);
        let compared = || vec![("cosine".to_owned(), egui::Color32::RED, Arc::clone(&cosine_schedule))];
        plots.set_comparison(compared());
        assert_eq!(signal(&mut plots).len(), 4, "the compared schedule's curve is added");
        let generation = plots.data_generation;
        plots.set_comparison(compared());
        assert_eq!(
            plots.data_generation, generation,
            "the same comparison again is no change"
        );
        // As the window builds it each frame: an equal schedule, newly made.
        plots.set_comparison(vec![(
            "cosine".to_owned(),
            egui::Color32::RED,
            schedule(ScheduleKind::Cosine),
        )]);
        assert_eq!(
            plots.data_generation, generation,
            "an equal comparison built anew is no change"
        );
        plots.set_comparison(Vec::new());
        plots.set_schedule(schedule(ScheduleKind::Cosine));
        let cosine = signal(&mut plots);
        assert_ne!(cosine, linear, "a new schedule: new curves");
        assert_eq!(plots.drawn_curves.len(), 1, "one kept entry a plot");
        let wider = plots.curves_for(PlotKind::Signal, 440.0, 120.0, 1.0);
        assert!(
            wider[0].2.len() >= cosine[0].2.len(),
            "twice the columns keep at least as many points"
        );
        let kl_points = |plots: &mut PlotsPanel| plots.curves_for(PlotKind::Kl, 220.0, 120.0, 1.0)[0].2.len();
        assert_eq!(kl_points(&mut plots), 0, "no KL terms yet");
        plots.set_kl(vec![0.5; 999], 1.0);
        assert!(kl_points(&mut plots) > 0, "the KL terms, once set, are drawn");
        plots.clear_kl();
        assert_eq!(kl_points(&mut plots), 0);
    }

    #[test]
    fn the_sigma_curve_is_edms_noise_level() {
        // Ho et al.'s linear schedule: ᾱ_T = 4.036e-5, so σ_T = √((1 − ᾱ)/ᾱ) = 157.4,
        // and σ_1 = √(0.0001/0.9999) = 0.0100.
        let schedule = Schedule::new(&crate::diffusion::ScheduleConfig::default()).unwrap();
        let sigma = |t: usize| PlotKind::LogSnr.value(&schedule, &[], t, 1);
        assert!((sigma(1000) - 157.4_f64.log10()).abs() < 1e-3, "{}", sigma(1000));
        assert!((sigma(1) - (0.0001_f64 / 0.9999).sqrt().log10()).abs() < 1e-9);
    }

    #[test]
    fn thinning_keeps_each_columns_extremes_and_the_ends() {
        // A saw tooth: every other point is a peak.
        let points: Vec<[f64; 2]> = (0..1000).map(|t| [f64::from(t), f64::from(t % 2)]).collect();
        let thinned = thin_min_max(&points, 100);
        assert!(thinned.len() <= 202, "{}", thinned.len());
        assert_eq!(thinned.first(), points.first());
        assert_eq!(thinned.last(), points.last());
        // Each column of ten points keeps a 0 and a 1.
        for column in 0..100 {
            let kept: Vec<f64> = thinned
                .iter()
                .filter(|p| (p[0] / 10.0).floor() == f64::from(column))
                .map(|p| p[1])
                .collect();
            assert!(kept.contains(&0.0) && kept.contains(&1.0), "column {column}: {kept:?}");
        }
        assert!(thinned.windows(2).all(|w| w[0][0] < w[1][0]), "out of order");
        // Few points: untouched.
        assert_eq!(thin_min_max(&points[..20], 100), points[..20].to_vec());
    }

    #[test]
    fn simplifying_drops_what_a_pixel_cannot_show_and_keeps_corners() {
        // A straight line is its two ends; a V keeps its corner.
        let line: Vec<[f64; 2]> = (0..=100).map(|t| [f64::from(t), 2.0 * f64::from(t)]).collect();
        assert_eq!(
            simplify_polyline(&line, [1.0, 1.0], 0.25),
            vec![[0.0, 0.0], [100.0, 200.0]]
        );
        let v: Vec<[f64; 2]> = (0..=100).map(|t| [f64::from(t), (f64::from(t) - 50.0).abs()]).collect();
        assert_eq!(
            simplify_polyline(&v, [1.0, 1.0], 0.25),
            vec![[0.0, 50.0], [50.0, 0.0], [100.0, 50.0]]
        );
        // A parabola y = x²/100 on a 100 × 100 pixel plot: every point left out
        // lies within a quarter pixel of the simplified curve.
        let parabola: Vec<[f64; 2]> = (0..=1000)
            .map(|i| [f64::from(i) / 10.0, (f64::from(i) / 10.0).powi(2) / 100.0])
            .collect();
        let kept = simplify_polyline(&parabola, [1.0, 1.0], 0.25);
        assert!(kept.len() < 40, "{}", kept.len());
        for p in &parabola {
            let segment = kept.windows(2).find(|w| w[0][0] <= p[0] && p[0] <= w[1][0]).unwrap();
            let (a, b) = (segment[0], segment[1]);
            let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
            let off_line = ((p[0] - a[0]) * dy - (p[1] - a[1]) * dx).abs() / dx.hypot(dy);
            assert!(off_line <= 0.25 + 1e-9, "{p:?} is {off_line} px off");
        }
    }
}
