//! Schedule plots with a cursor at the current t; dragging a plot scrubs.

use std::sync::Arc;

use egui_plot::{Legend, Line, Plot, PlotPoints, VLine};

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
        }
    }

    /// Overlays other schedules' first curve on each schedule plot (empty: none).
    pub fn set_comparison(&mut self, comparison: Vec<(String, egui::Color32, Arc<Schedule>)>) {
        self.comparison = comparison;
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
    }

    /// Shows L_{t−1} (nats, t = 2..=T) and the total bits/dim.
    pub fn set_kl(&mut self, step_nats: Vec<f64>, bits_per_dim: f64) {
        self.kl = Some((step_nats, bits_per_dim));
    }

    /// Replaces the schedule plotted.
    pub fn set_schedule(&mut self, schedule: Arc<Schedule>) {
        self.schedule = schedule;
    }

    /// Takes the t the user dragged a cursor to.
    pub fn take_requested_t(&mut self) -> Option<f64> {
        self.requested_t.take()
    }

    /// Draws the plots side by side.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let big_t = self.schedule.train_steps();
        ui.horizontal(|ui| {
            ui.label(format!(
                "ᾱ_T = {:.3e} (signal left at t = T)   √ᾱ_T = {:.3e}   log SNR(T) = {:.2}",
                self.schedule.alpha_bar(big_t),
                self.schedule.alpha_bar(big_t).sqrt(),
                self.schedule.log_snr(big_t)
            ));
            match &self.kl {
                Some((_, bits)) => ui.label(format!("ELBO of the first sample: {bits:.3} bits/dim")),
                None => ui.label("ELBO: computed when the run finishes"),
            };
        });
        let height = ui.available_height().max(80.0);
        let width = (ui.available_width() / 4.0 - 8.0).max(100.0);
        ui.horizontal(|ui| {
            self.plot_ui(ui, "signal", width, height, |s, t| {
                let a = s.alpha_bar(t);
                vec![("ᾱ_t", a), ("√ᾱ_t", a.sqrt()), ("√(1−ᾱ_t)", (1.0 - a).sqrt())]
            });
            self.plot_ui(ui, "log SNR(t)", width, height, |s, t| {
                vec![("log SNR(t)", s.log_snr(t))]
            });
            // β spans orders of magnitude (1e-4 to 0.999 for cosine): plot it on a log scale.
            self.plot_ui(ui, "β_t", width, height, |s, t| {
                vec![
                    ("log₁₀ β_t (forward)", s.beta(t).log10()),
                    ("log₁₀ β_post (posterior variance)", s.posterior_variance(t).log10()),
                ]
            });
            let kl = self.kl.as_ref().map(|(nats, _)| nats.clone()).unwrap_or_default();
            self.plot_ui(ui, "KL terms", width, height, move |_, t| {
                // Missing terms are NaN, which the plot leaves out; 1e-12 floors exact zeros.
                let log_nats = t
                    .checked_sub(2)
                    .and_then(|i| kl.get(i))
                    .map_or(f64::NAN, |n| n.max(1e-12).log10());
                vec![("log₁₀ L_{t−1} (nats)", log_nats)]
            });
        });
    }

    fn plot_ui(
        &mut self,
        ui: &mut egui::Ui,
        id: &str,
        width: f32,
        height: f32,
        curves: impl Fn(&Schedule, usize) -> Vec<(&'static str, f64)>,
    ) {
        let schedule = Arc::clone(&self.schedule);
        let big_t = schedule.train_steps();
        let names: Vec<&'static str> = curves(&schedule, 1).into_iter().map(|(n, _)| n).collect();
        #[allow(clippy::cast_precision_loss)]
        let series: Vec<Vec<[f64; 2]>> = (0..names.len())
            .map(|k| {
                (1..=big_t)
                    .map(|t| [t as f64, curves(&schedule, t)[k].1])
                    .filter(|p| p[1].is_finite())
                    .collect()
            })
            .collect();
        #[allow(clippy::cast_precision_loss)]
        let cursor = self.cursor_t as f64;
        // Overlays: each compared schedule's first curve, in the schedule's colour.
        let overlays: Vec<(String, egui::Color32, Vec<[f64; 2]>)> = if id == "KL terms" {
            Vec::new()
        } else {
            self.comparison
                .iter()
                .map(|(name, color, other)| {
                    #[allow(clippy::cast_precision_loss)]
                    let points = (1..=other.train_steps())
                        .map(|t| [t as f64, curves(other, t)[0].1])
                        .filter(|p| p[1].is_finite())
                        .collect();
                    (format!("{} {name}", names[0]), *color, points)
                })
                .collect()
        };
        let response = Plot::new(id)
            .width(width)
            .height(height)
            .legend(Legend::default())
            .allow_drag(false)
            .allow_zoom(false)
            .allow_scroll(false)
            .x_axis_label("t")
            .show(ui, |plot_ui| {
                for (name, points) in names.iter().zip(series) {
                    plot_ui.line(Line::new(*name, PlotPoints::from(points)).width(self.line_width));
                }
                for (name, color, points) in overlays {
                    plot_ui.line(
                        Line::new(name, PlotPoints::from(points))
                            .width(self.line_width)
                            .color(color),
                    );
                }
                plot_ui.vline(
                    VLine::new("current t", cursor)
                        .width(self.line_width)
                        .color(egui::Color32::from_rgb(250, 220, 90)),
                );
            });
        let pointer = response.response.interact_pointer_pos();
        if let Some(pos) = pointer
            && (response.response.dragged() || response.response.clicked())
        {
            self.requested_t = Some(response.transform.value_from_position(pos).x);
        }
    }
}
