//! Inpainting by replacement: the known part of x_0 is kept at every step.
//!
//! Sohl-Dickstein et al. (2015, §2.5 and Fig. 5) condition a diffusion model by
//! multiplying its reverse kernels with a second distribution; for "these pixels
//! are known" that distribution is a delta on the known pixels, and the product
//! amounts to overwriting them after every reverse step with a fresh draw from
//! q(x_s | x_0) = N(√ᾱ_s x_0, (1 − ᾱ_s) I), as Song et al. 2021 (score SDE,
//! App. I.2) and RePaint's basic step do. The unknown pixels are left to the
//! sampler, which fills them in consistently with what it keeps seeing.

use std::ops::ControlFlow;

use candle_core::Tensor;

use super::denoiser::{Denoiser, Labels};
use super::error::Result;
use super::noise::NoiseRng;
use super::sampler::{Sampler, StepOutput, add_noise};

/// What part of x_0 is known.
#[derive(Clone, Debug)]
pub struct Known {
    /// x_0 itself (only its known entries matter), shaped like the samples.
    pub x0: Tensor,
    /// 1 where x_0 is known, 0 where it is to be filled in (same shape, f32).
    pub mask: Tensor,
}

/// Runs `sampler` from `x_start`, overwriting the known entries after every
/// step; `on_step` sees each step after the overwrite. Returns the final
/// sample, or `None` if `on_step` broke off.
///
/// # Errors
/// The first failing step's error, or shapes of `known` that do not match.
pub fn run_inpainting(
    sampler: &mut dyn Sampler,
    model: &dyn Denoiser,
    labels: Labels<'_>,
    known: &Known,
    x_start: &Tensor,
    rng: &mut NoiseRng,
    mut on_step: impl FnMut(&StepOutput) -> ControlFlow<()>,
) -> Result<Option<Tensor>> {
    let unknown = (1.0 - &known.mask)?;
    let mut x = x_start.clone();
    for index in 0..sampler.timesteps().len() {
        let mut out = sampler.step(model, labels, index, &x, rng)?;
        let noise = rng.randn_like(&known.x0)?;
        let known_now = add_noise(sampler.schedule(), &known.x0, &noise, out.t_next)?;
        out.x_next = ((&known_now * &known.mask)? + (&out.x_next * &unknown)?)?;
        if on_step(&out).is_break() {
            return Ok(None);
        }
        x = out.x_next;
    }
    Ok(Some(x))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use candle_core::Device;

    use super::*;
    use crate::diffusion::mixture::GaussianMixture;
    use crate::diffusion::sampler::{SamplerConfig, SamplerKind, build_sampler};
    use crate::diffusion::{Schedule, ScheduleConfig};

    #[test]
    fn a_known_coordinate_picks_the_component_it_belongs_to() {
        // Two blobs at (−2, −1) and (2, 1.5); x is known to be 2: y must come from
        // the second blob, N(1.5, 0.3²), and x must stay exactly 2.
        let mixture = GaussianMixture::from_json(
            r#"{"components": [
                {"mean": [-2.0, -1.0], "std": 0.3, "weight": 0.8},
                {"mean": [2.0, 1.5], "std": 0.3, "weight": 0.2}]}"#,
            "two.json",
        )
        .unwrap();
        let n = 2000;
        let schedule = Arc::new(Schedule::new(&ScheduleConfig::default()).unwrap());
        let config = SamplerConfig {
            kind: SamplerKind::Ddpm,
            steps: 200,
            ..SamplerConfig::default()
        };
        let mut sampler = build_sampler(&config, schedule).unwrap();
        let x0 = Tensor::from_vec([2.0_f32, 0.0].repeat(n), (n, 2), &Device::Cpu).unwrap();
        let mask = Tensor::from_vec([1.0_f32, 0.0].repeat(n), (n, 2), &Device::Cpu).unwrap();
        let mut rng = NoiseRng::seed_from(3);
        let start = rng.randn((n, 2), &Device::Cpu).unwrap();
        let known = Known { x0, mask };
        let out = run_inpainting(sampler.as_mut(), &mixture, None, &known, &start, &mut rng, |_| {
            ControlFlow::Continue(())
        })
        .unwrap()
        .unwrap();
        let rows: Vec<Vec<f32>> = out.to_vec2().unwrap();
        assert!(rows.iter().all(|r| (r[0] - 2.0).abs() < 1e-6));
        let ys: Vec<f64> = rows.iter().map(|r| f64::from(r[1])).collect();
        let mean = ys.iter().sum::<f64>() / ys.len() as f64;
        let std = (ys.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / ys.len() as f64).sqrt();
        assert!((mean - 1.5).abs() < 0.1, "mean y {mean}");
        assert!((std / 0.3 - 1.0).abs() < 0.25, "std y {std}");
    }
}
