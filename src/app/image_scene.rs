//! The image scene: the forward process on any image, scrubbed per t on the GPU.

use std::path::Path;
use std::sync::Arc;

use egui::Vec2;

use super::image_set::{ImageSet, looks_like_idx};
use super::loaded_image::load_image_model;
pub use super::loaded_image::{BatchModel, ImageModel, LoadedImage, MODEL_IMAGES};
use crate::diffusion::forward::ForwardMode;
use crate::diffusion::{Schedule, ScheduleKind};
use crate::jobs::{Job, Poll};
use crate::model::TrainedModel;
use crate::render::grid::GridCallback;
use crate::render::image::{ImageCallback, ImageData, ImageResources, MAX_VIEWS, Quantity};

/// One row of the image view: a schedule's ᾱ at the shown t.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewRow {
    /// What the row shows, e.g. "cosine: t = 500, ᾱ_t = 0.4923, SNR = 0.97".
    pub label: String,
    /// The schedule's colour, the same as its curves.
    pub color: egui::Color32,
    /// ᾱ to noise with.
    pub alpha_bar: f64,
}

/// Images sampled per batch run.
pub const BATCH: u32 = 16;

/// Where the scene's image comes from.
enum Source {
    /// One of the built-in images, by index.
    BuiltIn(usize),
    /// A PNG or JPEG file.
    File(LoadedImage),
    /// Image `index` of an IDX file, decoded once per index.
    Set {
        set: ImageSet,
        index: usize,
        image: LoadedImage,
    },
}

/// The image scene's panel and view.
pub struct ImageScene {
    render_state: Option<egui_wgpu::RenderState>,
    built_in: Vec<LoadedImage>,
    source: Source,
    /// An IDX file being read on its own thread (10 000 images take a while).
    set_loading: Option<Job<Result<ImageSet, String>>>,
    /// The level shown.
    pub t: usize,
    /// T of the schedule.
    pub train_steps: usize,
    quantity: Quantity,
    path_text: String,
    message: String,
    uploaded: Option<(String, u64)>,
    /// Schedules shown in extra rows, beside the main one.
    pub compare: Vec<ScheduleKind>,
    /// Align the extra rows at the main row's SNR instead of its t.
    pub align_snr: bool,
    /// Closed form (one ε for every t) or the Markov chain (fresh noise per step).
    pub forward_mode: ForwardMode,
    markov_key: Option<String>,
    model: Option<ImageModel>,
    model_loading: Option<Job<Result<ImageModel, String>>>,
    /// What the batch samples with.
    pub batch_model: BatchModel,
    model_changed: bool,
}

impl ImageScene {
    /// The scene on the built-in images; uploads go through `render_state`.
    #[must_use]
    pub fn new(render_state: Option<egui_wgpu::RenderState>) -> Self {
        let built_in = crate::assets::SAMPLE_IMAGES
            .iter()
            .filter_map(|(name, asset)| LoadedImage::decode(name, asset.bytes).ok())
            .collect();
        Self {
            render_state,
            built_in,
            source: Source::BuiltIn(0),
            set_loading: None,
            t: 250,
            train_steps: 1000,
            quantity: Quantity::Noised,
            path_text: String::new(),
            message: String::new(),
            uploaded: None,
            compare: Vec::new(),
            align_snr: false,
            forward_mode: ForwardMode::ClosedForm,
            markov_key: None,
            model: None,
            model_loading: None,
            batch_model: BatchModel::default(),
            model_changed: false,
        }
    }

    /// The batch scene's model, once loaded.
    #[must_use]
    pub fn model(&self) -> Option<&ImageModel> {
        self.model.as_ref()
    }

    /// Starts loading the model on its own thread, once; `ctx` is repainted
    /// when it is in.
    pub fn request_model(&mut self, ctx: &egui::Context) {
        if self.model.is_some() || self.model_loading.is_some() {
            return;
        }
        let built_in = self.built_in.clone();
        let waker = super::theory::job::repaint_waker(ctx);
        match Job::start("noisescope-load-model", Some(waker), move |_| {
            load_image_model(&built_in)
        }) {
            Ok(job) => self.model_loading = Some(job),
            Err(e) => self.message = e.to_string(),
        }
    }

    /// True once, when the model has just arrived.
    pub fn poll_model(&mut self) -> bool {
        let Some(job) = &self.model_loading else {
            return false;
        };
        let loaded = match job.poll() {
            Poll::Pending => return false,
            Poll::Done(loaded) => loaded,
            Poll::Lost => Err("loading the model stopped before it finished".into()),
        };
        self.model_loading = None;
        match loaded {
            Ok(model) => {
                self.model = Some(model);
                true
            }
            Err(message) => {
                self.message = message;
                false
            }
        }
    }

    /// True once after the user picked the other batch model.
    pub fn take_model_change(&mut self) -> bool {
        std::mem::take(&mut self.model_changed)
    }

    /// The network the batch samples with, if chosen and loaded.
    #[must_use]
    pub fn chosen_network(&self) -> Option<&Arc<TrainedModel>> {
        let shipped = self.batch_model.shipped()?;
        self.model.as_ref()?.shipped(shipped).as_ref().ok()
    }

    /// The batch model picker and what the chosen model is.
    fn batch_model_ui(&mut self, ui: &mut egui::Ui) {
        let Some(model) = &self.model else { return };
        ui.horizontal_wrapped(|ui| {
            ui.label("Model");
            let before = self.batch_model;
            for &choice in BatchModel::ALL {
                let loaded = choice.shipped().is_none_or(|shipped| model.shipped(shipped).is_ok());
                let button = egui::Button::selectable(self.batch_model == choice, choice.label());
                if ui.add_enabled(loaded, button).clicked() {
                    self.batch_model = choice;
                }
            }
            self.model_changed |= before != self.batch_model;
        });
        match self.batch_model.shipped().map(|shipped| model.shipped(shipped)) {
            Some(Ok(net)) => {
                let steps = net.total_training_steps().map_or_else(|| "?".into(), |s| s.to_string());
                let objective = match self.batch_model {
                    BatchModel::FlowUnet => "by flow matching (velocity prediction)",
                    _ => "by the DDPM objective (ε-prediction)",
                };
                ui.label(format!(
                    "U-Net trained by noisescope on Fashion-MNIST {objective}, {steps} steps; it samples on its training schedule ({}, T = {})",
                    net.config().schedule.kind,
                    net.config().schedule.train_steps
                ));
            }
            Some(Err(e)) => {
                ui.label(format!("trained model unavailable: {e}"));
                ui.label(&model.description);
            }
            None => {
                ui.label(&model.description);
            }
        }
    }

    /// The quantity toggle: x_t, x̂0, ε̂, score or v̂.
    pub fn quantity_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.label("Show");
            for (quantity, label) in Quantity::ALL {
                ui.selectable_value(&mut self.quantity, quantity, label);
            }
        });
    }

    /// The image batch's own controls (in the controls panel): what the grid
    /// shows, and which model samples.
    pub fn batch_controls_ui(&mut self, ui: &mut egui::Ui) {
        self.quantity_ui(ui);
        self.batch_model_ui(ui);
    }

    /// The batch grid at one frame of a run, magnified by a whole number; the
    /// grid's rectangle.
    pub fn batch_ui(&mut self, ui: &mut egui::Ui, frame: u32, alpha_bar: f64) -> Option<egui::Rect> {
        let Some(model) = &self.model else {
            ui.label("loading the images…");
            return None;
        };
        let shape = model.shape;
        let pixels = Vec2::new((shape.cols * shape.width) as f32, (shape.rows() * shape.height) as f32);
        let rect = super::layout::allocate_whole_number_ui(ui, pixels);
        let callback = GridCallback {
            frame,
            alpha_bar: alpha_bar as f32,
            quantity: self.quantity,
        };
        ui.painter()
            .add(egui_wgpu::Callback::new_paint_callback(rect, callback));
        Some(rect)
    }

    /// The image shown.
    #[must_use]
    pub fn current(&self) -> Option<&LoadedImage> {
        match &self.source {
            Source::BuiltIn(index) => self.built_in.get(*index),
            Source::File(image) | Source::Set { image, .. } => Some(image),
        }
    }

    /// The one-line message of the last failed open, if any.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Opens a PNG/JPEG file, or an IDX image file (told apart by their first
    /// bytes; an IDX file is read on its own thread, which repaints `ctx` when
    /// done); a bad file leaves a message and the old image.
    pub fn open(&mut self, path: &Path, ctx: &egui::Context) {
        if looks_like_idx(path) {
            let path = path.to_path_buf();
            self.read_set_in_background(ctx, move || ImageSet::open(&path));
        } else {
            self.use_source(LoadedImage::open(path).map(Source::File));
        }
    }

    fn read_set_in_background(
        &mut self,
        ctx: &egui::Context,
        read: impl FnOnce() -> Result<ImageSet, String> + Send + 'static,
    ) {
        let waker = super::theory::job::repaint_waker(ctx);
        match Job::start("noisescope-read-idx", Some(waker), move |_| read()) {
            Ok(job) => self.set_loading = Some(job),
            Err(e) => self.message = e.to_string(),
        }
    }

    /// Takes the IDX set once its thread has read it.
    fn poll_set(&mut self) {
        let Some(job) = &self.set_loading else {
            return;
        };
        let read = match job.poll() {
            Poll::Pending => return,
            Poll::Done(read) => read,
            Poll::Lost => Err("reading the images stopped before it finished".into()),
        };
        self.set_loading = None;
        self.use_source(read.map(Self::set_source));
    }

    /// The first image of a set.
    fn set_source(set: ImageSet) -> Source {
        let image = set.image(0);
        Source::Set { set, index: 0, image }
    }

    fn use_source(&mut self, source: Result<Source, String>) {
        match source {
            Ok(source) => {
                self.source = source;
                self.message.clear();
            }
            Err(message) => self.message = message,
        }
    }

    /// The image-number control of an opened IDX set.
    fn set_index_ui(&mut self, ui: &mut egui::Ui) {
        let Source::Set { set, index, image } = &mut self.source else {
            return;
        };
        ui.horizontal(|ui| {
            let label = ui.label(format!("Image number (of {})", set.len()));
            let response = ui
                .add(egui::DragValue::new(index).range(0..=set.len().saturating_sub(1)))
                .labelled_by(label.id);
            if response.changed() {
                *image = set.image(*index);
            }
            ui.label(set.label_text(*index));
        });
    }

    /// The controls of the scene (source, file, what to show, t).
    pub fn controls_ui(&mut self, ui: &mut egui::Ui) {
        self.poll_set();
        ui.label("Image");
        ui.horizontal_wrapped(|ui| {
            for (index, image) in self.built_in.iter().enumerate() {
                let chosen = matches!(self.source, Source::BuiltIn(i) if i == index);
                if ui.selectable_label(chosen, &image.name).clicked() {
                    self.source = Source::BuiltIn(index);
                }
            }
        });
        ui.horizontal(|ui| {
            if ui.button("Open image…").clicked() {
                match rfd::FileDialog::new()
                    .add_filter("image", &["png", "jpg", "jpeg"])
                    .add_filter("IDX images (MNIST, Fashion-MNIST)", &["gz", "ubyte"])
                    .pick_file()
                {
                    Some(path) => self.open(&path, ui.ctx()),
                    None => {
                        self.message = "no file dialog here (it needs a desktop portal or zenity): type a path".into()
                    }
                }
            }
            if ui
                .button("Fashion-MNIST test set")
                .on_hover_text("the 10 000 test images of Debian's dataset-fashion-mnist")
                .clicked()
            {
                self.read_set_in_background(ui.ctx(), ImageSet::fashion_mnist_test);
            }
        });
        if self.set_loading.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("reading the images…");
            });
        }
        self.set_index_ui(ui);
        ui.horizontal(|ui| {
            let label = ui.label("Image path");
            ui.text_edit_singleline(&mut self.path_text)
                .labelled_by(label.id)
                .on_hover_text("a PNG or JPEG, or an IDX image file (…-images-idx3-ubyte, gzipped or not)");
            if ui.button("Open").clicked() && !self.path_text.trim().is_empty() {
                let path = std::path::PathBuf::from(self.path_text.trim());
                self.open(&path, ui.ctx());
            }
        });
        if !self.message.is_empty() {
            ui.colored_label(egui::Color32::from_rgb(255, 140, 120), &self.message);
        }
        ui.separator();
        ui.label("Compare schedules (one row each)");
        ui.horizontal_wrapped(|ui| {
            for &kind in ScheduleKind::ALL {
                let mut on = self.compare.contains(&kind);
                if ui.checkbox(&mut on, kind.name()).changed() {
                    if on {
                        self.compare.push(kind);
                    } else {
                        self.compare.retain(|k| *k != kind);
                    }
                }
            }
        });
        ui.checkbox(&mut self.align_snr, "Rows at equal SNR (not equal t)");
        ui.separator();
        ui.horizontal(|ui| {
            ui.label("Noise");
            ui.selectable_value(&mut self.forward_mode, ForwardMode::ClosedForm, "closed form (one ε)");
            ui.selectable_value(&mut self.forward_mode, ForwardMode::MarkovChain, "Markov chain");
        });
    }

    /// The forward process's own timeline (in the side strip): what the rows
    /// show, the t slider, and which image.
    pub fn forward_controls_ui(&mut self, ui: &mut egui::Ui) {
        self.quantity_ui(ui);
        ui.horizontal_wrapped(|ui| {
            let label = ui.label("t (forward)");
            ui.add(egui::DragValue::new(&mut self.t).range(0..=self.train_steps))
                .labelled_by(label.id);
            if ui.button("−1").clicked() {
                self.t = self.t.saturating_sub(1);
            }
            if ui.button("+1").clicked() {
                self.t = (self.t + 1).min(self.train_steps);
            }
        });
        super::timeline::full_width_slider_ui(ui, &mut self.t, self.train_steps, "t (forward)");
        if let Some(image) = self.current() {
            let text = format!(
                "{}: {}×{} px   x_t = √ᾱ_t x0 + √(1−ᾱ_t) ε, computed per pixel on the GPU, same x0 and ε in every row",
                image.name, image.width, image.height
            );
            ui.add(egui::Label::new(text).wrap());
        }
    }

    /// The view: one row per schedule (the first is the main one), each showing
    /// the same x0 and ε noised to that row's ᾱ, magnified by a whole number;
    /// the rows' rectangle (the figure). `presenting`: the caption strip gives
    /// a single row's numbers, so its label goes and the image takes the room.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        rows: &[ViewRow],
        (seed, presenting): (u64, bool),
        schedule: &Schedule,
    ) -> Option<egui::Rect> {
        self.upload_if_changed(seed);
        self.update_markov_noise(seed, schedule);
        let Some(image) = self.current() else {
            ui.label("no image");
            return None;
        };
        let pixels = Vec2::new(image.width as f32, image.height as f32);
        let count = rows.len().clamp(1, MAX_VIEWS);
        let mut figure = None;
        if count == 1 {
            if let (Some(row), false) = (rows.first(), presenting) {
                ui.colored_label(row.color, &row.label);
            }
            let rect = super::layout::allocate_whole_number_ui(ui, pixels);
            self.paint_row(ui, rect, 0, rows.first().map_or(1.0, |r| r.alpha_bar));
            return Some(rect);
        }
        let row_height = (ui.available_height() / count as f32 - ui.spacing().item_spacing.y).max(16.0);
        for (slot, row) in rows.iter().take(MAX_VIEWS).enumerate() {
            ui.horizontal(|ui| {
                ui.allocate_ui(Vec2::new(230.0, row_height), |ui| {
                    ui.colored_label(row.color, &row.label);
                });
                let available = Vec2::new(ui.available_width(), row_height);
                let size = super::layout::whole_number_fit(available, pixels, ui.ctx().pixels_per_point());
                let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
                figure = Some(figure.map_or(rect, |f: egui::Rect| f.union(rect)));
                self.paint_row(ui, rect, slot, row.alpha_bar);
            });
        }
        figure
    }

    fn paint_row(&self, ui: &egui::Ui, rect: egui::Rect, slot: usize, alpha_bar: f64) {
        let callback = ImageCallback {
            slot,
            alpha_bar: alpha_bar as f32,
            quantity: self.quantity,
        };
        ui.painter()
            .add(egui_wgpu::Callback::new_paint_callback(rect, callback));
    }

    /// In Markov-chain mode, replaces the noise texture with the chain's
    /// effective ε at the current t (only when t, the image, the seed or the
    /// schedule changed); back in closed form, restores the fixed ε.
    fn update_markov_noise(&mut self, seed: u64, schedule: &Schedule) {
        let Some(image) = self.current() else {
            return;
        };
        let t = self.t.min(schedule.train_steps());
        let key = match self.forward_mode {
            ForwardMode::ClosedForm => None,
            ForwardMode::MarkovChain => Some(format!(
                "{}:{}x{}:{seed}:{t}:{}:{}:{}",
                image.name,
                image.width,
                image.height,
                schedule.train_steps(),
                schedule.beta(1).to_bits(),
                schedule.alpha_bar(schedule.train_steps()).to_bits()
            )),
        };
        if key == self.markov_key {
            return;
        }
        let noise = match &key {
            None => Ok(image.noise(seed)),
            Some(_) => image.markov_noise(seed, schedule, t),
        };
        match noise {
            Ok(noise) => {
                if let Some(state) = &self.render_state
                    && let Some(resources) = state.renderer.read().callback_resources.get::<ImageResources>()
                {
                    resources.set_noise(&state.queue, &noise);
                }
                self.markov_key = key;
            }
            Err(message) => {
                self.message = message;
                self.forward_mode = ForwardMode::ClosedForm;
            }
        }
    }

    /// Uploads the image and its noise once per (image, seed).
    fn upload_if_changed(&mut self, seed: u64) {
        let Some(image) = self.current() else {
            return;
        };
        let key = (format!("{}:{}x{}", image.name, image.width, image.height), seed);
        if self.uploaded.as_ref() == Some(&key) {
            return;
        }
        let Some(state) = &self.render_state else {
            return;
        };
        let noise = image.noise(seed);
        let data = ImageData {
            width: image.width,
            height: image.height,
            rgba: &image.rgba,
            noise: &noise,
        };
        if let Some(resources) = state.renderer.write().callback_resources.get_mut::<ImageResources>() {
            resources.set_image(&state.device, &state.queue, &data);
        }
        self.uploaded = Some(key);
        // The fresh upload carries the closed-form ε; recompute the chain's if it is on.
        self.markov_key = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_images_decode_as_28_by_28_grey() {
        let scene = ImageScene::new(None);
        assert_eq!(scene.built_in.len(), 10);
        let shirt = scene.current().unwrap();
        assert_eq!((shirt.width, shirt.height, shirt.grayscale), (28, 28, true));
        let noise = shirt.noise(1);
        assert_eq!(noise.len(), 28 * 28 * 4);
        assert_eq!(noise[0], noise[1], "grey images get grey noise");
    }

    #[test]
    fn the_markov_chain_gives_fresh_standard_normal_noise() {
        let scene = ImageScene::new(None);
        let shirt = scene.current().unwrap();
        let schedule = Schedule::new(&crate::diffusion::ScheduleConfig::default()).unwrap();
        let chain = shirt.markov_noise(3, &schedule, 400).unwrap();
        assert_eq!(
            chain,
            shirt.markov_noise(3, &schedule, 400).unwrap(),
            "seeded: the same chain"
        );
        let grey: Vec<f64> = chain.chunks_exact(4).map(|p| f64::from(p[0])).collect();
        let n = grey.len() as f64;
        let mean = grey.iter().sum::<f64>() / n;
        let var = grey.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n;
        // 784 pixels: 4 standard errors of a mean and of a variance.
        assert!(mean.abs() < 4.0 / n.sqrt(), "mean {mean}");
        assert!((var - 1.0).abs() < 4.0 * (2.0 / n).sqrt(), "var {var}");
        assert_ne!(chain, shirt.noise(3), "fresh noise, not the closed form's ε");
        assert!(shirt.markov_noise(3, &schedule, 0).unwrap().iter().all(|e| *e == 0.0));
    }

    #[test]
    fn a_bad_file_leaves_a_message_and_the_old_image() {
        let mut scene = ImageScene::new(None);
        let path = std::env::temp_dir().join(format!("noisescope-not-an-image-{}.png", std::process::id()));
        std::fs::write(&path, b"hello").unwrap();
        let ctx = egui::Context::default();
        scene.open(&path, &ctx);
        assert!(scene.message().contains("not a readable image"), "{}", scene.message());
        assert_eq!(scene.current().unwrap().name, "T-shirt");
        scene.open(Path::new("/no/such/image.png"), &ctx);
        assert!(scene.message().starts_with("/no/such/image.png: "));
    }
}
