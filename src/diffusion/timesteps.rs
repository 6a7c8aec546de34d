//! Which training timesteps an N-step sampler visits.
//!
//! These are diffusers' `timestep_spacing` rules (Lin et al. 2024, Table 2), with
//! diffusers' 0-based k mapped to our t = k + 1. numpy's `round` rounds half to
//! even, so we do too.
//! - `linspace`: k = round(linspace(0, T − 1, N)), reversed.
//! - `leading`: k = i · ⌊T/N⌋ for i = 0..N, reversed.
//! - `trailing`: k = round(T − i · T/N) − 1 for i = 0..N.

use super::error::{Result, invalid};
use super::schedule::linspace;

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

/// Rounds a 0-based diffusers timestep half to even (numpy) and shifts it to our t.
fn to_one_based(k: f64) -> usize {
    // Every k above lies in 0..T, so the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
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
    fn too_many_steps_is_an_error() {
        assert!(inference_timesteps(10, 11, TimestepSpacing::Leading).is_err());
        assert!(inference_timesteps(10, 0, TimestepSpacing::Leading).is_err());
    }
}
