//! Guidance as a [`Denoiser`] wrapper, so every sampler can be guided.
//!
//! - Classifier-free (Ho & Salimans 2022, eq. 6): ε̃ = ε_u + γ (ε_c − ε_u).
//!   Every parameterization is affine in ε̂ for fixed x_t, so the combination is
//!   done in the model's own kind, which stays exact at ᾱ = 0.
//! - Classifier (Dhariwal & Nichol 2021, eq. 14): ∇ log p̃(x_t | y) =
//!   ∇ log p(x_t) + γ ∇ log p(y | x_t).
//!
//! γ = 1 samples p(x | y) exactly when the parts are exact; γ > 1 sharpens it.

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
}

impl Default for GuidanceConfig {
    fn default() -> Self {
        Self {
            kind: GuidanceKind::ClassifierFree,
            scale: 1.0,
        }
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
        let gamma = self.config.scale;
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
