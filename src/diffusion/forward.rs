//! The forward (noising) process, run step by step for display.
//!
//! Two ways to reach level t from x_0, with the same distribution
//! q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I) (Ho et al. 2020, eq. 4):
//! - closed form: x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε with one fixed ε for every t,
//!   so scrubbing t moves each point along a straight path;
//! - Markov chain: x_t = √α_t x_{t−1} + √β_t z_t with fresh z_t at every t
//!   (eq. 2), which wanders but lands on the same distribution.

use std::ops::ControlFlow;

use candle_core::Tensor;

use super::error::{Result, invalid};
use super::noise::NoiseRng;
use super::schedule::Schedule;

/// How x_t is reached from x_0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ForwardMode {
    /// One ε, x_t in closed form.
    #[default]
    ClosedForm,
    /// Fresh noise at every step.
    MarkovChain,
}

named_enum!(ForwardMode, "forward mode", [ClosedForm => "closed-form", MarkovChain => "markov-chain"]);

/// One recorded level of a forward run.
#[derive(Clone, Debug)]
pub struct ForwardStep {
    /// Position in the list of levels.
    pub index: usize,
    /// The level before.
    pub t: usize,
    /// The level reached.
    pub t_next: usize,
    /// x at `t_next`.
    pub x_next: Tensor,
    /// The ε with x_next = √ᾱ x_0 + √(1 − ᾱ) ε (the fixed ε in closed form).
    pub eps: Tensor,
}

/// Noises `x0` up through `levels` (strictly ascending, in 1..=T), reporting each.
/// Returns `false` if `on_step` broke off.
///
/// # Errors
/// Bad levels or tensor failures.
pub fn run_forward(
    schedule: &Schedule,
    x0: &Tensor,
    levels: &[usize],
    mode: ForwardMode,
    rng: &mut NoiseRng,
    mut on_step: impl FnMut(&ForwardStep) -> ControlFlow<()>,
) -> Result<bool> {
    if levels.windows(2).any(|w| w[0] >= w[1]) || levels.iter().any(|t| !(1..=schedule.train_steps()).contains(t)) {
        return Err(invalid("forward levels must ascend within 1..=T"));
    }
    let fixed_eps = rng.randn_like(x0)?;
    let mut x = x0.clone();
    let mut t = 0;
    for (index, &t_next) in levels.iter().enumerate() {
        let alpha_bar = schedule.alpha_bar(t_next);
        let (x_next, eps) = match mode {
            ForwardMode::ClosedForm => {
                let x_next = ((x0 * alpha_bar.sqrt())? + (&fixed_eps * (1.0 - alpha_bar).sqrt())?)?;
                (x_next, fixed_eps.clone())
            }
            ForwardMode::MarkovChain => {
                for s in t + 1..=t_next {
                    let z = rng.randn_like(x0)?;
                    x = ((&x * schedule.alpha(s).sqrt())? + (z * schedule.beta(s).sqrt())?)?;
                }
                let eps = ((&x - (x0 * alpha_bar.sqrt())?)? / (1.0 - alpha_bar).sqrt().max(f64::MIN_POSITIVE))?;
                (x.clone(), eps)
            }
        };
        let step = ForwardStep {
            index,
            t,
            t_next,
            x_next,
            eps,
        };
        if on_step(&step).is_break() {
            return Ok(false);
        }
        t = t_next;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::ScheduleConfig;
    use candle_core::Device;

    /// Mean and variance of every coordinate of the last level, both modes.
    fn last_level_moments(mode: ForwardMode) -> (f64, f64) {
        let schedule = Schedule::new(&ScheduleConfig::default()).unwrap();
        let n = 20_000;
        let x0 = Tensor::full(1.5f32, (n, 1), &Device::Cpu).unwrap();
        let mut last = None;
        run_forward(&schedule, &x0, &[100, 300], mode, &mut NoiseRng::seed_from(4), |s| {
            last = Some(s.x_next.clone());
            ControlFlow::Continue(())
        })
        .unwrap();
        let values: Vec<f32> = last.unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let mean = values.iter().map(|v| f64::from(*v)).sum::<f64>() / n as f64;
        let var = values.iter().map(|v| (f64::from(*v) - mean).powi(2)).sum::<f64>() / n as f64;
        (mean, var)
    }

    #[test]
    fn markov_chain_and_closed_form_reach_the_same_distribution() {
        let schedule = Schedule::new(&ScheduleConfig::default()).unwrap();
        let a = schedule.alpha_bar(300);
        let (expected_mean, expected_var) = (1.5 * a.sqrt(), 1.0 - a);
        for &mode in ForwardMode::ALL {
            let (mean, var) = last_level_moments(mode);
            // 4 standard errors of a mean and of a variance from 20 000 draws.
            assert!(
                (mean - expected_mean).abs() < 4.0 * (expected_var / 20_000.0).sqrt(),
                "{mode}: mean {mean}"
            );
            assert!(
                (var / expected_var - 1.0).abs() < 4.0 * (2.0 / 20_000f64).sqrt(),
                "{mode}: var {var}"
            );
        }
    }
}
