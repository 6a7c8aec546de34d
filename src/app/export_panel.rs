//! The export section: where files go, the buttons, and what happened.

use super::controls::Scene;

/// What the user asked to save.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportRequest {
    /// The plotted curves as CSV.
    Curves,
    /// The current frame's particles as CSV (2D scene).
    Points,
    /// The current x_t as PNG at the image's own resolution (image scene).
    Png,
    /// The forward process from t = 0 to T as an animated GIF (image scene).
    Gif,
    /// The batch grid at the current step as PNG (image batch scene).
    GridPng,
    /// Every step of the batch run as an animated GIF (image batch scene).
    RunGif,
    /// The 2D view at the current step as PNG.
    PlanePng,
    /// Every step of the 2D run as an animated GIF.
    PlaneGif,
}

/// The export section of the controls.
pub struct ExportPanel {
    stem: String,
    message: String,
    request: Option<ExportRequest>,
}

impl Default for ExportPanel {
    fn default() -> Self {
        Self {
            stem: "noisescope".into(),
            message: String::new(),
            request: None,
        }
    }
}

impl ExportPanel {
    /// Takes the button pressed since the last call.
    pub fn take_request(&mut self) -> Option<ExportRequest> {
        self.request.take()
    }

    /// The start of every exported file's path.
    #[must_use]
    pub fn stem(&self) -> &str {
        self.stem.trim()
    }

    /// Shows what the last export did (a path, or a one-line error).
    pub fn set_message(&mut self, message: String) {
        self.message = message;
    }

    /// The last export's message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Draws the section with the buttons that make sense in `scene`.
    pub fn ui(&mut self, ui: &mut egui::Ui, scene: Scene) {
        ui.label("Export");
        ui.horizontal(|ui| {
            let label = ui.label("Files start with");
            ui.text_edit_singleline(&mut self.stem).labelled_by(label.id);
        });
        ui.horizontal_wrapped(|ui| {
            if ui.button("Save curves CSV").clicked() {
                self.request = Some(ExportRequest::Curves);
            }
            let buttons: &[(&str, ExportRequest)] = match scene {
                Scene::Mixture2D => &[
                    ("Save points CSV", ExportRequest::Points),
                    ("Save frame PNG", ExportRequest::PlanePng),
                    ("Save run GIF", ExportRequest::PlaneGif),
                ],
                Scene::ImageForward => &[
                    ("Save x_t PNG", ExportRequest::Png),
                    ("Save GIF (t = 0 to T)", ExportRequest::Gif),
                ],
                Scene::ImageBatch => &[
                    ("Save grid PNG", ExportRequest::GridPng),
                    ("Save run GIF", ExportRequest::RunGif),
                ],
                // The training scene's figures live in its plots; the curves CSV still applies.
                Scene::Train2D | Scene::Theory(_) => &[],
            };
            for (label, request) in buttons {
                if ui.button(*label).clicked() {
                    self.request = Some(*request);
                }
            }
        });
        if !self.message.is_empty() {
            ui.label(&self.message);
        }
    }
}
