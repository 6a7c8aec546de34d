//! DDIM inversion on images with the shipped U-Net: two Fashion-MNIST images
//! go up to their latents x_T and come back, and latents slerped between them
//! decode to images along the way (Song, Meng & Ermon 2021, §5.3).

use std::sync::Arc;

use candle_core::{Device, Tensor};

use super::common;
use super::data::{Figure, Raster};
use super::error::{FigureError, Result};
use crate::assets::sample_images_gray;
use crate::diffusion::inversion::{ddim_invert, slerp_between_rows};
use crate::diffusion::sampler::{SamplerConfig, build_sampler};
use crate::diffusion::{NoiseRng, Schedule};
use crate::jobs::JobContext;

/// DDIM steps each way.
pub const STEPS: usize = 50;
/// Decoded latents, the two round trips included.
const INTERPOLANTS: usize = 7;

/// The images of one inversion.
#[derive(Clone, Debug, PartialEq)]
pub struct Inverted {
    /// A, then the decoded interpolants (the first and last are A and B back), then B.
    pub row: Vec<(String, Vec<f32>)>,
    /// RMS per pixel of A's and B's round trips.
    pub round_trip: [f64; 2],
}

fn rms(a: &[f32], b: &[f32]) -> f64 {
    let sum: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum();
    (sum / a.len().max(1) as f64).sqrt()
}

/// Inverts sample images `pair.0` and `pair.1`, decodes them and the slerped latents.
///
/// # Errors
/// An image number past the shipped ten; cancelled.
pub fn compute(pair: (usize, usize), job: &JobContext) -> Result<Inverted> {
    let images = sample_images_gray();
    let pick = |key: &str, i: usize| {
        images
            .get(i)
            .cloned()
            .ok_or_else(|| FigureError::bad_value(key, &i.to_string(), "must be 0 to 9"))
    };
    let ((name_a, a), (name_b, b)) = (pick("a", pair.0)?, pick("b", pair.1)?);
    let net = crate::model::shipped::fashion_mnist()?;
    let schedule = Arc::new(Schedule::new(&net.config().schedule)?);
    let config = SamplerConfig {
        steps: STEPS,
        ..SamplerConfig::default()
    };
    let mut sampler = build_sampler(&config, schedule)?;
    let x0 = Tensor::from_vec([a.clone(), b.clone()].concat(), (2, a.len()), &Device::Cpu)?;
    job.report("inverting A and B…");
    // Unconditional (the null class): the latents carry everything.
    let levels = ddim_invert(&net, sampler.schedule(), None, &x0, sampler.timesteps())?;
    let latent = levels
        .last()
        .ok_or_else(|| FigureError::Other("the inversion visited no level".into()))?;
    let start = slerp_between_rows(latent, INTERPOLANTS)?;
    job.report("decoding the interpolated latents…");
    let mut rng = NoiseRng::seed_from(0);
    let decoded = common::run_to_end(sampler.as_mut(), &net, &start, &mut rng, job)?;
    let decoded: Vec<Vec<f32>> = decoded.to_vec2()?;
    let round_trip = [rms(&decoded[0], &a), rms(&decoded[INTERPOLANTS - 1], &b)];
    let mut row = vec![(format!("A: {name_a}"), a)];
    for (i, image) in decoded.into_iter().enumerate() {
        let name = match i {
            0 => "A back".to_owned(),
            i if i == INTERPOLANTS - 1 => "B back".to_owned(),
            i => format!("λ = {:.2}", i as f64 / (INTERPOLANTS - 1) as f64),
        };
        row.push((name, image));
    }
    row.push((format!("B: {name_b}"), b));
    Ok(Inverted { row, round_trip })
}

impl Inverted {
    /// The row of images and the two round trips.
    #[must_use]
    pub fn figure(&self) -> Figure {
        let images = self
            .row
            .iter()
            .map(|(name, values)| Raster {
                name: name.clone(),
                width: values.len().isqrt(),
                values: values.clone(),
            })
            .collect();
        let mut figure = Figure {
            images,
            image_columns: INTERPOLANTS + 2,
            ..Figure::default()
        };
        figure.number("A's round trip", self.round_trip[0], "RMS per pixel");
        figure.number("B's round trip", self.round_trip[1], "RMS per pixel");
        figure
    }
}
