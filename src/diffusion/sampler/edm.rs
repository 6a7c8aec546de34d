//! EDM's samplers (Karras, Aittala, Aila & Laine 2022, "Elucidating the Design
//! Space of Diffusion-Based Generative Models"): Heun's method on the ODE in σ
//! (Algorithm 1) and its stochastic variant with churn (Algorithm 2).
//!
//! EDM works on x̃ = x_t/√ᾱ_t, whose noise level is σ = √((1 − ᾱ)/ᾱ), where the
//! probability-flow ODE is dx̃/dσ = (x̃ − D(x̃; σ))/σ (their eq. 3 with s = 1,
//! σ(t) = t) and D is the denoiser's x̂_0. A step from σ_i to σ_{i+1}:
//! - Algorithm 2 first raises the noise to σ̂ = σ_i (1 + γ_i), adding
//!   √(σ̂² − σ_i²) S_noise ε, with γ_i = min(S_churn/N, √2 − 1) for σ_i in
//!   [S_tmin, S_tmax] and 0 elsewhere (Algorithm 1 is γ = 0);
//! - then d = (x̃ − D(x̃; σ̂))/σ̂, x̃' = x̃ + (σ_{i+1} − σ̂) d, and, unless σ_{i+1} = 0,
//!   the trapezoid correction with d' at (x̃', σ_{i+1}).
//!
//! σ̂ falls between the schedule's steps; the denoiser is evaluated there at the
//! schedule's fractional t ([`Schedule::fractional_t`]), as diffusers'
//! `HeunDiscreteScheduler` does. N levels cost 2N − 1 evaluations (the last step,
//! to σ = 0, is Euler).

use std::sync::Arc;

use candle_core::Tensor;

use super::{Evaluation, Sampler, StepOutput, evaluate_at};
use crate::diffusion::denoiser::{Denoiser, Labels, NoiseLevel};
use crate::diffusion::error::Result;
use crate::diffusion::noise::NoiseRng;
use crate::diffusion::schedule::Schedule;
use crate::diffusion::timesteps::edm_sigma;

/// Algorithm 2's churn settings (Karras et al. 2022, Table 5).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EdmConfig {
    /// S_churn: the total noise added over the run; γ_i = min(S_churn/N, √2 − 1).
    pub churn: f64,
    /// S_tmin: no churn below this σ.
    pub sigma_min: f64,
    /// S_tmax: no churn above this σ.
    pub sigma_max: f64,
    /// S_noise: the added noise's standard deviation, a little above 1 to offset
    /// the denoiser's tendency to remove slightly too much.
    pub noise: f64,
}

impl Default for EdmConfig {
    /// EDM's ImageNet-64 settings (Table 5): S_churn = 40, S_tmin = 0.05,
    /// S_tmax = 50, S_noise = 1.003.
    fn default() -> Self {
        Self {
            churn: 40.0,
            sigma_min: 0.05,
            sigma_max: 50.0,
            noise: 1.003,
        }
    }
}

/// EDM Heun, deterministic or with churn.
pub struct Edm {
    schedule: Arc<Schedule>,
    timesteps: Vec<usize>,
    /// `None`: Algorithm 1 (deterministic).
    churn: Option<EdmConfig>,
    clip: bool,
}

impl Edm {
    /// A sampler visiting `timesteps` (already checked by the builder).
    #[must_use]
    pub fn new(schedule: Arc<Schedule>, timesteps: Vec<usize>, churn: Option<EdmConfig>, clip: bool) -> Self {
        Self {
            schedule,
            timesteps,
            churn,
            clip,
        }
    }

    /// σ at a visited level (0 after the last).
    fn sigma(&self, t: usize) -> f64 {
        if t == 0 { 0.0 } else { edm_sigma(&self.schedule, t) }
    }

    /// γ_i of Algorithm 2.
    fn gamma(&self, sigma: f64) -> f64 {
        match self.churn {
            Some(c) if (c.sigma_min..=c.sigma_max).contains(&sigma) => {
                (c.churn / self.timesteps.len() as f64).min(std::f64::consts::SQRT_2 - 1.0)
            }
            _ => 0.0,
        }
    }

    /// D(x̃; σ) and its evaluation, through the VP point x̃/√(1 + σ²).
    fn denoise(&self, model: &dyn Denoiser, labels: Labels<'_>, x_tilde: &Tensor, sigma: f64) -> Result<Evaluation> {
        let alpha_bar = (1.0 + sigma * sigma).recip();
        let level = NoiseLevel {
            t: self.schedule.fractional_t(alpha_bar),
            alpha_bar,
        };
        evaluate_at(model, level, labels, &(x_tilde * alpha_bar.sqrt())?, self.clip)
    }
}

impl Sampler for Edm {
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
        let (sigma, sigma_next) = (self.sigma(t), self.sigma(s));
        let mut x_tilde = (x * (1.0 + sigma * sigma).sqrt())?;
        let sigma_hat = sigma * (1.0 + self.gamma(sigma));
        let noise_std = (sigma_hat * sigma_hat - sigma * sigma).sqrt() * self.churn.map_or(0.0, |c| c.noise);
        if noise_std > 0.0 {
            x_tilde = (x_tilde + (rng.randn_like(x)? * noise_std)?)?;
        }
        let first = self.denoise(model, labels, &x_tilde, sigma_hat)?;
        let slope = ((&x_tilde - &first.x0)? / sigma_hat)?;
        let h = sigma_next - sigma_hat;
        let euler = (&x_tilde + (&slope * h)?)?;
        let x_tilde_next = if sigma_next > 0.0 {
            let second = self.denoise(model, labels, &euler, sigma_next)?;
            let slope_next = ((&euler - second.x0)? / sigma_next)?;
            (&x_tilde + ((slope + slope_next)? * (0.5 * h))?)?
        } else {
            euler
        };
        // Back to the VP scale of the level reached (σ = 0 is the data itself).
        let x_next = (x_tilde_next / (1.0 + sigma_next * sigma_next).sqrt())?;
        Ok(StepOutput {
            index,
            t,
            t_next: s,
            x_next,
            x0_hat: first.x0,
            eps_hat: first.eps,
            alpha_bar: self.schedule.alpha_bar(t),
            // In the VP scale of x_t.
            noise_std: noise_std / (1.0 + sigma * sigma).sqrt(),
        })
    }
}
