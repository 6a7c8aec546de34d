//! Learned vs exact: an MLP trained live on samples of the mixture, its ε_θ
//! compared with the mixture's exact ε* = −√(1−ᾱ_t) ∇log p_t at every t.
//! The error E‖ε_θ − ε*‖², relative to the size E‖ε‖² = D of the noise being
//! predicted, is plotted against t.

use std::sync::Arc;

use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::figure;
use super::job::Computation;
use super::{SceneContext, TheoryScene};
use crate::data::Dataset;
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::add_noise;
use crate::diffusion::{Denoiser, NoiseLevel, NoiseRng, Schedule, ScheduleConfig};
use crate::jobs::JobContext as Cancel;
use crate::live_training::{LiveTraining, TrainingEvent};
use crate::model::train::TrainConfig;
use crate::model::{Architecture, MlpConfig, ModelConfig, TrainedModel};

/// Training steps.
const STEPS: usize = 1500;
/// Points per t of the comparison.
const POINTS: usize = 2000;
/// The levels compared, log-spaced from 1 to T.
const LEVELS: usize = 25;

/// The relative ε error at each compared t.
pub struct Errors {
    /// `(t, relative error)`.
    by_t: Vec<(usize, f64)>,
}

/// The learned-vs-exact scene.
pub struct LearnedScene {
    context: SceneContext,
    job: Option<LiveTraining>,
    losses: Vec<[f64; 2]>,
    status: String,
    errors: Computation<Errors>,
}

impl LearnedScene {
    /// Starts training at once.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            context: context.clone(),
            job: None,
            losses: Vec::new(),
            status: String::new(),
            errors: Computation::default(),
        };
        scene.train();
        scene
    }

    fn train(&mut self) {
        let data = match Dataset::from_mixture_samples(&self.context.mixture, 5000, 0, "the three-blob mixture") {
            Ok(data) => data,
            Err(e) => {
                self.status = e.to_string();
                return;
            }
        };
        let model = ModelConfig {
            architecture: Architecture::Mlp(MlpConfig::default()),
            schedule: ScheduleConfig::default(),
            ..ModelConfig::default()
        };
        let config = TrainConfig {
            batch: 256,
            ..TrainConfig::default()
        };
        let repaint = self.context.repaint.clone();
        match LiveTraining::start(model, config, data, STEPS, move || repaint.request_repaint()) {
            Ok(job) => {
                self.job = Some(job);
                self.status = "training…".into();
            }
            Err(e) => self.status = format!("could not start training: {e}"),
        }
    }

    fn poll(&mut self) {
        while let Some(event) = self.job.as_ref().and_then(LiveTraining::poll) {
            match event {
                TrainingEvent::Progress { losses, .. } => {
                    self.losses
                        .extend(losses.iter().map(|&(step, loss)| [step as f64, loss]));
                    if let Some(&(step, loss)) = losses.last() {
                        self.status = format!("training step {step} of {STEPS}: loss {loss:.4}");
                    }
                }
                TrainingEvent::Preview { .. } => {}
                TrainingEvent::Finished { model, .. } => {
                    self.status = format!("trained {STEPS} steps; comparing with the exact score…");
                    self.job = None;
                    let mixture = Arc::clone(&self.context.mixture);
                    let schedule = Arc::clone(&self.context.schedule);
                    self.errors.restart(&self.context.repaint, move |cancel| {
                        compare(&model, &mixture, &schedule, cancel)
                    });
                }
                TrainingEvent::Failed(message) => {
                    self.status = format!("training failed: {message}");
                    self.job = None;
                }
            }
        }
        if self.errors.poll() && self.errors.value().is_some() {
            self.status = format!("trained {STEPS} steps");
        }
    }
}

/// The log-spaced levels 1 ..= T.
fn levels(big_t: usize) -> Vec<usize> {
    let mut levels: Vec<usize> = (0..LEVELS)
        .map(|i| (big_t as f64).powf(i as f64 / (LEVELS - 1) as f64).round() as usize)
        .collect();
    levels.dedup();
    levels
}

fn compare(
    model: &TrainedModel,
    mixture: &GaussianMixture,
    schedule: &Schedule,
    cancel: &Cancel,
) -> Result<Errors, String> {
    let mut rng = NoiseRng::seed_from(11);
    let mut by_t = Vec::new();
    for t in levels(schedule.train_steps()) {
        if cancel.is_cancelled() {
            return Err("cancelled".into());
        }
        let (x0, _) = mixture.sample(POINTS, None, &mut rng).map_err(figure::message)?;
        let noise = rng.randn_like(&x0).map_err(figure::message)?;
        let x_t = add_noise(schedule, &x0, &noise, t).map_err(figure::message)?;
        let alpha_bar = schedule.alpha_bar(t);
        let level = NoiseLevel { t: t as f64, alpha_bar };
        let epsilon = |model: &dyn Denoiser| -> Result<Vec<figure::Point>, String> {
            let out = model.predict(&x_t, level, None).map_err(figure::message)?;
            figure::points(&out.prediction.epsilon(&x_t, alpha_bar).map_err(figure::message)?)
        };
        let (learned, exact) = (epsilon(model)?, epsilon(mixture)?);
        let error: f64 = learned
            .iter()
            .zip(&exact)
            .map(|(l, e)| (l[0] - e[0]).powi(2) + (l[1] - e[1]).powi(2))
            .sum();
        // E‖ε‖² = D = 2 per point: ε ~ N(0, I).
        let size = 2.0 * learned.len().max(1) as f64;
        by_t.push((t, error / size));
    }
    Ok(Errors { by_t })
}

impl TheoryScene for LearnedScene {
    fn caption(&self) -> &'static str {
        "An MLP trained with L_simple = E‖ε − ε_θ(x_t, t)‖² on samples of the mixture, against the \
         mixture's exact ε* = −√(1−ᾱ_t)∇log p_t(x_t): the error E‖ε_θ − ε*‖² at each t, relative to \
         E‖ε‖², the size of the noise it predicts (0 = exact)."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.poll();
        ui.horizontal(|ui| {
            if self.job.is_some() || self.errors.is_running() {
                ui.spinner();
            }
            ui.label(&self.status);
            if ui.button("Train again").clicked() {
                self.losses.clear();
                self.train();
            }
        });
        if let Some(errors) = self.errors.value() {
            let mut values: Vec<f64> = errors.by_t.iter().map(|(_, e)| *e).collect();
            values.sort_by(f64::total_cmp);
            let median = values.get(values.len() / 2).copied().unwrap_or(0.0);
            let (worst_t, worst) = errors
                .by_t
                .iter()
                .copied()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap_or((0, 0.0));
            ui.label(format!(
                "relative ε error: median over t {median:.4}, worst {worst:.4} at t = {worst_t}"
            ));
        }
        let size = egui::vec2(ui.available_width() / 2.0 - 8.0, ui.available_height().max(150.0));
        let log_losses: Vec<[f64; 2]> = self.losses.iter().map(|[s, l]| [*s, l.max(1e-12).log10()]).collect();
        ui.horizontal(|ui| {
            Plot::new("learned loss")
                .width(size.x)
                .height(size.y)
                .legend(Legend::default())
                .x_axis_label("training step")
                .show(ui, |plot_ui| {
                    plot_ui.line(Line::new("log₁₀ loss", PlotPoints::from(log_losses)).width(1.5));
                });
            Plot::new("learned error")
                .width(size.x)
                .height(size.y)
                .legend(Legend::default())
                .x_axis_label("log₁₀ t")
                .y_axis_label("relative ε error")
                .include_y(0.0)
                .show(ui, |plot_ui| {
                    if let Some(errors) = self.errors.value() {
                        let points: Vec<[f64; 2]> =
                            errors.by_t.iter().map(|(t, e)| [(*t as f64).log10(), *e]).collect();
                        plot_ui.line(Line::new("E‖ε_θ − ε*‖² / E‖ε‖²", PlotPoints::from(points)).width(2.0));
                    }
                });
        });
    }
}
