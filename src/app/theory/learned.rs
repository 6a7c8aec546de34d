//! The learned-vs-exact scene's view: it trains the MLP live (streaming its
//! losses), then compares it; the figure is [`crate::figures::learned`].

use super::job::Computation;
use super::view::{self, Textures};
use super::{SceneContext, TheoryScene};
use crate::figures::learned::{self, Errors, Setup};
use crate::live_training::{LiveTraining, TrainingEvent};

/// The learned-vs-exact scene.
pub struct LearnedScene {
    context: SceneContext,
    setup: Setup,
    job: Option<LiveTraining>,
    losses: Vec<[f64; 2]>,
    status: String,
    errors: Computation<Errors>,
    textures: Textures,
}

impl LearnedScene {
    /// Starts training at once.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            context: context.clone(),
            setup: Setup::default(),
            job: None,
            losses: Vec::new(),
            status: String::new(),
            errors: Computation::default(),
            textures: Textures::default(),
        };
        scene.train();
        scene
    }

    fn train(&mut self) {
        let (model, config, data) = match learned::training(&self.setup, &self.context.inputs) {
            Ok(parts) => parts,
            Err(e) => {
                self.status = e.to_string();
                return;
            }
        };
        let repaint = self.context.repaint.clone();
        match LiveTraining::start(model, config, data, self.setup.steps, move || repaint.request_repaint()) {
            Ok(job) => {
                self.job = Some(job);
                self.status = "training…".into();
            }
            Err(e) => self.status = e.to_string(),
        }
    }

    fn poll(&mut self) {
        let steps = self.setup.steps;
        while let Some(event) = self.job.as_ref().and_then(LiveTraining::poll) {
            match event {
                TrainingEvent::Progress { losses, .. } => {
                    self.losses
                        .extend(losses.iter().map(|&(step, loss)| [step as f64, loss]));
                    if let Some(&(step, loss)) = losses.last() {
                        self.status = format!("training step {step} of {steps}: loss {loss:.4}");
                    }
                    self.textures.clear();
                }
                TrainingEvent::Preview { .. } => {}
                TrainingEvent::Finished { model, .. } => {
                    self.status = format!("trained {steps} steps; comparing with the exact score…");
                    self.job = None;
                    let inputs = self.context.inputs.clone();
                    self.errors.restart(&self.context.repaint, move |job| {
                        learned::compare(&model, &inputs, job).map_err(String::from)
                    });
                }
                TrainingEvent::Failed(message) => {
                    self.status = format!("training failed: {message}");
                    self.job = None;
                }
            }
        }
        if self.errors.poll() && self.errors.value().is_some() {
            self.status = format!("trained {steps} steps");
            self.textures.clear();
        }
    }
}

impl TheoryScene for LearnedScene {
    fn caption(&self) -> &'static str {
        "An MLP trained with L_simple = E‖ε − ε_θ(x_t, t)‖² on samples of the mixture, against the \
         mixture's exact ε* = −√(1−ᾱ_t)∇log p_t(x_t): the error E‖ε_θ − ε*‖² at each t, relative to \
         E‖ε‖², the size of the noise it predicts (0 = exact)."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.poll();
        ui.horizontal(|ui| {
            if self.job.is_some() || self.errors.is_running() {
                // The same words as every scene's computation, so a lesson (and a test) can wait on them.
                ui.spinner();
                ui.label("computing…");
            }
            ui.label(&self.status);
            if ui.button("Train again").clicked() {
                self.losses.clear();
                self.train();
            }
        });
        if let Some(errors) = self.errors.value() {
            let (worst_t, worst) = errors.worst();
            ui.label(format!(
                "relative ε error: median over t {:.4}, worst {worst:.4} at t = {worst_t}",
                errors.median()
            ));
        }
        let panels = learned::figure(&self.losses, self.errors.value()).panels;
        view::panels_ui(
            ui,
            "learned",
            &panels,
            &mut self.textures,
            ui.available_height().max(150.0),
        );
    }
}
