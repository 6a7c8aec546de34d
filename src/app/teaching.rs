//! Lessons and sessions in the window: stepping through a lesson's stops,
//! saving the current view as one, and reopening where the window was left.

use std::path::{Path, PathBuf};

use super::ExplorerApp;
use super::controls::Scene;
use super::lesson::{self, Lesson, View};

/// What the lesson panel asked for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LessonRequests {
    /// Open this lesson file.
    pub open: Option<PathBuf>,
    /// Open this shipped lesson ([`crate::assets::SHIPPED_LESSONS`]).
    pub shipped: Option<crate::assets::TextAsset>,
    /// Add the current view as the lesson's next stop.
    pub append_view: bool,
    /// Write the lesson to this file.
    pub save: Option<PathBuf>,
    /// Move this many stops.
    pub step: i64,
}

/// What the explorer holds for teaching: the lesson a class steps through,
/// its section of the controls, and the session saved on close.
#[derive(Default)]
pub struct Teaching {
    /// The lesson open, if any.
    pub lesson: Option<Lesson>,
    /// The lesson section of the controls.
    pub panel: LessonPanel,
    /// The current stop's caption.
    pub caption: Option<String>,
    /// A lesson stop's t, shown once a run newer than the given id is complete.
    pub pending_t: Option<(usize, u64)>,
    /// Where the session is saved on close (none in tests).
    pub session_path: Option<std::path::PathBuf>,
}

/// The lesson section of the controls.
#[derive(Default)]
pub struct LessonPanel {
    path_text: String,
    /// Why the dialog did nothing, shown until the next try.
    hint: Option<&'static str>,
}

impl LessonPanel {
    /// Draws the section; `position` describes the loaded lesson, if any.
    pub fn ui(&mut self, ui: &mut egui::Ui, position: Option<String>) -> LessonRequests {
        let mut requests = LessonRequests::default();
        // Folded by default: PageDown / PageUp need none of it.
        egui::CollapsingHeader::new("Lesson")
            .default_open(false)
            .show(ui, |ui| self.body_ui(ui, position, &mut requests));
        requests
    }

    fn body_ui(&mut self, ui: &mut egui::Ui, position: Option<String>, requests: &mut LessonRequests) {
        if let Some(position) = position {
            ui.label(position);
        }
        ui.horizontal(|ui| {
            if ui.button("◀ Previous").on_hover_text("PageUp").clicked() {
                requests.step = -1;
            }
            if ui.button("Next ▶").on_hover_text("PageDown").clicked() {
                requests.step = 1;
            }
            // A menu, not a button each: the row must fit the panel, and a
            // second row pushed the file buttons below a 720-pixel window.
            ui.menu_button("Shipped ☰", |ui| {
                for shipped in crate::assets::SHIPPED_LESSONS {
                    if ui.button(shipped.title).on_hover_text(shipped.lesson.path).clicked() {
                        requests.shipped = Some(shipped.lesson);
                        ui.close();
                    }
                }
            })
            .response
            .on_hover_text("the lessons that come with noisescope");
        });
        ui.horizontal(|ui| {
            let label = ui.label("Lesson file");
            ui.add(egui::TextEdit::singleline(&mut self.path_text).hint_text("class.lesson"))
                .labelled_by(label.id);
        });
        let typed = PathBuf::from(self.path_text.trim());
        let has_path = !self.path_text.trim().is_empty();
        ui.horizontal(|ui| {
            if ui.button("Open lesson…").clicked() {
                // rfd needs a portal or zenity; without one, the typed path is used.
                requests.open = rfd::FileDialog::new()
                    .add_filter("lesson", &["lesson", "txt"])
                    .pick_file()
                    .or_else(|| has_path.then(|| typed.clone()));
                self.hint = requests
                    .open
                    .is_none()
                    .then_some("no file dialog here: type the lesson's path above");
            }
            requests.append_view = ui.button("Add this view").clicked();
            if ui.add_enabled(has_path, egui::Button::new("Save lesson")).clicked() {
                requests.save = Some(typed.clone());
            }
        });
        if let Some(hint) = self.hint {
            ui.label(hint);
        }
    }
}

impl ExplorerApp {
    /// Acts on the lesson panel's and the keyboard's lesson requests.
    pub(super) fn handle_lesson(&mut self, requests: LessonRequests) {
        let shipped = requests
            .shipped
            .or((requests.step > 0 && self.teaching.lesson.is_none()).then_some(crate::assets::DEFAULT_LESSON));
        if let Some(lesson) = shipped {
            self.load_lesson(lesson.text, lesson.path);
        }
        if let Some(path) = &requests.open {
            match std::fs::read_to_string(path) {
                Ok(text) => self.load_lesson(&text, &path.display().to_string()),
                Err(e) => self.notice = Some(format!("{}: {e}", path.display())),
            }
        }
        if requests.append_view {
            let view = self.current_view();
            let lesson = self.teaching.lesson.get_or_insert_with(Lesson::default);
            lesson.views.push(view);
            lesson.current = Some(lesson.views.len() - 1);
            self.status = format!("the lesson has {} stops", lesson.views.len());
        }
        if let Some(path) = &requests.save {
            self.status = match &self.teaching.lesson {
                Some(lesson) => match lesson::write(&lesson.views) {
                    Ok(text) => match crate::export::write_atomically(path, text.as_bytes()) {
                        Ok(()) => format!("saved {} stops to {}", lesson.views.len(), path.display()),
                        Err(e) => format!("cannot write {}: {e}", path.display()),
                    },
                    Err(e) => e,
                },
                None => "no lesson to save: add a view first".into(),
            };
        }
        if requests.step != 0
            && let Some(view) = self
                .teaching
                .lesson
                .as_mut()
                .and_then(|l| l.advance(requests.step))
                .cloned()
        {
            self.apply_view(view);
        }
    }

    /// Opens the lesson `text` (called `source` in messages) at its first stop.
    ///
    /// # Errors
    /// The lesson does not parse: the message names the line.
    pub fn open_lesson(&mut self, text: &str, source: &str) -> Result<(), String> {
        let views = lesson::parse(text, source)?;
        self.teaching.lesson = Some(Lesson {
            views,
            current: None,
            source: source.to_owned(),
        });
        self.handle_lesson(LessonRequests {
            step: 1,
            ..LessonRequests::default()
        });
        Ok(())
    }

    fn load_lesson(&mut self, text: &str, source: &str) {
        match lesson::parse(text, source) {
            Ok(views) => {
                self.status = format!("{source}: {} stops; PageDown for the next", views.len());
                self.teaching.lesson = Some(Lesson {
                    views,
                    current: None,
                    source: source.to_owned(),
                });
            }
            // A notice, not the status line: the run's "finished" would overwrite it.
            Err(message) => self.notice = Some(message),
        }
    }

    /// Shows `view`: its scene and settings now, its t once the run has it.
    pub(super) fn apply_view(&mut self, view: View) {
        // The model first: changing it resets the class, which the view then sets.
        match (view.scene, view.model.as_deref()) {
            (Scene::ImageBatch, Some(model)) => match model.parse() {
                Ok(model) => self.image_scene.batch_model = model,
                Err(message) => self.notice = Some(message),
            },
            (Scene::Mixture2D, Some("three-blobs")) if self.controls.model_name != super::DEFAULT_MIXTURE_NAME => {
                self.reset_mixture();
            }
            (Scene::Mixture2D, Some(path)) if path != "three-blobs" && path != self.controls.model_name => {
                self.open_mixture(Path::new(path));
            }
            _ => {}
        }
        self.controls.settings = view.settings;
        if view.scene == self.controls.scene {
            if matches!(view.scene, Scene::Mixture2D | Scene::ImageBatch) {
                self.start_run();
            }
        } else {
            self.enter_scene(view.scene);
        }
        if view.scene == Scene::ImageForward {
            self.image_scene.t = view.t.unwrap_or(0);
            self.teaching.pending_t = None;
        } else {
            // The run on screen is the old one until the new one's first frame.
            self.teaching.pending_t = view.t.map(|t| (t, self.run.run_id));
        }
        self.teaching.caption = (!view.caption.is_empty()).then_some(view.caption);
    }

    /// Scrubs to a lesson stop's t once the run is complete.
    pub(super) fn apply_pending_t(&mut self) {
        let Some((t, stale_run)) = self.teaching.pending_t else {
            return;
        };
        let complete = self.run.run_id > stale_run && self.run.frames.len() == self.run.expected_frames();
        if complete && let Some(frame) = self.run.frame_at_t(t as f64) {
            self.timeline.scrub_to(frame);
            self.teaching.pending_t = None;
        }
    }

    /// The view on screen, as a lesson stop.
    pub(super) fn current_view(&self) -> View {
        let t = match self.controls.scene {
            Scene::ImageForward => Some(self.image_scene.t),
            Scene::Mixture2D | Scene::ImageBatch => Some(self.timeline.current_t),
            Scene::Train2D | Scene::Theory(_) => None,
        };
        let model = match self.controls.scene {
            Scene::ImageBatch => Some(self.image_scene.batch_model.name().to_owned()),
            // A network from Train 2D lives only in this window: the mixture is what is kept.
            Scene::Mixture2D if self.plane.name == super::DEFAULT_MIXTURE_NAME => Some("three-blobs".to_owned()),
            Scene::Mixture2D => Some(self.plane.name.clone()),
            _ => None,
        };
        View {
            title: super::lesson::scene_name(self.controls.scene),
            scene: self.controls.scene,
            model,
            settings: self.controls.settings,
            t,
            caption: String::new(),
        }
    }

    /// Closes the window, saving its session, once the GPU device is lost:
    /// nothing drawn on it can come back. The message stays on standard error
    /// (logged by the watch) and in the notice for the last frame.
    pub(super) fn watch_gpu(&mut self, ctx: &egui::Context) {
        let Some(message) = self.gpu.as_ref().and_then(crate::render::faults::DeviceWatch::lost) else {
            return;
        };
        if self.notice.as_deref() != Some(message.as_str()) {
            eprintln!("noisescope: closing the window: {message}; start noisescope again to go on");
            self.notice = Some(message);
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }

    /// How many GPU errors nobody captured have been logged (none, normally).
    #[must_use]
    pub fn uncaptured_gpu_errors(&self) -> usize {
        self.gpu
            .as_ref()
            .map_or(0, crate::render::faults::DeviceWatch::uncaptured_errors)
    }

    /// A message that stays until it is closed (a session that could not be reopened).
    pub(super) fn notice_ui(&mut self, ctx: &egui::Context) {
        let Some(message) = &self.notice else {
            return;
        };
        let mut close = false;
        egui::Window::new("Notice")
            .collapsible(false)
            .anchor(egui::Align2::RIGHT_TOP, egui::vec2(-16.0, 96.0))
            .show(ctx, |ui| {
                ui.label(message.as_str());
                close = ui.button("Close").clicked();
            });
        if close {
            self.notice = None;
        }
    }

    /// The lesson strip: where in the lesson, and the stop's caption.
    pub(super) fn lesson_strip_ui(&self, ui: &mut egui::Ui) {
        let Some(lesson) = &self.teaching.lesson else {
            return;
        };
        if lesson.current.is_none() {
            return;
        }
        ui.strong(format!("Lesson — {}", lesson.position_text()));
        if let Some(caption) = &self.teaching.caption {
            ui.label(caption);
        }
    }

    /// The stop shown, if a lesson is running: its index and title.
    #[must_use]
    pub fn lesson_position(&self) -> Option<(usize, String)> {
        let lesson = self.teaching.lesson.as_ref()?;
        let i = lesson.current?;
        Some((i, lesson.views.get(i)?.title.clone()))
    }

    /// Restores the view saved in `path`; a missing file is a first start, a
    /// broken one is reported in the status line and ignored.
    pub(super) fn restore_session(&mut self, path: &Path) {
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        match lesson::parse_session(&text, &path.display().to_string()) {
            Ok(session) => {
                self.repaint.set_zoom_factor(session.zoom);
                if let Some([width, height]) = session.window {
                    self.repaint
                        .send_viewport_cmd(egui::ViewportCommand::InnerSize(egui::vec2(width, height)));
                }
                if let Some([x, y]) = session.position {
                    self.repaint
                        .send_viewport_cmd(egui::ViewportCommand::OuterPosition(egui::pos2(x, y)));
                }
                self.set_light_theme(session.light);
                self.apply_view(session.view);
                self.teaching.caption = None;
            }
            Err(message) => self.notice = Some(format!("session ignored: {message}")),
        }
    }

    /// Writes the current view and zoom to `path` (errors are only logged: the
    /// window is closing).
    pub(super) fn save_session(&self, path: &Path) {
        let (window, position) = self.repaint.input(|i| {
            let viewport = i.viewport();
            (
                viewport.inner_rect.map(|rect| [rect.width(), rect.height()]),
                viewport.outer_rect.map(|rect| [rect.min.x, rect.min.y]),
            )
        });
        let text = lesson::write_session(&lesson::Session {
            view: self.current_view(),
            zoom: self.repaint.zoom_factor(),
            window,
            position,
            light: self.layout.light,
        });
        let text = match text {
            Ok(text) => text,
            Err(e) => {
                eprintln!("noisescope: could not save the session to {}: {e}", path.display());
                return;
            }
        };
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| crate::export::write_atomically(path, text.as_bytes()));
        if let Err(e) = written {
            eprintln!("noisescope: could not save the session to {}: {e}", path.display());
        }
    }
}
