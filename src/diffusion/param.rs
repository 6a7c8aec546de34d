//! Parameterizations of a denoiser's output and the exact conversions between them.
//!
//! With x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε (Ho et al. 2020, eq. 4):
//! - x̂_0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t (Ho et al. eq. 15);
//! - score ŝ = ∇ log p_t(x_t) = −ε̂ / √(1 − ᾱ_t) (Tweedie; Song et al. 2021, eq. 15 of
//!   the score-SDE paper's VP case);
//! - v̂ = √ᾱ_t ε̂ − √(1 − ᾱ_t) x̂_0 (Salimans & Ho 2022, §4);
//! - the flow-matching velocity û = ε̂ − x̂_0 on the path x_τ = (1 − τ) x_0 + τ ε
//!   (Lipman et al. 2023; Liu et al. 2023), evaluated at x_τ = c x_t, where
//!   c = 1/(√ᾱ + √(1 − ᾱ)) and τ = c √(1 − ᾱ) (the same point, rescaled; see
//!   [`super::flow`]): x̂_0 = x_τ − τ û and ε̂ = x_τ + (1 − τ) û.
//!
//! Every conversion goes through the pair (x̂_0, ε̂), which is well defined for
//! 0 < ᾱ_t < 1. At ᾱ_t = 0 (zero terminal SNR) an ε-prediction carries no
//! information about x_0 and x̂_0 is not finite; x0- and v-predictions stay exact.

use candle_core::Tensor;

use super::error::Result;

/// What a denoiser's output means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PredictionType {
    /// The noise ε that was added (DDPM).
    #[default]
    Epsilon,
    /// The clean sample x_0.
    Sample,
    /// v = √ᾱ ε − √(1 − ᾱ) x_0 (progressive distillation).
    Velocity,
    /// The score ∇ log p_t(x_t).
    Score,
    /// The flow-matching velocity ε − x_0, at x_τ = c x_t (rectified flow).
    FlowVelocity,
}

named_enum!(PredictionType, "prediction type", [Epsilon => "epsilon", Sample => "x0", Velocity => "v", Score => "score", FlowVelocity => "flow"]);

/// c = 1/(√ᾱ + √(1 − ᾱ)), the factor from a VP point x_t to the flow path's x_τ.
#[must_use]
pub fn flow_scale(alpha_bar: f64) -> f64 {
    (alpha_bar.sqrt() + (1.0 - alpha_bar).sqrt()).recip()
}

/// τ = √(1 − ᾱ)/(√ᾱ + √(1 − ᾱ)), the flow time with the same signal-to-noise ratio as ᾱ.
#[must_use]
pub fn flow_time(alpha_bar: f64) -> f64 {
    (1.0 - alpha_bar).sqrt() * flow_scale(alpha_bar)
}

/// ᾱ_t for a conversion: one for the whole batch, or one per row of a `[rows, …]` tensor.
#[derive(Clone, Copy, Debug)]
pub enum AlphaBar<'a> {
    /// Every row is at the same noise level (sampling).
    Shared(f64),
    /// Row i is at ᾱ = `rows[i]` (training).
    PerRow(&'a [f64]),
}

impl AlphaBar<'_> {
    /// x · f(ᾱ), row by row where ᾱ is given per row.
    pub fn scale(self, x: &Tensor, f: impl Fn(f64) -> f64) -> Result<Tensor> {
        match self {
            Self::Shared(a) => Ok((x * f(a))?),
            Self::PerRow(rows) => {
                let column: Vec<f32> = rows.iter().map(|&a| f(a) as f32).collect();
                let mut shape = vec![1; x.rank()];
                shape[0] = rows.len();
                Ok(x.broadcast_mul(&Tensor::from_vec(column, shape, x.device())?)?)
            }
        }
    }
}

/// A model output together with what it means.
#[derive(Clone, Debug)]
pub struct Prediction {
    /// The parameterization of `value`.
    pub kind: PredictionType,
    /// The output tensor, shaped like x_t.
    pub value: Tensor,
}

impl Prediction {
    /// Wraps `value` as a prediction of `kind`.
    #[must_use]
    pub fn new(kind: PredictionType, value: Tensor) -> Self {
        Self { kind, value }
    }

    /// x̂_0 implied by this prediction at x_t with cumulative signal ᾱ_t.
    ///
    /// # Errors
    /// Only on tensor failures.
    pub fn x0(&self, x_t: &Tensor, alpha_bar: f64) -> Result<Tensor> {
        self.x0_at(x_t, AlphaBar::Shared(alpha_bar))
    }

    /// x̂_0 with ᾱ_t shared by the batch or given per row (training draws a t per row).
    ///
    /// # Errors
    /// Only on tensor failures (or a per-row ᾱ of the wrong length).
    pub fn x0_at(&self, x_t: &Tensor, alpha_bar: AlphaBar<'_>) -> Result<Tensor> {
        let sigma = |a: f64| (1.0 - a).sqrt();
        let over_signal = |a: f64| a.sqrt().recip();
        Ok(match self.kind {
            PredictionType::Sample => self.value.clone(),
            PredictionType::Epsilon => alpha_bar.scale(&(x_t - alpha_bar.scale(&self.value, sigma)?)?, over_signal)?,
            // x̂0 = √ᾱ x_t − √(1−ᾱ) v̂ (Salimans & Ho 2022, eq. 8 rearranged).
            PredictionType::Velocity => (alpha_bar.scale(x_t, f64::sqrt)? - alpha_bar.scale(&self.value, sigma)?)?,
            // ε̂ = −√(1−ᾱ) ŝ, so x̂0 = (x_t + (1 − ᾱ) ŝ)/√ᾱ.
            PredictionType::Score => {
                alpha_bar.scale(&(x_t + alpha_bar.scale(&self.value, |a| 1.0 - a)?)?, over_signal)?
            }
            // x̂0 = x_τ − τ û with x_τ = c x_t.
            PredictionType::FlowVelocity => {
                (alpha_bar.scale(x_t, flow_scale)? - alpha_bar.scale(&self.value, flow_time)?)?
            }
        })
    }

    /// ε̂ implied by this prediction.
    ///
    /// # Errors
    /// Only on tensor failures.
    pub fn epsilon(&self, x_t: &Tensor, alpha_bar: f64) -> Result<Tensor> {
        let (a, s) = (alpha_bar.sqrt(), (1.0 - alpha_bar).sqrt());
        Ok(match self.kind {
            PredictionType::Epsilon => self.value.clone(),
            PredictionType::Sample => ((x_t - (&self.value * a)?)? / s)?,
            // ε̂ = √(1−ᾱ) x_t + √ᾱ v̂.
            PredictionType::Velocity => ((x_t * s)? + (&self.value * a)?)?,
            PredictionType::Score => (&self.value * (-s))?,
            // ε̂ = x_τ + (1 − τ) û.
            PredictionType::FlowVelocity => {
                ((x_t * flow_scale(alpha_bar))? + (&self.value * (1.0 - flow_time(alpha_bar)))?)?
            }
        })
    }

    /// The prediction after adding `delta` to its implied score, kept in its own kind
    /// (classifier guidance, Dhariwal & Nichol 2021, eq. 14: ε̃ = ε̂ − √(1 − ᾱ) δ).
    ///
    /// At ᾱ = 0 an x0- or v-prediction is left unchanged: there the noisy data
    /// carries no information, and an exact classifier's gradient is 0.
    ///
    /// # Errors
    /// Only on tensor failures.
    pub fn shifted_by_score(&self, delta: &Tensor, alpha_bar: f64) -> Result<Self> {
        let (a, s) = (alpha_bar.sqrt(), (1.0 - alpha_bar).sqrt());
        let coefficient = match self.kind {
            PredictionType::Score => 1.0,
            PredictionType::Epsilon => -s,
            _ if a == 0.0 => 0.0,
            // x̂0 = (x + (1 − ᾱ) ŝ)/√ᾱ.
            PredictionType::Sample => s * s / a,
            // v̂ = √ᾱ ε̂ − √(1 − ᾱ) x̂0 moves by −√ᾱ s δ − s (s²/√ᾱ) δ = −(s/√ᾱ) δ.
            PredictionType::Velocity => -s / a,
            // ε̂ = x_τ + (1 − τ) û moves by −s δ, and 1 − τ = c √ᾱ.
            PredictionType::FlowVelocity => -s / (flow_scale(alpha_bar) * a),
        };
        Ok(Self {
            kind: self.kind,
            value: (&self.value + (delta * coefficient)?)?,
        })
    }

    /// The same prediction expressed as `kind`.
    ///
    /// # Errors
    /// Only on tensor failures.
    pub fn to_kind(&self, kind: PredictionType, x_t: &Tensor, alpha_bar: f64) -> Result<Self> {
        if kind == self.kind {
            return Ok(self.clone());
        }
        let (a, s) = (alpha_bar.sqrt(), (1.0 - alpha_bar).sqrt());
        let value = match kind {
            PredictionType::Sample => self.x0(x_t, alpha_bar)?,
            PredictionType::Epsilon => self.epsilon(x_t, alpha_bar)?,
            PredictionType::Score => (self.epsilon(x_t, alpha_bar)? * (-1.0 / s))?,
            PredictionType::Velocity => {
                let eps = self.epsilon(x_t, alpha_bar)?;
                let x0 = self.x0(x_t, alpha_bar)?;
                ((eps * a)? - (x0 * s)?)?
            }
            PredictionType::FlowVelocity => (self.epsilon(x_t, alpha_bar)? - self.x0(x_t, alpha_bar)?)?,
        };
        Ok(Self { kind, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn tensor(values: &[f32]) -> Tensor {
        Tensor::new(values, &Device::Cpu).unwrap()
    }

    #[test]
    fn every_kind_round_trips_through_every_other() {
        let alpha_bar: f64 = 0.37;
        let x0 = tensor(&[0.5, -1.0, 0.25]);
        let eps = tensor(&[1.0, 0.3, -2.0]);
        let x_t = ((&x0 * alpha_bar.sqrt()).unwrap() + (&eps * (1.0 - alpha_bar).sqrt()).unwrap()).unwrap();
        let truth = Prediction::new(PredictionType::Epsilon, eps.clone());
        for &from in PredictionType::ALL {
            let p = truth.to_kind(from, &x_t, alpha_bar).unwrap();
            let back_x0: Vec<f32> = p.x0(&x_t, alpha_bar).unwrap().to_vec1().unwrap();
            let back_eps: Vec<f32> = p.epsilon(&x_t, alpha_bar).unwrap().to_vec1().unwrap();
            for (a, b) in back_x0.iter().zip(x0.to_vec1::<f32>().unwrap()) {
                assert!((a - b).abs() < 1e-5, "{from}: x0 {a} vs {b}");
            }
            for (a, b) in back_eps.iter().zip(eps.to_vec1::<f32>().unwrap()) {
                assert!((a - b).abs() < 1e-5, "{from}: eps {a} vs {b}");
            }
        }
    }

    #[test]
    fn a_score_shift_moves_every_kind_alike() {
        let alpha_bar = 0.6;
        let x_t = tensor(&[0.2, -0.7]);
        let delta = tensor(&[0.5, 1.5]);
        let base = Prediction::new(PredictionType::Epsilon, tensor(&[0.1, 0.4]));
        let score_before = base.to_kind(PredictionType::Score, &x_t, alpha_bar).unwrap().value;
        let expected: Vec<f32> = (score_before + &delta).unwrap().to_vec1().unwrap();
        for &kind in PredictionType::ALL {
            let shifted = base
                .to_kind(kind, &x_t, alpha_bar)
                .unwrap()
                .shifted_by_score(&delta, alpha_bar)
                .unwrap();
            let score: Vec<f32> = shifted
                .to_kind(PredictionType::Score, &x_t, alpha_bar)
                .unwrap()
                .value
                .to_vec1()
                .unwrap();
            for (a, b) in score.iter().zip(&expected) {
                assert!((a - b).abs() < 1e-5, "{kind}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn velocity_is_salimans_and_ho() {
        let alpha_bar: f64 = 0.5;
        let x_t = tensor(&[0.0]);
        let p = Prediction::new(PredictionType::Sample, tensor(&[1.0]));
        // ε̂ = (0 − √.5·1)/√.5 = −1; v = √.5·(−1) − √.5·1 = −√2.
        let v: Vec<f32> = p
            .to_kind(PredictionType::Velocity, &x_t, alpha_bar)
            .unwrap()
            .value
            .to_vec1()
            .unwrap();
        assert!((f64::from(v[0]) + 2f64.sqrt()).abs() < 1e-6);
    }
}
