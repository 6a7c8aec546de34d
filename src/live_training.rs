//! Training a small 2D model on its own thread while the window watches.
//!
//! [`LiveTraining::start`] spawns the `noisescope-trainer` thread for one job;
//! it reports the loss of every step, the timesteps it drew, and every
//! [`PREVIEW_EVERY`] steps a sample drawn with the moving-average weights, over
//! a bounded channel, waking the UI after each report. Dropping the handle or
//! calling [`LiveTraining::stop`] cancels the job at its next step.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::Instant;

use crate::data::Dataset;
use crate::diffusion::guidance::{GuidanceConfig, Guided};
use crate::diffusion::sampler::{SamplerConfig, build_sampler, sample_from_noise};
use crate::diffusion::{NoiseRng, Schedule};
use crate::model::train::{TrainConfig, Trainer};
use crate::model::{ModelConfig, TrainedModel};

/// Steps between sample previews.
pub const PREVIEW_EVERY: usize = 100;
/// Points drawn for each preview.
pub const PREVIEW_POINTS: usize = 1000;

/// A report from the trainer thread.
pub enum TrainingEvent {
    /// Steps since the last report.
    Progress {
        /// `(step, loss)` of each step.
        losses: Vec<(usize, f64)>,
        /// The timesteps those steps drew.
        timesteps: Vec<usize>,
    },
    /// Samples from the current moving-average model, row-major `[n, 2]`.
    Preview {
        /// The step they were drawn at.
        step: usize,
        /// The points.
        points: Vec<f32>,
    },
    /// Training reached its last step.
    Finished {
        /// The moving-average model.
        model: Arc<TrainedModel>,
        /// Wall time of the whole job.
        elapsed_secs: f64,
    },
    /// Training failed.
    Failed(String),
}

/// A running (or finished) job.
pub struct LiveTraining {
    events: Receiver<TrainingEvent>,
    cancel: Arc<AtomicBool>,
}

impl LiveTraining {
    /// Starts training `model` on `data` for `steps` steps; `wake` is called
    /// after every report (the window's repaint request).
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn start(
        model: ModelConfig,
        config: TrainConfig,
        data: Dataset,
        steps: usize,
        wake: impl Fn() + Send + 'static,
    ) -> Result<Self, crate::jobs::SpawnError> {
        let (sender, events) = crate::jobs::bounded(64);
        let cancel = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&cancel);
        crate::jobs::spawn_named("noisescope-trainer", move || {
            let report = |event| sender.send(event).is_ok();
            if let Err(message) = run(model, config, data, steps, &stop, &report, &wake) {
                let _ = sender.send(TrainingEvent::Failed(message));
                wake();
            }
        })?;
        Ok(Self { events, cancel })
    }

    /// The next report, if one is waiting (never blocks).
    #[must_use]
    pub fn poll(&self) -> Option<TrainingEvent> {
        // Empty and disconnected both mean "nothing new"; a failure arrives as an event.
        self.events.try_recv().ok()
    }

    /// Asks the job to stop at its next step.
    pub fn stop(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }
}

impl Drop for LiveTraining {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reports are batched to about one per 20 steps, so the channel never floods.
const REPORT_EVERY: usize = 20;

fn run(
    model: ModelConfig,
    config: TrainConfig,
    data: Dataset,
    steps: usize,
    stop: &AtomicBool,
    report: &dyn Fn(TrainingEvent) -> bool,
    wake: &dyn Fn(),
) -> Result<(), String> {
    let started = Instant::now();
    let mut trainer = Trainer::new(model, config, data).map_err(|e| e.to_string())?;
    let schedule = Arc::new(Schedule::new(&model.schedule).map_err(|e| e.to_string())?);
    let mut losses = Vec::new();
    let mut timesteps = Vec::new();
    for step in 1..=steps {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        let outcome = trainer.step().map_err(|e| e.to_string())?;
        losses.push((outcome.step, outcome.loss));
        timesteps.extend(outcome.timesteps);
        if step % REPORT_EVERY == 0 || step == steps {
            let event = TrainingEvent::Progress {
                losses: std::mem::take(&mut losses),
                timesteps: std::mem::take(&mut timesteps),
            };
            if !report(event) {
                return Ok(());
            }
            wake();
        }
        if step % PREVIEW_EVERY == 0 || step == steps {
            let ema = trainer.ema_model().map_err(|e| e.to_string())?;
            let points = preview(&ema, &schedule, step).map_err(|e| e.to_string())?;
            if !report(TrainingEvent::Preview { step, points }) {
                return Ok(());
            }
            wake();
        }
    }
    let model = Arc::new(trainer.ema_model().map_err(|e| e.to_string())?);
    report(TrainingEvent::Finished {
        model,
        elapsed_secs: started.elapsed().as_secs_f64(),
    });
    wake();
    Ok(())
}

/// DDIM-25 samples of the model, from noise seeded by the step.
fn preview(model: &TrainedModel, schedule: &Arc<Schedule>, step: usize) -> crate::diffusion::Result<Vec<f32>> {
    let config = SamplerConfig {
        steps: 25,
        ..SamplerConfig::default()
    };
    let mut sampler = build_sampler(&config, Arc::clone(schedule))?;
    let guided = Guided::new(model, None, GuidanceConfig::default())?;
    let mut rng = NoiseRng::seed_from(step as u64);
    let dims = model.config().sample_dims();
    let x = sample_from_noise(sampler.as_mut(), &guided, None, &[PREVIEW_POINTS, dims], &mut rng)?;
    Ok(x.flatten_all()?.to_vec1()?)
}
