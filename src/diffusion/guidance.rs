//! Guidance as a [`Denoiser`] wrapper, so every sampler can be guided.
//!
//! - Classifier-free (Ho & Salimans 2022, eq. 6): ε̃ = ε_u + γ (ε_c − ε_u).
//!   Every parameterization is affine in ε̂ for fixed x_t, so the combination is
//!   done in the model's own kind, which stays exact at ᾱ = 0.
//! - Classifier (Dhariwal & Nichol 2021, eq. 14): ∇ log p̃(x_t | y) =
//!   ∇ log p(x_t) + γ ∇ log p(y | x_t).
//!
//! γ = 1 samples p(x | y) exactly when the parts are exact; γ > 1 sharpens it.
//!
//! - Guidance interval (Kynkäänniemi et al. 2024, "Applying guidance in a
//!   limited interval improves sample and distribution quality", eq. 2): γ
//!   applies only where σ = √((1 − ᾱ)/ᾱ) lies in (σ_lo, σ_hi], and the plain
//!   conditional prediction (γ = 1) elsewhere. Guidance at the highest noise
//!   levels is what collapses the variety; at the lowest it changes little.

use candle_core::Tensor;

use super::denoiser::{Denoiser, DenoiserOutput, Labels, NoiseLevel, NoisyClassifier};
use super::error::{Result, invalid};
use super::param::{Prediction, PredictionType};

/// How the class steers sampling.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum GuidanceKind {
    /// ε̃ = ε_u + γ (ε_c − ε_u), from one conditional model.
    #[default]
    ClassifierFree,
    /// score + γ ∇ log p(y | x_t), from a noisy classifier.
    Classifier,
}

named_enum!(GuidanceKind, "guidance kind", [ClassifierFree => "cfg", Classifier => "classifier"]);

/// The guidance rule and its strength.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GuidanceConfig {
    /// Classifier-free or classifier guidance.
    pub kind: GuidanceKind,
    /// γ, the guidance scale (1 = plain conditional sampling, 0 = unconditional).
    pub scale: f64,
    /// Where γ applies, in σ = √((1 − ᾱ)/ᾱ); outside it the step is plainly
    /// conditional. The default, (0, ∞], guides every step.
    pub interval: SigmaInterval,
}

impl Default for GuidanceConfig {
    fn default() -> Self {
        Self {
            kind: GuidanceKind::ClassifierFree,
            scale: 1.0,
            interval: SigmaInterval::default(),
        }
    }
}

impl GuidanceConfig {
    /// The γ a step at cumulative signal fraction `alpha_bar` uses: the scale
    /// inside the interval, 1 (the plain conditional model) outside it.
    #[must_use]
    pub fn scale_at(&self, alpha_bar: f64) -> f64 {
        if self.interval.contains(alpha_bar) {
            self.scale
        } else {
            1.0
        }
    }
}

/// A range of noise levels (σ_lo, σ_hi] in the variance-exploding σ.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SigmaInterval {
    /// σ_lo: levels at or below it are not guided (0: guide down to the data).
    pub low: f64,
    /// σ_hi: levels above it are not guided (∞: guide from pure noise).
    pub high: f64,
}

impl Default for SigmaInterval {
    fn default() -> Self {
        Self {
            low: 0.0,
            high: f64::INFINITY,
        }
    }
}

impl SigmaInterval {
    /// Whether the level with cumulative signal fraction `alpha_bar` lies inside.
    #[must_use]
    pub fn contains(&self, alpha_bar: f64) -> bool {
        // σ > σ_lo and σ ≤ σ_hi, written in ᾱ = 1/(1 + σ²) so that ᾱ = 0 (σ = ∞)
        // needs no division.
        let above_low = alpha_bar < 1.0 / (1.0 + self.low * self.low);
        let within_high = alpha_bar >= 1.0 / (1.0 + self.high * self.high);
        above_low && within_high
    }
}

impl std::fmt::Display for SigmaInterval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{}", self.low, self.high)
    }
}

impl std::str::FromStr for SigmaInterval {
    type Err = String;

    /// `LOW,HIGH` in σ, for example `0.3,5`; `inf` is allowed as HIGH.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("guidance interval must be LOW,HIGH in sigma with 0 <= LOW < HIGH, got {s:?}");
        let (low, high) = s.split_once(',').ok_or_else(bad)?;
        let low: f64 = low.trim().parse().map_err(|_| bad())?;
        let high: f64 = high.trim().parse().map_err(|_| bad())?;
        if !(low >= 0.0 && low.is_finite() && high > low) {
            return Err(bad());
        }
        Ok(Self { low, high })
    }
}

/// A denoiser whose conditional predictions are guided.
pub struct Guided<'a> {
    model: &'a dyn Denoiser,
    classifier: Option<&'a dyn NoisyClassifier>,
    config: GuidanceConfig,
}

impl<'a> Guided<'a> {
    /// Guides `model`; classifier guidance needs `classifier`.
    ///
    /// # Errors
    /// Classifier guidance without a classifier, or a non-finite or negative γ.
    pub fn new(
        model: &'a dyn Denoiser,
        classifier: Option<&'a dyn NoisyClassifier>,
        config: GuidanceConfig,
    ) -> Result<Self> {
        if !(config.scale >= 0.0 && config.scale.is_finite()) {
            return Err(invalid(format!(
                "guidance scale must be finite and >= 0, got {}",
                config.scale
            )));
        }
        if config.kind == GuidanceKind::Classifier && classifier.is_none() {
            return Err(invalid("classifier guidance needs a model with a noisy classifier"));
        }
        Ok(Self {
            model,
            classifier,
            config,
        })
    }
}

impl Denoiser for Guided<'_> {
    fn prediction_type(&self) -> PredictionType {
        self.model.prediction_type()
    }

    fn predict(&self, x_t: &Tensor, level: NoiseLevel, labels: Labels<'_>) -> Result<DenoiserOutput> {
        let Some(labels) = labels else {
            return self.model.predict(x_t, level, None);
        };
        let gamma = self.config.scale_at(level.alpha_bar);
        match (self.config.kind, self.classifier) {
            (GuidanceKind::Classifier, Some(classifier)) => {
                let unconditional = self.model.predict(x_t, level, None)?;
                let grad = classifier.log_prob_grad(x_t, level, labels)?;
                let prediction = unconditional
                    .prediction
                    .shifted_by_score(&(grad * gamma)?, level.alpha_bar)?;
                Ok(DenoiserOutput {
                    prediction,
                    variance_interp: unconditional.variance_interp,
                })
            }
            _ => {
                let conditional = self.model.predict(x_t, level, Some(labels))?;
                if (gamma - 1.0).abs() < f64::EPSILON {
                    return Ok(conditional);
                }
                let unconditional = self.model.predict(x_t, level, None)?;
                let u = &unconditional.prediction.value;
                let guided = (u + ((&conditional.prediction.value - u)? * gamma)?)?;
                Ok(DenoiserOutput {
                    prediction: Prediction::new(conditional.prediction.kind, guided),
                    variance_interp: conditional.variance_interp,
                })
            }
        }
    }

    fn num_classes(&self) -> usize {
        self.model.num_classes()
    }
}

#[cfg(test)]
mod tests {
    use super::SigmaInterval;

    #[test]
    fn the_interval_is_open_below_and_closed_above_in_sigma() {
        // ᾱ = 1/(1 + σ²): σ = 0.5 is ᾱ = 0.8, σ = 1 is 0.5, σ = 2 is 0.2, σ = 3 is 0.1.
        let interval: SigmaInterval = "0.5,2".parse().unwrap();
        assert_eq!(interval, SigmaInterval { low: 0.5, high: 2.0 });
        assert!(!interval.contains(0.8));
        assert!(interval.contains(0.5));
        assert!(interval.contains(0.2));
        assert!(!interval.contains(0.1));
        assert!(!interval.contains(0.0));
        let every = SigmaInterval::default();
        assert!(every.contains(0.0) && every.contains(0.999) && !every.contains(1.0));
        assert!("0.3,inf".parse::<SigmaInterval>().unwrap().contains(0.0));
    }

    #[test]
    fn bad_intervals_are_refused_with_one_line() {
        for bad in ["2,0.5", "1,1", "-1,2", "nan,2", "0.5", "a,b", "inf,inf"] {
            let error = bad.parse::<SigmaInterval>().unwrap_err();
            assert!(error.contains("LOW,HIGH") && !error.contains('\n'), "{bad}: {error}");
        }
    }
}
