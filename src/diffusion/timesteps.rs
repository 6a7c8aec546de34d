//! Which training timesteps an N-step sampler visits.
//!
//! These are diffusers' `timestep_spacing` rules (Lin et al. 2024, Table 2), with
//! diffusers' 0-based k mapped to our t = k + 1. numpy's `round` rounds half to
//! even, so we do too.
//! - `linspace`: k = round(linspace(0, T − 1, N)), reversed.
//! - `leading`: k = i · ⌊T/N⌋ for i = 0..N, reversed.
//! - `trailing`: k = round(T − i · T/N) − 1 for i = 0..N.

use super::error::{Result, invalid};
use super::schedule::{Schedule, linspace};

/// How N inference steps are spread over T training steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TimestepSpacing {
    /// Evenly spaced from t = 1 to t = T, rounded.
    Linspace,
    /// Multiples of ⌊T/N⌋ from the bottom: never reaches t = T when N does not divide T.
    #[default]
    Leading,
    /// Multiples of T/N from the top: always starts at t = T.
    Trailing,
}

named_enum!(TimestepSpacing, "timestep spacing", [Leading => "leading", Trailing => "trailing", Linspace => "linspace"]);

/// The t (1-based) that `steps` inference steps visit, in sampling order (descending).
///
/// # Errors
/// `steps` = 0, T = 0 or `steps` > T.
pub fn inference_timesteps(train_steps: usize, steps: usize, spacing: TimestepSpacing) -> Result<Vec<usize>> {
    if train_steps == 0 {
        return Err(invalid("train-steps (T) must be at least 1"));
    }
    if steps == 0 || steps > train_steps {
        return Err(invalid(format!(
            "steps must lie in 1..={train_steps} (the training steps T), got {steps}"
        )));
    }
    let zero_based: Vec<f64> = match spacing {
        TimestepSpacing::Linspace => linspace(0.0, (train_steps - 1) as f64, steps)
            .into_iter()
            .rev()
            .collect(),
        TimestepSpacing::Leading => {
            let ratio = train_steps / steps;
            (0..steps).rev().map(|i| (i * ratio) as f64).collect()
        }
        TimestepSpacing::Trailing => {
            let ratio = train_steps as f64 / steps as f64;
            (0..steps)
                .map(|i| (train_steps as f64 - i as f64 * ratio).round_ties_even() - 1.0)
                .collect()
        }
    };
    Ok(zero_based.into_iter().map(to_one_based).collect())
}

/// `steps` levels from t = T down to t = 1, evenly spaced in log-SNR λ_t
/// (DPM-Solver's "logSNR" skip type, Lu et al. 2022, §3.4), in sampling order.
///
/// Each λ is rounded to the nearest t; where the rounding would repeat a t
/// (λ changes fastest near t = 1), the next free t above is taken, so there are
/// always exactly `steps` distinct levels.
///
/// # Errors
/// `steps` outside 1..=T.
pub fn log_snr_timesteps(schedule: &Schedule, steps: usize) -> Result<Vec<usize>> {
    let big_t = schedule.train_steps();
    if steps == 0 || steps > big_t {
        return Err(invalid(format!(
            "steps must lie in 1..={big_t} (the training steps T), got {steps}"
        )));
    }
    if steps == 1 {
        return Ok(vec![big_t]);
    }
    let (low, high) = (schedule.log_snr(big_t), schedule.log_snr(1));
    let mut ascending: Vec<usize> = Vec::with_capacity(steps);
    for (i, lambda) in linspace(high, low, steps).into_iter().enumerate() {
        // λ falls with t: the nearest t by bisection over 1..=T.
        let (mut lo, mut hi) = (1, big_t);
        while hi - lo > 1 {
            let mid = usize::midpoint(lo, hi);
            if schedule.log_snr(mid) > lambda {
                lo = mid
            } else {
                hi = mid
            }
        }
        let nearest = if (schedule.log_snr(lo) - lambda).abs() <= (schedule.log_snr(hi) - lambda).abs() {
            lo
        } else {
            hi
        };
        let floor = ascending.last().map_or(1, |t| t + 1);
        // Leave room above for the levels still to come.
        let ceiling = big_t - (steps - 1 - i);
        ascending.push(nearest.clamp(floor, ceiling));
    }
    ascending.reverse();
    Ok(ascending)
}

/// Rounds a 0-based diffusers timestep half to even (numpy) and shifts it to our t.
fn to_one_based(k: f64) -> usize {
    // Every k above lies in 0..T, so the cast is exact.
    let k = k.round_ties_even().max(0.0) as usize;
    k + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifty_of_a_thousand() {
        let leading = inference_timesteps(1000, 50, TimestepSpacing::Leading).unwrap();
        assert_eq!(leading[..3], [981, 961, 941]);
        assert_eq!(*leading.last().unwrap(), 1);
        let trailing = inference_timesteps(1000, 50, TimestepSpacing::Trailing).unwrap();
        assert_eq!(trailing[..2], [1000, 980]);
        assert_eq!(*trailing.last().unwrap(), 20);
    }

    #[test]
    fn log_snr_spacing_is_even_in_lambda_and_distinct() {
        let schedule = Schedule::new(&crate::diffusion::ScheduleConfig::default()).unwrap();
        let ten = log_snr_timesteps(&schedule, 10).unwrap();
        assert_eq!((ten[0], ten[9]), (1000, 1));
        // Ho et al.'s linear schedule: λ_1 = ln(0.9999/0.0001) and λ_1000 = ln(ᾱ/(1 − ᾱ)),
        // ᾱ_1000 = 4.036e-5; the 5th level (index 4) lies 4/9 of the way from λ_1000 to λ_1.
        let (top, bottom) = ((4.036e-5_f64 / (1.0 - 4.036e-5)).ln(), (0.9999_f64 / 0.0001).ln());
        let target = top + (bottom - top) * 4.0 / 9.0;
        assert!((schedule.log_snr(ten[4]) - target).abs() < 0.05, "{ten:?}");
        let many = log_snr_timesteps(&schedule, 200).unwrap();
        assert_eq!(many.len(), 200);
        assert!(many.windows(2).all(|w| w[0] > w[1]), "{many:?}");
    }

    #[test]
    fn too_many_steps_is_an_error() {
        assert!(inference_timesteps(10, 11, TimestepSpacing::Leading).is_err());
        assert!(inference_timesteps(10, 0, TimestepSpacing::Leading).is_err());
    }
}
