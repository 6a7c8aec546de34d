//! The image-batch scene without a window: a batch sampled from a shipped
//! class-conditional Fashion-MNIST U-Net (ε-prediction, or flow matching
//! through its conversion to ε) with classifier-free guidance (Ho & Salimans
//! 2022, eq. 6), x̂0 clipped to [−1, 1] as diffusers does.

use std::sync::Arc;

use super::data::{Figure, Raster};
use super::error::{FigureError, Result};
use crate::data::idx::FASHION_MNIST_CLASSES;
use crate::diffusion::guidance::{GuidanceConfig, GuidanceKind, Guided};
use crate::diffusion::sampler::{SamplerConfig, SamplerKind, build_sampler, run_sampler};
use crate::diffusion::{NoiseRng, Schedule};
use crate::jobs::JobContext;
use crate::model::shipped::ShippedImageModel;

/// What is sampled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Setup {
    /// Which shipped U-Net samples.
    pub model: ShippedImageModel,
    /// The Fashion-MNIST class, 0 (T-shirt/top) to 9 (ankle boot).
    pub class: u32,
    /// Classifier-free guidance's γ (1: the plain conditional model).
    pub gamma: f64,
    /// The sampler.
    pub sampler: SamplerKind,
    /// Its steps.
    pub steps: usize,
    /// Images in the batch.
    pub batch: usize,
    /// Draws x_T and the noise.
    pub seed: u64,
}

impl Default for Setup {
    /// 16 sneakers, DDIM-50, γ = 3.
    fn default() -> Self {
        Self {
            model: ShippedImageModel::Epsilon,
            class: 7,
            gamma: 3.0,
            sampler: SamplerKind::Ddim,
            steps: 50,
            batch: 16,
            seed: 42,
        }
    }
}

figure_setup!(Setup, {
    model => "model": "unet (ε-prediction) or flow-unet (flow matching)",
    class => "class": "the Fashion-MNIST class, 0 to 9",
    gamma => "gamma": "classifier-free guidance's γ",
    sampler => "sampler": "ddim, ddpm, euler-ode, heun-ode, reverse-sde, dpm-solver++",
    steps => "steps": "sampling steps",
    batch => "batch": "images sampled, 1 to 64",
    seed => "seed": "draws x_T and the noise",
});

/// The batch, one image per sample.
///
/// # Errors
/// A class past 9; a batch outside 1..=64; cancelled.
pub fn figure(setup: &Setup, job: &JobContext) -> Result<Figure> {
    let name = FASHION_MNIST_CLASSES
        .get(setup.class as usize)
        .ok_or_else(|| FigureError::bad_value("class", &setup.class.to_string(), "must be 0 to 9"))?;
    if !(1..=64).contains(&setup.batch) {
        return Err(FigureError::bad_value(
            "batch",
            &setup.batch.to_string(),
            "must be 1 to 64",
        ));
    }
    let labels = vec![setup.class; setup.batch];
    let rows = sample_unet(
        setup.model,
        &labels,
        setup.gamma,
        setup.sampler,
        setup.steps,
        setup.seed,
        job,
    )?;
    let dims = rows.first().map_or(0, Vec::len);
    let mut figure = Figure {
        image_columns: 8,
        ..Figure::default()
    };
    let mean: f64 = rows.iter().flatten().map(|v| f64::from(*v)).sum::<f64>() / (setup.batch * dims) as f64;
    figure.images = rows
        .into_iter()
        .enumerate()
        .map(|(i, values)| Raster {
            name: format!("{name} {}", i + 1),
            width: dims.isqrt(),
            values,
        })
        .collect();
    figure.number("mean pixel value", mean, "[−1, 1]");
    Ok(figure)
}

/// Images sampled from a shipped U-Net, one per label (classifier-free
/// guidance at `gamma`; 1 is the plain conditional model), rows in [−1, 1].
///
/// # Errors
/// The shipped model does not load; a sampler failure; cancelled.
pub fn sample_unet(
    model: ShippedImageModel,
    labels: &[u32],
    gamma: f64,
    kind: SamplerKind,
    steps: usize,
    seed: u64,
    job: &JobContext,
) -> Result<Vec<Vec<f32>>> {
    let net = model.load()?;
    let schedule = Arc::new(Schedule::new(&net.config().schedule)?);
    let config = SamplerConfig {
        kind,
        steps,
        clip_sample: true,
        ..SamplerConfig::default()
    };
    let mut sampler = build_sampler(&config, schedule)?;
    let guidance = GuidanceConfig {
        kind: GuidanceKind::ClassifierFree,
        scale: gamma,
        ..GuidanceConfig::default()
    };
    let guided = Guided::new(&net, None, guidance)?;
    let mut rng = NoiseRng::seed_from(seed);
    let dims = net.config().sample_dims();
    let start = rng.randn((labels.len(), dims), &candle_core::Device::Cpu)?;
    let total = sampler.timesteps().len();
    let x = run_sampler(sampler.as_mut(), &guided, Some(labels), &start, &mut rng, |out| {
        job.report(format!("step {} of {total}", out.index + 1));
        job.keep_going()
    })?
    .ok_or(FigureError::Cancelled)?;
    Ok(x.to_vec2()?)
}
