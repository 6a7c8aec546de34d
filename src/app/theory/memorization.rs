//! Memorization. The optimal denoiser of a finite training set (the
//! "empirical" denoiser, E[x0 | x_t] over the training images) can only
//! reproduce them: its samples are copies. The trained U-Net, by contrast,
//! makes new images: their nearest training image is about as far away as a
//! held-out test image's is. Distances are RMS per pixel in [−1, 1] units.

use std::sync::Arc;

use candle_core::{Device, Tensor};

use super::figure;
use super::job::Computation;
use super::{SceneContext, TheoryScene};
use crate::data::idx::{LabelledImages, fashion_mnist};
use crate::diffusion::guidance::{GuidanceConfig, GuidanceKind, Guided};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{SamplerConfig, build_sampler, sample_from_noise};
use crate::diffusion::{Denoiser, NoiseRng, Schedule};
use crate::jobs::JobContext as Cancel;

/// Samples per model.
const SAMPLES: usize = 6;
/// Training images the empirical denoiser memorizes.
const MEMORIZED: usize = 500;

/// Samples, their nearest training images and distances, per row of the figure.
pub struct Row {
    name: String,
    samples: Vec<Vec<f32>>,
    nearest: Vec<Vec<f32>>,
    distances: Vec<f64>,
}

/// The memorization scene.
pub struct MemorizationScene {
    context: SceneContext,
    class: u32,
    result: Computation<Vec<Row>>,
    textures: Vec<Vec<(egui::TextureHandle, egui::TextureHandle)>>,
}

impl MemorizationScene {
    /// Class 0 (T-shirt/top).
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            context: context.clone(),
            class: 0,
            result: Computation::default(),
            textures: Vec::new(),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let class = self.class;
        self.textures.clear();
        self.result
            .restart(&self.context.repaint, move |cancel| compute(class, cancel));
    }

    fn upload(&mut self, ctx: &egui::Context) {
        let Some(rows) = self.result.value() else {
            return;
        };
        if !self.textures.is_empty() {
            return;
        }
        let load = |name: String, values: &[f32]| {
            ctx.load_texture(name, figure::gray_image(values), egui::TextureOptions::NEAREST)
        };
        self.textures = rows
            .iter()
            .enumerate()
            .map(|(r, row)| {
                row.samples
                    .iter()
                    .zip(&row.nearest)
                    .enumerate()
                    .map(|(i, (s, n))| (load(format!("m{r}s{i}"), s), load(format!("m{r}n{i}"), n)))
                    .collect()
            })
            .collect();
    }
}

fn signed_rows(images: &LabelledImages, pick: impl Fn(usize) -> bool, limit: usize) -> (Vec<Vec<f64>>, Vec<u32>) {
    (0..images.len())
        .filter(|&i| pick(i))
        .take(limit)
        .map(|i| (images.image_signed(i), u32::from(images.labels[i])))
        .unzip()
}

/// The nearest row of `train` ([n, D]) to each row of `queries`, and the RMS distance.
fn nearest(queries: &[Vec<f32>], train: &Tensor) -> Result<Vec<(usize, f64)>, String> {
    let dims = train.dim(1).map_err(figure::message)?;
    let q = Tensor::from_vec(queries.concat(), (queries.len(), dims), &Device::Cpu).map_err(figure::message)?;
    // ‖q − x‖² = ‖q‖² − 2 q·x + ‖x‖², as one matmul.
    let cross = q
        .matmul(&train.t().map_err(figure::message)?)
        .map_err(figure::message)?;
    let train_sq = train.sqr().and_then(|s| s.sum(1)).map_err(figure::message)?;
    let query_sq = q.sqr().and_then(|s| s.sum_keepdim(1)).map_err(figure::message)?;
    let squared = (cross * -2.0)
        .and_then(|c| c.broadcast_add(&train_sq))
        .and_then(|c| c.broadcast_add(&query_sq))
        .map_err(figure::message)?;
    let rows: Vec<Vec<f32>> = squared.to_vec2().map_err(figure::message)?;
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

fn row_of(name: &str, samples: Vec<Vec<f32>>, train: &Tensor) -> Result<Row, String> {
    let found = nearest(&samples, train)?;
    let nearest = found
        .iter()
        .map(|(i, _)| train.get(*i).and_then(|r| r.to_vec1()).map_err(figure::message))
        .collect::<Result<_, _>>()?;
    Ok(Row {
        name: name.to_owned(),
        samples,
        nearest,
        distances: found.iter().map(|(_, d)| *d).collect(),
    })
}

fn sample(model: &dyn Denoiser, schedule: Arc<Schedule>, class: u32, seed: u64) -> Result<Vec<Vec<f32>>, String> {
    let config = SamplerConfig {
        clip_sample: true,
        ..SamplerConfig::default()
    };
    let mut sampler = build_sampler(&config, schedule).map_err(figure::message)?;
    let labels = vec![class; SAMPLES];
    let mut rng = NoiseRng::seed_from(seed);
    let x = sample_from_noise(sampler.as_mut(), model, Some(&labels), &[SAMPLES, 784], &mut rng)
        .map_err(figure::message)?;
    x.to_vec2().map_err(figure::message)
}

fn to_tensor(rows: &[Vec<f64>]) -> Result<Tensor, String> {
    let flat: Vec<f32> = rows.iter().flatten().map(|v| *v as f32).collect();
    Tensor::from_vec(flat, (rows.len(), rows.first().map_or(0, Vec::len)), &Device::Cpu).map_err(figure::message)
}

fn compute(class: u32, cancel: &Cancel) -> Result<Vec<Row>, String> {
    let train = fashion_mnist(true).map_err(figure::message)?;
    let test = fashion_mnist(false).map_err(figure::message)?;
    // The empirical denoiser memorizes the first training images of every class.
    let (memorized, labels) = signed_rows(&train, |_| true, MEMORIZED);
    let empirical = GaussianMixture::empirical(&memorized, Some(&labels)).map_err(figure::message)?;
    let net = crate::model::shipped::fashion_mnist().map_err(figure::message)?;
    let schedule = Arc::new(Schedule::new(&net.config().schedule).map_err(figure::message)?);
    let copies = sample(&empirical, Arc::clone(&schedule), class, 1)?;
    if cancel.is_cancelled() {
        return Err("cancelled".into());
    }
    let guided = Guided::new(
        &net,
        None,
        GuidanceConfig {
            kind: GuidanceKind::ClassifierFree,
            scale: 3.0,
        },
    )
    .map_err(figure::message)?;
    let made = sample(&guided, schedule, class, 1)?;
    if cancel.is_cancelled() {
        return Err("cancelled".into());
    }
    let (all_train, _) = signed_rows(&train, |_| true, usize::MAX);
    let all_train = to_tensor(&all_train)?;
    let (held_out, _) = signed_rows(&test, |i| u32::from(test.labels[i]) == class, SAMPLES);
    let held_out: Vec<Vec<f32>> = held_out.iter().map(|r| r.iter().map(|v| *v as f32).collect()).collect();
    Ok(vec![
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
    ])
}

impl TheoryScene for MemorizationScene {
    fn caption(&self) -> &'static str {
        "The optimal denoiser of a finite training set, E[x0|x_t] = Σ_i w_i(x_t) x0^(i), can only \
         reproduce its training images. A trained network generalises: each sample is shown above \
         its nearest training image, with the RMS distance between them."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.result.poll();
        let before = self.class;
        ui.horizontal_wrapped(|ui| {
            for (class, name) in crate::data::idx::FASHION_MNIST_CLASSES.iter().enumerate() {
                ui.selectable_value(&mut self.class, class as u32, *name);
            }
        });
        if self.class != before {
            self.restart();
        }
        self.upload(ui.ctx());
        self.result.status_ui(ui);
        let Some(rows) = self.result.value() else {
            return;
        };
        // Three rows of two images each, with a line of text per row and per pair.
        let side = ((ui.available_height() - 140.0) / 6.0)
            .min(ui.available_width() / 12.0 - 10.0)
            .clamp(32.0, 90.0);
        for (row, textures) in rows.iter().zip(&self.textures) {
            let mean = row.distances.iter().sum::<f64>() / row.distances.len().max(1) as f64;
            ui.label(format!(
                "{}: mean distance to the nearest training image {mean:.3}",
                row.name
            ));
            ui.horizontal(|ui| {
                for ((sample, nearest), distance) in textures.iter().zip(&row.distances) {
                    ui.vertical(|ui| {
                        ui.add(egui::Image::new((sample.id(), egui::vec2(side, side))));
                        ui.add(egui::Image::new((nearest.id(), egui::vec2(side, side))));
                        ui.label(format!("{distance:.3}"));
                    });
                }
            });
        }
    }
}
