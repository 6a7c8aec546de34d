//! VDM (Kingma et al. 2021): a monotone noise schedule learned jointly with a
//! 2D network on the mixture. The continuous-time loss has the same expectation
//! under every schedule with the same end points (eq. 19); the learned one has
//! the smallest variance, which it gets by making every t contribute about
//! equally to the loss.

use candle_core::{Device, Tensor};

use super::Inputs;
use super::common::{self, DETERMINISTIC, STOCHASTIC};
use super::data::{Figure, Panel, Point, Rgb, Series};
use super::error::{FigureError, Result};
use crate::data::Dataset;
use crate::diffusion::{NoiseRng, PredictionType, Schedule, ScheduleConfig};
use crate::jobs::JobContext;
use crate::model::vdm::{LearnedSchedule, VdmTrainer, diffusion_losses};
use crate::model::{Architecture, MlpConfig, ModelConfig, TrainedModel};

/// Samples of the loss estimator per schedule.
pub const SAMPLES: usize = 8192;
/// Bins of t for the per-t loss.
const T_BINS: usize = 24;

/// How long the network and the schedule train: 1500 steps by default, about
/// a minute on two cores (the seed draws the network's first weights).
pub type Setup = super::setup::Training<1500, 2>;

/// A schedule as (γ, γ′) at given t.
type GammaAt<'a> = &'a dyn Fn(&[f64]) -> Result<(Tensor, Tensor)>;

/// One schedule's γ(t) and its loss statistics on the trained network.
#[derive(Clone, Debug, PartialEq)]
pub struct Judged {
    /// The schedule's name.
    pub name: &'static str,
    /// Its colour.
    pub color: Rgb,
    /// (t, log SNR = −γ).
    pub log_snr: Vec<Point>,
    /// The loss's mean (nats).
    pub mean: f64,
    /// Its standard deviation (nats).
    pub std: f64,
    /// (t, E[L | t]) per bin.
    pub per_t: Vec<Point>,
}

/// The trained schedule against the fixed ones.
#[derive(Clone, Debug, PartialEq)]
pub struct Vdm {
    /// The learned schedule, VDM's start and DDPM's, on the trained network.
    pub judged: Vec<Judged>,
    /// (step, batch variance of L) during training.
    pub variance: Vec<Point>,
}

/// γ of DDPM's discrete schedule on u ∈ [0, 1] (u = 0 at t = 1, u = 1 at t = T),
/// linear between integer t, and its slope.
fn ddpm_gamma(schedule: &Schedule, u: &[f64]) -> Result<(Tensor, Tensor)> {
    let big_t = schedule.train_steps();
    let span = (big_t - 1) as f64;
    let mut gamma = Vec::with_capacity(u.len());
    let mut slope = Vec::with_capacity(u.len());
    for &u in u {
        let position = 1.0 + u.clamp(0.0, 1.0) * span;
        let t = (position.floor() as usize).clamp(1, big_t - 1);
        let within = position - t as f64;
        let (g0, g1) = (-schedule.log_snr(t), -schedule.log_snr(t + 1));
        gamma.push((g0 + within * (g1 - g0)) as f32);
        slope.push(((g1 - g0) * span) as f32);
    }
    let n = u.len();
    Ok((
        Tensor::from_vec(gamma, n, &Device::Cpu)?,
        Tensor::from_vec(slope, n, &Device::Cpu)?,
    ))
}

fn mixture_model() -> ModelConfig {
    ModelConfig {
        architecture: Architecture::Mlp(MlpConfig::default()),
        classes: 0,
        prediction: PredictionType::Epsilon,
        learned_variance: false,
        schedule: ScheduleConfig::default(),
    }
}

/// Trains the network and the schedule together, then judges three schedules on it.
///
/// # Errors
/// No steps; a training failure; cancelled.
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<Vdm> {
    if setup.steps == 0 {
        return Err(FigureError::bad_value("steps", "0", "must be at least 1"));
    }
    let (mixture, ddpm) = (inputs.mixture.as_ref(), inputs.schedule.as_ref());
    let data = Dataset::from_mixture_samples(mixture, 5000, 0, "the three-blob mixture")?;
    // The end points of DDPM's linear schedule: log SNR from t = 1 to t = T.
    let (start, end) = (-ddpm.log_snr(1), -ddpm.log_snr(ddpm.train_steps()));
    let schedule = LearnedSchedule::new(start, end)?;
    let model = TrainedModel::fresh(mixture_model(), setup.seed)?;
    let mut trainer = VdmTrainer::new(model, schedule, &data, 256)?;
    let mut variance = Vec::new();
    for step in 1..=setup.steps {
        common::check(job)?;
        let report = trainer.step()?;
        variance.push([step as f64, report.loss_variance]);
        if step % 50 == 0 {
            job.report(format!(
                "training step {step} of {}: loss {:.3}",
                setup.steps, report.loss
            ));
        }
    }
    let (model, learned) = trainer.parts();
    let initial = LearnedSchedule::new(start, end)?;
    let mut rng = NoiseRng::seed_from(8);
    let (x0, _) = mixture.sample(SAMPLES, None, &mut rng)?;
    let noise = rng.randn_like(&x0)?;
    let t: Vec<f64> = (0..SAMPLES).map(|i| (i as f64 + 0.5) / SAMPLES as f64).collect();
    let grid: Vec<f64> = (0..=100).map(|i| f64::from(i) / 100.0).collect();
    let judge = |name, color, gamma_at: GammaAt<'_>| {
        let (gamma, slope) = gamma_at(&t)?;
        let losses: Vec<f32> = diffusion_losses(model, learned, &x0, &noise, &gamma, &slope)?.to_vec1()?;
        let curve: Vec<f32> = gamma_at(&grid)?.0.to_vec1()?;
        let log_snr = grid.iter().zip(curve).map(|(t, g)| [*t, -f64::from(g)]).collect();
        Ok::<_, FigureError>(summarise(name, color, &t, &losses, log_snr))
    };
    let learned_gamma = |t: &[f64]| Ok(learned.gamma(t)?);
    let initial_gamma = |t: &[f64]| Ok(initial.gamma(t)?);
    let ddpm_gamma = |t: &[f64]| ddpm_gamma(ddpm, t);
    let judged = vec![
        judge("learned (VDM)", STOCHASTIC, &learned_gamma)?,
        judge("linear in log SNR (VDM's start)", [150, 150, 150], &initial_gamma)?,
        judge("DDPM linear β", DETERMINISTIC, &ddpm_gamma)?,
    ];
    Ok(Vdm { judged, variance })
}

/// Mean, std and per-bin mean of the losses, with the schedule's log-SNR curve.
fn summarise(name: &'static str, color: Rgb, t: &[f64], losses: &[f32], log_snr: Vec<[f64; 2]>) -> Judged {
    let values: Vec<f64> = losses.iter().map(|l| f64::from(*l)).collect();
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let per_bin = values.len() / T_BINS;
    let per_t = values
        .chunks(per_bin.max(1))
        .zip(t.chunks(per_bin.max(1)))
        .map(|(v, t)| {
            let m = v.iter().sum::<f64>() / v.len() as f64;
            [t[t.len() / 2], m]
        })
        .collect();
    Judged {
        name,
        color,
        log_snr,
        mean,
        std,
        per_t,
    }
}

impl Vdm {
    /// log SNR(t), E[L | t] and the training variance.
    #[must_use]
    pub fn figure(&self) -> Figure {
        let curves = |pick: fn(&Judged) -> &Vec<Point>| {
            self.judged
                .iter()
                .map(|j| Series::line(j.name, j.color, pick(j).clone()))
                .collect()
        };
        let mut figure = Figure {
            panels: vec![
                Panel {
                    title: "the schedules".into(),
                    x_label: "t (0 to 1)".into(),
                    y_label: "log SNR(t)".into(),
                    series: curves(|j| &j.log_snr),
                    ..Panel::default()
                },
                Panel {
                    title: "the loss by t".into(),
                    x_label: "t (0 to 1)".into(),
                    y_label: "E[L | t] (nats)".into(),
                    series: curves(|j| &j.per_t),
                    ..Panel::default()
                },
                Panel {
                    title: "training".into(),
                    x_label: "training step".into(),
                    y_label: "variance of L in the batch (nats²)".into(),
                    series: vec![Series::line("Var[L]", STOCHASTIC, self.variance.clone())],
                    ..Panel::default()
                },
            ],
            ..Figure::default()
        };
        for j in &self.judged {
            figure.number(format!("{}: loss mean", j.name), j.mean, "nats");
            figure.number(format!("{}: loss std", j.name), j.std, "nats");
        }
        figure
    }
}
