//! Inpainting with the shipped U-Net (Sohl-Dickstein et al. 2015, §2.5): part
//! of a Fashion-MNIST image is hidden, the known pixels are overwritten with a
//! fresh draw from q(x_s | x_0) after every DDPM step, and the model fills in
//! the rest. Beside it, free samples of the same class show how much the known
//! pixels constrain the hidden ones.

use std::ops::ControlFlow;
use std::sync::Arc;

use candle_core::{Device, Tensor};

use super::data::{Figure, Raster};
use super::error::{FigureError, Result};
use crate::assets::sample_images_gray;
use crate::diffusion::inpaint::{Known, run_inpainting};
use crate::diffusion::sampler::{SamplerConfig, SamplerKind, build_sampler};
use crate::diffusion::{NoiseRng, Schedule};
use crate::jobs::JobContext;

/// Inpainted samples, and as many free ones.
pub const SAMPLES: usize = 4;
/// DDPM steps.
const STEPS: usize = 50;
/// Frames of the first sample kept for the strip.
pub const STRIP: [usize; 6] = [0, 10, 20, 30, 40, 50];
/// Pixels per side.
const SIDE: usize = 28;

/// Which pixels are hidden.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Hidden {
    /// Columns 14 to 27.
    #[default]
    RightHalf,
    /// Rows 14 to 27.
    BottomHalf,
    /// The 14 × 14 square in the middle.
    Centre,
}

named_enum!(Hidden, "hidden region", [RightHalf => "right-half", BottomHalf => "bottom-half", Centre => "centre"]);

impl Hidden {
    /// Each region with its control's label.
    pub const LABELLED: [(Self, &'static str); 3] = [
        (Self::RightHalf, "hide the right half"),
        (Self::BottomHalf, "hide the bottom half"),
        (Self::Centre, "hide the centre"),
    ];

    fn hides(self, row: usize, col: usize) -> bool {
        match self {
            Self::RightHalf => col >= SIDE / 2,
            Self::BottomHalf => row >= SIDE / 2,
            Self::Centre => (7..21).contains(&row) && (7..21).contains(&col),
        }
    }

    /// 1 where known, 0 where hidden.
    fn mask(self) -> Vec<f32> {
        (0..SIDE * SIDE)
            .map(|i| if self.hides(i / SIDE, i % SIDE) { 0.0 } else { 1.0 })
            .collect()
    }
}

/// Which image, which pixels hidden.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// The shipped sample image (0 = T-shirt … 9 = ankle boot), also the class sampled.
    pub image: usize,
    /// The hidden pixels.
    pub hidden: Hidden,
    /// Draws x_T and the noise.
    pub seed: u64,
}

impl Default for Setup {
    /// The T-shirt's right half hidden.
    fn default() -> Self {
        Self {
            image: 0,
            hidden: Hidden::RightHalf,
            seed: 1,
        }
    }
}

figure_setup!(Setup, {
    image => "image": "the sample image, 0 (T-shirt) to 9 (ankle boot)",
    hidden => "hidden": "right-half, bottom-half or centre",
    seed => "seed": "draws x_T and the noise",
});

/// The images of one inpainting run.
#[derive(Clone, Debug, PartialEq)]
pub struct Inpainted {
    /// The image.
    pub original: Vec<f32>,
    /// The original with hidden pixels as NaN.
    pub shown_known: Vec<f32>,
    /// The first sample at the steps of [`STRIP`].
    pub strip: Vec<Vec<f32>>,
    /// The inpainted samples.
    pub inpainted: Vec<Vec<f32>>,
    /// Free samples of the class.
    pub free: Vec<Vec<f32>>,
    /// max |x − x0| over the known pixels of the inpainted samples.
    pub known_max_diff: f64,
    /// RMS error over the hidden pixels against the original.
    pub inpainted_error: f64,
    /// The same for the free samples.
    pub free_error: f64,
}

/// Runs the U-Net on `SAMPLES` inpainted rows and `SAMPLES` free rows (mask 0) at once.
///
/// # Errors
/// An image number past the shipped ten; cancelled.
pub fn compute(setup: &Setup, job: &JobContext) -> Result<Inpainted> {
    let images = sample_images_gray();
    let (_, original) = images
        .get(setup.image)
        .ok_or_else(|| FigureError::bad_value("image", &setup.image.to_string(), "must be 0 to 9"))?
        .clone();
    let model = crate::model::shipped::fashion_mnist()?;
    let schedule = Arc::new(Schedule::new(&model.config().schedule)?);
    let config = SamplerConfig {
        kind: SamplerKind::Ddpm,
        steps: STEPS,
        clip_sample: true,
        ..SamplerConfig::default()
    };
    let mut sampler = build_sampler(&config, schedule)?;
    let mask = setup.hidden.mask();
    let rows = 2 * SAMPLES;
    let mut masks = mask.repeat(SAMPLES);
    masks.extend(std::iter::repeat_n(0.0, SAMPLES * mask.len()));
    let known = Known {
        x0: Tensor::from_vec(original.repeat(rows), (rows, mask.len()), &Device::Cpu)?,
        mask: Tensor::from_vec(masks, (rows, mask.len()), &Device::Cpu)?,
    };
    let labels = vec![setup.image as u32; rows];
    let mut rng = NoiseRng::seed_from(setup.seed);
    let start = rng.randn((rows, mask.len()), &Device::Cpu)?;
    let mut strip = vec![first_row(&start)?];
    let mut failure = None;
    let out = run_inpainting(
        sampler.as_mut(),
        &model,
        Some(&labels),
        &known,
        &start,
        &mut rng,
        |step| {
            job.keep_going()?;
            if STRIP.contains(&(step.index + 1)) {
                match first_row(&step.x_next) {
                    Ok(row) => strip.push(row),
                    Err(e) => failure = Some(e),
                }
            }
            ControlFlow::Continue(())
        },
    )?;
    if let Some(e) = failure {
        return Err(e);
    }
    let out = out.ok_or(FigureError::Cancelled)?;
    let samples: Vec<Vec<f32>> = out.to_vec2()?;
    let (inpainted, free) = samples.split_at(SAMPLES);
    Ok(Inpainted {
        shown_known: original
            .iter()
            .zip(&mask)
            .map(|(v, m)| if *m > 0.5 { *v } else { f32::NAN })
            .collect(),
        strip,
        known_max_diff: max_known_diff(inpainted, &original, &mask),
        inpainted_error: hidden_rms(inpainted, &original, &mask),
        free_error: hidden_rms(free, &original, &mask),
        inpainted: inpainted.to_vec(),
        free: free.to_vec(),
        original,
    })
}

fn first_row(x: &Tensor) -> Result<Vec<f32>> {
    Ok(x.get(0)?.to_vec1()?)
}

fn max_known_diff(samples: &[Vec<f32>], original: &[f32], mask: &[f32]) -> f64 {
    samples
        .iter()
        .flat_map(|s| s.iter().zip(original).zip(mask))
        .filter(|(_, m)| **m > 0.5)
        .map(|((x, o), _)| f64::from((x - o).abs()))
        .fold(0.0, f64::max)
}

fn hidden_rms(samples: &[Vec<f32>], original: &[f32], mask: &[f32]) -> f64 {
    let errors: Vec<f64> = samples
        .iter()
        .flat_map(|s| s.iter().zip(original).zip(mask))
        .filter(|(_, m)| **m < 0.5)
        .map(|((x, o), _)| f64::from(x - o).powi(2))
        .collect();
    let mean = errors.iter().sum::<f64>() / errors.len().max(1) as f64;
    mean.sqrt()
}

impl Inpainted {
    /// Every image, named, in the rows the window shows: the original, what
    /// the sampler sees and the first sample's strip; the inpainted samples;
    /// the free ones.
    #[must_use]
    pub fn images(&self) -> Vec<Raster> {
        let raster = |name: String, values: &Vec<f32>| Raster {
            name,
            width: SIDE,
            values: values.clone(),
        };
        let mut images = vec![
            raster("original".into(), &self.original),
            raster("what the sampler sees".into(), &self.shown_known),
        ];
        images.extend(
            self.strip
                .iter()
                .zip(STRIP)
                .map(|(f, step)| raster(format!("step {step}"), f)),
        );
        images.extend(
            self.inpainted
                .iter()
                .enumerate()
                .map(|(i, f)| raster(format!("inpainted {}", i + 1), f)),
        );
        images.extend(
            self.free
                .iter()
                .enumerate()
                .map(|(i, f)| raster(format!("free sample {}", i + 1), f)),
        );
        images
    }

    /// The images and the errors.
    #[must_use]
    pub fn figure(&self) -> Figure {
        let mut figure = Figure {
            images: self.images(),
            image_columns: 2 + STRIP.len(),
            ..Figure::default()
        };
        figure.number("known pixels: max |x − x0|", self.known_max_diff, "");
        figure.number("hidden pixels: RMS error, inpainted", self.inpainted_error, "");
        figure.number("hidden pixels: RMS error, free samples", self.free_error, "");
        figure
    }
}
