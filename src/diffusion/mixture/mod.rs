//! Exact denoisers: an isotropic Gaussian mixture and the empirical optimal denoiser.
//!
//! If p_0 = Σ_k w_k N(μ_k, s_k² I), the forward process keeps it a mixture
//! (Ho et al. 2020, eq. 4): p_t = Σ_k w_k N(√ᾱ μ_k, v_k I), v_k = ᾱ s_k² + 1 − ᾱ.
//! With responsibilities r_k(x) = w_k N(x; √ᾱ μ_k, v_k I) / p_t(x):
//! - score: ∇ log p_t(x) = Σ_k r_k (√ᾱ μ_k − x) / v_k;
//! - posterior mean (Tweedie): E[x_0 | x_t] = Σ_k r_k [h_k μ_k + g_k x],
//!   h_k = (1 − ᾱ)/v_k, g_k = √ᾱ s_k² / v_k;
//! - noisy classifier: p(y | x_t) = Σ_{k: label_k = y} r_k, and
//!   ∇ log p(y | x_t) = ∇ log p_t(x | y) − ∇ log p_t(x) (Dhariwal & Nichol 2021, §4).
//!
//! A finite data set is the mixture with s_k = 0 and equal weights: its posterior
//! mean is the optimal denoiser of that set, which only reproduces training points.
//!
//! Work is done in f64: at small t the component variances are ~1e-4 and f32
//! cancellation in |x − μ|² would blur the responsibilities.

use std::path::Path;

use candle_core::{D, DType, Device, Tensor};
use serde::Deserialize;

use super::denoiser::{Denoiser, DenoiserOutput, Labels, NoiseLevel, NoisyClassifier};
use super::error::{Error, Result, invalid};
use super::noise::NoiseRng;
use super::param::{Prediction, PredictionType};

/// One isotropic Gaussian component.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    /// Its mean μ_k.
    pub mean: Vec<f64>,
    /// Its standard deviation s_k (≥ 0) in every dimension.
    pub std: f64,
    /// Its weight w_k, normalised to sum to 1 over the mixture.
    pub weight: f64,
    /// Its class, if labelled.
    pub label: Option<u32>,
}

/// An isotropic Gaussian mixture with exact scores at every noise level.
#[derive(Clone, Debug)]
pub struct GaussianMixture {
    components: Vec<Component>,
    means: Tensor,
    mean_sq_norms: Tensor,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MixtureFile {
    components: Vec<ComponentFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentFile {
    mean: Vec<f64>,
    std: f64,
    #[serde(default = "one")]
    weight: f64,
    label: Option<u32>,
}

/// Data of at most this many dimensions is evaluated row by row in plain
/// loops (`GaussianMixture::posterior_moment`); wider data (an image set's
/// empirical denoiser) through matrix products, which its size needs.
const ROW_LOOP_MAX_DIMS: usize = 8;

fn one() -> f64 {
    1.0
}

impl GaussianMixture {
    /// Builds a mixture, normalising the weights.
    ///
    /// # Errors
    /// No components, mixed dimensions, a negative or non-finite std, weight or mean.
    pub fn new(mut components: Vec<Component>) -> Result<Self> {
        let first = components
            .first()
            .ok_or_else(|| invalid("a mixture needs at least one component"))?;
        let dims = first.mean.len();
        if dims == 0 {
            return Err(invalid("component 1: the mean is empty"));
        }
        for (i, c) in components.iter().enumerate() {
            let n = i + 1;
            if c.mean.len() != dims {
                return Err(invalid(format!(
                    "component {n}: mean has {} dimensions, component 1 has {dims}",
                    c.mean.len()
                )));
            }
            if !(c.std >= 0.0 && c.std.is_finite()) {
                return Err(invalid(format!(
                    "component {n}: std must be finite and >= 0, got {}",
                    c.std
                )));
            }
            if !(c.weight > 0.0 && c.weight.is_finite()) {
                return Err(invalid(format!(
                    "component {n}: weight must be finite and > 0, got {}",
                    c.weight
                )));
            }
            if c.mean.iter().any(|m| !m.is_finite()) {
                return Err(invalid(format!("component {n}: mean has a non-finite value")));
            }
        }
        let total: f64 = components.iter().map(|c| c.weight).sum();
        for c in &mut components {
            c.weight /= total;
        }
        let flat: Vec<f64> = components.iter().flat_map(|c| c.mean.iter().copied()).collect();
        let means = Tensor::from_vec(flat, (components.len(), dims), &Device::Cpu)?;
        let mean_sq_norms = means.sqr()?.sum(1)?.unsqueeze(0)?;
        Ok(Self {
            components,
            means,
            mean_sq_norms,
        })
    }

    /// The empirical distribution of `points` (rows), optionally labelled: the
    /// memorizing optimal denoiser of that data set.
    ///
    /// # Errors
    /// No points, ragged rows, or a label count that differs from the point count.
    pub fn empirical(points: &[Vec<f64>], labels: Option<&[u32]>) -> Result<Self> {
        if let Some(labels) = labels
            && labels.len() != points.len()
        {
            return Err(invalid(format!("{} points but {} labels", points.len(), labels.len())));
        }
        let components = points
            .iter()
            .enumerate()
            .map(|(i, p)| Component {
                mean: p.clone(),
                std: 0.0,
                weight: 1.0,
                label: labels.map(|l| l[i]),
            })
            .collect();
        Self::new(components)
    }

    /// Parses the JSON mixture format
    /// `{"components": [{"mean": [..], "std": s, "weight": w, "label": k}, ...]}`.
    ///
    /// # Errors
    /// Malformed JSON or an invalid component; the message names `source_name`.
    pub fn from_json(text: &str, source_name: &str) -> Result<Self> {
        let file_error = |reason: String| Error::MixtureFile {
            path: source_name.to_owned(),
            reason,
        };
        if text.trim().is_empty() {
            return Err(file_error("the file is empty".into()));
        }
        let parsed: MixtureFile =
            serde_json::from_str(text).map_err(|e| file_error(format!("not a valid mixture JSON: {e}")))?;
        let components = parsed
            .components
            .into_iter()
            .map(|c| Component {
                mean: c.mean,
                std: c.std,
                weight: c.weight,
                label: c.label,
            })
            .collect();
        Self::new(components).map_err(|e| file_error(e.to_string()))
    }

    /// Reads a mixture JSON file.
    ///
    /// # Errors
    /// An unreadable or malformed file; the message names the path.
    pub fn load(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Error::MixtureFile {
            path: name.clone(),
            reason: e.to_string(),
        })?;
        Self::from_json(&text, &name)
    }

    /// The components, with normalised weights.
    #[must_use]
    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// The smallest standard deviation among p_t's components,
    /// min_k √(ᾱ s_k² + 1 − ᾱ): the finest detail the noised density has at ᾱ.
    #[must_use]
    pub fn narrowest_noised_std(&self, alpha_bar: f64) -> f64 {
        self.components
            .iter()
            .map(|c| noised_variance(c.std, alpha_bar).sqrt())
            .fold(f64::INFINITY, f64::min)
    }

    /// The data dimension D.
    #[must_use]
    pub fn dims(&self) -> usize {
        self.components[0].mean.len()
    }

    /// Draws `n` exact samples of p_0 (as f32 rows of a `[n, D]` tensor) and the
    /// component each came from. With `label`, draws from p_0(x | y).
    ///
    /// # Errors
    /// A label no component has.
    pub fn sample(&self, n: usize, label: Option<u32>, rng: &mut NoiseRng) -> Result<(Tensor, Vec<usize>)> {
        let weights: Vec<f64> = self
            .components
            .iter()
            .map(|c| {
                if label.is_none() || c.label == label {
                    c.weight
                } else {
                    0.0
                }
            })
            .collect();
        if weights.iter().all(|w| *w == 0.0) {
            return Err(self.unknown_label(label.unwrap_or_default()));
        }
        let dims = self.dims();
        let mut values = Vec::with_capacity(n * dims);
        let mut origins = Vec::with_capacity(n);
        for _ in 0..n {
            let k = rng.categorical(&weights);
            let c = &self.components[k];
            values.extend(c.mean.iter().map(|m| (m + c.std * rng.normal()) as f32));
            origins.push(k);
        }
        Ok((Tensor::from_vec(values, (n, dims), &Device::Cpu)?, origins))
    }

    /// The responsibilities r_k(x) under p_t, `[rows, K]` (f64).
    ///
    /// # Errors
    /// Tensor failures or a width other than D.
    pub fn responsibilities(&self, x: &Tensor, alpha_bar: f64) -> Result<Tensor> {
        let x = self.rows(x)?;
        let logits = self.log_joint(&x, alpha_bar)?;
        softmax_rows(&logits)
    }

    /// The most responsible component of each row at ᾱ = 1: which mode a sample landed in.
    ///
    /// # Errors
    /// Tensor failures or a width other than D.
    pub fn assign(&self, x: &Tensor) -> Result<Vec<usize>> {
        let r = self.responsibilities(x, 1.0)?.to_vec2::<f64>()?;
        Ok(r.iter()
            .map(|row| {
                row.iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map_or(0, |(k, _)| k)
            })
            .collect())
    }

    /// log p_t(x) for each row (f64): the noised density behind the particles.
    ///
    /// # Errors
    /// Tensor failures or a width other than D.
    pub fn log_density(&self, x: &Tensor, alpha_bar: f64) -> Result<Vec<f64>> {
        let x = self.rows(x)?;
        let logits = self.log_joint(&x, alpha_bar)?;
        let max = logits.max_keepdim(1)?;
        let lse = (logits.broadcast_sub(&max)?.exp()?.sum_keepdim(1)?.log()? + max)?;
        Ok(lse.flatten_all()?.to_vec1()?)
    }

    /// The exact score ∇ log p_t(x), or ∇ log p_t(x | y) with labels.
    ///
    /// # Errors
    /// Tensor failures, a width other than D, or a label no component has.
    pub fn score(&self, x_t: &Tensor, alpha_bar: f64, labels: Labels<'_>) -> Result<Tensor> {
        // Σ_k r_k (√ᾱ μ_k − x) / v_k.
        let a = alpha_bar.sqrt();
        let coefficients = self.per_component(|c| {
            let inv_var = 1.0 / noised_variance(c.std, alpha_bar);
            [a * inv_var, -inv_var]
        });
        self.posterior_moment(x_t, alpha_bar, labels, &coefficients)
    }

    /// The posterior mean E[x_0 | x_t] (or E[x_0 | x_t, y] with labels), by
    /// Bayes component by component: Σ_k r_k [h_k μ_k + g_k x] (module docs).
    ///
    /// # Errors
    /// Tensor failures, a width other than D, or a label no component has.
    pub fn posterior_mean(&self, x_t: &Tensor, alpha_bar: f64, labels: Labels<'_>) -> Result<Tensor> {
        let coefficients = self.per_component(|c| {
            let v = noised_variance(c.std, alpha_bar);
            [(1.0 - alpha_bar) / v, alpha_bar.sqrt() * c.std * c.std / v]
        });
        self.posterior_moment(x_t, alpha_bar, labels, &coefficients)
    }

    /// Σ_k r_k [m_k μ_k + c_k x] for each row of `x_t`, with (m_k, c_k) =
    /// `coefficients[k]` and r_k restricted to the row's label: the score
    /// and the posterior mean both have this form (module docs).
    fn posterior_moment(
        &self,
        x_t: &Tensor,
        alpha_bar: f64,
        labels: Labels<'_>,
        coefficients: &[[f64; 2]],
    ) -> Result<Tensor> {
        if self.dims() <= ROW_LOOP_MAX_DIMS {
            return self.posterior_moment_by_rows(x_t, alpha_bar, labels, coefficients);
        }
        let x = self.rows(x_t)?;
        let r = self.posterior(&x, alpha_bar, labels)?;
        let from_mean = self.component_row(coefficients.iter().map(|c| c[0]).collect())?;
        let from_x = self.component_row(coefficients.iter().map(|c| c[1]).collect())?;
        let from_means = r.broadcast_mul(&from_mean)?.matmul(&self.means)?;
        let from_x = x.broadcast_mul(&r.broadcast_mul(&from_x)?.sum_keepdim(1)?)?;
        self.like_input(&(from_means + from_x)?, x_t)
    }

    /// [`Self::posterior_moment`] row by row in plain loops, for data of a
    /// few dimensions (the 2D toys): there the tensor form's broadcasts over
    /// `[rows, K]` cost several times the arithmetic, and they ran on the
    /// explorer's model thread beside a software renderer.
    fn posterior_moment_by_rows(
        &self,
        x_t: &Tensor,
        alpha_bar: f64,
        labels: Labels<'_>,
        coefficients: &[[f64; 2]],
    ) -> Result<Tensor> {
        let x = self.rows(x_t)?.flatten_all()?.to_vec1::<f64>()?;
        let dims = self.dims();
        let rows = x.len() / dims;
        let mask = match labels {
            Some(labels) => Some(self.label_allowed(labels, rows)?),
            None => None,
        };
        let a = alpha_bar.sqrt();
        let terms = self.log_joint_terms(alpha_bar);
        let k_count = self.components.len();
        let mut logits = vec![0.0; k_count];
        let mut out = vec![0.0; x.len()];
        for (row, (point, moment)) in x.chunks_exact(dims).zip(out.chunks_exact_mut(dims)).enumerate() {
            for (k, (c, [normaliser, inv_two_var])) in self.components.iter().zip(&terms).enumerate() {
                // One label for every row, or one per row.
                let allowed = mask
                    .as_ref()
                    .is_none_or(|m| m[(row % (m.len() / k_count)) * k_count + k]);
                let sq: f64 = point.iter().zip(&c.mean).map(|(p, m)| (p - a * m).powi(2)).sum();
                logits[k] = if allowed {
                    normaliser - sq * inv_two_var
                } else {
                    f64::NEG_INFINITY
                };
            }
            let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut total = 0.0;
            for logit in &mut logits {
                *logit = (*logit - max).exp();
                total += *logit;
            }
            for ((c, [from_mean, from_x]), weight) in self.components.iter().zip(coefficients).zip(&logits) {
                let r = weight / total;
                for ((value, m), p) in moment.iter_mut().zip(&c.mean).zip(point) {
                    *value += r * (from_mean * m + from_x * p);
                }
            }
        }
        let moment = Tensor::from_vec(out, (rows, dims), &Device::Cpu)?;
        self.like_input(&moment, x_t)
    }

    /// Which components each label allows, `[labels, K]` row-major.
    fn label_allowed(&self, labels: &[u32], rows: usize) -> Result<Vec<bool>> {
        if labels.len() != rows && labels.len() != 1 {
            return Err(invalid(format!("{rows} rows but {} labels", labels.len())));
        }
        let mut allowed = Vec::with_capacity(labels.len() * self.components.len());
        for &y in labels {
            if !self.components.iter().any(|c| c.label == Some(y)) {
                return Err(self.unknown_label(y));
            }
            allowed.extend(self.components.iter().map(|c| c.label == Some(y)));
        }
        Ok(allowed)
    }

    /// Responsibilities, restricted to each row's label when labels are given.
    fn posterior(&self, x: &Tensor, alpha_bar: f64, labels: Labels<'_>) -> Result<Tensor> {
        let logits = self.log_joint(x, alpha_bar)?;
        let logits = match labels {
            None => logits,
            Some(labels) => logits.broadcast_add(&self.label_mask(labels, x.dim(0)?)?)?,
        };
        softmax_rows(&logits)
    }

    /// An additive mask, 0 where component k has row i's label and −∞ elsewhere.
    fn label_mask(&self, labels: &[u32], rows: usize) -> Result<Tensor> {
        let mask = self
            .label_allowed(labels, rows)?
            .into_iter()
            .map(|allowed| if allowed { 0.0 } else { f64::NEG_INFINITY })
            .collect();
        Ok(Tensor::from_vec(
            mask,
            (labels.len(), self.components.len()),
            &Device::Cpu,
        )?)
    }

    /// log w_k + log N(x; √ᾱ μ_k, v_k I) for every row and component, `[rows, K]`.
    fn log_joint(&self, x: &Tensor, alpha_bar: f64) -> Result<Tensor> {
        let a = alpha_bar.sqrt();
        let terms = self.log_joint_terms(alpha_bar);
        let normaliser = self.component_row(terms.iter().map(|t| t[0]).collect())?;
        let inv_two_var = self.component_row(terms.iter().map(|t| t[1]).collect())?;
        // |x − a μ|² = |x|² − 2a x·μ + a²|μ|², as one matmul.
        let cross = (x.matmul(&self.means.t()?)? * (2.0 * a))?;
        let sq = x
            .sqr()?
            .sum_keepdim(1)?
            .broadcast_sub(&cross)?
            .broadcast_add(&(&self.mean_sq_norms * (a * a))?)?;
        Ok(normaliser.broadcast_sub(&sq.broadcast_mul(&inv_two_var)?)?)
    }

    /// Each component's log w_k − (D/2) log(2π v_k) and 1/(2 v_k): its
    /// log-joint is the first less the second times |x − √ᾱ μ_k|².
    fn log_joint_terms(&self, alpha_bar: f64) -> Vec<[f64; 2]> {
        let half_dims = self.dims() as f64 / 2.0;
        self.per_component(|c| {
            let v = noised_variance(c.std, alpha_bar);
            [
                c.weight.ln() - half_dims * (2.0 * std::f64::consts::PI * v).ln(),
                0.5 / v,
            ]
        })
    }

    /// f(component) for each component.
    fn per_component<T>(&self, f: impl Fn(&Component) -> T) -> Vec<T> {
        self.components.iter().map(f).collect()
    }

    /// One value per component as a `[1, K]` f64 row.
    fn component_row(&self, values: Vec<f64>) -> Result<Tensor> {
        Ok(Tensor::from_vec(values, (1, self.components.len()), &Device::Cpu)?)
    }

    /// `x` as f64 `[rows, D]`.
    fn rows(&self, x: &Tensor) -> Result<Tensor> {
        let rows = x.dim(0)?;
        let width = x.elem_count() / rows.max(1);
        if width != self.dims() {
            return Err(invalid(format!(
                "input rows have {width} values but the mixture has {} dimensions",
                self.dims()
            )));
        }
        Ok(x.reshape((rows, width))?.to_dtype(DType::F64)?)
    }

    fn like_input(&self, value: &Tensor, x_t: &Tensor) -> Result<Tensor> {
        Ok(value.reshape(x_t.shape())?.to_dtype(x_t.dtype())?)
    }

    fn unknown_label(&self, y: u32) -> Error {
        invalid(format!("no mixture component has label {y}"))
    }

    /// The labels present, sorted.
    fn classes(&self) -> Vec<u32> {
        let mut labels: Vec<u32> = self.components.iter().filter_map(|c| c.label).collect();
        labels.sort_unstable();
        labels.dedup();
        labels
    }
}

/// v_k = ᾱ s_k² + 1 − ᾱ: a component's variance after noising.
fn noised_variance(std: f64, alpha_bar: f64) -> f64 {
    alpha_bar * std * std + (1.0 - alpha_bar)
}

/// Row-wise softmax of f64 logits, stable under −∞ entries.
fn softmax_rows(logits: &Tensor) -> Result<Tensor> {
    let max = logits.max_keepdim(D::Minus1)?;
    let e = logits.broadcast_sub(&max)?.exp()?;
    Ok(e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?)
}

impl Denoiser for GaussianMixture {
    fn prediction_type(&self) -> PredictionType {
        PredictionType::Sample
    }

    fn predict(&self, x_t: &Tensor, level: NoiseLevel, labels: Labels<'_>) -> Result<DenoiserOutput> {
        let x0 = self.posterior_mean(x_t, level.alpha_bar, labels)?;
        Ok(DenoiserOutput::new(Prediction::new(PredictionType::Sample, x0)))
    }

    fn num_classes(&self) -> usize {
        self.classes().last().map_or(0, |y| *y as usize + 1)
    }
}

impl NoisyClassifier for GaussianMixture {
    fn log_prob_grad(&self, x_t: &Tensor, level: NoiseLevel, labels: &[u32]) -> Result<Tensor> {
        let conditional = self.score(x_t, level.alpha_bar, Some(labels))?;
        // The marginal runs over the labelled components only, so that p(y|x) sums to 1.
        let marginal = if self.components.iter().all(|c| c.label.is_some()) {
            self.score(x_t, level.alpha_bar, None)?
        } else {
            self.labelled_only()?.score(x_t, level.alpha_bar, None)?
        };
        Ok((conditional - marginal)?)
    }

    fn class_probabilities(&self, x_t: &Tensor, level: NoiseLevel) -> Result<Tensor> {
        let classes = self.num_classes();
        let mut one_hot = vec![0.0; self.components.len() * classes];
        for (k, c) in self.components.iter().enumerate() {
            if let Some(y) = c.label {
                one_hot[k * classes + y as usize] = 1.0;
            }
        }
        let one_hot = Tensor::from_vec(one_hot, (self.components.len(), classes), &Device::Cpu)?;
        let probs = self.responsibilities(x_t, level.alpha_bar)?.matmul(&one_hot)?;
        Ok(probs.broadcast_div(&probs.sum_keepdim(1)?)?)
    }
}

impl GaussianMixture {
    /// The mixture of the labelled components alone (renormalised).
    fn labelled_only(&self) -> Result<Self> {
        let labelled: Vec<Component> = self.components.iter().filter(|c| c.label.is_some()).cloned().collect();
        if labelled.is_empty() {
            return Err(invalid("the mixture has no labelled components"));
        }
        Self::new(labelled)
    }
}

#[cfg(test)]
mod tests;
