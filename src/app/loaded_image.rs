//! Images as the image scenes hold them: a decoded image (RGBA in [0, 1]),
//! its noise for the forward process, and the image batch scene's models.

use std::path::Path;
use std::sync::Arc;

use crate::data::idx;
use crate::diffusion::forward::{ForwardMode, run_forward};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::{NoiseRng, Schedule};
use crate::model::TrainedModel;
use crate::model::shipped::ShippedImageModel;
use crate::render::grid::GridShape;

/// The largest side kept; bigger photos are scaled down to fit.
const MAX_SIDE: u32 = 2048;

/// The largest side a file may declare, and the most the decoder may hold.
const MAX_DECODED_SIDE: u32 = 16_384;
const MAX_DECODED_BYTES: u64 = 192 << 20;

/// The most pixels a file may declare per byte it holds. Real images stay far
/// below: deflate's best ratio is about 1032:1, so a flat 8-bit PNG holds at
/// most ~1000 pixels a byte, and a flat JPEG a few hundred. A 308-byte JPEG
/// the fuzzer made declared 4085×4099 pixels of garbage to decode.
const MAX_PIXELS_PER_BYTE: u64 = 8192;

/// The decoder's limits, checked against the header before it allocates: a
/// small file that declares a huge image is refused, not decoded.
fn decoder_limits() -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_DECODED_SIDE);
    limits.max_image_height = Some(MAX_DECODED_SIDE);
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    limits
}

/// The Markov chain runs on the CPU, step by step: offered up to this many pixels.
pub(super) const MARKOV_MAX_PIXELS: u32 = 256 * 256;

/// Images the batch scene's empirical denoiser holds.
pub const MODEL_IMAGES: usize = 1000;

/// The image batch scene's models: the two shipped trained U-Nets, and the
/// empirical optimal denoiser of a set of images (which also supplies x_0 for
/// the ELBO).
#[derive(Clone)]
pub struct ImageModel {
    /// The empirical denoiser (one zero-width component per image, labelled by class).
    pub mixture: Arc<GaussianMixture>,
    /// What the empirical denoiser is, for the panel.
    pub description: String,
    /// The shipped ε-prediction network, or why it could not load.
    pub network: Result<Arc<TrainedModel>, String>,
    /// The shipped flow-matching network, or why it could not load.
    pub flow_network: Result<Arc<TrainedModel>, String>,
    /// The grid layout of a batch.
    pub shape: GridShape,
}

/// The Fashion-MNIST test images if Debian's package is installed, else the
/// ten built-in ones; slow enough (a few hundred ms) to load off the UI thread.
pub(super) fn load_image_model(built_in: &[LoadedImage]) -> Result<ImageModel, String> {
    let (points, labels, description): (Vec<Vec<f64>>, Vec<u32>, String) = match idx::fashion_mnist(false) {
        Ok(data) => {
            let n = data.len().min(MODEL_IMAGES);
            let points = (0..n).map(|i| data.image_signed(i)).collect();
            let labels = data.labels[..n].iter().map(|l| u32::from(*l)).collect();
            let text =
                format!("empirical optimal denoiser of {n} Fashion-MNIST test images: it can only reproduce them");
            (points, labels, text)
        }
        Err(e) => {
            let points = built_in
                .iter()
                .map(|image| {
                    image
                        .rgba
                        .chunks_exact(4)
                        .map(|p| f64::from(p[0]) * 2.0 - 1.0)
                        .collect()
                })
                .collect();
            let labels = (0..built_in.len()).map(|i| u32::try_from(i).unwrap_or(0)).collect();
            (
                points,
                labels,
                format!("empirical denoiser of the 10 built-in images ({e})"),
            )
        }
    };
    let mixture = GaussianMixture::empirical(&points, Some(&labels)).map_err(|e| e.to_string())?;
    Ok(ImageModel {
        mixture: Arc::new(mixture),
        description,
        network: load_shipped(ShippedImageModel::Epsilon),
        flow_network: load_shipped(ShippedImageModel::Flow),
        shape: GridShape::new(super::image_scene::BATCH, 28, 28),
    })
}

/// What the image batch samples with: one of the shipped U-Nets, or the
/// empirical denoiser. Lesson and session files name it as `model`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BatchModel {
    /// The ε-prediction U-Net.
    #[default]
    Unet,
    /// The flow-matching U-Net.
    FlowUnet,
    /// The empirical optimal denoiser of the test images.
    Empirical,
}

named_enum!(BatchModel, "batch model", [Unet => "unet", FlowUnet => "flow-unet", Empirical => "empirical"]);

impl BatchModel {
    /// The shipped network it samples with, if any.
    #[must_use]
    pub fn shipped(self) -> Option<ShippedImageModel> {
        match self {
            Self::Unet => Some(ShippedImageModel::Epsilon),
            Self::FlowUnet => Some(ShippedImageModel::Flow),
            Self::Empirical => None,
        }
    }

    /// Its button's label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Unet => "Trained U-Net",
            Self::FlowUnet => "Flow-matching U-Net",
            Self::Empirical => "Empirical denoiser",
        }
    }
}

fn load_shipped(model: ShippedImageModel) -> Result<Arc<TrainedModel>, String> {
    model.load().map(Arc::new).map_err(|e| e.to_string())
}

impl ImageModel {
    /// A shipped network, or why it could not load.
    pub fn shipped(&self, model: ShippedImageModel) -> &Result<Arc<TrainedModel>, String> {
        match model {
            ShippedImageModel::Epsilon => &self.network,
            ShippedImageModel::Flow => &self.flow_network,
        }
    }
}

/// A decoded image: RGBA in [0, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedImage {
    /// What the user calls it.
    pub name: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// RGBA values in [0, 1], row-major.
    pub rgba: Vec<f32>,
    /// All three colour channels equal (the noise then stays grey too).
    pub grayscale: bool,
}

impl LoadedImage {
    /// Decodes PNG/JPEG bytes, scaling anything larger than 2048 px down.
    ///
    /// # Errors
    /// Bytes that are not a readable image, with the decoder's reason.
    pub fn decode(name: &str, bytes: &[u8]) -> Result<Self, String> {
        let unreadable = |e: &dyn std::fmt::Display| format!("{name}: not a readable image ({e})");
        let reader = || {
            let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
                .with_guessed_format()
                .map_err(|e| unreadable(&e))?;
            reader.limits(decoder_limits());
            Ok::<_, String>(reader)
        };
        // The header alone first: a tiny file that declares a huge image is
        // refused before seconds go into decoding it.
        let (width, height) = reader()?.into_dimensions().map_err(|e| unreadable(&e))?;
        let declared = u64::from(width) * u64::from(height);
        if declared > MAX_PIXELS_PER_BYTE.saturating_mul(bytes.len() as u64) {
            return Err(format!(
                "{name}: declares {width}×{height} pixels in {} bytes, far more than any real image holds",
                bytes.len()
            ));
        }
        let reader = reader()?;
        let image = reader.decode().map_err(|e| unreadable(&e))?;
        let image = if image.width() > MAX_SIDE || image.height() > MAX_SIDE {
            image.resize(MAX_SIDE, MAX_SIDE, image::imageops::FilterType::Triangle)
        } else {
            image
        };
        let grayscale = !image.color().has_color();
        let rgba = image.to_rgba32f();
        Ok(Self {
            name: name.to_owned(),
            width: rgba.width(),
            height: rgba.height(),
            rgba: rgba.into_raw(),
            grayscale,
        })
    }

    /// Reads an image file.
    ///
    /// # Errors
    /// An unreadable or undecodable file, naming the path.
    pub fn open(path: &Path) -> Result<Self, String> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| format!("{name}: {e}"))?;
        Self::decode(&name, &bytes)
    }

    /// The effective ε of the Markov chain x_s = √α_s x_{s−1} + √β_s z_s run from
    /// x0 up to level t, so that x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε (RGBA layout, like [`Self::noise`]).
    ///
    /// # Errors
    /// The image is too large for the CPU chain, or a tensor failure.
    pub fn markov_noise(&self, seed: u64, schedule: &Schedule, t: usize) -> Result<Vec<f32>, String> {
        if self.width * self.height > MARKOV_MAX_PIXELS {
            return Err(format!(
                "the Markov chain runs on the CPU, step by step: it is offered for images up to 256×256 px, this one is {}×{}",
                self.width, self.height
            ));
        }
        let pixels = (self.width * self.height) as usize;
        if t == 0 {
            return Ok(vec![0.0; pixels * 4]);
        }
        let channels = if self.grayscale { 1 } else { 3 };
        let x0: Vec<f32> = self
            .rgba
            .chunks_exact(4)
            .flat_map(|p| p[..channels].iter().map(|v| v * 2.0 - 1.0).collect::<Vec<_>>())
            .collect();
        let x0 = candle_core::Tensor::from_vec(x0, (pixels, channels), &candle_core::Device::Cpu)
            .map_err(|e| e.to_string())?;
        let mut eps = None;
        run_forward(
            schedule,
            &x0,
            &[t],
            ForwardMode::MarkovChain,
            &mut NoiseRng::seed_from(seed),
            |step| {
                eps = Some(step.eps.clone());
                std::ops::ControlFlow::Continue(())
            },
        )
        .map_err(|e| e.to_string())?;
        let eps: Vec<f32> = eps
            .ok_or("the chain produced no step")?
            .flatten_all()
            .and_then(|e| e.to_vec1())
            .map_err(|e| e.to_string())?;
        Ok(eps
            .chunks_exact(channels)
            .flat_map(|c| {
                if channels == 1 {
                    [c[0], c[0], c[0], 0.0]
                } else {
                    [c[0], c[1], c[2], 0.0]
                }
            })
            .collect())
    }

    /// One ε per pixel and channel (one per pixel, shared, for grey images).
    #[must_use]
    pub fn noise(&self, seed: u64) -> Vec<f32> {
        let mut rng = NoiseRng::seed_from(seed);
        let pixels = (self.width * self.height) as usize;
        if self.grayscale {
            rng.normal_vec(pixels)
                .into_iter()
                .flat_map(|e| [e, e, e, 0.0])
                .collect()
        } else {
            let values = rng.normal_vec(pixels * 3);
            values.chunks_exact(3).flat_map(|c| [c[0], c[1], c[2], 0.0]).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_tiny_file_that_declares_a_huge_image_is_refused_before_decoding() {
        // Found by the fuzzer: 308 bytes of JPEG declaring 4085×4099 pixels,
        // which took seconds to decode.
        let bomb = include_bytes!("../../tests/data/jpeg_bomb_308_bytes.jpg");
        let refused = LoadedImage::decode("bomb.jpg", bomb).unwrap_err();
        assert_eq!(
            refused,
            "bomb.jpg: declares 4085×4099 pixels in 308 bytes, far more than any real image holds"
        );
    }

    #[test]
    fn a_flat_image_compressed_to_the_limit_still_decodes() {
        // A flat 1000×1000 PNG compresses about as far as deflate allows.
        let flat = image::RgbaImage::from_pixel(1000, 1000, image::Rgba([40, 80, 120, 255]));
        let mut png = std::io::Cursor::new(Vec::new());
        flat.write_to(&mut png, image::ImageFormat::Png).unwrap();
        let png = png.into_inner();
        let decoded = LoadedImage::decode("flat.png", &png).unwrap();
        assert_eq!((decoded.width, decoded.height), (1000, 1000), "{} bytes", png.len());
    }
}
