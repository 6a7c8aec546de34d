//! The variance-exploding process of NCSN (Song & Ermon 2019) on the exact
//! mixture, and its tie to the variance-preserving one (Luo 2022,
//! `shared/seeds/000_9adf4b751b0c0e64.txt`, lines 790–824).
//!
//! VE perturbs data by adding noise: x̃ = x + σ ε, so p_σ = p ∗ N(0, σ² I). For
//! a mixture of isotropic Gaussians the convolution is exact: each component's
//! variance s_k² grows to s_k² + σ² ([`ve_mixture`]). The VP process is the VE
//! one scaled, path by path: with ᾱ = 1/(1 + σ²), √ᾱ (x + σ ε) = √ᾱ x + √(1−ᾱ) ε
//! ([`vp_alpha_bar`]), so one noise-conditional network serves both.

use super::common;
use super::data::Point;
use super::error::Result;
use crate::diffusion::NoiseRng;
use crate::diffusion::mixture::{Component, GaussianMixture};
use crate::jobs::JobContext;

/// σ_1 > σ_2 > … > σ_L, geometric from `max` down to `min` (Song & Ermon §4.2).
#[must_use]
pub fn geometric_sigmas(max: f64, min: f64, levels: usize) -> Vec<f64> {
    let steps = levels.saturating_sub(1).max(1) as f64;
    (0..levels).map(|i| max * (min / max).powf(i as f64 / steps)).collect()
}

/// p_σ = p ∗ N(0, σ² I) of an isotropic mixture: every component widened to
/// √(s_k² + σ²). Its score at ᾱ = 1 is ∇log p_σ.
///
/// # Errors
/// A non-finite σ.
pub fn ve_mixture(mixture: &GaussianMixture, sigma: f64) -> Result<GaussianMixture> {
    let widened = mixture
        .components()
        .iter()
        .map(|c| Component {
            std: c.std.hypot(sigma),
            ..c.clone()
        })
        .collect();
    Ok(GaussianMixture::new(widened)?)
}

/// The VP level with the same signal-to-noise ratio as VE's σ: ᾱ = 1/(1 + σ²).
#[must_use]
pub fn vp_alpha_bar(sigma: f64) -> f64 {
    1.0 / (1.0 + sigma * sigma)
}

/// The variance of the first coordinate under the mixture.
#[must_use]
pub fn first_coordinate_variance(mixture: &GaussianMixture) -> f64 {
    let components = mixture.components();
    let mean: f64 = components.iter().map(|c| c.weight * c.mean[0]).sum();
    let second: f64 = components
        .iter()
        .map(|c| c.weight * (c.std * c.std + c.mean[0] * c.mean[0]))
        .sum();
    second - mean * mean
}

/// Annealed Langevin dynamics (Song & Ermon, Algorithm 1) on the exact p_σ:
/// at each σ_i, `steps` updates x ← x + (α_i/2) ∇log p_σi(x) + √α_i z with
/// α_i = ε σ_i² / σ_L². Returns the particles before the first level and after each.
///
/// # Errors
/// Tensor failures; cancelled.
pub fn annealed_langevin(
    mixture: &GaussianMixture,
    sigmas: &[f64],
    epsilon: f64,
    steps: usize,
    start: &[Point],
    rng: &mut NoiseRng,
    job: &JobContext,
) -> Result<Vec<Vec<Point>>> {
    let last = sigmas.last().copied().unwrap_or(1.0);
    let mut frames = vec![start.to_vec()];
    let mut x = start.to_vec();
    for &sigma in sigmas {
        common::check(job)?;
        let step = epsilon * (sigma / last).powi(2);
        x = langevin(&ve_mixture(mixture, sigma)?, step, steps, x, rng)?;
        frames.push(x.clone());
    }
    Ok(frames)
}

/// `steps` Langevin updates of step size `step` on `density`'s exact score.
///
/// # Errors
/// Tensor failures.
pub fn langevin(
    density: &GaussianMixture,
    step: f64,
    steps: usize,
    mut x: Vec<Point>,
    rng: &mut NoiseRng,
) -> Result<Vec<Point>> {
    let noise_scale = step.sqrt();
    for _ in 0..steps {
        let score = common::points(&density.score(&common::tensor_f64(&x)?, 1.0, None)?)?;
        for (p, s) in x.iter_mut().zip(&score) {
            p[0] += 0.5 * step * s[0] + noise_scale * rng.normal();
            p[1] += 0.5 * step * s[1] + noise_scale * rng.normal();
        }
    }
    Ok(x)
}

/// Forward VE paths of the first coordinate: x(σ_j) = x0 + W(σ_j²), a Brownian
/// motion in σ² sampled at `sigmas` (rising), with x(0) = x0. Row i is path i.
#[must_use]
pub fn ve_paths(x0: &[f64], sigmas: &[f64], rng: &mut NoiseRng) -> Vec<Vec<f64>> {
    x0.iter()
        .map(|&start| {
            let (mut x, mut previous) = (start, 0.0_f64);
            sigmas
                .iter()
                .map(|&sigma| {
                    // Independent increments: Var[x(σ_j) − x(σ_{j−1})] = σ_j² − σ_{j−1}².
                    x += (sigma * sigma - previous * previous).max(0.0).sqrt() * rng.normal();
                    previous = sigma;
                    x
                })
                .collect()
        })
        .collect()
}

/// E_{x~p}‖∇log p(x)‖² by Monte Carlo on `points` draws: how steep the score
/// is where the data are (it diverges as σ → 0 for data on a manifold).
///
/// # Errors
/// Tensor failures.
pub fn mean_squared_score(density: &GaussianMixture, points: usize, rng: &mut NoiseRng) -> Result<f64> {
    let (x, _) = density.sample(points, None, rng)?;
    let x = x.to_dtype(candle_core::DType::F64)?;
    let score = common::points(&density.score(&x, 1.0, None)?)?;
    Ok(score.iter().map(|s| s[0] * s[0] + s[1] * s[1]).sum::<f64>() / points.max(1) as f64)
}
