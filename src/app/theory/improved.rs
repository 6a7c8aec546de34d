//! Improved DDPM (Nichol & Dhariwal 2021): a learned reverse variance and
//! importance-sampled t. An MLP with a variance head is trained on the mixture
//! with the hybrid loss L_simple + λ L_vlb, t drawn ∝ √E[L_t²] (eq. 17).
//! Its σ_t² is log-interpolated between β_post and β_t (eq. 15) by the network's
//! v ∈ [−1, 1]; the scene shows where it sits at each t, the sampler's
//! probabilities, and the bound in bits/dim under each choice of variance.

use std::sync::Arc;

use candle_core::Tensor;
use egui::Color32;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::figure;
use super::job::Computation;
use super::{SceneContext, TheoryScene};
use crate::data::Dataset;
use crate::diffusion::elbo::{Decoder, ElboConfig, elbo_terms};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{DdpmVariance, add_noise};
use crate::diffusion::{Denoiser, NoiseLevel, NoiseRng, Schedule, ScheduleConfig};
use crate::jobs::JobContext as Cancel;
use crate::model::train::{Loss, TimestepSampling, TrainConfig, Trainer};
use crate::model::{Architecture, MlpConfig, ModelConfig, TrainedModel};

/// Training steps.
const STEPS: usize = 2000;
/// Points per t when reading the variance head.
const POINTS: usize = 500;
/// x0 whose bound is averaged.
const ELBO_POINTS: usize = 16;

/// What the trained model shows.
pub struct Improved {
    /// (t, where log σ_t² sits between log β_post (0) and log β_t (1)), averaged.
    interpolation: Vec<[f64; 2]>,
    /// (t, p_t) of the importance sampler, and the uniform 1/T.
    probabilities: Vec<[f64; 2]>,
    /// Bits/dim with the learned variance, β_post and β.
    bits: [f64; 3],
}

/// The Improved DDPM scene.
pub struct ImprovedScene {
    result: Computation<Improved>,
}

impl ImprovedScene {
    /// Trains at once (about a minute on two cores).
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut result = Computation::default();
        let mixture = Arc::clone(&context.mixture);
        let schedule = Arc::clone(&context.schedule);
        result.restart(&context.repaint, move |cancel| train(&mixture, &schedule, cancel));
        Self { result }
    }
}

fn train(mixture: &GaussianMixture, schedule: &Schedule, cancel: &Cancel) -> Result<Improved, String> {
    let data = Dataset::from_mixture_samples(mixture, 5000, 0, "the three-blob mixture").map_err(figure::message)?;
    let model = ModelConfig {
        architecture: Architecture::Mlp(MlpConfig::default()),
        classes: 0,
        learned_variance: true,
        schedule: ScheduleConfig::default(),
        ..ModelConfig::default()
    };
    let config = TrainConfig {
        batch: 256,
        loss: Loss::Hybrid,
        timestep_sampling: TimestepSampling::Importance,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(model, config, data).map_err(figure::message)?;
    for step in 1..=STEPS {
        if cancel.is_cancelled() {
            return Err("cancelled".into());
        }
        let report = trainer.step().map_err(figure::message)?;
        if step % 50 == 0 {
            cancel.report(format!(
                "training step {step} of {STEPS}: hybrid loss {:.3}",
                report.loss
            ));
        }
    }
    let probabilities = trainer
        .timestep_sampler()
        .probabilities()
        .iter()
        .enumerate()
        .map(|(i, p)| [(i + 1) as f64, *p])
        .collect();
    let trained = trainer.ema_model().map_err(figure::message)?;
    cancel.report("reading the variance head and the bound…");
    Ok(Improved {
        interpolation: interpolation(&trained, mixture, schedule)?,
        probabilities,
        bits: bounds(&trained, mixture, schedule, cancel)?,
    })
}

/// The variance head's mean (v + 1)/2 at t = 2, 12, 22, …: 0 is β_post, 1 is β_t.
fn interpolation(
    model: &TrainedModel,
    mixture: &GaussianMixture,
    schedule: &Schedule,
) -> Result<Vec<[f64; 2]>, String> {
    let mut rng = NoiseRng::seed_from(4);
    let mut points = Vec::new();
    for t in (2..=schedule.train_steps()).step_by(10) {
        let (x0, _) = mixture.sample(POINTS, None, &mut rng).map_err(figure::message)?;
        let noise = rng.randn_like(&x0).map_err(figure::message)?;
        let x_t = add_noise(schedule, &x0, &noise, t).map_err(figure::message)?;
        let level = NoiseLevel {
            t: t as f64,
            alpha_bar: schedule.alpha_bar(t),
        };
        let out = model.predict(&x_t, level, None).map_err(figure::message)?;
        let v: Tensor = out.variance_interp.ok_or("the model has no variance head")?;
        let mean = v
            .mean_all()
            .and_then(|m| m.to_scalar::<f32>())
            .map_err(figure::message)?;
        points.push([t as f64, (f64::from(mean) + 1.0) / 2.0]);
    }
    Ok(points)
}

/// The bound in bits/dim, averaged over [`ELBO_POINTS`] x0, with each variance.
fn bounds(
    model: &TrainedModel,
    mixture: &GaussianMixture,
    schedule: &Schedule,
    cancel: &Cancel,
) -> Result<[f64; 3], String> {
    let mut rng = NoiseRng::seed_from(5);
    let (x0, _) = mixture.sample(ELBO_POINTS, None, &mut rng).map_err(figure::message)?;
    let keep_going = || !cancel.is_cancelled();
    let mut bits = [0.0; 3];
    for (slot, variance) in [DdpmVariance::Learned, DdpmVariance::Small, DdpmVariance::Large]
        .into_iter()
        .enumerate()
    {
        let config = ElboConfig {
            variance,
            decoder: Decoder::Gaussian,
        };
        let mut rng = NoiseRng::seed_from(6);
        for row in 0..ELBO_POINTS {
            let x = x0.get(row).map_err(figure::message)?;
            let terms =
                elbo_terms(schedule, model, &x, None, config, &mut rng, &keep_going).map_err(figure::message)?;
            let share = terms.bits_per_dim() / ELBO_POINTS as f64;
            bits[slot] += share;
        }
    }
    Ok(bits)
}

impl TheoryScene for ImprovedScene {
    fn caption(&self) -> &'static str {
        "Improved DDPM: Σ_θ = exp(v log β_t + (1−v) log β_post), learned with L_hybrid = L_simple + λ L_vlb, \
         t drawn ∝ √E[L_t²] (importance sampling). Left: where the learned variance sits between β_post (0) \
         and β_t (1); right: the probability of drawing each t."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.result.poll();
        self.result.status_ui(ui);
        let Some(result) = self.result.value() else {
            return;
        };
        ui.label(format!(
            "bound over {ELBO_POINTS} points: learned variance {:.4} bits/dim, σ² = β_post {:.4}, σ² = β_t {:.4}",
            result.bits[0], result.bits[1], result.bits[2]
        ));
        let early: f64 = result.probabilities.iter().take(100).map(|p| p[1]).sum();
        ui.label(format!("importance sampling: p(t ≤ 100) = {early:.3} (uniform: 0.100)"));
        let size = egui::vec2(ui.available_width() / 2.0 - 8.0, ui.available_height().max(150.0));
        ui.horizontal(|ui| {
            Plot::new("learned variance")
                .width(size.x)
                .height(size.y)
                .legend(Legend::default())
                .x_axis_label("t")
                .y_axis_label("v: 0 = β_post, 1 = β_t")
                .include_y(0.0)
                .include_y(1.0)
                .show(ui, |plot_ui| {
                    plot_ui.line(
                        Line::new("learned interpolation", PlotPoints::from(result.interpolation.clone()))
                            .color(figure::STOCHASTIC)
                            .width(2.0),
                    );
                });
            Plot::new("importance probabilities")
                .width(size.x)
                .height(size.y)
                .legend(Legend::default())
                .x_axis_label("t")
                .y_axis_label("p(t)")
                .include_y(0.0)
                .show(ui, |plot_ui| {
                    plot_ui.line(
                        Line::new("p_t ∝ √E[L_t²]", PlotPoints::from(result.probabilities.clone()))
                            .color(figure::DETERMINISTIC)
                            .width(2.0),
                    );
                    plot_ui.hline(egui_plot::HLine::new("uniform 1/T", 0.001).color(Color32::GRAY));
                });
        });
    }
}
