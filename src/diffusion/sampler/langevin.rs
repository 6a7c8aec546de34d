//! Langevin dynamics on the model's score (Song & Ermon 2019).
//!
//! One update: x ← x + (α/2) ŝ(x) + √α z (eq. 4), which samples p as α → 0 and
//! the number of updates → ∞, but mixes between separated modes only by chance:
//! plain Langevin gets a mixture's weights wrong (§3.2.2).
//! - Plain: every step runs `steps_per_level` updates at t = 1, the nearly clean
//!   data score, with a fixed step size α.
//! - Annealed (Algorithm 1): step i runs them at level t_i with α_i = c (1 − ᾱ_{t_i}),
//!   c the step scale, for a descending list of levels: the noisy densities first
//!   spread mass across the modes with the right weights, then sharpen.
//!
//! The last step ends with the Tweedie denoising x ← x̂0 (Jolicoeur-Martineau et
//! al. 2021; Song & Ermon 2020, Technique 5 in spirit), so the result is at t = 0.

use std::sync::Arc;

use candle_core::Tensor;

use super::{LangevinConfig, Sampler, StepOutput, evaluate};
use crate::diffusion::denoiser::{Denoiser, Labels};
use crate::diffusion::error::{Result, invalid};
use crate::diffusion::noise::NoiseRng;
use crate::diffusion::schedule::Schedule;

/// (Annealed) Langevin dynamics.
pub struct Langevin {
    schedule: Arc<Schedule>,
    levels: Vec<usize>,
    annealed: bool,
    config: LangevinConfig,
}

impl Langevin {
    /// Annealed over `timesteps`, or plain at t = 1 for as many steps.
    ///
    /// # Errors
    /// Zero updates per level or a non-positive step size.
    pub fn new(schedule: Arc<Schedule>, timesteps: &[usize], annealed: bool, config: LangevinConfig) -> Result<Self> {
        if config.steps_per_level == 0 {
            return Err(invalid("langevin needs at least 1 update per level"));
        }
        for (name, value) in [
            ("langevin step size", config.step_size),
            ("annealed langevin step scale", config.annealed_step_scale),
        ] {
            if !(value > 0.0 && value.is_finite()) {
                return Err(invalid(format!("{name} must be finite and > 0, got {value}")));
            }
        }
        let levels = if annealed {
            timesteps.to_vec()
        } else {
            vec![1; timesteps.len()]
        };
        Ok(Self {
            schedule,
            levels,
            annealed,
            config,
        })
    }

    fn step_size(&self, t: usize) -> f64 {
        if self.annealed {
            self.config.annealed_step_scale * (1.0 - self.schedule.alpha_bar(t))
        } else {
            self.config.step_size
        }
    }
}

impl Sampler for Langevin {
    fn timesteps(&self) -> &[usize] {
        &self.levels
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
        let t = self.levels[index];
        let alpha_bar = self.schedule.alpha_bar(t);
        let step = self.step_size(t);
        let mut x = x.clone();
        let mut ev = evaluate(model, &self.schedule, labels, &x, t, false)?;
        for update in 0..self.config.steps_per_level {
            if update > 0 {
                ev = evaluate(model, &self.schedule, labels, &x, t, false)?;
            }
            let drift = (ev.score(alpha_bar)? * (0.5 * step))?;
            x = ((x + drift)? + (rng.randn_like(&ev.eps)? * step.sqrt())?)?;
        }
        let last = index + 1 == self.levels.len();
        let (x_next, t_next) = if last {
            (evaluate(model, &self.schedule, labels, &x, t, false)?.x0, 0)
        } else {
            (x, self.next_t(index))
        };
        Ok(StepOutput {
            index,
            t,
            t_next,
            x_next,
            x0_hat: ev.x0,
            eps_hat: ev.eps,
            alpha_bar,
            noise_std: step.sqrt(),
        })
    }
}
