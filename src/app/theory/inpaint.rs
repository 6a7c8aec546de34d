//! Inpainting with the shipped U-Net (Sohl-Dickstein et al. 2015, §2.5): part
//! of a Fashion-MNIST image is hidden, the known pixels are overwritten with a
//! fresh draw from q(x_s | x_0) after every DDPM step, and the model fills in
//! the rest. Beside it, free samples of the same class show how much the known
//! pixels constrain the hidden ones.

use std::ops::ControlFlow;
use std::sync::Arc;

use candle_core::{Device, Tensor};

use super::figure;
use super::job::Computation;
use super::{SceneContext, TheoryScene};
use crate::assets::sample_images_gray as built_in_gray;
use crate::diffusion::inpaint::{Known, run_inpainting};
use crate::diffusion::sampler::{SamplerConfig, SamplerKind, build_sampler};
use crate::diffusion::{NoiseRng, Schedule};
use crate::jobs::JobContext as Cancel;

/// Inpainted samples, and as many free ones.
const SAMPLES: usize = 4;
/// DDPM steps.
const STEPS: usize = 50;
/// Frames of the first sample kept for the strip.
const STRIP: [usize; 6] = [0, 10, 20, 30, 40, 50];
/// Pixels per side.
const SIDE: usize = 28;

/// Which pixels are hidden.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hidden {
    RightHalf,
    BottomHalf,
    Centre,
}

impl Hidden {
    const ALL: [(Self, &'static str); 3] = [
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

/// The settings a figure is computed for.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Setup {
    image: usize,
    hidden: Hidden,
    seed: u64,
}

/// The images of one inpainting run.
pub struct Inpainted {
    original: Vec<f32>,
    /// The original with hidden pixels as NaN.
    shown_known: Vec<f32>,
    /// The first sample at the steps of [`STRIP`].
    strip: Vec<Vec<f32>>,
    inpainted: Vec<Vec<f32>>,
    free: Vec<Vec<f32>>,
    /// max |x − x0| over the known pixels of the inpainted samples.
    known_max_diff: f64,
    /// RMS error over the hidden pixels against the original.
    inpainted_error: f64,
    free_error: f64,
}

/// The inpainting scene.
pub struct InpaintScene {
    context: SceneContext,
    names: Vec<String>,
    setup: Setup,
    result: Computation<Inpainted>,
    textures: Vec<(String, egui::TextureHandle)>,
}

impl InpaintScene {
    /// Hides the right half of the built-in T-shirt.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            context: context.clone(),
            names: built_in_gray().into_iter().map(|(name, _)| name).collect(),
            setup: Setup {
                image: 0,
                hidden: Hidden::RightHalf,
                seed: 1,
            },
            result: Computation::default(),
            textures: Vec::new(),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let setup = self.setup;
        self.textures.clear();
        self.result
            .restart(&self.context.repaint, move |cancel| inpaint(setup, cancel));
    }

    fn upload(&mut self, ctx: &egui::Context) {
        let Some(result) = self.result.value() else {
            return;
        };
        if !self.textures.is_empty() {
            return;
        }
        let mut images = vec![
            ("original".to_owned(), &result.original),
            ("what the sampler sees".to_owned(), &result.shown_known),
        ];
        for (i, frame) in result.strip.iter().enumerate() {
            images.push((format!("step {}", STRIP[i]), frame));
        }
        for (i, image) in result.inpainted.iter().enumerate() {
            images.push((format!("inpainted {}", i + 1), image));
        }
        for (i, image) in result.free.iter().enumerate() {
            images.push((format!("free sample {}", i + 1), image));
        }
        self.textures = images
            .into_iter()
            .map(|(name, values)| {
                let texture = ctx.load_texture(&name, figure::gray_image(values), egui::TextureOptions::NEAREST);
                (name, texture)
            })
            .collect();
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            for (i, name) in self.names.iter().enumerate() {
                ui.selectable_value(&mut self.setup.image, i, name);
            }
        });
        ui.horizontal(|ui| {
            for (hidden, label) in Hidden::ALL {
                ui.selectable_value(&mut self.setup.hidden, hidden, label);
            }
            ui.add(egui::DragValue::new(&mut self.setup.seed).prefix("Seed "));
        });
    }
}

/// Runs the U-Net on `SAMPLES` inpainted rows and `SAMPLES` free rows (mask 0) at once.
fn inpaint(setup: Setup, cancel: &Cancel) -> Result<Inpainted, String> {
    let images = built_in_gray();
    let (_, original) = images.get(setup.image).ok_or("no such built-in image")?.clone();
    let model = crate::model::shipped::fashion_mnist().map_err(figure::message)?;
    let schedule = Arc::new(Schedule::new(&model.config().schedule).map_err(figure::message)?);
    let config = SamplerConfig {
        kind: SamplerKind::Ddpm,
        steps: STEPS,
        clip_sample: true,
        ..SamplerConfig::default()
    };
    let mut sampler = build_sampler(&config, schedule).map_err(figure::message)?;
    let mask = setup.hidden.mask();
    let rows = 2 * SAMPLES;
    let mut masks = mask.repeat(SAMPLES);
    masks.extend(std::iter::repeat_n(0.0, SAMPLES * mask.len()));
    let known = Known {
        x0: Tensor::from_vec(original.repeat(rows), (rows, mask.len()), &Device::Cpu).map_err(figure::message)?,
        mask: Tensor::from_vec(masks, (rows, mask.len()), &Device::Cpu).map_err(figure::message)?,
    };
    let labels = vec![setup.image as u32; rows];
    let mut rng = NoiseRng::seed_from(setup.seed);
    let start = rng.randn((rows, mask.len()), &Device::Cpu).map_err(figure::message)?;
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
            if cancel.is_cancelled() {
                return ControlFlow::Break(());
            }
            if STRIP.contains(&(step.index + 1)) {
                match first_row(&step.x_next) {
                    Ok(row) => strip.push(row),
                    Err(e) => failure = Some(e),
                }
            }
            ControlFlow::Continue(())
        },
    )
    .map_err(figure::message)?;
    if let Some(e) = failure {
        return Err(e);
    }
    let out = out.ok_or("cancelled")?;
    let samples: Vec<Vec<f32>> = out.to_vec2().map_err(figure::message)?;
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

fn first_row(x: &Tensor) -> Result<Vec<f32>, String> {
    x.get(0).and_then(|r| r.to_vec1()).map_err(figure::message)
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

impl TheoryScene for InpaintScene {
    fn caption(&self) -> &'static str {
        "Inpainting by multiplying distributions (Sohl-Dickstein et al. 2015): after every reverse \
         step to level s, the known pixels are replaced by √ᾱ_s x0 + √(1−ᾱ_s) ε, a fresh draw from \
         q(x_s|x0); the U-Net fills in the hidden ones to match. Blue marks the hidden pixels."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.result.poll();
        let before = self.setup;
        self.controls_ui(ui);
        if self.setup != before {
            self.restart();
        }
        self.upload(ui.ctx());
        let Some(result) = self.result.value() else {
            self.result.status_ui(ui);
            return;
        };
        ui.horizontal(|ui| {
            ui.label(format!(
                "known pixels after sampling: max |x − x0| = {:.4}",
                result.known_max_diff
            ));
            self.result.status_ui(ui);
        });
        ui.label(format!(
            "hidden pixels, RMS error against the original (mean of {SAMPLES}): inpainted {:.3}, free samples of the class {:.3}",
            result.inpainted_error, result.free_error
        ));
        let side = (ui.available_width() / 8.0 - 14.0).clamp(48.0, 140.0);
        let rows: [&[(String, egui::TextureHandle)]; 3] = [
            self.textures.get(..2 + STRIP.len()).unwrap_or_default(),
            self.textures
                .get(2 + STRIP.len()..2 + STRIP.len() + SAMPLES)
                .unwrap_or_default(),
            self.textures.get(2 + STRIP.len() + SAMPLES..).unwrap_or_default(),
        ];
        for row in rows {
            ui.horizontal(|ui| {
                for (name, texture) in row {
                    figure::image_ui(ui, texture, side, name);
                }
            });
        }
    }
}
