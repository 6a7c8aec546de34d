//! Which training timesteps an N-step sampler visits.
//!
//! These are diffusers' `timestep_spacing` rules (Lin et al. 2024, Table 2), with
//! diffusers' 0-based k mapped to our t = k + 1. numpy's `round` rounds half to
//! even, so we do too.
//! - `linspace`: k = round(linspace(0, T − 1, N)), reversed.
//! - `leading`: k = i · ⌊T/N⌋ for i = 0..N, reversed.
//! - `trailing`: k = round(T − i · T/N) − 1 for i = 0..N.
//!
//! Two more rules depend on the schedule, and visit the t nearest to targets
//! in log-SNR λ_t = log(ᾱ_t / (1 − ᾱ_t)):
//! - `log-snr`: λ even from λ_T to λ_1 (DPM-Solver's "logSNR" skip type, Lu et
//!   al. 2022, §3.4);
//! - `karras`: σ = √((1 − ᾱ)/ᾱ) = e^{−λ/2} spaced by Karras et al. 2022, eq. 5:
//!   σ_i = (σ_max^{1/ρ} + i/(N − 1) (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ with ρ = 7, from
//!   σ_max = σ_T to σ_min = σ_1.
//!
//! And one more in t, from DPM-Solver's own code (Lu et al. 2022, the
//! `time_quadratic` skip type, recommended there for discrete-time models):
//! - `time-quadratic`: √t even from √T to 1, t = (√T + i/(N − 1)(1 − √T))², rounded
//!   to distinct levels. It spends more steps at small t than `leading` does, and
//!   fewer at the highest λ than `log-snr` does, where x̂0 barely changes.

use super::error::{Result, invalid};
use super::schedule::{Schedule, linspace};

/// The smallest ᾱ used in log ᾱ (diffusers uses the same floor for zero SNR).
pub const MIN_ALPHA_BAR: f64 = 1.0 / 16_777_216.0;

/// Karras et al.'s ρ (EDM, eq. 5): larger ρ spends more steps at low σ.
pub const KARRAS_RHO: f64 = 7.0;

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
    /// Even in log-SNR from t = T to t = 1 (DPM-Solver's choice).
    LogSnr,
    /// Karras et al.'s ρ = 7 spacing in σ from t = T to t = 1 (EDM's choice).
    Karras,
    /// √t even from √T to 1 (DPM-Solver's `time_quadratic`; DPM-Solver++'s default here).
    TimeQuadratic,
}

named_enum!(TimestepSpacing, "timestep spacing", [Leading => "leading", Trailing => "trailing", Linspace => "linspace", LogSnr => "log-snr", Karras => "karras", TimeQuadratic => "time-quadratic"]);

/// The t (1-based) that `steps` inference steps visit under `schedule`, in
/// sampling order (descending).
///
/// # Errors
/// `steps` = 0 or `steps` > T.
pub fn inference_timesteps(schedule: &Schedule, steps: usize, spacing: TimestepSpacing) -> Result<Vec<usize>> {
    let train_steps = schedule.train_steps();
    check_steps(train_steps, steps)?;
    let targets = |lambdas: Vec<f64>| nearest_distinct_levels(schedule, &lambdas);
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
        TimestepSpacing::LogSnr => return Ok(targets(log_snr_targets(schedule, steps))),
        TimestepSpacing::Karras => return Ok(targets(karras_targets(schedule, steps))),
        TimestepSpacing::TimeQuadratic => return Ok(time_quadratic_levels(train_steps, steps)),
    };
    Ok(zero_based.into_iter().map(to_one_based).collect())
}

fn check_steps(train_steps: usize, steps: usize) -> Result<()> {
    if train_steps == 0 {
        return Err(invalid("train-steps (T) must be at least 1"));
    }
    if steps == 0 || steps > train_steps {
        return Err(invalid(format!(
            "steps must lie in 1..={train_steps} (the training steps T), got {steps}"
        )));
    }
    Ok(())
}

/// λ_t with ᾱ floored at [`MIN_ALPHA_BAR`], so a zero-terminal-SNR schedule's
/// λ_T stays finite.
#[must_use]
pub fn floored_log_snr(schedule: &Schedule, t: usize) -> f64 {
    let alpha_bar = schedule.alpha_bar(t).max(MIN_ALPHA_BAR);
    alpha_bar.ln() - (-alpha_bar).ln_1p()
}

/// σ = √((1 − ᾱ_t)/ᾱ_t), the EDM noise level of t (ᾱ floored as in [`floored_log_snr`]).
#[must_use]
pub fn edm_sigma(schedule: &Schedule, t: usize) -> f64 {
    (-0.5 * floored_log_snr(schedule, t)).exp()
}

/// `steps` values of λ evenly spaced from λ_T up to λ_1.
fn log_snr_targets(schedule: &Schedule, steps: usize) -> Vec<f64> {
    linspace(
        floored_log_snr(schedule, schedule.train_steps()),
        floored_log_snr(schedule, 1),
        steps,
    )
}

/// `steps` values of λ = −2 ln σ for Karras et al.'s σ, from σ_T down to σ_1.
fn karras_targets(schedule: &Schedule, steps: usize) -> Vec<f64> {
    let (sigma_max, sigma_min) = (edm_sigma(schedule, schedule.train_steps()), edm_sigma(schedule, 1));
    karras_sigmas(sigma_min, sigma_max, steps)
        .into_iter()
        .map(|sigma| -2.0 * sigma.ln())
        .collect()
}

/// Karras et al. 2022, eq. 5: `steps` σ from `sigma_max` down to `sigma_min`, ρ = 7.
#[must_use]
pub fn karras_sigmas(sigma_min: f64, sigma_max: f64, steps: usize) -> Vec<f64> {
    let (low, high) = (sigma_min.powf(1.0 / KARRAS_RHO), sigma_max.powf(1.0 / KARRAS_RHO));
    linspace(0.0, 1.0, steps)
        .into_iter()
        .map(|ramp| (high + ramp * (low - high)).powf(KARRAS_RHO))
        .collect()
}

/// DPM-Solver's `time_quadratic` levels: t = (√T + i/(N − 1)(1 − √T))², from T
/// down to 1, made distinct where rounding would repeat a t near t = 1.
fn time_quadratic_levels(train_steps: usize, steps: usize) -> Vec<usize> {
    let top = (train_steps as f64).sqrt();
    // Descending first, so that one step visits T (as `log-snr` and `karras` do).
    let ascending = linspace(top, 1.0, steps)
        .into_iter()
        .rev()
        // Within 1..=T (the root runs from 1 to √T), so the cast is exact.
        .map(|root| (root * root).round_ties_even().clamp(1.0, train_steps as f64) as usize);
    distinct_descending(ascending, train_steps, steps)
}

/// Levels from smallest t up, made strictly increasing without leaving 1..=T:
/// a repeated t moves up to the next free one, and no t climbs so high that
/// the levels still to come would not fit below T. Returned descending.
fn distinct_descending(ascending: impl Iterator<Item = usize>, big_t: usize, steps: usize) -> Vec<usize> {
    let mut levels: Vec<usize> = Vec::with_capacity(steps);
    for (i, nearest) in ascending.enumerate() {
        let floor = levels.last().map_or(1, |t| t + 1);
        let ceiling = big_t - (steps - 1 - i);
        levels.push(nearest.clamp(floor, ceiling));
    }
    levels.reverse();
    levels
}

/// The t nearest in λ to each target (ascending λ, so descending t), as distinct
/// levels: where rounding would repeat a t (λ changes fastest near t = 1), the
/// next free t above is taken, so there is exactly one t per target.
fn nearest_distinct_levels(schedule: &Schedule, lambdas: &[f64]) -> Vec<usize> {
    let big_t = schedule.train_steps();
    // The highest λ (smallest t) first.
    let ascending = lambdas.iter().rev().map(|&lambda| {
        // λ falls with t: the nearest t by bisection over 1..=T.
        let (mut lo, mut hi) = (1, big_t.max(2));
        while hi - lo > 1 {
            let mid = usize::midpoint(lo, hi);
            if floored_log_snr(schedule, mid) > lambda {
                lo = mid
            } else {
                hi = mid
            }
        }
        let hi = hi.min(big_t);
        if (floored_log_snr(schedule, lo) - lambda).abs() <= (floored_log_snr(schedule, hi) - lambda).abs() {
            lo
        } else {
            hi
        }
    });
    distinct_descending(ascending, big_t, lambdas.len())
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
        let schedule = Schedule::new(&crate::diffusion::ScheduleConfig::default()).unwrap();
        let leading = inference_timesteps(&schedule, 50, TimestepSpacing::Leading).unwrap();
        assert_eq!(leading[..3], [981, 961, 941]);
        assert_eq!(*leading.last().unwrap(), 1);
        let trailing = inference_timesteps(&schedule, 50, TimestepSpacing::Trailing).unwrap();
        assert_eq!(trailing[..2], [1000, 980]);
        assert_eq!(*trailing.last().unwrap(), 20);
    }

    #[test]
    fn log_snr_spacing_is_even_in_lambda_and_distinct() {
        let schedule = Schedule::new(&crate::diffusion::ScheduleConfig::default()).unwrap();
        let ten = inference_timesteps(&schedule, 10, TimestepSpacing::LogSnr).unwrap();
        assert_eq!((ten[0], ten[9]), (1000, 1));
        // Ho et al.'s linear schedule: λ_1 = ln(0.9999/0.0001) and λ_1000 = ln(ᾱ/(1 − ᾱ)),
        // ᾱ_1000 = 4.036e-5; the 5th level (index 4) lies 4/9 of the way from λ_1000 to λ_1.
        let (top, bottom) = ((4.036e-5_f64 / (1.0 - 4.036e-5)).ln(), (0.9999_f64 / 0.0001).ln());
        let target = top + (bottom - top) * 4.0 / 9.0;
        assert!((schedule.log_snr(ten[4]) - target).abs() < 0.05, "{ten:?}");
        let many = inference_timesteps(&schedule, 200, TimestepSpacing::LogSnr).unwrap();
        assert_eq!(many.len(), 200);
        assert!(many.windows(2).all(|w| w[0] > w[1]), "{many:?}");
    }

    #[test]
    fn time_quadratic_spacing_is_even_in_root_t_and_distinct() {
        let schedule = Schedule::new(&crate::diffusion::ScheduleConfig::default()).unwrap();
        // Worked by hand: the second level is (√1000 − (√1000 − 1)/9)² = 28.2203² = 796.4.
        let ten = inference_timesteps(&schedule, 10, TimestepSpacing::TimeQuadratic).unwrap();
        assert_eq!(ten, [1000, 796, 616, 459, 324, 213, 126, 61, 19, 1]);
        assert_eq!(
            inference_timesteps(&schedule, 1, TimestepSpacing::TimeQuadratic).unwrap(),
            [1000]
        );
        // Every level, once: rounding near t = 1 would repeat levels without the fix-up.
        let all = inference_timesteps(&schedule, 1000, TimestepSpacing::TimeQuadratic).unwrap();
        assert_eq!(all, (1..=1000).rev().collect::<Vec<_>>());
        let many = inference_timesteps(&schedule, 300, TimestepSpacing::TimeQuadratic).unwrap();
        assert_eq!((many.len(), many[0], many[299]), (300, 1000, 1));
        assert!(many.windows(2).all(|w| w[0] > w[1]), "{many:?}");
    }

    #[test]
    fn karras_sigmas_follow_edm_eq_5() {
        // EDM's σ range; the middle of 3 is ((80^{1/7} + 0.002^{1/7}) / 2)^7, worked by hand:
        // (1.8705 + 0.4115) / 2 = 1.1410, and 1.1410^7 = 2.515.
        let sigmas = karras_sigmas(0.002, 80.0, 3);
        assert!((sigmas[0] - 80.0).abs() < 1e-9 && (sigmas[2] - 0.002).abs() < 1e-12);
        assert!((sigmas[1] - 2.515).abs() < 0.001, "{sigmas:?}");
        let schedule = Schedule::new(&crate::diffusion::ScheduleConfig::default()).unwrap();
        let levels = inference_timesteps(&schedule, 18, TimestepSpacing::Karras).unwrap();
        assert_eq!((levels[0], levels[17]), (1000, 1));
        assert!(levels.windows(2).all(|w| w[0] > w[1]), "{levels:?}");
        // Even in σ^{1/7}, the steps in log σ are longest at small σ, so the middle
        // level lies well above the geometric mean of the ends (where even log σ puts it).
        let geometric_mean = (edm_sigma(&schedule, 1000) * edm_sigma(&schedule, 1)).sqrt();
        assert!(edm_sigma(&schedule, levels[9]) > 2.0 * geometric_mean, "{levels:?}");
    }

    #[test]
    fn too_many_steps_is_an_error() {
        let config = crate::diffusion::ScheduleConfig {
            train_steps: 10,
            ..crate::diffusion::ScheduleConfig::default()
        };
        let schedule = Schedule::new(&config).unwrap();
        for spacing in TimestepSpacing::ALL {
            assert!(inference_timesteps(&schedule, 11, *spacing).is_err());
            assert!(inference_timesteps(&schedule, 0, *spacing).is_err());
            assert_eq!(
                inference_timesteps(&schedule, 10, *spacing).unwrap(),
                (1..=10).rev().collect::<Vec<_>>()
            );
        }
    }
}
