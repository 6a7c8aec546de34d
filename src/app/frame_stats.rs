//! Frame times, measured in the real window: the UI pass and the interval
//! between frames, kept for the last 120 frames (F12 shows their median and
//! p99) and, with `explore --frame-stats PATH`, written one CSV line a frame.

use std::collections::VecDeque;
use std::io::Write as _;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// How many frames the on-screen figures cover.
pub const WINDOW_FRAMES: usize = 120;

/// The CSV header of `--frame-stats`.
pub const CSV_HEADER: &str = "frame,unix_ms,ui_ms,interval_ms";

/// One frame's times, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FrameTime {
    /// The UI pass: from the start of `ui` to its end.
    pub ui_ms: f64,
    /// Since the previous frame began (0 for the first).
    pub interval_ms: f64,
}

/// The recorder.
#[derive(Default)]
pub struct FrameStats {
    /// Whether the overlay shows (F12).
    pub shown: bool,
    recent: VecDeque<FrameTime>,
    frame: u64,
    previous_start: Option<Instant>,
    csv: Option<std::io::BufWriter<std::fs::File>>,
}

impl FrameStats {
    /// Also writes every frame to `file` (its header first).
    ///
    /// # Errors
    /// The header cannot be written.
    pub fn with_csv(file: std::fs::File) -> std::io::Result<Self> {
        let mut csv = std::io::BufWriter::new(file);
        writeln!(csv, "{CSV_HEADER}")?;
        csv.flush()?;
        Ok(Self {
            csv: Some(csv),
            ..Self::default()
        })
    }

    /// Records a frame that began at `start` and whose UI pass ends now.
    pub fn record(&mut self, start: Instant) {
        let ui_ms = start.elapsed().as_secs_f64() * 1e3;
        let interval_ms = self
            .previous_start
            .map_or(0.0, |previous| start.duration_since(previous).as_secs_f64() * 1e3);
        self.previous_start = Some(start);
        self.push(FrameTime { ui_ms, interval_ms });
    }

    fn push(&mut self, time: FrameTime) {
        if self.recent.len() == WINDOW_FRAMES {
            self.recent.pop_front();
        }
        self.recent.push_back(time);
        if let Some(csv) = &mut self.csv {
            let unix_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            let written = writeln!(
                csv,
                "{},{unix_ms},{:.3},{:.3}",
                self.frame, time.ui_ms, time.interval_ms
            )
            .and_then(|()| csv.flush());
            if let Err(e) = written {
                // Logged once: the file is dropped, the window goes on.
                eprintln!("noisescope: --frame-stats stopped: {e}");
                self.csv = None;
            }
        }
        self.frame += 1;
    }

    /// The median and p99 of the last frames' UI passes and intervals, in ms.
    #[must_use]
    pub fn summary(&self) -> Option<Summary> {
        if self.recent.is_empty() {
            return None;
        }
        let ui: Vec<f64> = self.recent.iter().map(|f| f.ui_ms).collect();
        // The first frame has no interval.
        let intervals: Vec<f64> = self.recent.iter().map(|f| f.interval_ms).filter(|i| *i > 0.0).collect();
        Some(Summary {
            frames: self.recent.len(),
            ui_median_ms: quantile(&ui, 0.5),
            ui_p99_ms: quantile(&ui, 0.99),
            interval_median_ms: quantile(&intervals, 0.5),
            interval_p99_ms: quantile(&intervals, 0.99),
        })
    }

    /// The overlay in the window's corner (only when [`Self::shown`]).
    pub fn overlay_ui(&self, ctx: &egui::Context) {
        if !self.shown {
            return;
        }
        let text = match self.summary() {
            Some(s) => format!(
                "last {} frames\nUI pass: median {:.1} ms, p99 {:.1} ms\nframe interval: median {:.1} ms, p99 {:.1} ms",
                s.frames, s.ui_median_ms, s.ui_p99_ms, s.interval_median_ms, s.interval_p99_ms
            ),
            None => "no frame measured yet".to_owned(),
        };
        egui::Area::new(egui::Id::unique("frame-stats"))
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-8.0, -8.0))
            .order(egui::Order::Foreground)
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| ui.label(egui::RichText::new(text).monospace()))
            });
    }
}

/// What the overlay shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Frames measured (at most [`WINDOW_FRAMES`]).
    pub frames: usize,
    /// Median UI pass, ms.
    pub ui_median_ms: f64,
    /// 99th percentile UI pass, ms.
    pub ui_p99_ms: f64,
    /// Median interval between frames, ms (0 with one frame).
    pub interval_median_ms: f64,
    /// 99th percentile interval, ms.
    pub interval_p99_ms: f64,
}

/// The `q` quantile by the nearest rank (0 for no values).
fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&values, 0.5), 50.0);
        assert_eq!(quantile(&values, 0.99), 99.0);
        assert_eq!(quantile(&[7.0], 0.99), 7.0);
    }

    #[test]
    fn the_window_keeps_the_last_frames_and_the_csv_one_line_each() {
        let path = std::env::temp_dir().join(format!("noisescope-frames-{}.csv", std::process::id()));
        let mut stats = FrameStats::with_csv(std::fs::File::create(&path).unwrap()).unwrap();
        for k in 0..200 {
            stats.push(FrameTime {
                ui_ms: f64::from(k),
                interval_ms: 10.0,
            });
        }
        let summary = stats.summary().unwrap();
        assert_eq!(summary.frames, WINDOW_FRAMES);
        // The last 120 of 0..200 are 80..=199.
        assert_eq!(summary.ui_median_ms, 139.0);
        assert_eq!(summary.interval_p99_ms, 10.0);
        drop(stats);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(lines.len(), 201);
        let last: Vec<&str> = lines[200].split(',').collect();
        assert_eq!((last[0], last[2], last[3]), ("199", "199.000", "10.000"));
        std::fs::remove_file(&path).unwrap();
    }
}
