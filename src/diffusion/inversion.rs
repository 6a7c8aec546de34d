//! DDIM inversion and spherical interpolation of latents.
//!
//! Deterministic DDIM (η = 0) is an Euler step of the probability-flow ODE
//! (Song, Meng & Ermon 2021, §4.3, eq. 14), so it can be run the other way,
//! from data x_0 up to a latent x_T that decodes back to it:
//! x_t = √ᾱ_t x̂0 + √(1 − ᾱ_t) ε̂, with x̂0 = (x_s − √(1 − ᾱ_s) ε̂)/√ᾱ_s and
//! (x̂0, ε̂) evaluated at the current point x_s but level t, the approximation
//! ε̂(x_s, t) ≈ ε̂(x_t, t) that diffusers' `DDIMInverseScheduler` makes too.
//!
//! Latents of N(0, I) live near a sphere of radius √D, so two of them are
//! interpolated along a great circle (slerp; Song, Meng & Ermon 2021, §5.3),
//! not a straight line, whose midpoint would be atypically short.

use candle_core::Tensor;

use super::denoiser::{Denoiser, Labels, NoiseLevel};
use super::error::{Result, invalid};
use super::schedule::Schedule;

/// Runs DDIM backwards from `x0` through `timesteps` (a sampler's list,
/// descending); returns x at every level reached, lowest first, the last at
/// `timesteps[0]`.
///
/// # Errors
/// Empty or non-descending timesteps, or the model's failure.
pub fn ddim_invert(
    model: &dyn Denoiser,
    schedule: &Schedule,
    labels: Labels<'_>,
    x0: &Tensor,
    timesteps: &[usize],
) -> Result<Vec<Tensor>> {
    if timesteps.is_empty() || timesteps.windows(2).any(|w| w[0] <= w[1]) {
        return Err(invalid("inversion needs strictly descending timesteps"));
    }
    let mut x = x0.clone();
    let mut s = 0;
    let mut path = Vec::with_capacity(timesteps.len());
    for &t in timesteps.iter().rev() {
        let (ab_s, ab_t) = (schedule.alpha_bar(s), schedule.alpha_bar(t));
        let level = NoiseLevel {
            t: t as f64,
            alpha_bar: ab_t,
        };
        let out = model.predict(&x, level, labels)?;
        let eps = out.prediction.epsilon(&x, ab_t)?;
        let x0_hat = ((&x - (&eps * (1.0 - ab_s).sqrt())?)? / ab_s.sqrt())?;
        x = ((x0_hat * ab_t.sqrt())? + (eps * (1.0 - ab_t).sqrt())?)?;
        path.push(x.clone());
        s = t;
    }
    Ok(path)
}

/// The point a fraction `lambda` along the great circle from `a` to `b`
/// (row by row): sin((1−λ)θ)/sin θ · a + sin(λθ)/sin θ · b, θ the angle between them.
///
/// # Errors
/// Mismatched shapes or tensor failures.
pub fn slerp(a: &Tensor, b: &Tensor, lambda: f64) -> Result<Tensor> {
    let dot = (a * b)?.sum_keepdim(1)?;
    let norms = (a.sqr()?.sum_keepdim(1)?.sqrt()? * b.sqr()?.sum_keepdim(1)?.sqrt()?)?;
    let cos: Vec<f32> = (dot / norms)?.flatten_all()?.to_vec1()?;
    let mut rows = Vec::with_capacity(cos.len());
    for (i, c) in cos.iter().enumerate() {
        let theta = f64::from(c.clamp(-1.0, 1.0)).acos();
        let (wa, wb) = if theta.abs() < 1e-6 {
            (1.0 - lambda, lambda)
        } else {
            (
                ((1.0 - lambda) * theta).sin() / theta.sin(),
                (lambda * theta).sin() / theta.sin(),
            )
        };
        let row = ((a.narrow(0, i, 1)? * wa)? + (b.narrow(0, i, 1)? * wb)?)?;
        rows.push(row);
    }
    Ok(Tensor::cat(&rows, 0)?)
}

/// `count` (≥ 2) latents evenly spaced along the great circle from row 0 of
/// `latents` (λ = 0) to row 1 (λ = 1), as rows of one tensor.
///
/// # Errors
/// Fewer than two rows or fewer than two points, or tensor failures.
pub fn slerp_between_rows(latents: &Tensor, count: usize) -> Result<Tensor> {
    if latents.dim(0)? < 2 || count < 2 {
        return Err(invalid("interpolation needs two latents and at least two points"));
    }
    let (a, b) = (latents.narrow(0, 0, 1)?, latents.narrow(0, 1, 1)?);
    let mut rows = Vec::with_capacity(count);
    for i in 0..count {
        let lambda = i as f64 / (count - 1) as f64;
        rows.push(slerp(&a, &b, lambda)?);
    }
    Ok(Tensor::cat(&rows, 0)?)
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;
    use std::sync::Arc;

    use candle_core::Device;

    use super::*;
    use crate::diffusion::mixture::GaussianMixture;
    use crate::diffusion::sampler::{SamplerConfig, build_sampler, run_sampler};
    use crate::diffusion::{NoiseRng, ScheduleConfig};

    #[test]
    fn inverted_points_decode_back_to_themselves() {
        let mixture = GaussianMixture::from_json(
            r#"{"components": [{"mean": [-2.0, -1.0], "std": 0.4}, {"mean": [2.0, 1.0], "std": 0.4}]}"#,
            "two.json",
        )
        .unwrap();
        let schedule = Arc::new(Schedule::new(&ScheduleConfig::default()).unwrap());
        let config = SamplerConfig {
            steps: 100,
            ..SamplerConfig::default()
        };
        let mut sampler = build_sampler(&config, Arc::clone(&schedule)).unwrap();
        let mut rng = NoiseRng::seed_from(2);
        let (x0, _) = mixture.sample(64, None, &mut rng).unwrap();
        let latents = ddim_invert(&mixture, &schedule, None, &x0, sampler.timesteps()).unwrap();
        let x_t = latents.last().unwrap();
        let back = run_sampler(sampler.as_mut(), &mixture, None, x_t, &mut rng, |_| {
            ControlFlow::Continue(())
        })
        .unwrap()
        .unwrap();
        let error: f32 = (back - &x0)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar()
            .unwrap();
        assert!(error < 0.05, "round trip off by {error}");
        // The latent is Gaussian-sized: mean square ≈ 1 per dimension.
        let power: f32 = x_t.sqr().unwrap().mean_all().unwrap().to_scalar().unwrap();
        assert!((0.6..1.6).contains(&power), "latent power {power}");
    }

    #[test]
    fn slerp_keeps_the_norm_between_orthogonal_latents() {
        let a = Tensor::from_vec(vec![3.0_f32, 0.0], (1, 2), &Device::Cpu).unwrap();
        let b = Tensor::from_vec(vec![0.0_f32, 3.0], (1, 2), &Device::Cpu).unwrap();
        let mid: Vec<f32> = slerp(&a, &b, 0.5).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let half = 3.0 / 2.0_f32.sqrt();
        assert!((mid[0] - half).abs() < 1e-5 && (mid[1] - half).abs() < 1e-5, "{mid:?}");
        let start: Vec<f32> = slerp(&a, &b, 0.0).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(start, vec![3.0, 0.0]);
    }
}
