//! DDIM inversion on images with the shipped U-Net: two Fashion-MNIST images
//! go up to their latents x_T and come back, and latents slerped between them
//! decode to images along the way (Song, Meng & Ermon 2021, §5.3).

use std::sync::Arc;

use candle_core::{Device, Tensor};

use super::figure;
use super::job::Computation;
use crate::assets::sample_images_gray as built_in_gray;
use crate::diffusion::inversion::{ddim_invert, slerp_between_rows};
use crate::diffusion::sampler::{SamplerConfig, build_sampler};
use crate::diffusion::{NoiseRng, Schedule};
use crate::jobs::JobContext as Cancel;

/// DDIM steps each way.
const STEPS: usize = 50;
/// Decoded latents, the two round trips included.
const INTERPOLANTS: usize = 7;

/// The images of one inversion.
pub struct Inverted {
    /// A, then the decoded interpolants (the first and last are A and B back), then B.
    row: Vec<(String, Vec<f32>)>,
    /// RMS per pixel of A's and B's round trips.
    round_trip: [f64; 2],
}

/// The image half of the inversion scene.
pub struct ImageInversion {
    names: Vec<String>,
    pair: (usize, usize),
    result: Computation<Inverted>,
    textures: Vec<(String, egui::TextureHandle)>,
    repaint: egui::Context,
}

impl ImageInversion {
    /// The T-shirt and the sneaker.
    #[must_use]
    pub fn new(repaint: &egui::Context) -> Self {
        let mut inversion = Self {
            names: built_in_gray().into_iter().map(|(name, _)| name).collect(),
            pair: (0, 7),
            result: Computation::default(),
            textures: Vec::new(),
            repaint: repaint.clone(),
        };
        inversion.restart();
        inversion
    }

    fn restart(&mut self) {
        let pair = self.pair;
        self.textures.clear();
        self.result.restart(&self.repaint, move |cancel| invert(pair, cancel));
    }

    /// The picker, the numbers and the row of images.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.result.poll();
        let before = self.pair;
        for (label, slot) in [("A", &mut self.pair.0), ("B", &mut self.pair.1)] {
            ui.horizontal_wrapped(|ui| {
                ui.label(label);
                for (i, name) in self.names.iter().enumerate() {
                    ui.selectable_value(slot, i, format!("{label}: {name}"));
                }
            });
        }
        if self.pair != before {
            self.restart();
        }
        self.result.status_ui(ui);
        let Some(result) = self.result.value() else {
            return;
        };
        if self.textures.is_empty() {
            self.textures = result
                .row
                .iter()
                .map(|(name, values)| {
                    let texture =
                        ui.ctx()
                            .load_texture(name, figure::gray_image(values), egui::TextureOptions::NEAREST);
                    (name.clone(), texture)
                })
                .collect();
        }
        ui.label(format!(
            "round trip (invert, then decode with {STEPS} DDIM steps), RMS per pixel: A {:.4}, B {:.4}",
            result.round_trip[0], result.round_trip[1]
        ));
        let side = (ui.available_width() / 9.0 - 12.0).clamp(48.0, 120.0);
        ui.horizontal(|ui| {
            for (name, texture) in &self.textures {
                figure::image_ui(ui, texture, side, name);
            }
        });
    }
}

fn rms(a: &[f32], b: &[f32]) -> f64 {
    let sum: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum();
    let mean = sum / a.len().max(1) as f64;
    mean.sqrt()
}

fn invert(pair: (usize, usize), cancel: &Cancel) -> Result<Inverted, String> {
    let images = built_in_gray();
    let pick = |i: usize| {
        images
            .get(i)
            .cloned()
            .ok_or_else(|| "no such built-in image".to_owned())
    };
    let ((name_a, a), (name_b, b)) = (pick(pair.0)?, pick(pair.1)?);
    let net = crate::model::shipped::fashion_mnist().map_err(figure::message)?;
    let schedule = Arc::new(Schedule::new(&net.config().schedule).map_err(figure::message)?);
    let config = SamplerConfig {
        steps: STEPS,
        ..SamplerConfig::default()
    };
    let mut sampler = build_sampler(&config, schedule).map_err(figure::message)?;
    let x0 = Tensor::from_vec([a.clone(), b.clone()].concat(), (2, a.len()), &Device::Cpu).map_err(figure::message)?;
    cancel.report("inverting A and B…");
    // Unconditional (the null class): the latents carry everything.
    let levels = ddim_invert(&net, sampler.schedule(), None, &x0, sampler.timesteps()).map_err(figure::message)?;
    let latent = levels.last().ok_or("no levels")?;
    let start = slerp_between_rows(latent, INTERPOLANTS).map_err(figure::message)?;
    cancel.report("decoding the interpolated latents…");
    let mut rng = NoiseRng::seed_from(0);
    let decoded = figure::run_to_end(sampler.as_mut(), &net, &start, &mut rng, cancel)?;
    let decoded: Vec<Vec<f32>> = decoded.to_vec2().map_err(figure::message)?;
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
