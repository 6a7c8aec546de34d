//! The ELBO's weight per t on each parameterization's squared error, in SNR
//! form (Luo 2022, `shared/seeds/000_9adf4b751b0c0e64.txt`, lines 450–525;
//! Kingma et al. 2021, VDM eq. 13).
//!
//! With the reverse variance σ_t² = β̃_t, the KL term L_{t−1} of one x0 is
//! ½ (SNR(t−1) − SNR(t)) ‖x0 − x̂0‖². For x_t fixed,
//! - x0 − x̂0 = −√(1−ᾱ_t)/√ᾱ_t (ε − ε̂), so the weight on ‖ε − ε̂‖² is
//!   ½ (SNR(t−1)/SNR(t) − 1) (DDPM eq. 12: β_t² / (2 σ_t² α_t (1 − ᾱ_t)));
//! - the score is s = −ε/√(1−ᾱ_t), so the weight on ‖s − ŝ‖² is that on ε
//!   times (1 − ᾱ_t);
//! - x0 = √ᾱ_t x_t − √(1−ᾱ_t) v, so the weight on ‖v − v̂‖² is that on x0
//!   times (1 − ᾱ_t);
//! - x0 = x_τ − τ u for the flow velocity u, so the weight on ‖u − û‖² is
//!   that on x0 times τ², τ = √(1−ᾱ_t)/(√ᾱ_t + √(1−ᾱ_t)).
//!
//! L_simple (DDPM eq. 14) weights ‖ε − ε̂‖² by 1 at every t instead: compared
//! with the ELBO it down-weights the small t, where the ELBO's weight is largest.
//!
//! SNR(0) is infinite (ᾱ_0 = 1), so every weight is infinite at t = 1: there the
//! ELBO has the decoder term L_0, not a KL.

use super::param::PredictionType;
use super::schedule::Schedule;

/// The ELBO's weight on `kind`'s squared error at step t of `schedule`
/// (t in 1..=T; infinite at t = 1).
#[must_use]
pub fn elbo_weight(schedule: &Schedule, t: usize, kind: PredictionType) -> f64 {
    let (before, now) = (schedule.snr(t - 1), schedule.snr(t));
    let on_sample = 0.5 * (before - now);
    let on_epsilon = 0.5 * (before / now - 1.0);
    let noise_var = 1.0 - schedule.alpha_bar(t);
    match kind {
        PredictionType::Sample => on_sample,
        PredictionType::Epsilon => on_epsilon,
        PredictionType::Score => on_epsilon * noise_var,
        PredictionType::Velocity => on_sample * noise_var,
        PredictionType::FlowVelocity => on_sample * super::param::flow_time(schedule.alpha_bar(t)).powi(2),
    }
}

/// The ELBO's weight on `kind`'s squared error for t = 1..=T, scaled to a
/// median of 1 over t = 2..=T, with t = 1 given t = 2's weight. The median,
/// not the mean: a schedule whose last β is clipped (cosine) has one huge
/// weight at t = T that would flatten every other. (Adam's steps do not
/// depend on the loss's overall scale, so the scaling leaves training alone.)
#[must_use]
pub fn normalized_weights(schedule: &Schedule, kind: PredictionType) -> Vec<f64> {
    let big_t = schedule.train_steps();
    let raw: Vec<f64> = (2..=big_t).map(|t| elbo_weight(schedule, t, kind)).collect();
    let mut sorted = raw.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted
        .get(sorted.len() / 2)
        .copied()
        .filter(|m| *m > 0.0)
        .unwrap_or(1.0);
    let mut weights: Vec<f64> = raw.iter().map(|w| w / median).collect();
    let first = weights.first().copied().unwrap_or(1.0);
    weights.insert(0, first);
    weights
}
