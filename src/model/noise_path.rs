//! Where a training row's noised point sits: x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε for
//! diffusion, x_τ = (1 − τ) x_0 + τ ε for flow matching, and the time the
//! network is shown.

use candle_core::{Device, Tensor};

use super::error::Result;
use super::train::FLOW_TIME_INPUT;
use crate::diffusion::{PredictionType, Schedule};

/// Per row: the factors of x_0 and ε in the noised point, and the network's time input.
pub(crate) struct NoisePath {
    /// x_0's factor per row, `[rows, 1]`.
    pub signal: Tensor,
    /// ε's factor per row.
    pub sigma: Tensor,
    /// The time the network sees per row.
    pub time_input: Vec<f64>,
}

impl NoisePath {
    /// √ᾱ_t, √(1 − ᾱ_t) and t for diffusion; 1 − τ, τ and τ·[`FLOW_TIME_INPUT`]
    /// with τ = t/T for flow matching.
    pub(crate) fn new(schedule: &Schedule, prediction: PredictionType, timesteps: &[usize]) -> Result<Self> {
        if prediction == PredictionType::FlowVelocity {
            let big_t = schedule.train_steps() as f64;
            let tau: Vec<f64> = timesteps.iter().map(|&t| t as f64 / big_t).collect();
            return Ok(Self {
                signal: column(tau.iter().map(|tau| 1.0 - tau))?,
                sigma: column(tau.iter().copied())?,
                time_input: tau.iter().map(|tau| tau * FLOW_TIME_INPUT).collect(),
            });
        }
        Ok(Self {
            signal: column(timesteps.iter().map(|&t| schedule.alpha_bar(t).sqrt()))?,
            sigma: column(timesteps.iter().map(|&t| (1.0 - schedule.alpha_bar(t)).sqrt()))?,
            time_input: timesteps.iter().map(|&t| t as f64).collect(),
        })
    }
}

/// `values` as an f32 column `[n, 1]`, to scale rows by.
pub(crate) fn column(values: impl Iterator<Item = f64>) -> Result<Tensor> {
    let values: Vec<f32> = values.map(|v| v as f32).collect();
    let rows = values.len();
    Ok(Tensor::from_vec(values, (rows, 1), &Device::Cpu)?)
}
