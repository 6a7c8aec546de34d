//! Pieces the figures share: points and tensors, sampler paths, which mode
//! samples landed in, the noised density over the plane, arrow fields, and
//! the colours every scene uses for the same things.

use std::ops::ControlFlow;

use candle_core::{Device, Tensor};

use super::data::{Backdrop, Point, Rgb};
use super::error::{FigureError, Result};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{Sampler, StepOutput, run_sampler};
use crate::diffusion::{Denoiser, NoiseRng};
use crate::jobs::JobContext;

/// The plane every 2D scene shows: x from −4.5 to 4.5, y from −4 to 4.
pub const VIEW_MIN: Point = [-4.5, -4.0];
/// The view's upper corner.
pub const VIEW_MAX: Point = [4.5, 4.0];

/// Pixels per side of a density backdrop.
const DENSITY_PIXELS: usize = 160;

/// The colour of deterministic paths (ODE, DDIM).
pub const DETERMINISTIC: Rgb = [100, 180, 250];
/// The colour of stochastic paths (SDE, DDPM).
pub const STOCHASTIC: Rgb = [240, 150, 60];

/// A mixture component's colour, the same in every scene.
#[must_use]
pub fn component_color(k: usize) -> Rgb {
    const COLORS: [Rgb; 4] = [[240, 150, 60], [100, 180, 250], [120, 200, 110], [230, 120, 200]];
    COLORS[k % COLORS.len()]
}

/// A class's colour among up to ten (Fashion-MNIST's), all distinct.
#[must_use]
pub fn class_color(k: usize) -> Rgb {
    const COLORS: [Rgb; 10] = [
        [240, 150, 60],
        [100, 180, 250],
        [120, 200, 110],
        [230, 120, 200],
        [230, 80, 80],
        [170, 140, 240],
        [200, 170, 120],
        [250, 230, 90],
        [80, 210, 200],
        [190, 190, 190],
    ];
    COLORS[k % COLORS.len()]
}

/// A schedule's colour, the same in every plot.
#[must_use]
pub fn schedule_color(kind: crate::diffusion::ScheduleKind) -> Rgb {
    use crate::diffusion::ScheduleKind;
    match kind {
        ScheduleKind::Linear => [240, 150, 60],
        ScheduleKind::ScaledLinear => [120, 200, 110],
        ScheduleKind::Cosine => [100, 180, 250],
        ScheduleKind::Sigmoid => [230, 120, 200],
    }
}

/// The rows of a `[n, 2]` tensor.
///
/// # Errors
/// A tensor that is not `[n, 2]`.
pub fn points(x: &Tensor) -> Result<Vec<Point>> {
    let rows = x.to_dtype(candle_core::DType::F64)?.to_vec2::<f64>()?;
    rows.iter()
        .map(|r| match r.as_slice() {
            [a, b] => Ok([*a, *b]),
            _ => Err(FigureError::Other(format!(
                "expected 2D points, got rows of {}",
                r.len()
            ))),
        })
        .collect()
}

/// Points as a `[n, 2]` f32 tensor.
///
/// # Errors
/// Only if candle cannot allocate it.
pub fn tensor(points: &[Point]) -> Result<Tensor> {
    let values: Vec<f32> = points.iter().flat_map(|p| [p[0] as f32, p[1] as f32]).collect();
    Ok(Tensor::from_vec(values, (points.len(), 2), &Device::Cpu)?)
}

/// Points as a `[n, 2]` f64 tensor: what the exact mixture computes in, so that
/// its answers keep f64 precision (Tweedie against Bayes to 1e-15).
///
/// # Errors
/// Only if candle cannot allocate it.
pub fn tensor_f64(points: &[Point]) -> Result<Tensor> {
    let values: Vec<f64> = points.iter().flat_map(|p| [p[0], p[1]]).collect();
    Ok(Tensor::from_vec(values, (points.len(), 2), &Device::Cpu)?)
}

/// E[x_s|x_t] on the exact mixture for s < t: c0 E[x0|x_t] + ct x_t (DDPM eq. 7;
/// the posterior mean of q(x_s|x_t, x0) is linear in x0).
///
/// # Errors
/// Tensor failures.
pub fn reverse_mean(
    mixture: &GaussianMixture,
    alpha_bar_t: f64,
    alpha_bar_s: f64,
    x_t: &[Point],
) -> Result<Vec<Point>> {
    let x0_hat = points(&mixture.posterior_mean(&tensor_f64(x_t)?, alpha_bar_t, None)?)?;
    let (c0, ct) = crate::diffusion::schedule::posterior_mean_coefficients_between(alpha_bar_t, alpha_bar_s);
    Ok(x0_hat
        .iter()
        .zip(x_t)
        .map(|(h, x)| [c0 * h[0] + ct * x[0], c0 * h[1] + ct * x[1]])
        .collect())
}

/// The sample variance of `values` (0 for fewer than two).
#[must_use]
pub fn sample_variance(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
}

/// The mean of `values` and its standard error, √(sample variance / n).
#[must_use]
pub fn mean_and_standard_error(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    (mean, (sample_variance(values) / n).sqrt())
}

/// Every particle's position before the first step and after each step:
/// `frames[k][i]` is particle i after k steps.
pub type Frames = Vec<Vec<Point>>;

/// Runs `sampler` from `start`, keeping every step.
///
/// # Errors
/// The sampler's failure; [`FigureError::Cancelled`] when the job was cancelled.
pub fn trace(
    sampler: &mut dyn Sampler,
    model: &dyn Denoiser,
    labels: Option<&[u32]>,
    start: &Tensor,
    rng: &mut NoiseRng,
    job: &JobContext,
) -> Result<Frames> {
    let mut recorder = FrameRecorder::new(start, job)?;
    let finished = run_sampler(sampler, model, labels, start, rng, |out| recorder.record(&out.x_next))?;
    recorder.finish(finished.is_some())
}

/// Keeps every step's points of a run, stopping it when the job is cancelled.
pub struct FrameRecorder<'a> {
    frames: Frames,
    failure: Option<FigureError>,
    job: &'a JobContext,
}

impl<'a> FrameRecorder<'a> {
    /// Frames starting with `start`'s points.
    ///
    /// # Errors
    /// `start` is not a `[rows, 2]` tensor.
    pub fn new(start: &Tensor, job: &'a JobContext) -> Result<Self> {
        Ok(Self {
            frames: vec![points(start)?],
            failure: None,
            job,
        })
    }

    /// Keeps `x`'s points; breaks the run when cancelled or when they cannot be read.
    pub fn record(&mut self, x: &Tensor) -> ControlFlow<()> {
        self.job.keep_going()?;
        match points(x) {
            Ok(p) => {
                self.frames.push(p);
                ControlFlow::Continue(())
            }
            Err(e) => {
                self.failure = Some(e);
                ControlFlow::Break(())
            }
        }
    }

    /// The frames of a run that `finished`.
    ///
    /// # Errors
    /// The points' failure; [`FigureError::Cancelled`] when the run broke off.
    pub fn finish(self, finished: bool) -> Result<Frames> {
        match self.failure {
            Some(e) => Err(e),
            None if finished => Ok(self.frames),
            None => Err(FigureError::Cancelled),
        }
    }
}

/// Runs `sampler` unconditionally from `start` to the end.
///
/// # Errors
/// The sampler's failure; [`FigureError::Cancelled`] when the job was cancelled.
pub fn run_to_end(
    sampler: &mut dyn Sampler,
    model: &dyn Denoiser,
    start: &Tensor,
    rng: &mut NoiseRng,
    job: &JobContext,
) -> Result<Tensor> {
    run_sampler(sampler, model, None, start, rng, |_: &StepOutput| job.keep_going())?.ok_or(FigureError::Cancelled)
}

/// Particle `i`'s path through `frames`.
#[must_use]
pub fn path(frames: &Frames, i: usize) -> Vec<Point> {
    frames.iter().filter_map(|f| f.get(i).copied()).collect()
}

/// The paths of the first `count` particles.
#[must_use]
pub fn paths(frames: &Frames, count: usize) -> Vec<Vec<Point>> {
    let particles = frames.first().map_or(0, Vec::len).min(count);
    (0..particles).map(|i| path(frames, i)).collect()
}

/// The first `count` particles of every frame: the paths a figure draws.
#[must_use]
pub fn first_paths(frames: Frames, count: usize) -> Frames {
    frames
        .into_iter()
        .map(|f| f.into_iter().take(count).collect())
        .collect()
}

/// The median distance between matching points: a few particles that cross
/// into another mode would swamp a mean.
#[must_use]
pub fn median_distance(a: &[Point], b: &[Point]) -> f64 {
    let mut distances: Vec<f64> = a.iter().zip(b).map(|(p, q)| (p[0] - q[0]).hypot(p[1] - q[1])).collect();
    distances.sort_by(f64::total_cmp);
    distances.get(distances.len() / 2).copied().unwrap_or(0.0)
}

/// The fraction of `points` that landed in each of the mixture's components.
///
/// # Errors
/// Tensor failures.
pub fn mode_fractions(mixture: &GaussianMixture, points: &[Point]) -> Result<Vec<f64>> {
    let mut counts = vec![0_usize; mixture.components().len()];
    for k in mixture.assign(&tensor(points)?)? {
        counts[k] += 1;
    }
    let total = points.len().max(1) as f64;
    Ok(counts.iter().map(|&n| n as f64 / total).collect())
}

/// The share of `points` within 3 standard deviations of a mode's mean: how
/// many samples a model put on the data rather than between the blobs.
#[must_use]
pub fn near_a_mode(mixture: &GaussianMixture, points: &[Point]) -> f64 {
    within_stds_of_a_mode(mixture, points, 3.0)
}

/// The share of `points` within `stds` standard deviations of a mode's mean.
#[must_use]
pub fn within_stds_of_a_mode(mixture: &GaussianMixture, points: &[Point], stds: f64) -> f64 {
    let near = points
        .iter()
        .filter(|p| {
            mixture
                .components()
                .iter()
                .any(|c| (p[0] - c.mean[0]).hypot(p[1] - c.mean[1]) < stds * c.std)
        })
        .count();
    near as f64 / points.len().max(1) as f64
}

/// Fractions as "0.70 / 0.20 / 0.10".
#[must_use]
pub fn fractions_text(fractions: &[f64]) -> String {
    fractions
        .iter()
        .map(|f| format!("{f:.2}"))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The mixture's weights as "0.70 / 0.20 / 0.10".
#[must_use]
pub fn weights_text(mixture: &GaussianMixture) -> String {
    let weights: Vec<f64> = mixture.components().iter().map(|c| c.weight).collect();
    fractions_text(&weights)
}

/// p_t over the view, as brightness in [0, 1]: √ of the density relative to
/// its peak, so that the tails stay visible.
///
/// # Errors
/// Tensor failures.
pub fn density_backdrop(mixture: &GaussianMixture, alpha_bar: f64) -> Result<Backdrop> {
    let n = DENSITY_PIXELS;
    let log_p = mixture.log_density(&tensor(&view_grid(n))?, alpha_bar)?;
    let max = log_p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let values = log_p.iter().map(|l| ((l - max) / 2.0).exp() as f32).collect();
    Ok(Backdrop {
        side: n,
        values,
        min: VIEW_MIN,
        max: VIEW_MAX,
    })
}

/// The centres of an `n` × `n` backdrop's pixels over the view, row by row
/// from the top (row 0 is the largest y, as a [`Backdrop`] is stored).
#[must_use]
pub fn view_grid(n: usize) -> Vec<Point> {
    let at = |i: usize, lo: f64, hi: f64| lo + (hi - lo) * (i as f64 + 0.5) / n as f64;
    let mut grid = Vec::with_capacity(n * n);
    for row in 0..n {
        let y = at(n - 1 - row, VIEW_MIN[1], VIEW_MAX[1]);
        grid.extend((0..n).map(|col| [at(col, VIEW_MIN[0], VIEW_MAX[0]), y]));
    }
    grid
}

/// A regular grid of arrow origins over the view, `per_side` along x.
#[must_use]
pub fn arrow_grid(per_side: usize) -> Vec<Point> {
    let step = (VIEW_MAX[0] - VIEW_MIN[0]) / per_side as f64;
    let mut grid = Vec::new();
    let mut y = VIEW_MIN[1] + step / 2.0;
    while y < VIEW_MAX[1] {
        grid.extend((0..per_side).map(|i| [VIEW_MIN[0] + step * (i as f64 + 0.5), y]));
        y += step;
    }
    grid
}

/// Arrows from `origins` along `vectors`, each at most `max_length` long
/// (direction kept), so that steep fields stay readable.
#[must_use]
pub fn arrow_tips(origins: &[Point], vectors: &[Point], max_length: f64) -> Vec<Point> {
    origins
        .iter()
        .zip(vectors)
        .map(|(o, v)| {
            let length = v[0].hypot(v[1]);
            let scale = if length > max_length { max_length / length } else { 1.0 };
            [o[0] + v[0] * scale, o[1] + v[1] * scale]
        })
        .collect()
}

/// The 2D MLP the figures train (ε prediction, the linear schedule) and its
/// training: L_simple on batches of 256, seeded by `seed`.
#[must_use]
pub fn mlp_2d(seed: u64) -> (crate::model::ModelConfig, crate::model::train::TrainConfig) {
    let model = crate::model::ModelConfig {
        architecture: crate::model::Architecture::Mlp(crate::model::MlpConfig::default()),
        schedule: crate::diffusion::ScheduleConfig::default(),
        ..crate::model::ModelConfig::default()
    };
    let config = crate::model::train::TrainConfig {
        batch: 256,
        seed,
        ..crate::model::train::TrainConfig::default()
    };
    (model, config)
}

/// Runs `steps` training steps, saying how far it got every 50; returns
/// (step, loss) of each.
///
/// # Errors
/// A training failure; cancelled.
pub fn train(trainer: &mut crate::model::train::Trainer, steps: usize, job: &JobContext) -> Result<Vec<Point>> {
    let mut losses = Vec::with_capacity(steps);
    for step in 1..=steps {
        check(job)?;
        let outcome = trainer.step()?;
        losses.push([outcome.step as f64, outcome.loss]);
        if step % 50 == 0 {
            job.report(format!("training step {step} of {steps}: loss {:.4}", outcome.loss));
        }
    }
    Ok(losses)
}

/// Stops with [`FigureError::Cancelled`] once the job is no longer wanted.
///
/// # Errors
/// Cancelled.
pub fn check(job: &JobContext) -> Result<()> {
    if job.is_cancelled() {
        Err(FigureError::Cancelled)
    } else {
        Ok(())
    }
}
