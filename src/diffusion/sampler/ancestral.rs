//! DDPM and DDIM: one step from t to the next visited level s < t.
//!
//! Both start from the model's (x̂0, ε̂) at (x_t, t).
//! - DDPM (Ho et al. 2020, eq. 7 and Algorithm 2, generalised to s < t − 1 as
//!   diffusers does with β = 1 − ᾱ_t/ᾱ_s): x_s = μ̃(x_t, x̂0) + σ z, with
//!   σ² = β (large), β̃ (small) or the learned interpolation (Nichol & Dhariwal
//!   2021, eq. 15). No noise is added on the final step.
//! - DDIM (Song, Meng & Ermon 2021, eq. 12 and 16):
//!   x_s = √ᾱ_s x̂0 + √(1 − ᾱ_s − σ²) ε̂ + σ z, σ = η √β̃. At η = 1 this is DDPM
//!   with β̃, step for step and draw for draw.

use std::sync::Arc;

use candle_core::Tensor;

use super::{DdpmVariance, Evaluation, Sampler, StepOutput, evaluate};
use crate::diffusion::denoiser::{Denoiser, Labels};
use crate::diffusion::error::{Result, invalid};
use crate::diffusion::noise::NoiseRng;
use crate::diffusion::schedule::{Schedule, posterior_mean_coefficients_between, posterior_variance_between};

/// The update rule of an ancestral step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    /// DDPM with the given reverse variance.
    Ddpm(DdpmVariance),
    /// DDIM with stochasticity η.
    Ddim {
        /// η ∈ [0, 1].
        eta: f64,
    },
}

/// DDPM / DDIM over a timestep subset.
pub struct Ancestral {
    schedule: Arc<Schedule>,
    timesteps: Vec<usize>,
    rule: Rule,
    clip: bool,
}

impl Ancestral {
    /// A sampler visiting `timesteps` (already checked by the builder).
    #[must_use]
    pub fn new(schedule: Arc<Schedule>, timesteps: Vec<usize>, rule: Rule, clip: bool) -> Self {
        Self {
            schedule,
            timesteps,
            rule,
            clip,
        }
    }

    /// The mean of x_s and the std of its noise (a tensor for learned variances).
    fn mean_and_std(&self, x: &Tensor, ev: &Evaluation, t: usize, s: usize) -> Result<(Tensor, NoiseStd)> {
        let (ab_t, ab_s) = (self.schedule.alpha_bar(t), self.schedule.alpha_bar(s));
        let small = posterior_variance_between(ab_t, ab_s);
        match self.rule {
            Rule::Ddim { eta } => {
                let sigma = eta * small.sqrt();
                let direction = (1.0 - ab_s - sigma * sigma).max(0.0).sqrt();
                let mean = ((&ev.x0 * ab_s.sqrt())? + (&ev.eps * direction)?)?;
                Ok((mean, NoiseStd::Uniform(sigma)))
            }
            Rule::Ddpm(variance) => {
                let (c0, ct) = posterior_mean_coefficients_between(ab_t, ab_s);
                let mean = ((&ev.x0 * c0)? + (x * ct)?)?;
                let large = 1.0 - ab_t / ab_s;
                let std = match variance {
                    DdpmVariance::Large => NoiseStd::Uniform(large.sqrt()),
                    DdpmVariance::Small => NoiseStd::Uniform(small.sqrt()),
                    DdpmVariance::Learned => NoiseStd::PerElement(learned_std(ev, large, small)?),
                };
                Ok((mean, std))
            }
        }
    }
}

/// The std of a step's fresh noise.
enum NoiseStd {
    Uniform(f64),
    PerElement(Tensor),
}

/// σ = exp(½ [frac log β + (1 − frac) log β̃]), frac = (v + 1)/2.
fn learned_std(ev: &Evaluation, large: f64, small: f64) -> Result<Tensor> {
    let v = ev
        .variance_interp
        .as_ref()
        .ok_or_else(|| invalid("learned variance needs a model that predicts it"))?;
    // β̃ is 0 on the final step; that step adds no noise, so any floor is harmless.
    let (log_large, log_small) = (large.ln(), small.max(1e-20).ln());
    let frac = ((v + 1.0)? * 0.5)?;
    let log_var = ((&frac * (log_large - log_small))? + log_small)?;
    Ok((log_var * 0.5)?.exp()?)
}

impl Sampler for Ancestral {
    fn timesteps(&self) -> &[usize] {
        &self.timesteps
    }

    fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    fn step(
        &mut self,
        model: &dyn Denoiser,
        labels: Labels<'_>,
        index: usize,
        x: &Tensor,
        rng: &mut NoiseRng,
    ) -> Result<StepOutput> {
        let t = self.timesteps[index];
        let s = self.next_t(index);
        let ev = evaluate(model, &self.schedule, labels, x, t, self.clip)?;
        let (mean, std) = self.mean_and_std(x, &ev, t, s)?;
        let (x_next, noise_std) = match std {
            _ if s == 0 => (mean, 0.0),
            NoiseStd::Uniform(sigma) if sigma > 0.0 => ((mean + (rng.randn_like(x)? * sigma)?)?, sigma),
            NoiseStd::Uniform(_) => (mean, 0.0),
            NoiseStd::PerElement(sigma) => {
                let rms: f64 = sigma
                    .to_dtype(candle_core::DType::F64)?
                    .sqr()?
                    .mean_all()?
                    .to_scalar::<f64>()?
                    .sqrt();
                ((mean + (rng.randn_like(x)? * sigma)?)?, rms)
            }
        };
        Ok(StepOutput {
            index,
            t,
            t_next: s,
            x_next,
            x0_hat: ev.x0,
            eps_hat: ev.eps,
            alpha_bar: self.schedule.alpha_bar(t),
            noise_std,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::denoiser::{DenoiserOutput, NoiseLevel};
    use crate::diffusion::param::{Prediction, PredictionType};
    use crate::diffusion::{ScheduleConfig, sampler::DdpmVariance};
    use candle_core::Device;

    /// ε̂ = 0 everywhere, with a constant learned-variance output v.
    struct ZeroEps {
        v: f32,
    }

    impl Denoiser for ZeroEps {
        fn prediction_type(&self) -> PredictionType {
            PredictionType::Epsilon
        }

        fn predict(&self, x_t: &Tensor, _level: NoiseLevel, _labels: Labels<'_>) -> Result<DenoiserOutput> {
            Ok(DenoiserOutput {
                prediction: Prediction::new(PredictionType::Epsilon, x_t.zeros_like()?),
                variance_interp: Some(Tensor::full(self.v, x_t.shape(), x_t.device())?),
            })
        }
    }

    fn noise_std(variance: DdpmVariance, v: f32) -> f64 {
        let schedule = Arc::new(Schedule::new(&ScheduleConfig::default()).unwrap());
        let mut sampler = Ancestral::new(schedule, vec![500, 400], Rule::Ddpm(variance), false);
        let x = Tensor::ones((1, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
        let out = sampler
            .step(&ZeroEps { v }, None, 0, &x, &mut NoiseRng::seed_from(1))
            .unwrap();
        out.noise_std
    }

    #[test]
    fn learned_variance_spans_small_to_large() {
        // Nichol & Dhariwal eq. 15: v = +1 gives β, v = −1 gives β̃.
        assert!((noise_std(DdpmVariance::Learned, 1.0) - noise_std(DdpmVariance::Large, 0.0)).abs() < 1e-6);
        assert!((noise_std(DdpmVariance::Learned, -1.0) - noise_std(DdpmVariance::Small, 0.0)).abs() < 1e-6);
        let middle = noise_std(DdpmVariance::Learned, 0.0);
        let geometric = (noise_std(DdpmVariance::Large, 0.0) * noise_std(DdpmVariance::Small, 0.0)).sqrt();
        assert!(
            (middle - geometric).abs() < 1e-6,
            "v = 0 is the geometric mean of the two stds"
        );
    }
}
