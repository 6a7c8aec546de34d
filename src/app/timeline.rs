//! The timeline: a scrubber over every computed frame, play/pause, ±1 and speed.

use egui::Slider;

/// The timeline's state.
pub struct TimelinePanel {
    /// The frame shown.
    pub current: usize,
    /// Frames available.
    pub available: usize,
    /// Frames the finished run will have.
    pub expected: usize,
    /// Follow the newest frame while a run streams.
    pub follow: bool,
    /// Playing back.
    pub playing: bool,
    /// Playback speed in frames per second.
    pub frames_per_sec: f32,
    /// The level t of the current frame, shown beside the scrubber.
    pub current_t: usize,
    /// T, for the "t = ... / T" readout.
    pub train_steps: usize,
    /// ᾱ at the current frame.
    pub alpha_bar: f64,
    /// Which way the run goes, in words.
    pub direction: &'static str,
    play_accumulator_secs: f32,
}

impl Default for TimelinePanel {
    fn default() -> Self {
        Self {
            current: 0,
            available: 0,
            expected: 0,
            follow: true,
            playing: false,
            frames_per_sec: 20.0,
            current_t: 0,
            train_steps: 1000,
            alpha_bar: 0.0,
            direction: "reverse (denoising)",
            play_accumulator_secs: 0.0,
        }
    }
}

impl TimelinePanel {
    /// A new run is starting: follow it from its first frame.
    pub fn restart(&mut self) {
        self.current = 0;
        self.available = 0;
        self.follow = true;
        self.playing = false;
    }

    /// Frames arrived: move to the newest if following.
    pub fn set_available(&mut self, available: usize, expected: usize) {
        self.available = available;
        self.expected = expected;
        if self.follow {
            self.current = available.saturating_sub(1);
        }
        self.current = self.current.min(available.saturating_sub(1));
    }

    /// Jumps to `frame` and stops following the stream.
    pub fn scrub_to(&mut self, frame: usize) {
        self.current = frame.min(self.available.saturating_sub(1));
        self.follow = self.current + 1 >= self.expected;
    }

    /// Starts or pauses playback; playing from the last frame starts over.
    pub fn toggle_play(&mut self) {
        self.playing = !self.playing;
        if self.playing && self.current + 1 >= self.available {
            self.current = 0;
        }
        self.follow = false;
    }

    /// Moves `frames` frames (negative: back), within the run.
    pub fn step_by(&mut self, frames: i64) {
        let target = i64::try_from(self.current)
            .unwrap_or(i64::MAX)
            .saturating_add(frames)
            .max(0);
        self.scrub_to(usize::try_from(target).unwrap_or(0));
    }

    /// Advances playback by `dt_secs`; true if it is still playing.
    pub fn advance(&mut self, dt_secs: f32) -> bool {
        if !self.playing {
            return false;
        }
        self.play_accumulator_secs += dt_secs * self.frames_per_sec;
        while self.play_accumulator_secs >= 1.0 {
            self.play_accumulator_secs -= 1.0;
            if self.current + 1 < self.available {
                self.current += 1;
            } else {
                self.playing = false;
            }
        }
        self.playing
    }

    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let last = self.available.saturating_sub(1);
        ui.horizontal_wrapped(|ui| {
            if ui.button("First").on_hover_text("First frame of the run").clicked() {
                self.scrub_to(0);
            }
            if ui.button("Back").on_hover_text("One step back").clicked() {
                self.scrub_to(self.current.saturating_sub(1));
            }
            let play_label = if self.playing { "Pause" } else { "Play" };
            if ui.button(play_label).clicked() {
                self.toggle_play();
            }
            if ui.button("Next").on_hover_text("One step forward").clicked() {
                self.scrub_to(self.current + 1);
            }
            if ui.button("Last").on_hover_text("Last frame of the run").clicked() {
                self.scrub_to(last);
            }
            // A number, not a slider: it fits however narrow the strip is.
            let label = ui.label("frames/s");
            ui.add(
                egui::DragValue::new(&mut self.frames_per_sec)
                    .range(1.0..=120.0)
                    .speed(0.5),
            )
            .labelled_by(label.id);
        });
        // Its own line, wrapped: in a narrow strip the words wrap, nothing is cut.
        ui.add(
            egui::Label::new(
                egui::RichText::new(format!(
                    "t = {} / {}   ᾱ_t = {:.4} (signal kept)   {}",
                    self.current_t, self.train_steps, self.alpha_bar, self.direction
                ))
                .strong(),
            )
            .wrap(),
        );
        if self.available < self.expected {
            ui.label(format!("streaming {}/{} frames", self.available, self.expected));
        }
        let mut frame = self.current;
        ui.label(format!("frame {frame} of {last}"));
        if full_width_slider_ui(ui, &mut frame, last, "frame") {
            self.scrub_to(frame);
        }
    }
}

/// A slider across the whole width with no number or name beside it (they
/// sit on the line above): a slider with them would overflow a narrow strip,
/// and widen its panel frame after frame. True if the value changed.
pub fn full_width_slider_ui(ui: &mut egui::Ui, value: &mut usize, max: usize, name: &str) -> bool {
    ui.spacing_mut().slider_width = (ui.available_width() - 4.0).max(40.0);
    let response = ui.add(Slider::new(value, 0..=max).show_value(false));
    response.on_hover_text(name.to_owned()).changed()
}
