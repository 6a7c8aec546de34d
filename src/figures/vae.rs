//! A VAE trained live (Luo 2022, `shared/seeds/000_9adf4b751b0c0e64.txt`,
//! lines 96–164; the model is [`crate::model::vae`]): on Fashion-MNIST or on
//! the three blobs, with a 2D latent so that the latent space can be drawn.
//!
//! The figure shows the ELBO's two terms over training, the latent means of
//! held-out data coloured by class, the decoder over a grid of the latent
//! plane (a sheet of images, or a warped mesh in the data plane), and samples
//! from the prior beside a diffusion model's. It also bounds log p(x) from
//! below more tightly with importance weighting (IWAE, Burda et al. 2016):
//! log p(x) ≥ log mean_k p(x, z_k)/q(z_k|x) ≥ ELBO, the gap being what the
//! Gaussian q misses of the true posterior.

use super::Inputs;
use super::common::{self, DETERMINISTIC, STOCHASTIC, check, class_color, component_color};
use super::data::{Figure, Panel, Point, Raster, Series};
use super::error::{FigureError, Result};
use crate::data::Dataset;
use crate::data::idx::{FASHION_MNIST_CLASSES, fashion_mnist};
use crate::diffusion::sampler::{SamplerConfig, SamplerKind, build_sampler};
use crate::diffusion::{NoiseRng, Schedule};
use crate::jobs::JobContext;
use crate::model::vae::{Likelihood, Vae, VaeConfig, VaeStep};

/// What the VAE learns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VaeData {
    /// Fashion-MNIST's 60 000 training images (Debian's `dataset-fashion-mnist`).
    #[default]
    FashionMnist,
    /// Samples of the three-blob mixture.
    Blobs,
}

named_enum!(VaeData, "VAE data", [FashionMnist => "fashion-mnist", Blobs => "blobs"]);

/// The training run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// The data.
    pub data: VaeData,
    /// Training steps (batches of 128).
    pub steps: usize,
    /// Initialises the network and draws the batches.
    pub seed: u64,
}

impl Default for Setup {
    /// Fashion-MNIST, 1500 steps.
    fn default() -> Self {
        Self {
            data: VaeData::FashionMnist,
            steps: 1500,
            seed: 0,
        }
    }
}

figure_setup!(Setup, {
    data => "data": "fashion-mnist or blobs",
    steps => "steps": "training steps (batches of 128), 1 to 20000",
    seed => "seed": "initialises the network and draws the batches",
});

/// Held-out points encoded for the latent scatter.
const HELD_OUT: usize = 2000;
/// Held-out points of the importance-weighted bound, and its draws per point.
const IWAE_POINTS: usize = 200;
const IWAE_DRAWS: usize = 64;
/// Tiles per side of the decoded latent grid, over z in [−3, 3]².
const GRID_TILES: usize = 15;
/// The latent grid's half-width (3 prior standard deviations).
const GRID_EXTENT: f64 = 3.0;
/// Samples from the prior, and from the diffusion model (images).
const IMAGE_SAMPLES: usize = 16;
/// Samples from the prior (points).
const POINT_SAMPLES: usize = 1000;
/// DDIM steps of the diffusion model's samples.
const DIFFUSION_STEPS: usize = 25;
/// The Gaussian decoder's spread on the blobs (data units).
const POINT_DECODER_STD: f64 = 0.1;

/// The data, with a held-out set.
struct Data {
    train: Dataset,
    held_out: Dataset,
}

/// What the scene shows.
#[derive(Clone, Debug, PartialEq)]
pub struct VaeRun {
    /// The data it learned.
    pub data: VaeData,
    /// Every step's terms.
    pub steps: Vec<VaeStep>,
    /// Held-out latent means with their class.
    pub latents: Vec<(Point, u32)>,
    /// Classes, for the legend.
    pub class_names: Vec<String>,
    /// The decoder over the latent grid: images (rows from the top, z2 falling),
    /// or points of the data plane (one per grid node, row-major).
    pub decoded_grid: Vec<Vec<f32>>,
    /// Samples of p(z) p_θ(x|z).
    pub vae_samples: Vec<Vec<f32>>,
    /// The diffusion model's samples.
    pub diffusion_samples: Vec<Vec<f32>>,
    /// The held-out ELBO (one draw per point, averaged), nats per data point.
    pub held_out_elbo: f64,
    /// The held-out importance-weighted bound with 64 draws, on 200 points.
    pub iwae_bound: f64,
    /// The ELBO on the same 200 points, averaged over the 64 draws.
    pub iwae_points_elbo: f64,
    /// Share of held-out points whose nearest class centroid in latent space
    /// is their own class (chance: 1 / classes).
    pub latent_accuracy: f64,
    /// On the blobs: the mode weights of the VAE's samples and the diffusion
    /// model's (empty for images).
    pub vae_fractions: Vec<f64>,
    /// See [`Self::vae_fractions`].
    pub diffusion_fractions: Vec<f64>,
    /// On the blobs: the share of the VAE's samples and the diffusion model's
    /// within 3 standard deviations of a mode's mean (0 for images).
    pub vae_on_data: f64,
    /// See [`Self::vae_on_data`].
    pub diffusion_on_data: f64,
}

/// Trains the VAE, then encodes, decodes and samples.
///
/// # Errors
/// Steps outside 1..=20000; Fashion-MNIST missing (the error names the
/// package); cancelled.
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<VaeRun> {
    if !(1..=20_000).contains(&setup.steps) {
        return Err(FigureError::bad_value(
            "steps",
            &setup.steps.to_string(),
            "must be 1 to 20000",
        ));
    }
    job.report("loading the data");
    let data = load(setup.data, inputs, setup.seed)?;
    let config = match setup.data {
        VaeData::FashionMnist => VaeConfig::default(),
        VaeData::Blobs => VaeConfig {
            dims: 2,
            hidden: 64,
            likelihood: Likelihood::Gaussian { std: POINT_DECODER_STD },
            ..VaeConfig::default()
        },
    };
    let mut vae = Vae::new(config, setup.seed)?;
    let mut rng = NoiseRng::seed_from(setup.seed.wrapping_add(1));
    let mut steps = Vec::with_capacity(setup.steps);
    for step in 1..=setup.steps {
        check(job)?;
        let outcome = vae.train_step(&data.train, &mut rng)?;
        if step % 50 == 0 {
            job.report(format!(
                "training step {step} of {}: ELBO {:.2}",
                setup.steps,
                outcome.elbo()
            ));
        }
        steps.push(outcome);
    }
    job.report("encoding, decoding and sampling");
    let (latents, latent_accuracy) = encode_held_out(&vae, &data.held_out)?;
    let held_out = to_tensor(&data.held_out, HELD_OUT)?;
    let noise = rng.randn((held_out.dim(0)?, config.latent), &candle_core::Device::Cpu)?;
    let (reconstruction, kl) = vae.terms(&held_out, &noise)?;
    let held_out_elbo = mean_of(&(reconstruction - kl)?)?;
    let (iwae_bound, iwae_points_elbo) = importance_weighted(&vae, &data.held_out, &mut rng)?;
    let diffusion_samples = diffusion_samples(setup, inputs, job)?;
    let vae_samples = prior_samples(&vae, &mut rng)?;
    let (vae_fractions, vae_on_data) = point_statistics(setup.data, inputs, &vae_samples)?;
    let (diffusion_fractions, diffusion_on_data) = point_statistics(setup.data, inputs, &diffusion_samples)?;
    Ok(VaeRun {
        data: setup.data,
        steps,
        latents,
        class_names: class_names(setup.data, inputs),
        decoded_grid: decoded_grid(&vae)?,
        vae_samples,
        diffusion_samples,
        held_out_elbo,
        iwae_bound,
        iwae_points_elbo,
        latent_accuracy,
        vae_fractions,
        diffusion_fractions,
        vae_on_data,
        diffusion_on_data,
    })
}

/// On the blobs: the samples' mode weights and their share within 3
/// standard deviations of a mode; nothing for images.
fn point_statistics(kind: VaeData, inputs: &Inputs, samples: &[Vec<f32>]) -> Result<(Vec<f64>, f64)> {
    if kind != VaeData::Blobs {
        return Ok((Vec::new(), 0.0));
    }
    let points: Vec<Point> = samples.iter().map(|r| [f64::from(r[0]), f64::from(r[1])]).collect();
    Ok((
        common::mode_fractions(&inputs.mixture, &points)?,
        common::near_a_mode(&inputs.mixture, &points),
    ))
}

fn load(kind: VaeData, inputs: &Inputs, seed: u64) -> Result<Data> {
    Ok(match kind {
        VaeData::FashionMnist => Data {
            train: Dataset::from_images("fashion-mnist train", &fashion_mnist(true)?),
            held_out: Dataset::from_images("fashion-mnist test", &fashion_mnist(false)?),
        },
        VaeData::Blobs => Data {
            train: Dataset::from_mixture_samples(&inputs.mixture, 5000, seed, "the three blobs")?,
            held_out: Dataset::from_mixture_samples(&inputs.mixture, HELD_OUT, seed + 1, "the three blobs")?,
        },
    })
}

fn class_names(kind: VaeData, inputs: &Inputs) -> Vec<String> {
    match kind {
        VaeData::FashionMnist => FASHION_MNIST_CLASSES.iter().map(|s| (*s).to_owned()).collect(),
        VaeData::Blobs => (1..=inputs.mixture.components().len())
            .map(|k| format!("mode {k}"))
            .collect(),
    }
}

/// The first `rows` rows of `data` as a tensor.
fn to_tensor(data: &Dataset, rows: usize) -> Result<candle_core::Tensor> {
    let rows = rows.min(data.len());
    let values = data.rows[..rows * data.dims].to_vec();
    Ok(candle_core::Tensor::from_vec(
        values,
        (rows, data.dims),
        &candle_core::Device::Cpu,
    )?)
}

fn mean_of(x: &candle_core::Tensor) -> Result<f64> {
    Ok(f64::from(x.mean_all()?.to_scalar::<f32>()?))
}

/// Held-out latent means with labels, and the nearest-centroid accuracy.
fn encode_held_out(vae: &Vae, data: &Dataset) -> Result<(Vec<(Point, u32)>, f64)> {
    let x = to_tensor(data, HELD_OUT)?;
    let (mean, _) = vae.encode(&x)?;
    let points = common::points(&mean)?;
    let labels = data.labels.clone().unwrap_or_default();
    let latents: Vec<(Point, u32)> = points.into_iter().zip(labels).collect();
    let classes = latents.iter().map(|(_, l)| *l as usize + 1).max().unwrap_or(0);
    let mut sums = vec![[0.0, 0.0, 0.0]; classes];
    for (p, l) in &latents {
        let s = &mut sums[*l as usize];
        *s = [s[0] + p[0], s[1] + p[1], s[2] + 1.0];
    }
    let centroids: Vec<Point> = sums
        .iter()
        .map(|s| [s[0] / s[2].max(1.0), s[1] / s[2].max(1.0)])
        .collect();
    let nearest = |p: &Point| {
        centroids
            .iter()
            .enumerate()
            .min_by(|a, b| {
                let d = |c: &Point| (c[0] - p[0]).powi(2) + (c[1] - p[1]).powi(2);
                d(a.1).total_cmp(&d(b.1))
            })
            .map_or(0, |(k, _)| k)
    };
    let right = latents.iter().filter(|(p, l)| nearest(p) == *l as usize).count();
    Ok((latents.clone(), right as f64 / latents.len().max(1) as f64))
}

/// log mean_k w_k with w_k = p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q, per point, averaged;
/// and the plain ELBO averaged over the same draws.
fn importance_weighted(vae: &Vae, data: &Dataset, rng: &mut NoiseRng) -> Result<(f64, f64)> {
    let latent = vae.config().latent;
    let x = to_tensor(data, IWAE_POINTS)?;
    let (mean, log_var) = vae.encode(&x)?;
    let (mean, log_var) = (mean.to_vec2::<f32>()?, log_var.to_vec2::<f32>()?);
    let (mut bound, mut elbo) = (0.0, 0.0);
    for (i, (mu, lv)) in mean.iter().zip(&log_var).enumerate() {
        let eps: Vec<f64> = (0..IWAE_DRAWS * latent).map(|_| rng.normal()).collect();
        let z: Vec<f32> = eps
            .iter()
            .enumerate()
            .map(|(j, e)| (f64::from(mu[j % latent]) + (0.5 * f64::from(lv[j % latent])).exp() * e) as f32)
            .collect();
        let z_tensor = candle_core::Tensor::from_vec(z.clone(), (IWAE_DRAWS, latent), &candle_core::Device::Cpu)?;
        let row = x.narrow(0, i, 1)?.repeat((IWAE_DRAWS, 1))?;
        let log_px: Vec<f32> = vae.log_likelihood(&row, &z_tensor)?.to_vec1()?;
        let log_w: Vec<f64> = (0..IWAE_DRAWS)
            .map(|k| {
                let (mut prior, mut posterior) = (0.0, 0.0);
                for d in 0..latent {
                    let (zk, e, v) = (f64::from(z[k * latent + d]), eps[k * latent + d], f64::from(lv[d]));
                    prior += -0.5 * (zk * zk + (2.0 * std::f64::consts::PI).ln());
                    posterior += -0.5 * (e * e + (2.0 * std::f64::consts::PI).ln() + v);
                }
                f64::from(log_px[k]) + prior - posterior
            })
            .collect();
        let top = log_w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = log_w.iter().map(|l| (l - top).exp()).sum();
        bound += top + (sum / IWAE_DRAWS as f64).ln();
        elbo += log_w.iter().sum::<f64>() / IWAE_DRAWS as f64;
    }
    let n = mean.len().max(1) as f64;
    Ok((bound / n, elbo / n))
}

/// The latent grid's nodes, row by row from the top (z2 = +3 first).
fn grid_nodes() -> Vec<Point> {
    let at = |i: usize| -GRID_EXTENT + 2.0 * GRID_EXTENT * i as f64 / (GRID_TILES - 1) as f64;
    (0..GRID_TILES)
        .flat_map(|row| (0..GRID_TILES).map(move |col| [at(col), at(GRID_TILES - 1 - row)]))
        .collect()
}

fn decoded_grid(vae: &Vae) -> Result<Vec<Vec<f32>>> {
    Ok(vae.decode(&common::tensor(&grid_nodes())?)?.to_vec2()?)
}

/// Draws of p(z) p_θ(x|z): images show the decoder's mean (Bernoulli noise
/// would only speckle them); points add the decoder's Gaussian noise.
fn prior_samples(vae: &Vae, rng: &mut NoiseRng) -> Result<Vec<Vec<f32>>> {
    let config = vae.config();
    let n = match config.likelihood {
        Likelihood::Bernoulli => IMAGE_SAMPLES,
        Likelihood::Gaussian { .. } => POINT_SAMPLES,
    };
    let z = rng.randn((n, config.latent), &candle_core::Device::Cpu)?;
    let mut x: Vec<Vec<f32>> = vae.decode(&z)?.to_vec2()?;
    if let Likelihood::Gaussian { std } = config.likelihood {
        for v in x.iter_mut().flatten() {
            *v += (std * rng.normal()) as f32;
        }
    }
    Ok(x)
}

/// The diffusion model's samples: the shipped U-Net, one per class in turn
/// (γ = 1: the conditional model, so the classes are drawn uniformly), or
/// DDIM-50 on the blobs' exact score.
fn diffusion_samples(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<Vec<Vec<f32>>> {
    match setup.data {
        VaeData::FashionMnist => {
            let labels: Vec<u32> = (0..IMAGE_SAMPLES as u32).map(|i| i % 10).collect();
            super::image_batch::sample_unet(
                crate::model::shipped::ShippedImageModel::Epsilon,
                &labels,
                1.0,
                SamplerKind::Ddim,
                DIFFUSION_STEPS,
                setup.seed,
                job,
            )
        }
        VaeData::Blobs => {
            let config = SamplerConfig {
                kind: SamplerKind::Ddim,
                steps: 50,
                ..SamplerConfig::default()
            };
            let schedule: std::sync::Arc<Schedule> = std::sync::Arc::clone(&inputs.schedule);
            let mut sampler = build_sampler(&config, schedule)?;
            let mut rng = NoiseRng::seed_from(setup.seed);
            let start = rng.randn((POINT_SAMPLES, 2), &candle_core::Device::Cpu)?;
            let x = common::run_to_end(sampler.as_mut(), inputs.mixture.as_ref(), &start, &mut rng, job)?;
            Ok(x.to_vec2()?)
        }
    }
}

/// Steps averaged in the training curves and the final numbers.
const SMOOTHING: usize = 50;

/// Tiles `images` (square, all one size) `columns` to a row into one raster.
fn tile(name: &str, images: &[Vec<f32>], columns: usize) -> Raster {
    let side = images.first().map_or(0, |i| i.len().isqrt());
    let values: Vec<f32> = images.iter().flatten().copied().collect();
    Raster {
        name: name.to_owned(),
        width: side * columns.max(1),
        values: crate::export::tile_values(&values, side, side, columns, images.len(), -1.0),
    }
}

impl VaeRun {
    /// The mean of `f` over the last 50 steps.
    #[must_use]
    pub fn final_mean(&self, f: fn(&VaeStep) -> f64) -> f64 {
        let tail = &self.steps[self.steps.len().saturating_sub(SMOOTHING)..];
        tail.iter().map(f).sum::<f64>() / tail.len().max(1) as f64
    }

    fn training_panel(&self) -> Panel {
        let curve = |f: fn(&VaeStep) -> f64| -> Vec<Point> {
            self.steps
                .chunks(SMOOTHING)
                .map(|c| {
                    let mean = c.iter().map(f).sum::<f64>() / c.len() as f64;
                    [c.last().map_or(0.0, |s| s.step as f64), mean]
                })
                .collect()
        };
        Panel {
            title: "the ELBO's two terms over training".into(),
            x_label: "training step".into(),
            y_label: "nats per point".into(),
            series: vec![
                Series::line(
                    "reconstruction E_q[log p(x|z)]",
                    DETERMINISTIC,
                    curve(|s| s.reconstruction),
                ),
                Series::line(
                    "− prior matching KL(q(z|x) ‖ p(z))",
                    STOCHASTIC,
                    curve(|s| -s.prior_matching),
                ),
                Series::line("ELBO", [200, 200, 200], curve(VaeStep::elbo)),
            ],
            ..Panel::default()
        }
    }

    fn latent_panel(&self) -> Panel {
        let series = self
            .class_names
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let points = self
                    .latents
                    .iter()
                    .filter(|(_, l)| *l as usize == k)
                    .map(|(p, _)| *p)
                    .collect();
                let color = match self.data {
                    VaeData::FashionMnist => class_color(k),
                    VaeData::Blobs => component_color(k),
                };
                Series::points(name.clone(), color, points)
            })
            .collect();
        Panel {
            title: "the latent space: μ_φ(x) of held-out data".into(),
            x_label: "z1".into(),
            y_label: "z2".into(),
            series,
            equal_aspect: true,
            bounds: Some([[-GRID_EXTENT, -GRID_EXTENT], [GRID_EXTENT, GRID_EXTENT]]),
            ..Panel::default()
        }
    }

    /// The data plane on the blobs: the decoded latent grid as a mesh, the
    /// VAE's samples and the diffusion model's.
    fn data_plane(&self) -> Panel {
        let node = |i: usize| {
            self.decoded_grid
                .get(i)
                .map_or([0.0, 0.0], |r| [f64::from(r[0]), f64::from(r[1])])
        };
        let mut mesh: Vec<Vec<Point>> = (0..GRID_TILES)
            .map(|row| (0..GRID_TILES).map(|col| node(row * GRID_TILES + col)).collect())
            .collect();
        mesh.extend((0..GRID_TILES).map(|col| (0..GRID_TILES).map(|row| node(row * GRID_TILES + col)).collect()));
        let points = |rows: &[Vec<f32>]| -> Vec<Point> {
            rows.iter()
                .take(400)
                .map(|r| [f64::from(r[0]), f64::from(r[1])])
                .collect()
        };
        Panel::plane(
            "the data plane: decoder over the latent grid, samples",
            vec![
                Series::lines("decoded latent grid", [110, 110, 110], mesh),
                Series::points("VAE: z ~ N(0, I), x ~ p(x|z)", STOCHASTIC, points(&self.vae_samples)),
                Series::points(
                    "diffusion (exact score, DDIM-50)",
                    DETERMINISTIC,
                    points(&self.diffusion_samples),
                ),
            ],
        )
    }

    /// The latent space and the training curves; on images, the decoded grid
    /// and both models' samples as images; on the blobs, the data plane.
    #[must_use]
    pub fn figure(&self) -> Figure {
        let mut figure = Figure::default();
        match self.data {
            VaeData::FashionMnist => {
                figure.panels = vec![self.latent_panel(), self.training_panel()];
                figure.images = vec![
                    tile("the decoder over z in [−3, 3]²", &self.decoded_grid, GRID_TILES),
                    tile("VAE: samples of p(z) p(x|z)", &self.vae_samples, 4),
                    tile("diffusion: the U-Net, DDIM-25", &self.diffusion_samples, 4),
                ];
                figure.image_columns = 3;
            }
            VaeData::Blobs => {
                figure.panels = vec![self.latent_panel(), self.data_plane(), self.training_panel()];
            }
        }
        figure.number("ELBO (last 50 steps)", self.final_mean(VaeStep::elbo), "nats");
        figure.number(
            "reconstruction (last 50 steps)",
            self.final_mean(|s| s.reconstruction),
            "nats",
        );
        figure.number(
            "prior matching (last 50 steps)",
            self.final_mean(|s| s.prior_matching),
            "nats",
        );
        figure.number("held-out ELBO", self.held_out_elbo, "nats");
        figure.number("importance-weighted bound (64 draws)", self.iwae_bound, "nats");
        figure.number("ELBO on the same points", self.iwae_points_elbo, "nats");
        figure.number("latent nearest-centroid accuracy", self.latent_accuracy, "");
        if self.data == VaeData::Blobs {
            figure.number("VAE samples near a mode", self.vae_on_data, "");
            figure.number("diffusion samples near a mode", self.diffusion_on_data, "");
            for (k, w) in self.vae_fractions.iter().enumerate() {
                figure.number(format!("VAE: weight of mode {}", k + 1), *w, "");
            }
            for (k, w) in self.diffusion_fractions.iter().enumerate() {
                figure.number(format!("diffusion: weight of mode {}", k + 1), *w, "");
            }
        }
        figure
    }
}
