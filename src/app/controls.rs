//! The controls panel: every setting of a run, each labelled in terms a student knows.

use std::path::PathBuf;

use egui::{ComboBox, DragValue, Slider};

use super::theory::Topic;
use crate::diffusion::forward::ForwardMode;
use crate::diffusion::guidance::{GuidanceKind, SigmaInterval};
use crate::diffusion::sampler::SamplerKind;
use crate::diffusion::{ScheduleKind, TimestepSpacing};
use crate::scenes::SceneId;
use crate::worker::Direction;

/// Everything the controls set: the worker's run settings.
pub use crate::worker::RunSettings as Settings;
use crate::worker::limits;

/// Which scene the window shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scene {
    /// Particles of a 2D mixture, sampled live.
    #[default]
    Mixture2D,
    /// The forward process on an image.
    ImageForward,
    /// A batch of images sampled by the reverse process.
    ImageBatch,
    /// Training a 2D model live.
    Train2D,
    /// A scene of the theory.
    Theory(Topic),
}

impl Scene {
    /// The scene's entry in the registry.
    #[must_use]
    pub fn id(self) -> SceneId {
        match self {
            Self::Mixture2D => SceneId::Mixture2D,
            Self::ImageForward => SceneId::ImageForward,
            Self::ImageBatch => SceneId::ImageBatch,
            Self::Train2D => SceneId::Train2D,
            Self::Theory(topic) => topic.id(),
        }
    }

    /// The window's scene for registry entry `id` (exhaustive: a new entry
    /// that the window cannot show does not compile).
    #[must_use]
    pub fn from_id(id: SceneId) -> Self {
        match id {
            SceneId::Mixture2D => Self::Mixture2D,
            SceneId::ImageForward => Self::ImageForward,
            SceneId::ImageBatch => Self::ImageBatch,
            SceneId::Train2D => Self::Train2D,
            SceneId::ElboGap => Self::Theory(Topic::EvidenceGap),
            SceneId::DdpmVsDdim => Self::Theory(Topic::Eta),
            SceneId::DdimInversion => Self::Theory(Topic::Inversion),
            SceneId::Branching => Self::Theory(Topic::Branching),
            SceneId::FourWays => Self::Theory(Topic::FourWays),
            SceneId::Tweedie => Self::Theory(Topic::Tweedie),
            SceneId::Vae => Self::Theory(Topic::Vae),
            SceneId::HvaeToDiffusion => Self::Theory(Topic::Hvae),
            SceneId::Ncsn => Self::Theory(Topic::Ncsn),
            SceneId::CosineVsLinear => Self::Theory(Topic::Cosine),
            SceneId::ElboForms => Self::Theory(Topic::ElboForms),
            SceneId::LearnedVariance => Self::Theory(Topic::Improved),
            SceneId::LossWeights => Self::Theory(Topic::LossWeights),
            SceneId::VdmSchedule => Self::Theory(Topic::Vdm),
            SceneId::Langevin => Self::Theory(Topic::Langevin),
            SceneId::SdeVsOde => Self::Theory(Topic::SdeOde),
            SceneId::FlowMatching => Self::Theory(Topic::FlowMatching),
            SceneId::Edm => Self::Theory(Topic::Edm),
            SceneId::StepVsRun => Self::Theory(Topic::StepVsRun),
            SceneId::ComparisonGrid => Self::Theory(Topic::Grid),
            SceneId::DpmSolver => Self::Theory(Topic::DpmSolver),
            SceneId::Distillation => Self::Theory(Topic::Distillation),
            SceneId::Guidance => Self::Theory(Topic::Guidance),
            SceneId::Inpainting => Self::Theory(Topic::Inpaint),
            SceneId::Memorization => Self::Theory(Topic::Memorization),
            SceneId::LearnedVsExact => Self::Theory(Topic::LearnedVsExact),
            SceneId::ReverseKernel => Self::Theory(Topic::ReverseKernel),
            SceneId::Elbo => Self::Theory(Topic::Elbo),
            SceneId::Spacing => Self::Theory(Topic::Spacing),
        }
    }
}

/// What the user asked for this frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ControlRequests {
    /// A setting changed: restart the run.
    pub changed: bool,
    /// Sample was pressed.
    pub sample: bool,
    /// Stop was pressed.
    pub stop: bool,
    /// A mixture file to open.
    pub open_model: Option<PathBuf>,
    /// "Copy as command" was pressed.
    pub copy_command: bool,
    /// "Back to the exact mixture" was pressed.
    pub exact_model: bool,
}

/// The left panel.
pub struct ControlsPanel {
    /// The scene shown.
    pub scene: Scene,
    /// The current settings.
    pub settings: Settings,
    /// The model's name, shown in the panel.
    pub model_name: String,
    /// The classes the model knows (0: unconditional only).
    pub class_count: u32,
    /// Their names, by label (empty: shown as numbers).
    pub class_names: Vec<String>,
    /// Whether the density shows behind the particles.
    pub show_density: bool,
    /// Whether score arrows show.
    pub show_score: bool,
    /// Whether trails show.
    pub show_trails: bool,
    /// Whether each particle's x0 estimate (E[x0|x_t], Tweedie) shows.
    pub show_x0: bool,
    /// Show only what a lesson changes (presentation mode).
    pub essentials_only: bool,
    /// A network from Train 2D is the 2D scene's model.
    pub network_in_use: bool,
    /// Whether the mixture's exact density and score belong with the model shown.
    pub exact_density_shown: bool,
    path_text: String,
    requests: ControlRequests,
}

impl ControlsPanel {
    /// Controls for a model called `model_name` with `class_count` classes.
    #[must_use]
    pub fn new(model_name: String, class_count: u32) -> Self {
        Self {
            scene: Scene::Mixture2D,
            settings: Settings::default(),
            model_name,
            class_count,
            class_names: Vec::new(),
            show_density: true,
            show_score: true,
            show_trails: true,
            show_x0: false,
            essentials_only: false,
            network_in_use: false,
            exact_density_shown: true,
            path_text: String::new(),
            requests: ControlRequests::default(),
        }
    }

    /// Takes what the user asked for since the last call.
    pub fn take_requests(&mut self) -> ControlRequests {
        std::mem::take(&mut self.requests)
    }

    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let before = self.settings;
        // Each scene shows the sections that act on it, in one fixed order.
        let sampling = matches!(self.scene, Scene::Mixture2D | Scene::ImageBatch);
        // While presenting, only what a lesson changes: the sampler and guidance.
        let mixture = self.scene == Scene::Mixture2D && !self.essentials_only;
        if mixture {
            self.model_ui(ui);
            ui.separator();
        }
        if !self.essentials_only {
            self.schedule_ui(ui);
            ui.separator();
        }
        if sampling {
            self.sampler_ui(ui);
            ui.separator();
            self.guidance_ui(ui);
            ui.separator();
        }
        if mixture {
            self.direction_ui(ui);
        }
        if self.scene != Scene::Train2D && !self.essentials_only {
            ui.add(DragValue::new(&mut self.settings.seed).prefix("Seed "));
        }
        if mixture {
            ui.add(
                Slider::new(&mut self.settings.batch, 1..=limits::MAX_BATCH)
                    .text("Batch (samples)")
                    .logarithmic(true),
            );
        }
        if sampling {
            self.sample_stop_ui(ui);
        }
        if mixture {
            ui.separator();
            // Both are the mixture's exact p_t: not the truth for a network trained on a toy.
            // Two to a row: four rows pushed the lesson's messages off a 720-pixel window.
            ui.horizontal_wrapped(|ui| {
                ui.add_enabled_ui(self.exact_density_shown, |ui| {
                    ui.checkbox(&mut self.show_density, "Show density p_t");
                    ui.checkbox(&mut self.show_score, "Show score ∇log p_t");
                })
                .response
                .on_disabled_hover_text("this model learned a toy data set, whose exact p_t is not known here");
            });
            ui.horizontal_wrapped(|ui| {
                ui.checkbox(&mut self.show_trails, "Show trails");
                ui.checkbox(&mut self.show_x0, "Show x0 estimate E[x0|x_t]")
                    .on_hover_text(
                        "where the model guesses each particle came from; for the exact mixture, Tweedie's formula",
                    );
            });
        }
        if self.settings != before {
            self.requests.changed = true;
        }
    }

    fn model_ui(&mut self, ui: &mut egui::Ui) {
        ui.label(format!("Model: {}", self.model_name));
        if self.network_in_use {
            self.requests.exact_model = ui.button("Back to the exact mixture").clicked();
        }
        ui.horizontal(|ui| {
            if ui.button("Open mixture…").clicked() {
                // rfd needs a portal or zenity; on a bare X11 session it returns None at once.
                match rfd::FileDialog::new().add_filter("mixture", &["json"]).pick_file() {
                    Some(path) => self.requests.open_model = Some(path),
                    None => self.path_text = "no dialog: type a path below".into(),
                }
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("Mixture path");
            let edit = ui
                .add(egui::TextEdit::singleline(&mut self.path_text).hint_text("mixture.json"))
                .labelled_by(label.id);
            let entered = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Load").clicked() || entered) && !self.path_text.trim().is_empty() {
                self.requests.open_model = Some(PathBuf::from(self.path_text.trim()));
            }
        });
    }

    fn schedule_ui(&mut self, ui: &mut egui::Ui) {
        let schedule = &mut self.settings.schedule;
        enum_combo_ui(
            ui,
            "Schedule",
            &mut schedule.kind,
            ScheduleKind::ALL,
            ScheduleKind::name,
        );
        ui.add(
            DragValue::new(&mut schedule.train_steps)
                .range(limits::MIN_TRAIN_STEPS..=limits::MAX_TRAIN_STEPS)
                .prefix("T = ")
                .suffix(" training steps"),
        );
        if let Some((default_start, default_end)) = schedule.kind.default_beta_range() {
            let mut start = schedule.beta_start.unwrap_or(default_start);
            let mut end = schedule.beta_end.unwrap_or(default_end);
            ui.add(
                DragValue::new(&mut start)
                    .range(1e-6..=0.5)
                    .speed(1e-5)
                    .prefix("β_start = "),
            );
            ui.add(
                DragValue::new(&mut end)
                    .range(1e-6..=0.999)
                    .speed(1e-4)
                    .prefix("β_end = "),
            );
            schedule.beta_start = ((start - default_start).abs() > f64::EPSILON).then_some(start);
            schedule.beta_end = ((end - default_end).abs() > f64::EPSILON).then_some(end);
        } else {
            schedule.beta_start = None;
            schedule.beta_end = None;
        }
        ui.checkbox(&mut schedule.zero_terminal_snr, "Zero terminal SNR (ᾱ_T = 0)");
    }

    fn sampler_ui(&mut self, ui: &mut egui::Ui) {
        let train_steps = self.settings.schedule.train_steps;
        let sampler = &mut self.settings.sampler;
        let kind_before = sampler.kind;
        enum_combo_ui(ui, "Sampler", &mut sampler.kind, SamplerKind::ALL, SamplerKind::name);
        if sampler.kind != kind_before {
            // A sampler brings its own best spacing; the menu below can still change it.
            sampler.spacing = sampler.kind.default_spacing();
        }
        sampler.steps = sampler.steps.min(train_steps);
        ui.add(
            Slider::new(&mut sampler.steps, 1..=train_steps)
                .text("Steps")
                .logarithmic(true),
        );
        enum_combo_ui(
            ui,
            "Spacing",
            &mut sampler.spacing,
            TimestepSpacing::ALL,
            TimestepSpacing::name,
        );
        // Presenting, the panel is narrow for its type: the symbol stays, the words go to the hover text.
        let eta_label = if self.essentials_only {
            "η"
        } else {
            "η (0 = DDIM, 1 = DDPM)"
        };
        ui.add_enabled(
            sampler.kind == SamplerKind::Ddim,
            Slider::new(&mut sampler.eta, 0.0..=1.0).text(eta_label),
        )
        .on_hover_text("η = 0 is DDIM (deterministic), η = 1 is DDPM");
    }

    fn guidance_ui(&mut self, ui: &mut egui::Ui) {
        let essentials_only = self.essentials_only;
        let settings = &mut self.settings;
        let names = &self.class_names;
        let name = |c: u32| match names.get(c as usize) {
            Some(name) => format!("{c} {name}"),
            None => c.to_string(),
        };
        let class_text = settings.class.map_or_else(|| "none".to_owned(), name);
        ui.add_enabled_ui(self.class_count > 0, |ui| {
            ComboBox::from_label("Class")
                .selected_text(class_text)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut settings.class, None, "none");
                    for c in 0..self.class_count {
                        ui.selectable_value(&mut settings.class, Some(c), name(c));
                    }
                });
        });
        ui.add_enabled_ui(settings.class.is_some(), |ui| {
            let gamma_label = if essentials_only { "γ" } else { "γ (guidance)" };
            ui.add(Slider::new(&mut settings.guidance.scale, 0.0..=limits::MAX_GUIDANCE_SCALE).text(gamma_label))
                .on_hover_text("γ: the guidance scale (1 = the conditional model itself)");
            enum_combo_ui(
                ui,
                "Guidance",
                &mut settings.guidance.kind,
                GuidanceKind::ALL,
                GuidanceKind::name,
            );
            // Presenting, only when a lesson chose an interval: the strip stays slim.
            if !essentials_only || settings.guidance.interval != SigmaInterval::default() {
                guided_levels_ui(ui, &mut settings.guidance.interval);
            }
        });
    }

    fn direction_ui(&mut self, ui: &mut egui::Ui) {
        let directions = [
            (Direction::Reverse, "reverse (denoising)"),
            (Direction::Forward(ForwardMode::ClosedForm), "forward: closed form"),
            (Direction::Forward(ForwardMode::MarkovChain), "forward: Markov chain"),
        ];
        let direction = &mut self.settings.direction;
        let current = directions.iter().find(|(d, _)| d == direction).map_or("", |(_, n)| n);
        ComboBox::from_label("Direction")
            .selected_text(current)
            .show_ui(ui, |ui| {
                for (option, name) in directions {
                    ui.selectable_value(direction, option, name);
                }
            });
    }

    fn sample_stop_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            if ui.button("Sample").clicked() {
                self.requests.sample = true;
            }
            if ui.button("Stop").clicked() {
                self.requests.stop = true;
            }
            if ui
                .button("Copy as command")
                .on_hover_text("the noisescope sample command that redraws this run")
                .clicked()
            {
                self.requests.copy_command = true;
            }
        });
    }
}

/// A labelled combo box over every value of a named enum.
fn enum_combo_ui<T: Copy + PartialEq>(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut T,
    all: &[T],
    name: fn(T) -> &'static str,
) {
    ComboBox::from_label(label)
        .selected_text(name(*value))
        .show_ui(ui, |ui| {
            for &option in all {
                ui.selectable_value(value, option, name(option));
            }
        });
}

/// The noise levels guidance applies at (Kynkäänniemi et al. 2024): every
/// level, or only where σ is at most a bound; γ = 1 elsewhere.
fn guided_levels_ui(ui: &mut egui::Ui, interval: &mut SigmaInterval) {
    let choices = [
        (f64::INFINITY, "every σ"),
        (5.0, "σ ≤ 5"),
        (2.5, "σ ≤ 2.5"),
        (1.0, "σ ≤ 1"),
    ];
    let label = |i: &SigmaInterval| {
        choices
            .iter()
            .find(|(high, _)| i.low == 0.0 && i.high == *high)
            .map_or_else(|| format!("σ in ({i}]"), |(_, name)| (*name).to_owned())
    };
    ComboBox::from_label("Guided levels")
        .selected_text(label(interval))
        .show_ui(ui, |ui| {
            for (high, name) in choices {
                ui.selectable_value(interval, SigmaInterval { low: 0.0, high }, name);
            }
        })
        .response
        .on_hover_text("guide only where σ = √((1 − ᾱ)/ᾱ) is at most this; γ = 1 at noisier levels keeps the variety");
}
