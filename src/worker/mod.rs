//! The job thread: runs the engine off the UI thread and streams every step.
//!
//! Commands go in and events come out over bounded channels. Starting a run
//! bumps the shared run id, which cancels the running job at its next step;
//! [`Worker::poll`] drops every event of an older run, so frames from a
//! cancelled run are never shown. After each event the worker calls the
//! `notify` hook (the app passes `ctx.request_repaint`).

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};

use crate::diffusion::denoiser::NoisyClassifier;
use crate::diffusion::elbo::{Decoder, ElboConfig, elbo_terms};
use crate::diffusion::forward::{ForwardMode, run_forward};
use crate::diffusion::guidance::{GuidanceConfig, Guided};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{SamplerConfig, StepOutput, build_sampler, run_sampler};
use crate::diffusion::{Denoiser, NoiseRng, Schedule, ScheduleConfig};

pub mod limits;

/// Which way a run goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    /// Denoising: from x_T ~ N(0, I) to data, with the sampler.
    #[default]
    Reverse,
    /// Noising: from data up to x_T, through the sampler's levels.
    Forward(ForwardMode),
}

/// Every setting of a run but the model: plain `Copy` data, shared with the controls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunSettings {
    /// Denoising or noising.
    pub direction: Direction,
    /// The noise schedule.
    pub schedule: ScheduleConfig,
    /// The sampler (its timesteps also pick a forward run's levels).
    pub sampler: SamplerConfig,
    /// Guidance, used when `class` is set.
    pub guidance: GuidanceConfig,
    /// The class to condition on (`None`: unconditional).
    pub class: Option<u32>,
    /// The RNG seed.
    pub seed: u64,
    /// The number of samples.
    pub batch: usize,
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            direction: Direction::Reverse,
            schedule: ScheduleConfig::default(),
            sampler: SamplerConfig::default(),
            guidance: GuidanceConfig::default(),
            class: None,
            seed: 42,
            batch: 2000,
        }
    }
}

/// What a run samples from.
#[derive(Clone)]
pub enum RunModel {
    /// An exact mixture or empirical denoiser: its own data source too.
    Mixture(Arc<GaussianMixture>),
    /// A trained network (or any denoiser); `data` supplies x_0 for forward
    /// runs and the ELBO.
    Network {
        /// The network.
        net: Arc<dyn Denoiser>,
        /// Data samples (an empirical mixture of real images).
        data: Arc<GaussianMixture>,
    },
}

impl RunModel {
    fn denoiser(&self) -> &dyn Denoiser {
        match self {
            Self::Mixture(m) => m.as_ref(),
            Self::Network { net, .. } => net.as_ref(),
        }
    }

    /// Only the exact mixture has an exact noisy classifier.
    fn classifier(&self) -> Option<&dyn NoisyClassifier> {
        match self {
            Self::Mixture(m) => Some(m.as_ref()),
            Self::Network { .. } => None,
        }
    }

    fn data(&self) -> &GaussianMixture {
        match self {
            Self::Mixture(m) | Self::Network { data: m, .. } => m,
        }
    }
}

impl std::fmt::Debug for RunModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Mixture(m) => write!(f, "Mixture({} components)", m.components().len()),
            Self::Network { net, .. } => write!(f, "Network({:?})", net.prediction_type()),
        }
    }
}

/// Everything that defines a run.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// The model.
    pub model: RunModel,
    /// Everything else.
    pub settings: RunSettings,
}

/// One step of a run, as plain data.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// The step's position in the run's timesteps.
    pub index: usize,
    /// The level stepped from.
    pub t: usize,
    /// The level reached (0 = data).
    pub t_next: usize,
    /// x at `t_next`, row-major `[batch, dims]`.
    pub x_next: Vec<f32>,
    /// x̂0 at (x_t, t).
    pub x0_hat: Vec<f32>,
    /// ε̂ at (x_t, t).
    pub eps_hat: Vec<f32>,
    /// ᾱ at `t`.
    pub alpha_bar: f64,
    /// The std of the noise injected by this step.
    pub noise_std: f64,
}

/// What the worker reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A run began.
    Started {
        /// The run.
        run_id: u64,
        /// The level of `x_start` (T-side for reverse runs, 0 for forward runs).
        start_t: usize,
        /// The levels it will visit after `x_start`.
        timesteps: Vec<usize>,
        /// The starting x, row-major `[batch, dims]`.
        x_start: Vec<f32>,
        /// The data dimension.
        dims: usize,
    },
    /// A step finished.
    Step {
        /// The run.
        run_id: u64,
        /// The step.
        frame: Frame,
    },
    /// The run reached t = 0.
    Finished {
        /// The run.
        run_id: u64,
        /// Wall time of the whole run.
        elapsed_secs: f64,
    },
    /// The variational bound's terms for the run's first sample as x_0.
    Elbo {
        /// The run.
        run_id: u64,
        /// L_{t−1} in nats for t = 2..=T, at index t − 2.
        step_nats: Vec<f64>,
        /// The whole bound in bits per dimension.
        bits_per_dim: f64,
    },
    /// The run failed.
    Failed {
        /// The run.
        run_id: u64,
        /// One line saying why.
        message: String,
    },
}

impl Event {
    /// The run this event belongs to.
    #[must_use]
    pub fn run_id(&self) -> u64 {
        match self {
            Self::Started { run_id, .. }
            | Self::Step { run_id, .. }
            | Self::Finished { run_id, .. }
            | Self::Elbo { run_id, .. }
            | Self::Failed { run_id, .. } => *run_id,
        }
    }
}

struct Job {
    run_id: u64,
    spec: RunSpec,
}

/// Pending jobs; older ones are skipped, so a handful is plenty.
const COMMAND_CAPACITY: usize = 16;
/// Steps in flight between the worker and the UI.
const EVENT_CAPACITY: usize = 64;

/// A handle to the job thread.
pub struct Worker {
    commands: Option<SyncSender<Job>>,
    events: Option<Receiver<Event>>,
    latest: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the thread `noisescope-worker`.
    ///
    /// # Errors
    /// The OS refused to spawn a thread.
    pub fn spawn(notify: impl Fn() + Send + 'static) -> Result<Self, crate::jobs::SpawnError> {
        Self::spawn_with(crate::jobs::Priority::Normal, notify)
    }

    /// [`Worker::spawn`] at `priority` (the window's choice: see
    /// [`crate::jobs::Priority::Background`]).
    ///
    /// # Errors
    /// The OS refused to spawn a thread.
    pub fn spawn_with(
        priority: crate::jobs::Priority,
        notify: impl Fn() + Send + 'static,
    ) -> Result<Self, crate::jobs::SpawnError> {
        let (command_tx, command_rx) = crate::jobs::bounded::<Job>(COMMAND_CAPACITY);
        let (event_tx, event_rx) = crate::jobs::bounded::<Event>(EVENT_CAPACITY);
        let latest = Arc::new(AtomicU64::new(0));
        let shared = Arc::clone(&latest);
        let thread = crate::jobs::spawn_named_with("noisescope-worker", priority, move || {
            for job in command_rx {
                if shared.load(Ordering::SeqCst) != job.run_id {
                    continue;
                }
                // A panic in a model's evaluation fails that run, not the worker:
                // the window says so and the next run works.
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run_job(&job, &shared, &event_tx, &notify)
                }));
                match outcome {
                    Ok(Ok(())) => {}
                    Ok(Err(Disconnected)) => break,
                    Err(payload) => {
                        let message = format!("the run panicked: {}", crate::jobs::panic_text(payload.as_ref()));
                        if event_tx
                            .send(Event::Failed {
                                run_id: job.run_id,
                                message,
                            })
                            .is_err()
                        {
                            break;
                        }
                        notify();
                    }
                }
            }
        })?;
        Ok(Self {
            commands: Some(command_tx),
            events: Some(event_rx),
            latest,
            thread: Some(thread),
        })
    }

    /// Cancels any running job and starts `spec`; returns the new run's id.
    pub fn start(&mut self, spec: RunSpec) -> u64 {
        let run_id = self.latest.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(commands) = &self.commands {
            // A send fails only if the thread has gone; `poll` then reports nothing.
            let _ = commands.send(Job { run_id, spec });
        }
        run_id
    }

    /// Cancels any running job.
    pub fn stop(&self) {
        self.latest.fetch_add(1, Ordering::SeqCst);
    }

    /// The id of the newest run (cancelled or not).
    #[must_use]
    pub fn latest_run(&self) -> u64 {
        self.latest.load(Ordering::SeqCst)
    }

    /// Every event waiting, without blocking, minus those of older runs.
    #[must_use]
    pub fn poll(&self) -> Vec<Event> {
        let mut events = Vec::new();
        let Some(receiver) = &self.events else {
            return events;
        };
        loop {
            match receiver.try_recv() {
                Ok(event) if event.run_id() == self.latest_run() => events.push(event),
                Ok(_) => {}
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return events,
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop();
        // Closing both channels unblocks the thread wherever it waits.
        self.commands.take();
        self.events.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The receiver is gone: the app is closing.
struct Disconnected;

fn run_job(job: &Job, latest: &AtomicU64, events: &SyncSender<Event>, notify: &dyn Fn()) -> Result<(), Disconnected> {
    let run_id = job.run_id;
    let send = |event: Event| -> Result<(), Disconnected> {
        events.send(event).map_err(|_| Disconnected)?;
        notify();
        Ok(())
    };
    let outcome = match job.spec.settings.direction {
        Direction::Reverse => sample_run(job, latest, &send),
        Direction::Forward(mode) => forward_run(job, mode, latest, &send),
    };
    let x0 = match outcome {
        Ok(Some((elapsed_secs, x0))) => {
            send(Event::Finished { run_id, elapsed_secs })?;
            x0
        }
        Ok(None) => return Ok(()),
        Err(RunError::Disconnected) => return Err(Disconnected),
        Err(RunError::Engine(message)) => return send(Event::Failed { run_id, message }),
    };
    if latest.load(Ordering::SeqCst) != run_id {
        return Ok(());
    }
    let keep_going = || {
        crate::jobs::pause_point();
        latest.load(Ordering::SeqCst) == run_id
    };
    match elbo_event(job, &x0, &keep_going) {
        Ok(event) => send(event),
        // A newer run took over; it reports for itself.
        Err(crate::diffusion::Error::Cancelled) => Ok(()),
        Err(e) => send(Event::Failed {
            run_id,
            message: format!("ELBO: {e}"),
        }),
    }
}

/// The bound's terms with the run's first sample as x_0.
fn elbo_event(job: &Job, x0: &[f32], keep_going: &dyn Fn() -> bool) -> crate::diffusion::Result<Event> {
    let spec = &job.spec;
    let dims = spec.model.data().dims();
    let first = Tensor::from_vec(x0[..dims.min(x0.len())].to_vec(), dims.min(x0.len()), &Device::Cpu)?;
    let schedule = Schedule::new(&spec.settings.schedule)?;
    // 2D toys are continuous; images are 8-bit data scaled to [−1, 1].
    let decoder = if dims == 2 {
        Decoder::Gaussian
    } else {
        Decoder::Discretized8Bit
    };
    let config = ElboConfig {
        decoder,
        ..ElboConfig::default()
    };
    let terms = elbo_terms(
        &schedule,
        spec.model.denoiser(),
        &first,
        None,
        config,
        &mut NoiseRng::seed_from(spec.settings.seed),
        keep_going,
    )?;
    Ok(Event::Elbo {
        run_id: job.run_id,
        bits_per_dim: terms.bits_per_dim(),
        step_nats: terms.step_nats,
    })
}

enum RunError {
    Disconnected,
    Engine(String),
}

impl From<crate::diffusion::Error> for RunError {
    fn from(error: crate::diffusion::Error) -> Self {
        Self::Engine(error.to_string())
    }
}

impl From<candle_core::Error> for RunError {
    fn from(error: candle_core::Error) -> Self {
        Self::Engine(error.to_string())
    }
}

/// A finished run's wall time and its data-side samples (x_0), row-major.
type RunOutcome = Option<(f64, Vec<f32>)>;

/// Runs the job, streaming steps; `Ok(None)` if it was cancelled.
fn sample_run(
    job: &Job,
    latest: &AtomicU64,
    send: &dyn Fn(Event) -> Result<(), Disconnected>,
) -> Result<RunOutcome, RunError> {
    let started = Instant::now();
    let spec = &job.spec;
    let schedule = Arc::new(Schedule::new(&spec.settings.schedule)?);
    let mut sampler = build_sampler(&spec.settings.sampler, schedule)?;
    let guided = Guided::new(spec.model.denoiser(), spec.model.classifier(), spec.settings.guidance)?;
    let dims = spec.model.data().dims();
    let mut rng = NoiseRng::seed_from(spec.settings.seed);
    let x_start = rng.randn((spec.settings.batch, dims), &Device::Cpu)?;
    send(Event::Started {
        run_id: job.run_id,
        start_t: sampler.timesteps().first().copied().unwrap_or(0),
        timesteps: sampler.timesteps().to_vec(),
        x_start: flat(&x_start)?,
        dims,
    })
    .map_err(|_| RunError::Disconnected)?;
    let labels = spec.settings.class.map(|y| vec![y; spec.settings.batch]);
    let mut disconnected = false;
    let mut conversion_error = None;
    let finished = run_sampler(
        sampler.as_mut(),
        &guided,
        labels.as_deref(),
        &x_start,
        &mut rng,
        |out| {
            crate::jobs::pause_point();
            if latest.load(Ordering::SeqCst) != job.run_id {
                return ControlFlow::Break(());
            }
            match frame_of(out) {
                Ok(frame) => {
                    if send(Event::Step {
                        run_id: job.run_id,
                        frame,
                    })
                    .is_err()
                    {
                        disconnected = true;
                        return ControlFlow::Break(());
                    }
                    ControlFlow::Continue(())
                }
                Err(e) => {
                    conversion_error = Some(e);
                    ControlFlow::Break(())
                }
            }
        },
    )?;
    if disconnected {
        return Err(RunError::Disconnected);
    }
    if let Some(e) = conversion_error {
        return Err(RunError::Engine(e.to_string()));
    }
    match finished {
        Some(x0) => Ok(Some((started.elapsed().as_secs_f64(), flat(&x0)?))),
        None => Ok(None),
    }
}

/// Noises data samples up through the sampler's levels, streaming each.
fn forward_run(
    job: &Job,
    mode: ForwardMode,
    latest: &AtomicU64,
    send: &dyn Fn(Event) -> Result<(), Disconnected>,
) -> Result<RunOutcome, RunError> {
    let started = Instant::now();
    let spec = &job.spec;
    let schedule = Schedule::new(&spec.settings.schedule)?;
    let sampler = build_sampler(&spec.settings.sampler, Arc::new(schedule.clone()))?;
    let mut levels = sampler.timesteps().to_vec();
    levels.sort_unstable();
    levels.dedup();
    let mut rng = NoiseRng::seed_from(spec.settings.seed);
    let (x0, _) = spec
        .model
        .data()
        .sample(spec.settings.batch, spec.settings.class, &mut rng)?;
    let x0_flat = flat(&x0)?;
    send(Event::Started {
        run_id: job.run_id,
        start_t: 0,
        timesteps: levels.clone(),
        x_start: x0_flat.clone(),
        dims: spec.model.data().dims(),
    })
    .map_err(|_| RunError::Disconnected)?;
    let mut failure = None;
    let finished = run_forward(&schedule, &x0, &levels, mode, &mut rng, |step| {
        crate::jobs::pause_point();
        if latest.load(Ordering::SeqCst) != job.run_id {
            return ControlFlow::Break(());
        }
        let frame = (|| -> crate::diffusion::Result<Frame> {
            let alpha_bar = schedule.alpha_bar(step.t_next);
            Ok(Frame {
                index: step.index,
                t: step.t,
                t_next: step.t_next,
                x_next: flat(&step.x_next)?,
                x0_hat: x0_flat.clone(),
                eps_hat: flat(&step.eps)?,
                alpha_bar,
                noise_std: (1.0 - alpha_bar).sqrt(),
            })
        })();
        let result = frame.map_err(|e| RunError::Engine(e.to_string())).and_then(|frame| {
            send(Event::Step {
                run_id: job.run_id,
                frame,
            })
            .map_err(|_| RunError::Disconnected)
        });
        match result {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                failure = Some(e);
                ControlFlow::Break(())
            }
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(finished.then(|| (started.elapsed().as_secs_f64(), x0_flat)))
}

fn frame_of(out: &StepOutput) -> crate::diffusion::Result<Frame> {
    Ok(Frame {
        index: out.index,
        t: out.t,
        t_next: out.t_next,
        x_next: flat(&out.x_next)?,
        x0_hat: flat(&out.x0_hat)?,
        eps_hat: flat(&out.eps_hat)?,
        alpha_bar: out.alpha_bar,
        noise_std: out.noise_std,
    })
}

fn flat(x: &Tensor) -> crate::diffusion::Result<Vec<f32>> {
    Ok(x.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?)
}

#[cfg(test)]
mod tests;
