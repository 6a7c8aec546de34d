//! The "Train 2D" scene: fit an MLP to a 2D data set live and watch the loss,
//! the timesteps drawn (uniform, or Improved DDPM's importance sampling), and
//! samples of the moving-average model converge on the data.

use std::sync::Arc;

use egui::Color32;
use egui_plot::{Bar, BarChart, Legend, Line, Plot, PlotPoints, Points};

use crate::data::Dataset;
use crate::data::toys::Toy;
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::{PredictionType, ScheduleConfig};
use crate::live_training::{LiveTraining, TrainingEvent};
use crate::model::train::{TimestepSampling, TrainConfig};
use crate::model::{Architecture, MlpConfig, ModelConfig, TrainedModel};

/// Histogram bins over t = 1..=T.
const T_BINS: usize = 50;
/// Points of the data set shown behind the samples.
const DATA_SHOWN: usize = 2000;

/// What to learn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainData {
    /// One of the toys.
    Toy(Toy),
    /// Samples of the 2D scene's mixture.
    Mixture,
}

/// A finished model handed to the 2D scene, with what it was trained on.
pub struct TrainedPlaneModel {
    /// The moving-average network.
    pub net: Arc<TrainedModel>,
    /// The empirical distribution of the training points shown (x_0 for forward runs and the ELBO).
    pub data: Arc<GaussianMixture>,
    /// The name shown as the 2D scene's model.
    pub name: String,
    /// Whether it learned the 2D scene's own mixture (then the exact p_t and score still apply).
    pub learned_the_mixture: bool,
}

/// The scene's state.
pub struct TrainScene {
    /// The data to learn.
    pub data: TrainData,
    /// Optimisation steps per job.
    pub steps: usize,
    /// How t is drawn.
    pub sampling: TimestepSampling,
    /// What the network predicts.
    pub prediction: PredictionType,
    job: Option<LiveTraining>,
    losses: Vec<[f64; 2]>,
    t_counts: Vec<u32>,
    train_steps: usize,
    preview: Option<(usize, Vec<f32>)>,
    data_points: Vec<f32>,
    model: Option<Arc<TrainedModel>>,
    /// What the finished model learned (set when its job starts).
    trained_on: TrainData,
    handover_requested: bool,
    status: String,
    /// Wall time of the last finished job (shown on hover: it varies run to run).
    elapsed_secs: Option<f64>,
    repaint: egui::Context,
}

impl TrainScene {
    /// An idle scene; `repaint` is woken by the trainer thread.
    #[must_use]
    pub fn new(repaint: egui::Context) -> Self {
        Self {
            data: TrainData::Toy(Toy::TwoMoons),
            steps: 2000,
            sampling: TimestepSampling::Uniform,
            prediction: PredictionType::Epsilon,
            job: None,
            losses: Vec::new(),
            t_counts: vec![0; T_BINS],
            train_steps: 1000,
            preview: None,
            data_points: Vec::new(),
            model: None,
            trained_on: TrainData::Toy(Toy::TwoMoons),
            handover_requested: false,
            status: "press Train".into(),
            elapsed_secs: None,
            repaint,
        }
    }

    /// The losses so far, `[step, loss]`.
    #[must_use]
    pub fn losses(&self) -> &[[f64; 2]] {
        &self.losses
    }

    /// Counts of drawn t per bin of T/50.
    #[must_use]
    pub fn t_counts(&self) -> &[u32] {
        &self.t_counts
    }

    /// The latest preview: its step and points.
    #[must_use]
    pub fn preview(&self) -> Option<&(usize, Vec<f32>)> {
        self.preview.as_ref()
    }

    /// The finished model, once there is one.
    #[must_use]
    pub fn model(&self) -> Option<&Arc<TrainedModel>> {
        self.model.as_ref()
    }

    /// What the scene is doing.
    #[must_use]
    pub fn status(&self) -> &str {
        &self.status
    }

    /// Whether a job is running.
    #[must_use]
    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    fn dataset(&self, mixture: &GaussianMixture) -> Result<Dataset, String> {
        match self.data {
            TrainData::Toy(toy) => Ok(toy.sample(5000, 0)),
            TrainData::Mixture => {
                Dataset::from_mixture_samples(mixture, 5000, 0, "the 2D scene's mixture").map_err(|e| e.to_string())
            }
        }
    }

    /// Starts a job on the chosen data (cancelling any running one).
    pub fn start(&mut self, mixture: &GaussianMixture, schedule: ScheduleConfig) {
        self.job = None;
        let data = match self.dataset(mixture) {
            Ok(data) if data.dims == 2 => data,
            Ok(data) => {
                self.status = format!(
                    "{} has {} dimensions; this scene trains on 2D points",
                    data.name, data.dims
                );
                return;
            }
            Err(e) => {
                self.status = e;
                return;
            }
        };
        self.data_points = data.rows[..data.rows.len().min(2 * DATA_SHOWN)].to_vec();
        let model = ModelConfig {
            architecture: Architecture::Mlp(MlpConfig::default()),
            prediction: self.prediction,
            schedule,
            ..ModelConfig::default()
        };
        let config = TrainConfig {
            batch: 256,
            timestep_sampling: self.sampling,
            ..TrainConfig::default()
        };
        self.losses.clear();
        self.t_counts = vec![0; T_BINS];
        self.train_steps = schedule.train_steps.max(1);
        self.preview = None;
        self.model = None;
        self.trained_on = self.data;
        self.elapsed_secs = None;
        let repaint = self.repaint.clone();
        match LiveTraining::start(model, config, data, self.steps, move || repaint.request_repaint()) {
            Ok(job) => {
                self.job = Some(job);
                self.status = "training…".into();
            }
            Err(e) => self.status = format!("could not start training: {e}"),
        }
    }

    /// The finished model, once "Sample it in the 2D scene" was pressed.
    pub fn take_handover(&mut self) -> Option<TrainedPlaneModel> {
        if !std::mem::take(&mut self.handover_requested) {
            return None;
        }
        let net = Arc::clone(self.model.as_ref()?);
        let points: Vec<Vec<f64>> = self
            .data_points
            .chunks_exact(2)
            .map(|p| p.iter().map(|&v| f64::from(v)).collect())
            .collect();
        let data = match GaussianMixture::empirical(&points, None) {
            Ok(data) => Arc::new(data),
            Err(e) => {
                self.status = format!("cannot hand over: {e}");
                return None;
            }
        };
        let data_name = match self.trained_on {
            TrainData::Toy(toy) => toy.name().to_owned(),
            TrainData::Mixture => "the mixture".to_owned(),
        };
        Some(TrainedPlaneModel {
            net,
            data,
            name: format!("MLP trained on {data_name} (Train 2D)"),
            learned_the_mixture: self.trained_on == TrainData::Mixture,
        })
    }

    /// Drains the trainer's reports (call every frame).
    pub fn poll(&mut self) {
        while let Some(event) = self.job.as_ref().and_then(LiveTraining::poll) {
            match event {
                TrainingEvent::Progress { losses, timesteps } => {
                    self.losses
                        .extend(losses.iter().map(|&(step, loss)| [step as f64, loss]));
                    for t in timesteps {
                        let bin = ((t - 1) * T_BINS / self.train_steps).min(T_BINS - 1);
                        self.t_counts[bin] += 1;
                    }
                    if let Some(&(step, loss)) = losses.last() {
                        self.status = format!("step {step} of {}: loss {loss:.4}", self.steps);
                    }
                }
                TrainingEvent::Preview { step, points } => self.preview = Some((step, points)),
                TrainingEvent::Finished { model, elapsed_secs } => {
                    self.model = Some(model);
                    self.status = format!("trained {} steps", self.steps);
                    self.elapsed_secs = Some(elapsed_secs);
                    self.job = None;
                }
                TrainingEvent::Failed(message) => {
                    self.status = format!("training failed: {message}");
                    self.job = None;
                }
            }
        }
    }

    /// The left-panel controls; returns true when Train was pressed.
    pub fn controls_ui(&mut self, ui: &mut egui::Ui) -> bool {
        ui.label("Data");
        ui.horizontal_wrapped(|ui| {
            for &toy in Toy::ALL {
                ui.selectable_value(&mut self.data, TrainData::Toy(toy), toy.name());
            }
            ui.selectable_value(&mut self.data, TrainData::Mixture, "2D mixture");
        });
        ui.add(
            egui::Slider::new(&mut self.steps, 100..=10_000)
                .logarithmic(true)
                .text("Training steps"),
        );
        ui.horizontal(|ui| {
            ui.label("t drawn");
            ui.selectable_value(&mut self.sampling, TimestepSampling::Uniform, "uniform");
            ui.selectable_value(&mut self.sampling, TimestepSampling::Importance, "importance");
        });
        ui.horizontal(|ui| {
            ui.label("Objective");
            let flow = self.prediction == PredictionType::FlowVelocity;
            if ui.selectable_label(!flow, "diffusion").clicked() && flow {
                self.prediction = PredictionType::Epsilon;
            }
            ui.selectable_value(&mut self.prediction, PredictionType::FlowVelocity, "flow matching")
                .on_hover_text("x_τ = (1 − τ) x_0 + τ ε, predicting u = ε − x_0; the 2D scene's samplers read it through the same point on the VP path");
        });
        if self.prediction != PredictionType::FlowVelocity {
            ui.horizontal(|ui| {
                ui.label("Predicts");
                for kind in [
                    PredictionType::Epsilon,
                    PredictionType::Sample,
                    PredictionType::Velocity,
                ] {
                    ui.selectable_value(&mut self.prediction, kind, kind.name());
                }
            });
        }
        let mut start = false;
        ui.horizontal(|ui| {
            start = ui.button("Train").clicked();
            if ui
                .add_enabled(self.job.is_some(), egui::Button::new("Stop training"))
                .clicked()
            {
                self.job = None;
                self.status = "stopped".into();
            }
        });
        self.handover_requested |= ui
            .add_enabled(self.model.is_some(), egui::Button::new("Sample it in the 2D scene"))
            .on_hover_text("the 2D scene's sampler, η, steps and timeline, with this network as the model")
            .clicked();
        let status = ui.label(&self.status);
        if let Some(secs) = self.elapsed_secs {
            status.on_hover_text(format!("the job took {secs:.1} s on the trainer thread"));
        }
        start
    }

    /// The loss curve, the histogram of t and the samples over the data.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        ui.label(
            "L_simple = E‖ε − ε_θ(√ᾱ_t x₀ + √(1−ᾱ_t) ε, t)‖²; the samples come from the moving average of the weights",
        );
        let width = (ui.available_width() / 3.0 - 8.0).max(120.0);
        let height = ui.available_height().max(120.0);
        ui.horizontal(|ui| {
            self.loss_ui(ui, width, height);
            self.histogram_ui(ui, width, height);
            self.samples_ui(ui, width, height);
        });
    }

    fn loss_ui(&self, ui: &mut egui::Ui, width: f32, height: f32) {
        let points: Vec<[f64; 2]> = self.losses.iter().map(|[s, l]| [*s, l.max(1e-12).log10()]).collect();
        Plot::new("training loss")
            .width(width)
            .height(height)
            .legend(Legend::default())
            .x_axis_label("step")
            .show(ui, |plot_ui| {
                plot_ui.line(Line::new("log₁₀ loss", PlotPoints::from(points)).width(1.5));
            });
    }

    fn histogram_ui(&self, ui: &mut egui::Ui, width: f32, height: f32) {
        let bin_width = self.train_steps as f64 / T_BINS as f64;
        let bars: Vec<Bar> = self
            .t_counts
            .iter()
            .enumerate()
            .map(|(i, &n)| Bar::new((i as f64 + 0.5) * bin_width, f64::from(n)).width(bin_width * 0.9))
            .collect();
        Plot::new("sampled t")
            .width(width)
            .height(height)
            .legend(Legend::default())
            .x_axis_label("t")
            .show(ui, |plot_ui| {
                plot_ui.bar_chart(BarChart::new("t drawn for training", bars).color(Color32::from_rgb(90, 160, 230)));
            });
    }

    fn samples_ui(&self, ui: &mut egui::Ui, width: f32, height: f32) {
        let pairs =
            |v: &[f32]| -> Vec<[f64; 2]> { v.chunks_exact(2).map(|p| [f64::from(p[0]), f64::from(p[1])]).collect() };
        let name = self
            .preview
            .as_ref()
            .map_or_else(|| "samples".to_owned(), |(step, _)| format!("samples at step {step}"));
        Plot::new("samples")
            .width(width)
            .height(height)
            .data_aspect(1.0)
            .legend(Legend::default())
            .show(ui, |plot_ui| {
                plot_ui.points(
                    Points::new("data", pairs(&self.data_points))
                        .radius(1.0)
                        .color(Color32::from_gray(110)),
                );
                if let Some((_, points)) = &self.preview {
                    plot_ui.points(
                        Points::new(name, pairs(points))
                            .radius(1.5)
                            .color(Color32::from_rgb(240, 150, 60)),
                    );
                }
            });
    }
}
