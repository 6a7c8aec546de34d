//! VDM (Kingma et al. 2021): a monotone noise schedule learned jointly with a
//! 2D network on the mixture. The continuous-time loss has the same expectation
//! under every schedule with the same end points (eq. 19); the learned one has
//! the smallest variance, which it gets by making every t contribute about
//! equally to the loss.

use std::sync::Arc;

use candle_core::{Device, Tensor};
use egui::Color32;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::figure;
use super::job::Computation;
use super::{SceneContext, TheoryScene};
use crate::data::Dataset;
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::{NoiseRng, PredictionType, Schedule, ScheduleConfig};
use crate::jobs::JobContext as Cancel;
use crate::model::vdm::{LearnedSchedule, VdmTrainer, diffusion_losses};
use crate::model::{Architecture, MlpConfig, ModelConfig, TrainedModel};

/// Joint training steps.
const STEPS: usize = 1500;
/// Samples of the loss estimator per schedule.
const SAMPLES: usize = 8192;
/// Bins of t for the per-t loss.
const T_BINS: usize = 24;

/// A schedule as (γ, γ′) at given t.
type GammaAt<'a> = &'a dyn Fn(&[f64]) -> Result<(Tensor, Tensor), String>;

/// One schedule's γ(t) and its loss statistics on the trained network.
pub struct Judged {
    name: &'static str,
    color: Color32,
    /// (t, log SNR = −γ).
    log_snr: Vec<[f64; 2]>,
    mean: f64,
    std: f64,
    /// (t, E[L | t]) per bin.
    per_t: Vec<[f64; 2]>,
}

/// The trained schedule against the fixed ones.
pub struct Vdm {
    judged: Vec<Judged>,
    /// (step, batch variance of L) during training.
    variance: Vec<[f64; 2]>,
}

/// The VDM scene.
pub struct VdmScene {
    result: Computation<Vdm>,
}

impl VdmScene {
    /// Trains at once (about a minute on two cores).
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut result = Computation::default();
        let mixture = Arc::clone(&context.mixture);
        let ddpm = Arc::clone(&context.schedule);
        result.restart(&context.repaint, move |cancel| train(&mixture, &ddpm, cancel));
        Self { result }
    }
}

/// γ of DDPM's discrete schedule on u ∈ [0, 1] (u = 0 at t = 1, u = 1 at t = T),
/// linear between integer t, and its slope.
fn ddpm_gamma(schedule: &Schedule, u: &[f64]) -> Result<(Tensor, Tensor), String> {
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
        Tensor::from_vec(gamma, n, &Device::Cpu).map_err(figure::message)?,
        Tensor::from_vec(slope, n, &Device::Cpu).map_err(figure::message)?,
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

fn train(mixture: &Arc<GaussianMixture>, ddpm: &Schedule, cancel: &Cancel) -> Result<Vdm, String> {
    let data = Dataset::from_mixture_samples(mixture, 5000, 0, "the three-blob mixture").map_err(figure::message)?;
    // The end points of DDPM's linear schedule: log SNR from t = 1 to t = T.
    let (start, end) = (-ddpm.log_snr(1), -ddpm.log_snr(ddpm.train_steps()));
    let schedule = LearnedSchedule::new(start, end).map_err(figure::message)?;
    let model = TrainedModel::fresh(mixture_model(), 2).map_err(figure::message)?;
    let mut trainer = VdmTrainer::new(model, schedule, &data, 256).map_err(figure::message)?;
    let mut variance = Vec::new();
    for step in 1..=STEPS {
        if cancel.is_cancelled() {
            return Err("cancelled".into());
        }
        let report = trainer.step().map_err(figure::message)?;
        variance.push([step as f64, report.loss_variance]);
        if step % 50 == 0 {
            cancel.report(format!("training step {step} of {STEPS}: loss {:.3}", report.loss));
        }
    }
    let (model, learned) = trainer.parts();
    let initial = LearnedSchedule::new(start, end).map_err(figure::message)?;
    let mut rng = NoiseRng::seed_from(8);
    let (x0, _) = mixture.sample(SAMPLES, None, &mut rng).map_err(figure::message)?;
    let noise = rng.randn_like(&x0).map_err(figure::message)?;
    let t: Vec<f64> = (0..SAMPLES).map(|i| (i as f64 + 0.5) / SAMPLES as f64).collect();
    let grid: Vec<f64> = (0..=100).map(|i| f64::from(i) / 100.0).collect();
    let judge = |name, color, gamma_at: GammaAt<'_>| {
        let (gamma, slope) = gamma_at(&t)?;
        let losses: Vec<f32> = diffusion_losses(model, learned, &x0, &noise, &gamma, &slope)
            .and_then(|l| l.to_vec1().map_err(Into::into))
            .map_err(figure::message)?;
        let curve: Vec<f32> = gamma_at(&grid)?.0.to_vec1().map_err(figure::message)?;
        let log_snr = grid.iter().zip(curve).map(|(t, g)| [*t, -f64::from(g)]).collect();
        Ok::<_, String>(summarise(name, color, &t, &losses, log_snr))
    };
    let learned_gamma = |t: &[f64]| learned.gamma(t).map_err(figure::message);
    let initial_gamma = |t: &[f64]| initial.gamma(t).map_err(figure::message);
    let ddpm_gamma = |t: &[f64]| ddpm_gamma(ddpm, t);
    let judged = vec![
        judge("learned (VDM)", figure::STOCHASTIC, &learned_gamma)?,
        judge("linear in log SNR (VDM's start)", Color32::GRAY, &initial_gamma)?,
        judge("DDPM linear β", figure::DETERMINISTIC, &ddpm_gamma)?,
    ];
    Ok(Vdm { judged, variance })
}

/// Mean, std and per-bin mean of the losses, with the schedule's log-SNR curve.
fn summarise(name: &'static str, color: Color32, t: &[f64], losses: &[f32], log_snr: Vec<[f64; 2]>) -> Judged {
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

impl TheoryScene for VdmScene {
    fn caption(&self) -> &'static str {
        "VDM: log SNR(t) = −γ_η(t), monotone and learned with the network. The loss \
         L∞ = ½ E[γ′(t)‖ε − ε_θ(z_t)‖²] has the same mean for every schedule with the same end points; \
         the schedule is trained to minimise its variance E[L²], which flattens the loss over t."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.result.poll();
        self.result.status_ui(ui);
        let Some(result) = self.result.value() else {
            return;
        };
        for judged in &result.judged {
            ui.colored_label(
                judged.color,
                format!(
                    "{}: loss mean {:.3}, std {:.3} (nats, {SAMPLES} samples)",
                    judged.name, judged.mean, judged.std
                ),
            );
        }
        let width = ui.available_width() / 3.0 - 8.0;
        let height = ui.available_height().max(150.0);
        ui.horizontal(|ui| {
            let plot = |id: &str, x: &str, y: &str| {
                Plot::new(id.to_owned())
                    .width(width)
                    .height(height)
                    .legend(Legend::default())
                    .x_axis_label(x.to_owned())
                    .y_axis_label(y.to_owned())
            };
            plot("vdm log snr", "t", "log SNR(t)").show(ui, |plot_ui| {
                for j in &result.judged {
                    plot_ui.line(
                        Line::new(j.name, PlotPoints::from(j.log_snr.clone()))
                            .color(j.color)
                            .width(2.0),
                    );
                }
            });
            plot("vdm per t", "t", "E[L | t] (nats)").show(ui, |plot_ui| {
                for j in &result.judged {
                    plot_ui.line(
                        Line::new(j.name, PlotPoints::from(j.per_t.clone()))
                            .color(j.color)
                            .width(2.0),
                    );
                }
            });
            plot("vdm variance", "training step", "variance of L in the batch").show(ui, |plot_ui| {
                plot_ui.line(Line::new("Var[L]", PlotPoints::from(result.variance.clone())).width(1.0));
            });
        });
    }
}
