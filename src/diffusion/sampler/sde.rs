//! The VP score SDE in reverse, and its probability-flow ODE (Song et al. 2021).
//!
//! Forward: dx = −½ β(t) x dt + √β(t) dW (eq. 11). With ŝ = ∇ log p_t:
//! - reverse SDE (eq. 6): dx = [−½ β x − β ŝ] dt + √β dW̄;
//! - probability-flow ODE (eq. 13): dx = −½ β [x + ŝ] dt.
//!
//! A step from level t down to s integrates β over [s, t] exactly:
//! B = ∫ β = log ᾱ_s − log ᾱ_t. Then
//! - Euler (ODE): x_s = x + ½ B (x + ŝ(x, t));
//! - Heun (ODE): the trapezoid of that slope at t and at the Euler guess at s
//!   (Karras et al. 2022, Algorithm 1); Euler on the final step into t = 0,
//!   where the score of data is not defined;
//! - Euler–Maruyama (SDE): x_s = x + B (½ x + ŝ) + √B z, without noise on the
//!   final step, as DDPM.
//!
//! These first-order steps in t are what the ODE/SDE view teaches; they need
//! many steps where DDIM or DPM-Solver need few. ᾱ_t is floored at 2⁻²⁴ so a
//! zero-terminal-SNR schedule gives a finite (if large) first step.

use std::sync::Arc;

use candle_core::Tensor;

use super::{Sampler, StepOutput, evaluate};
use crate::diffusion::denoiser::{Denoiser, Labels};
use crate::diffusion::error::Result;
use crate::diffusion::noise::NoiseRng;
use crate::diffusion::schedule::Schedule;

pub use crate::diffusion::timesteps::MIN_ALPHA_BAR;

/// Which discretisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Probability-flow ODE, Euler.
    EulerOde,
    /// Probability-flow ODE, Heun.
    HeunOde,
    /// Reverse SDE, Euler–Maruyama.
    EulerMaruyama,
}

/// A score-SDE sampler.
pub struct ScoreSde {
    schedule: Arc<Schedule>,
    timesteps: Vec<usize>,
    rule: Rule,
    clip: bool,
}

impl ScoreSde {
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

    /// ½ (x + ŝ), the ODE's slope per unit of B.
    fn ode_slope(x: &Tensor, score: &Tensor) -> Result<Tensor> {
        Ok(((x + score)? * 0.5)?)
    }
}

impl Sampler for ScoreSde {
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
        let alpha_bar = self.schedule.alpha_bar(t);
        let b = self.schedule.alpha_bar(s).max(MIN_ALPHA_BAR).ln() - alpha_bar.max(MIN_ALPHA_BAR).ln();
        let ev = evaluate(model, &self.schedule, labels, x, t, self.clip)?;
        let score = ev.score(alpha_bar)?;
        let (x_next, noise_std) = match self.rule {
            Rule::EulerOde => ((x + (Self::ode_slope(x, &score)? * b)?)?, 0.0),
            Rule::HeunOde => {
                let d1 = Self::ode_slope(x, &score)?;
                let euler = (x + (&d1 * b)?)?;
                if s == 0 {
                    (euler, 0.0)
                } else {
                    let ev2 = evaluate(model, &self.schedule, labels, &euler, s, self.clip)?;
                    let d2 = Self::ode_slope(&euler, &ev2.score(self.schedule.alpha_bar(s))?)?;
                    ((x + ((d1 + d2)? * (0.5 * b))?)?, 0.0)
                }
            }
            Rule::EulerMaruyama => {
                let drift = (((x * 0.5)? + &score)? * b)?;
                if s == 0 {
                    ((x + drift)?, 0.0)
                } else {
                    let sigma = b.sqrt();
                    (((x + drift)? + (rng.randn_like(x)? * sigma)?)?, sigma)
                }
            }
        };
        Ok(StepOutput {
            index,
            t,
            t_next: s,
            x_next,
            x0_hat: ev.x0,
            eps_hat: ev.eps,
            alpha_bar,
            noise_std,
        })
    }
}
