//! The window's classroom controls: shortcuts applied, the presentation
//! caption strip, and "Copy as command".

use super::controls::Scene;
use super::{DEFAULT_MIXTURE_NAME, ExplorerApp, command, image_scene, keys, presentation};

impl ExplorerApp {
    /// Applies this frame's shortcuts (see [`super::keys::SHORTCUTS`]).
    pub(super) fn apply_keys(&mut self, keys: keys::KeyActions, ctx: &egui::Context) {
        if keys.toggle_help {
            self.show_help = !self.show_help;
        }
        if keys.toggle_presentation || (keys.escape && self.presentation.is_on() && !self.show_help) {
            self.toggle_presentation(ctx);
        }
        if keys.escape {
            self.show_help = false;
        }
        if self.controls.scene == Scene::ImageForward {
            // No run here: the keys move t itself.
            let big_t = self.schedule.train_steps();
            let t = i64::try_from(self.image_scene.t).unwrap_or(0).saturating_add(keys.step);
            self.image_scene.t = usize::try_from(t.max(0)).unwrap_or(0).min(big_t);
            if keys.to_data {
                self.image_scene.t = 0;
            }
            if keys.to_noise {
                self.image_scene.t = big_t;
            }
            return;
        }
        if keys.toggle_play {
            self.timeline.toggle_play();
        }
        if keys.step != 0 {
            self.timeline.step_by(keys.step);
        }
        let extreme_t = |pick_max: bool| {
            let frames = self.run.frames.iter().enumerate();
            if pick_max {
                frames.max_by_key(|(_, f)| f.t).map(|(i, _)| i)
            } else {
                frames.min_by_key(|(_, f)| f.t).map(|(i, _)| i)
            }
        };
        if keys.to_data
            && let Some(frame) = extreme_t(false)
        {
            self.timeline.scrub_to(frame);
        }
        if keys.to_noise
            && let Some(frame) = extreme_t(true)
        {
            self.timeline.scrub_to(frame);
        }
        let mut changed = false;
        if let Some(class) = keys.class.filter(|k| *k < self.controls.class_count) {
            self.controls.settings.class = Some(class);
            changed = true;
        }
        if keys.gamma_delta != 0.0 {
            let guidance = &mut self.controls.settings.guidance;
            guidance.scale = (guidance.scale + keys.gamma_delta).clamp(0.0, 20.0);
            changed = true;
        }
        if changed && matches!(self.controls.scene, Scene::Mixture2D | Scene::ImageBatch) {
            self.start_run();
        }
    }

    /// The `noisescope sample` line of the current run, onto the clipboard.
    pub(super) fn copy_command(&mut self) {
        let model = if self.controls.scene == Scene::ImageBatch {
            match self.image_scene.batch_model.shipped() {
                Some(shipped) => Ok(command::CommandModel::Network(shipped.asset().path.into())),
                None => Err("the empirical denoiser of the image batch has no sample command".to_owned()),
            }
        } else if self.plane.network.is_some() {
            Err("a network trained in the window has no file for the command to load".to_owned())
        } else if self.plane.name == DEFAULT_MIXTURE_NAME {
            Ok(command::CommandModel::Mixture(crate::assets::THREE_BLOBS.path.into()))
        } else {
            Ok(command::CommandModel::Mixture(self.plane.name.clone()))
        };
        let mut settings = self.controls.settings;
        if self.controls.scene == Scene::ImageBatch {
            settings.batch = image_scene::BATCH as usize;
        }
        match model.and_then(|model| command::sample_command(&settings, &model)) {
            Ok(line) => {
                self.repaint.copy_text(line.clone());
                self.status = format!("copied: {line}");
                self.last_command = Some(line);
            }
            Err(reason) => self.status = format!("no command: {reason}"),
        }
    }

    /// The last command "Copy as command" put on the clipboard.
    #[must_use]
    pub fn last_command(&self) -> Option<&str> {
        self.last_command.as_deref()
    }

    /// The presentation caption strip (only while presenting).
    pub(super) fn caption_ui(&self, ui: &mut egui::Ui, equation: &str, t: usize, sigma: f64) {
        if !self.presentation.is_on() {
            return;
        }
        let numbers = presentation::StepNumbers {
            t,
            train_steps: self.schedule.train_steps(),
            alpha_bar: self.schedule.alpha_bar(t.min(self.schedule.train_steps())),
            sigma,
        };
        presentation::caption_ui(ui, equation, numbers);
    }
}
