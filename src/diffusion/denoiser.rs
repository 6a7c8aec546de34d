//! The [`Denoiser`] trait: anything that looks at x_t and predicts.
//!
//! Exact reference models ([`super::mixture`]) and trained candle networks
//! implement the same trait, so every sampler, guidance rule and ELBO term works
//! with either.

use candle_core::Tensor;

use super::error::Result;
use super::param::{Prediction, PredictionType};

/// Where on the forward process an evaluation happens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoiseLevel {
    /// The training timestep t (0 = data, T = most noise); fractional for
    /// continuous-time models.
    pub t: f64,
    /// ᾱ_t, the cumulative signal fraction at t.
    pub alpha_bar: f64,
}

/// Class labels, one per row of the batch (`None`: unconditional).
pub type Labels<'a> = Option<&'a [u32]>;

/// A denoiser's answer at one noise level.
#[derive(Clone, Debug)]
pub struct DenoiserOutput {
    /// The prediction in the model's own parameterization.
    pub prediction: Prediction,
    /// Improved DDPM's learned variance: v ∈ [−1, 1] per element, with
    /// log σ² = ((v + 1)/2) log β_t + ((1 − v)/2) log β̃_t (Nichol & Dhariwal 2021, eq. 15
    /// rescaled to [−1, 1]). `None` for models without it.
    pub variance_interp: Option<Tensor>,
}

impl DenoiserOutput {
    /// An output without a learned variance.
    #[must_use]
    pub fn new(prediction: Prediction) -> Self {
        Self {
            prediction,
            variance_interp: None,
        }
    }
}

/// A model of E[· | x_t]: maps (x_t, t, optional class) to a prediction.
pub trait Denoiser: Send + Sync {
    /// The parameterization of [`DenoiserOutput::prediction`].
    fn prediction_type(&self) -> PredictionType;

    /// Predicts at `x_t` (rows are samples; any trailing shape) and `level`.
    ///
    /// # Errors
    /// Shape mismatches, unknown labels, tensor failures.
    fn predict(&self, x_t: &Tensor, level: NoiseLevel, labels: Labels<'_>) -> Result<DenoiserOutput>;

    /// Predicts for rows each at its own level (`levels[i]` for row i).
    ///
    /// The default calls [`Self::predict`] row by row; a network overrides it
    /// to evaluate the whole batch in one pass.
    ///
    /// # Errors
    /// As [`Self::predict`], or a `levels`/`labels` length that is not the row count.
    fn predict_rows(&self, x_t: &Tensor, levels: &[NoiseLevel], labels: Labels<'_>) -> Result<DenoiserOutput> {
        let rows = x_t.dim(0)?;
        if levels.len() != rows || labels.is_some_and(|l| l.len() != rows) {
            return Err(super::error::invalid(format!(
                "{rows} rows need {rows} levels and labels, got {}",
                levels.len()
            )));
        }
        let mut values = Vec::with_capacity(rows);
        let mut interps = Vec::with_capacity(rows);
        let mut kind = self.prediction_type();
        for (row, &level) in levels.iter().enumerate() {
            let label = labels.map(|l| &l[row..=row]);
            let out = self.predict(&x_t.narrow(0, row, 1)?, level, label)?;
            kind = out.prediction.kind;
            values.push(out.prediction.value);
            interps.extend(out.variance_interp);
        }
        let variance_interp = if interps.len() == rows {
            Some(Tensor::cat(&interps, 0)?)
        } else {
            None
        };
        Ok(DenoiserOutput {
            prediction: Prediction::new(kind, Tensor::cat(&values, 0)?),
            variance_interp,
        })
    }

    /// The number of classes it can condition on (0: unconditional only).
    fn num_classes(&self) -> usize {
        0
    }
}

/// A differentiable noisy classifier p(y | x_t), for classifier guidance.
pub trait NoisyClassifier: Send + Sync {
    /// ∇_x log p(y | x_t) for each row's label.
    ///
    /// # Errors
    /// Shape mismatches, unknown labels, tensor failures.
    fn log_prob_grad(&self, x_t: &Tensor, level: NoiseLevel, labels: &[u32]) -> Result<Tensor>;

    /// p(y | x_t) for every class, shaped `[rows, classes]`.
    ///
    /// # Errors
    /// Shape mismatches, tensor failures.
    fn class_probabilities(&self, x_t: &Tensor, level: NoiseLevel) -> Result<Tensor>;
}
