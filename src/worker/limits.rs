//! The window's limits on a run's typed values, declared once: the controls'
//! sliders use them as their ranges, and lesson and session files are checked
//! against them when they load, so a file cannot ask the window for a run its
//! controls could never set (a hundred billion samples, a NaN η).

use super::RunSettings;

/// The most samples one 2D run draws (the batch slider's end).
pub const MAX_BATCH: usize = 8000;
/// The largest T the window builds a schedule for (the T field's end).
pub const MAX_TRAIN_STEPS: usize = 4000;
/// The smallest T: one step and its predecessor.
pub const MIN_TRAIN_STEPS: usize = 2;
/// The largest guidance scale γ (the γ slider's end).
pub const MAX_GUIDANCE_SCALE: f64 = 10.0;
/// The largest class index a file may name (Fashion-MNIST has 10; a model
/// with fewer refuses the rest when the run starts).
pub const MAX_CLASS: u32 = 999;

impl RunSettings {
    /// Checks every typed value against the window's limits.
    ///
    /// # Errors
    /// One line naming the first value out of range, its value and the range.
    pub fn check(&self) -> Result<(), String> {
        let out_of = |name: &str, value: String, range: String| format!("{name} = {value} is outside {range}");
        let train_steps = self.schedule.train_steps;
        if !(MIN_TRAIN_STEPS..=MAX_TRAIN_STEPS).contains(&train_steps) {
            return Err(out_of(
                "train-steps",
                train_steps.to_string(),
                format!("{MIN_TRAIN_STEPS} … {MAX_TRAIN_STEPS}"),
            ));
        }
        let steps = self.sampler.steps;
        if !(1..=train_steps).contains(&steps) {
            return Err(out_of(
                "steps",
                steps.to_string(),
                format!("1 … train-steps ({train_steps})"),
            ));
        }
        if !(1..=MAX_BATCH).contains(&self.batch) {
            return Err(out_of("batch", self.batch.to_string(), format!("1 … {MAX_BATCH}")));
        }
        let eta = self.sampler.eta;
        if !(0.0..=1.0).contains(&eta) {
            return Err(out_of("eta", eta.to_string(), "0 … 1".into()));
        }
        let gamma = self.guidance.scale;
        if !(0.0..=MAX_GUIDANCE_SCALE).contains(&gamma) {
            return Err(out_of("gamma", gamma.to_string(), format!("0 … {MAX_GUIDANCE_SCALE}")));
        }
        if let Some(class) = self.class.filter(|c| *c > MAX_CLASS) {
            return Err(out_of("class", class.to_string(), format!("0 … {MAX_CLASS}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_pass_and_each_limit_is_named() {
        assert_eq!(RunSettings::default().check(), Ok(()));
        let with = |change: fn(&mut RunSettings)| {
            let mut settings = RunSettings::default();
            change(&mut settings);
            settings.check().unwrap_err()
        };
        assert_eq!(
            with(|s| s.batch = 100_000_000_000),
            "batch = 100000000000 is outside 1 … 8000"
        );
        assert!(with(|s| s.schedule.train_steps = 100_000_000).starts_with("train-steps = 100000000"));
        assert!(with(|s| s.sampler.steps = 1001).starts_with("steps = 1001 is outside 1 … train-steps (1000)"));
        assert!(with(|s| s.sampler.eta = f64::NAN).starts_with("eta = NaN"));
        assert!(with(|s| s.guidance.scale = -1.0).starts_with("gamma = -1"));
        assert!(with(|s| s.class = Some(5000)).starts_with("class = 5000"));
        assert!(with(|s| s.sampler.steps = 0).starts_with("steps = 0"));
    }
}
