//! Memorization. The optimal denoiser of a finite training set (the
//! "empirical" denoiser, E[x0 | x_t] over the training images) can only
//! reproduce them: its samples are copies. The trained U-Net, by contrast,
//! makes new images: their nearest training image is about as far away as a
//! held-out test image's is. Distances are RMS per pixel in [−1, 1] units.

use std::sync::Arc;

use candle_core::{Device, Tensor};

use super::common;
use super::data::{Figure, Raster};
use super::error::{FigureError, Result};
use crate::data::idx::{LabelledImages, fashion_mnist};
use crate::diffusion::guidance::{GuidanceConfig, GuidanceKind, Guided};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{SamplerConfig, build_sampler, sample_from_noise};
use crate::diffusion::{Denoiser, NoiseRng, Schedule};
use crate::jobs::JobContext;

/// Samples per model.
pub const SAMPLES: usize = 6;
/// Training images the empirical denoiser memorizes.
const MEMORIZED: usize = 500;

/// Which class is sampled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// The Fashion-MNIST class, 0 (T-shirt/top) to 9 (ankle boot).
    pub class: u32,
    /// Draws the samples' x_T and noise.
    pub seed: u64,
}

impl Default for Setup {
    /// Class 0 (T-shirt/top).
    fn default() -> Self {
        Self { class: 0, seed: 1 }
    }
}

figure_setup!(Setup, {
    class => "class": "the Fashion-MNIST class, 0 to 9",
    seed => "seed": "draws the samples",
});

/// Samples, their nearest training images and distances, for one source.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Where the images come from.
    pub name: String,
    /// The images, grey values in [−1, 1].
    pub samples: Vec<Vec<f32>>,
    /// The nearest training image of each.
    pub nearest: Vec<Vec<f32>>,
    /// RMS distance per pixel to it.
    pub distances: Vec<f64>,
}

impl Row {
    /// The mean distance to the nearest training image.
    #[must_use]
    pub fn mean_distance(&self) -> f64 {
        self.distances.iter().sum::<f64>() / self.distances.len().max(1) as f64
    }
}

/// The three rows: the empirical denoiser's samples, the U-Net's, held-out images.
#[derive(Clone, Debug, PartialEq)]
pub struct Memorization {
    /// The class sampled.
    pub class: u32,
    /// Empirical denoiser, U-Net, held-out test images.
    pub rows: Vec<Row>,
}

fn signed_rows(images: &LabelledImages, pick: impl Fn(usize) -> bool, limit: usize) -> (Vec<Vec<f64>>, Vec<u32>) {
    (0..images.len())
        .filter(|&i| pick(i))
        .take(limit)
        .map(|i| (images.image_signed(i), u32::from(images.labels[i])))
        .unzip()
}

/// The nearest row of `train` ([n, D]) to each row of `queries`, and the RMS distance.
fn nearest(queries: &[Vec<f32>], train: &Tensor) -> Result<Vec<(usize, f64)>> {
    let dims = train.dim(1)?;
    let q = Tensor::from_vec(queries.concat(), (queries.len(), dims), &Device::Cpu)?;
    // ‖q − x‖² = ‖q‖² − 2 q·x + ‖x‖², as one matmul.
    let cross = q.matmul(&train.t()?)?;
    let train_sq = train.sqr().and_then(|s| s.sum(1))?;
    let query_sq = q.sqr().and_then(|s| s.sum_keepdim(1))?;
    let squared = (cross * -2.0)
        .and_then(|c| c.broadcast_add(&train_sq))
        .and_then(|c| c.broadcast_add(&query_sq))?;
    let rows: Vec<Vec<f32>> = squared.to_vec2()?;
    let per_pixel = dims as f64;
    Ok(rows
        .iter()
        .map(|row| {
            let (i, d) = row
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(b.1))
                .map_or((0, 0.0), |(i, d)| (i, *d));
            (i, (f64::from(d.max(0.0)) / per_pixel).sqrt())
        })
        .collect())
}

fn row_of(name: &str, samples: Vec<Vec<f32>>, train: &Tensor) -> Result<Row> {
    let found = nearest(&samples, train)?;
    let nearest = found
        .iter()
        .map(|(i, _)| train.get(*i).and_then(|r| r.to_vec1()).map_err(FigureError::from))
        .collect::<Result<_>>()?;
    Ok(Row {
        name: name.to_owned(),
        samples,
        nearest,
        distances: found.iter().map(|(_, d)| *d).collect(),
    })
}

fn sample(model: &dyn Denoiser, schedule: Arc<Schedule>, class: u32, seed: u64) -> Result<Vec<Vec<f32>>> {
    let config = SamplerConfig {
        clip_sample: true,
        ..SamplerConfig::default()
    };
    let mut sampler = build_sampler(&config, schedule)?;
    let labels = vec![class; SAMPLES];
    let mut rng = NoiseRng::seed_from(seed);
    let x = sample_from_noise(sampler.as_mut(), model, Some(&labels), &[SAMPLES, 784], &mut rng)?;
    Ok(x.to_vec2()?)
}

fn to_tensor(rows: &[Vec<f64>]) -> Result<Tensor> {
    let flat: Vec<f32> = rows.iter().flatten().map(|v| *v as f32).collect();
    Ok(Tensor::from_vec(
        flat,
        (rows.len(), rows.first().map_or(0, Vec::len)),
        &Device::Cpu,
    )?)
}

/// Samples of the empirical denoiser and of the U-Net, and held-out test
/// images, each beside its nearest training image.
///
/// # Errors
/// Fashion-MNIST missing (Debian's `dataset-fashion-mnist`); cancelled.
pub fn compute(setup: &Setup, job: &JobContext) -> Result<Memorization> {
    let class = setup.class;
    if class >= 10 {
        return Err(FigureError::bad_value("class", &class.to_string(), "must be 0 to 9"));
    }
    let train = fashion_mnist(true)?;
    let test = fashion_mnist(false)?;
    // The empirical denoiser memorizes the first training images of every class.
    let (memorized, labels) = signed_rows(&train, |_| true, MEMORIZED);
    let empirical = GaussianMixture::empirical(&memorized, Some(&labels))?;
    let net = crate::model::shipped::fashion_mnist()?;
    let schedule = Arc::new(Schedule::new(&net.config().schedule)?);
    job.report("sampling the empirical denoiser…");
    let copies = sample(&empirical, Arc::clone(&schedule), class, setup.seed)?;
    common::check(job)?;
    let guided = Guided::new(
        &net,
        None,
        GuidanceConfig {
            kind: GuidanceKind::ClassifierFree,
            scale: 3.0,
            ..GuidanceConfig::default()
        },
    )?;
    job.report("sampling the U-Net…");
    let made = sample(&guided, schedule, class, setup.seed)?;
    common::check(job)?;
    let (all_train, _) = signed_rows(&train, |_| true, usize::MAX);
    let all_train = to_tensor(&all_train)?;
    let (held_out, _) = signed_rows(&test, |i| u32::from(test.labels[i]) == class, SAMPLES);
    let held_out: Vec<Vec<f32>> = held_out.iter().map(|r| r.iter().map(|v| *v as f32).collect()).collect();
    let rows = vec![
        row_of(
            &format!("empirical denoiser of {MEMORIZED} training images"),
            copies,
            &to_tensor(&memorized)?,
        )?,
        row_of(
            "the trained U-Net (γ = 3), against all 60 000 training images",
            made,
            &all_train,
        )?,
        row_of(
            "held-out test images, against all 60 000 training images",
            held_out,
            &all_train,
        )?,
    ];
    Ok(Memorization { class, rows })
}

impl Memorization {
    /// Each row's images above their nearest training images, and the mean distances.
    #[must_use]
    pub fn figure(&self) -> Figure {
        let mut figure = Figure {
            image_columns: SAMPLES,
            ..Figure::default()
        };
        for (name, row) in ["empirical denoiser", "U-Net", "held-out"].iter().zip(&self.rows) {
            figure.number(format!("{name}: mean distance"), row.mean_distance(), "RMS per pixel");
            for (i, image) in row.samples.iter().enumerate() {
                figure.images.push(Raster {
                    name: format!("{name} {}", i + 1),
                    width: 28,
                    values: image.clone(),
                });
            }
            for (image, distance) in row.nearest.iter().zip(&row.distances) {
                figure.images.push(Raster {
                    name: format!("nearest: {distance:.3}"),
                    width: 28,
                    values: image.clone(),
                });
            }
        }
        figure
    }
}
