//! DPM-Solver++(2M): the multistep second-order solver of the probability-flow
//! ODE in data-prediction form (Lu et al. 2022, "DPM-Solver++", Algorithm 2).
//!
//! With α = √ᾱ, σ = √(1 − ᾱ), λ = log(α/σ) and h = λ_s − λ_t, a step from t to s is
//! x_s = (σ_s/σ_t) x_t − α_s (e^{−h} − 1) D, where D = x̂0 on the first step
//! (first order) and D = x̂0_t + (x̂0_t − x̂0_prev)/(2 r), r = (λ_t − λ_prev)/h,
//! afterwards. The final step into t = 0 (σ = 0) is first order and returns x̂0,
//! as diffusers does with `final_sigmas_type = "zero"`; with
//! [`DpmSolverConfig::lower_order_final`] the step before it is first order too.

use std::sync::Arc;

use candle_core::Tensor;

use super::sde::MIN_ALPHA_BAR;
use super::{DpmSolverConfig, Sampler, StepOutput, evaluate};
use crate::diffusion::denoiser::{Denoiser, Labels};
use crate::diffusion::error::Result;
use crate::diffusion::noise::NoiseRng;
use crate::diffusion::schedule::Schedule;

/// DPM-Solver++(2M) over a timestep subset.
pub struct DpmSolverPp {
    schedule: Arc<Schedule>,
    timesteps: Vec<usize>,
    clip: bool,
    config: DpmSolverConfig,
    /// x̂0 and λ of the previous step, for the second-order correction.
    previous: Option<(Tensor, f64)>,
}

impl DpmSolverPp {
    /// A solver visiting `timesteps` (already checked by the builder).
    #[must_use]
    pub fn new(schedule: Arc<Schedule>, timesteps: Vec<usize>, clip: bool, config: DpmSolverConfig) -> Self {
        Self {
            schedule,
            timesteps,
            clip,
            config,
            previous: None,
        }
    }

    /// (α, σ, λ) at level t, with ᾱ floored so λ stays finite.
    fn alpha_sigma_lambda(&self, t: usize) -> (f64, f64, f64) {
        let alpha_bar = self.schedule.alpha_bar(t).max(MIN_ALPHA_BAR);
        let (alpha, sigma) = (alpha_bar.sqrt(), (1.0 - alpha_bar).sqrt());
        (alpha, sigma, alpha.ln() - sigma.ln())
    }
}

impl Sampler for DpmSolverPp {
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
        _rng: &mut NoiseRng,
    ) -> Result<StepOutput> {
        if index == 0 {
            self.previous = None;
        }
        let t = self.timesteps[index];
        let s = self.next_t(index);
        let ev = evaluate(model, &self.schedule, labels, x, t, self.clip)?;
        let (_, sigma_t, lambda_t) = self.alpha_sigma_lambda(t);
        let x_next = if s == 0 {
            ev.x0.clone()
        } else {
            let (alpha_s, sigma_s, lambda_s) = self.alpha_sigma_lambda(s);
            let h = lambda_s - lambda_t;
            let into_last_level = index + 2 == self.timesteps.len();
            let data = match &self.previous {
                None => ev.x0.clone(),
                Some(_) if into_last_level && self.config.lower_order_final => ev.x0.clone(),
                Some((x0_prev, lambda_prev)) => {
                    let r = (lambda_t - lambda_prev) / h;
                    (&ev.x0 + ((&ev.x0 - x0_prev)? * (0.5 / r))?)?
                }
            };
            ((x * (sigma_s / sigma_t))? - (data * (alpha_s * (-h).exp_m1()))?)?
        };
        self.previous = Some((ev.x0.clone(), lambda_t));
        Ok(StepOutput {
            index,
            t,
            t_next: s,
            x_next,
            x0_hat: ev.x0,
            eps_hat: ev.eps,
            alpha_bar: self.schedule.alpha_bar(t),
            noise_std: 0.0,
        })
    }
}
