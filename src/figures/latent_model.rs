//! A one-dimensional latent-variable model whose posterior is exact: a prior
//! p(z) that is a mixture of Gaussians, and a linear-Gaussian likelihood
//! p(x|z) = N(x; a z, s²). Everything the ELBO scene needs is in closed form
//! or a one-dimensional integral:
//! - the evidence p(x) = Σ_k w_k N(x; a μ_k, a² σ_k² + s²);
//! - the posterior p(z|x) = Σ_k w'_k N(z; m_k, v_k), with
//!   v_k = 1 / (1/σ_k² + a²/s²), m_k = v_k (μ_k/σ_k² + a x/s²),
//!   w'_k ∝ w_k N(x; a μ_k, a² σ_k² + s²) (Bishop, PRML eq. 2.116–2.117, per component);
//! - for a Gaussian q(z|x) = N(m, σ²), the ELBO E_q[log p(x, z) − log q(z)] and
//!   KL(q ‖ p(z|x)) as integrals under q, by Simpson's rule on q's own grid.
//!
//! Luo's tutorial derives log p(x) = ELBO + KL(q(z|x) ‖ p(z|x))
//! (`shared/seeds/000_9adf4b751b0c0e64.txt`, lines 56–90, eq. 15); Jensen gives
//! the bound alone (lines 58–70).

use std::f64::consts::PI;

/// Simpson points under q: m ± [`GRID_STDS`] σ in this many intervals (even).
const GRID_INTERVALS: usize = 2000;
/// How far q's grid reaches, in q's standard deviations (the mass beyond is
/// below 10⁻³⁰).
const GRID_STDS: f64 = 12.0;

/// log N(x; mean, var).
#[must_use]
pub fn log_normal(x: f64, mean: f64, var: f64) -> f64 {
    -0.5 * ((2.0 * PI * var).ln() + (x - mean).powi(2) / var)
}

/// log Σ exp(values), without overflow.
#[must_use]
pub fn log_sum_exp(values: &[f64]) -> f64 {
    let top = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if top == f64::NEG_INFINITY {
        return top;
    }
    top + values.iter().map(|v| (v - top).exp()).sum::<f64>().ln()
}

/// One Gaussian component in 1D.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gaussian1d {
    /// Its weight in the mixture (the weights sum to 1).
    pub weight: f64,
    /// Its mean.
    pub mean: f64,
    /// Its variance.
    pub var: f64,
}

/// log of a 1D mixture's density at `z`.
#[must_use]
pub fn mixture_log_density(components: &[Gaussian1d], z: f64) -> f64 {
    let terms: Vec<f64> = components
        .iter()
        .map(|c| c.weight.ln() + log_normal(z, c.mean, c.var))
        .collect();
    log_sum_exp(&terms)
}

/// A Gaussian q(z|x) = N(mean, std²).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaussianQ {
    /// Its mean.
    pub mean: f64,
    /// Its standard deviation (> 0).
    pub std: f64,
}

impl GaussianQ {
    /// log q(z).
    #[must_use]
    pub fn log_density(self, z: f64) -> f64 {
        log_normal(z, self.mean, self.std * self.std)
    }

    /// E_q[f(z)] by Simpson's rule on m ± 12σ.
    pub fn expectation(self, f: impl Fn(f64) -> f64) -> f64 {
        let lo = self.mean - GRID_STDS * self.std;
        let h = 2.0 * GRID_STDS * self.std / GRID_INTERVALS as f64;
        let total: f64 = (0..=GRID_INTERVALS)
            .map(|i| {
                let z = lo + h * i as f64;
                let weight = match i {
                    0 => 1.0,
                    i if i == GRID_INTERVALS => 1.0,
                    i if i % 2 == 1 => 4.0,
                    _ => 2.0,
                };
                weight * self.log_density(z).exp() * f(z)
            })
            .sum();
        total * h / 3.0
    }
}

/// p(z) = Σ_k w_k N(μ_k, σ_k²), p(x|z) = N(a z, s²).
#[derive(Clone, Debug, PartialEq)]
pub struct LatentModel {
    /// The prior's components.
    pub prior: Vec<Gaussian1d>,
    /// The likelihood's slope a.
    pub slope: f64,
    /// The likelihood's variance s².
    pub noise_var: f64,
}

impl LatentModel {
    /// log p(x|z).
    #[must_use]
    pub fn log_likelihood(&self, x: f64, z: f64) -> f64 {
        log_normal(x, self.slope * z, self.noise_var)
    }

    /// log p(z).
    #[must_use]
    pub fn log_prior(&self, z: f64) -> f64 {
        mixture_log_density(&self.prior, z)
    }

    /// log p(x, z).
    #[must_use]
    pub fn log_joint(&self, x: f64, z: f64) -> f64 {
        self.log_likelihood(x, z) + self.log_prior(z)
    }

    /// The evidence log p(x), in closed form.
    #[must_use]
    pub fn log_evidence(&self, x: f64) -> f64 {
        let terms: Vec<f64> = self
            .prior
            .iter()
            .map(|c| c.weight.ln() + self.component_evidence(*c, x))
            .collect();
        log_sum_exp(&terms)
    }

    fn component_evidence(&self, c: Gaussian1d, x: f64) -> f64 {
        log_normal(x, self.slope * c.mean, self.slope * self.slope * c.var + self.noise_var)
    }

    /// The exact posterior p(z|x), a mixture with one component per prior component.
    #[must_use]
    pub fn posterior(&self, x: f64) -> Vec<Gaussian1d> {
        let log_weights: Vec<f64> = self
            .prior
            .iter()
            .map(|c| c.weight.ln() + self.component_evidence(*c, x))
            .collect();
        let norm = log_sum_exp(&log_weights);
        self.prior
            .iter()
            .zip(&log_weights)
            .map(|(c, log_w)| {
                let var = 1.0 / (1.0 / c.var + self.slope * self.slope / self.noise_var);
                Gaussian1d {
                    weight: (log_w - norm).exp(),
                    mean: var * (c.mean / c.var + self.slope * x / self.noise_var),
                    var,
                }
            })
            .collect()
    }

    /// The ELBO E_q[log p(x, z) − log q(z)].
    #[must_use]
    pub fn elbo(&self, x: f64, q: GaussianQ) -> f64 {
        q.expectation(|z| self.log_joint(x, z) - q.log_density(z))
    }

    /// KL(q ‖ p(z|x)) = E_q[log q(z) − log p(z|x)].
    #[must_use]
    pub fn kl_to_posterior(&self, x: f64, q: GaussianQ) -> f64 {
        let posterior = self.posterior(x);
        q.expectation(|z| q.log_density(z) - mixture_log_density(&posterior, z))
    }

    /// The posterior's mean and standard deviation.
    #[must_use]
    pub fn posterior_moments(&self, x: f64) -> (f64, f64) {
        let posterior = self.posterior(x);
        let mean: f64 = posterior.iter().map(|c| c.weight * c.mean).sum();
        let second: f64 = posterior.iter().map(|c| c.weight * (c.var + c.mean * c.mean)).sum();
        (mean, (second - mean * mean).max(0.0).sqrt())
    }
}
