//! The comparison grid's view; the grid is [`crate::figures::grid`].
//!
//! Cells are computed on the job layer and arrive one by one over a bounded
//! channel, drained with `try_recv` each frame; any change of the axes, the
//! model or the samples drops the job (cancelling it) and the channel with
//! it, so a cancelled grid's cells are never shown.

use std::sync::mpsc::Receiver;

use super::job::Computation;
use super::view;
use super::{SceneContext, TheoryScene};
use crate::diffusion::Denoiser;
use crate::figures::grid::{
    Cell, GridModel, GridSpec, Setup, cell_label, cell_raster, distances_csv, grid_png, run_grid,
};

/// Images per cell of the U-Net's grid.
const UNET_SAMPLES: usize = 8;

/// Which model the grid samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GridModelChoice {
    /// The exact three-blob mixture (2D point clouds).
    Mixture,
    /// The shipped Fashion-MNIST U-Net (images; slower).
    ShippedUnet,
}

/// The comparison-grid scene.
pub struct GridScene {
    context: SceneContext,
    setup: Setup,
    model: GridModelChoice,
    /// The grid being shown, once its axes parsed.
    spec: Option<GridSpec>,
    /// The axes' or the run's failure.
    problem: Option<String>,
    computation: Computation<()>,
    arriving: Option<Receiver<Cell>>,
    cells: Vec<(Cell, egui::TextureHandle)>,
    dims: usize,
    saved: String,
    /// The axes' texts of the grid shown (or refused).
    applied: (String, String),
}

impl GridScene {
    /// Three samplers × four step counts on the mixture.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            context: context.clone(),
            setup: Setup::default(),
            model: GridModelChoice::Mixture,
            spec: None,
            problem: None,
            computation: Computation::default(),
            arriving: None,
            cells: Vec::new(),
            dims: 2,
            saved: String::new(),
            applied: (String::new(), String::new()),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        self.cells.clear();
        self.arriving = None;
        self.computation = Computation::default();
        self.problem = None;
        self.applied = (self.setup.rows.clone(), self.setup.cols.clone());
        let spec = match self.setup.spec() {
            // The U-Net's cells show four images: eight keep a cell and its
            // 1000-step reference to seconds, not the mixture's 2000 points' hours.
            Ok(spec) if self.model == GridModelChoice::ShippedUnet => GridSpec {
                samples: UNET_SAMPLES,
                ..spec
            },
            Ok(spec) => spec,
            Err(e) => {
                self.spec = None;
                self.problem = Some(e.to_string());
                return;
            }
        };
        let (sender, receiver) = crate::jobs::bounded(64);
        self.arriving = Some(receiver);
        self.spec = Some(spec.clone());
        let (mixture, choice) = (self.context.mixture.clone(), self.model);
        self.dims = match choice {
            GridModelChoice::Mixture => mixture.dims(),
            GridModelChoice::ShippedUnet => 28 * 28,
        };
        self.computation.restart(&self.context.repaint, move |job| {
            let unet;
            let model = match choice {
                GridModelChoice::Mixture => GridModel {
                    denoiser: mixture.as_ref() as &dyn Denoiser,
                    classifier: Some(mixture.as_ref()),
                    dims: mixture.dims(),
                    own_schedule: None,
                },
                GridModelChoice::ShippedUnet => {
                    unet = crate::model::shipped::fashion_mnist().map_err(|e| e.to_string())?;
                    GridModel {
                        denoiser: &unet,
                        classifier: None,
                        dims: unet.config().sample_dims(),
                        own_schedule: Some(unet.config().schedule),
                    }
                }
            };
            let on_cell = |cell: &Cell| {
                // A closed channel means the window moved on; the job is cancelled too.
                let _ = sender.send(cell.clone());
                job.report(format!("cell ({}, {}) done", cell.row + 1, cell.col + 1));
            };
            run_grid(&spec, &model, job, on_cell)
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
    }

    /// Takes the cells that arrived since the last frame (never blocks).
    fn receive(&mut self, ctx: &egui::Context) {
        let Some(receiver) = &self.arriving else {
            return;
        };
        while let Ok(cell) = receiver.try_recv() {
            let image = view::gray_image(&cell_raster(&cell.samples, self.dims));
            let name = format!("grid-cell-{}-{}", cell.row, cell.col);
            let texture = ctx.load_texture(name, image, egui::TextureOptions::NEAREST);
            self.cells.push((cell, texture));
        }
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui) -> bool {
        let model_before = self.model;
        let mut committed = false;
        ui.horizontal_wrapped(|ui| {
            let rows = ui.label("Rows");
            committed |= axis_edit_ui(ui, &mut self.setup.rows).labelled_by(rows.id).lost_focus();
            let cols = ui.label("Columns");
            committed |= axis_edit_ui(ui, &mut self.setup.cols).labelled_by(cols.id).lost_focus();
            ui.selectable_value(&mut self.model, GridModelChoice::Mixture, "three blobs (exact)");
            ui.selectable_value(&mut self.model, GridModelChoice::ShippedUnet, "shipped U-Net");
            self.computation.status_ui(ui);
        });
        ui.label("KIND=V1,V2,… with KIND one of sampler, steps, eta, guidance, schedule, spacing (Enter applies).");
        let texts = (self.setup.rows.clone(), self.setup.cols.clone());
        self.model != model_before || (committed && texts != self.applied)
    }

    fn save_ui(&mut self, ui: &mut egui::Ui) {
        let Some(spec) = &self.spec else {
            return;
        };
        let cells: Vec<Cell> = self.cells.iter().map(|(c, _)| c.clone()).collect();
        ui.horizontal(|ui| {
            let total = spec.rows.values.len() * spec.cols.values.len();
            ui.label(format!("{} of {total} cells", cells.len()));
            let ready = cells.len() == total;
            if ui.add_enabled(ready, egui::Button::new("Save PNG and CSV…")).clicked()
                && let Some(path) = rfd::FileDialog::new().add_filter("PNG", &["png"]).save_file()
            {
                let title = format!("{} × {}", axis_text(&spec.rows), axis_text(&spec.cols));
                let png = crate::export::write_png(&path, &grid_png(&title, spec, &cells, self.dims));
                let csv = path.with_extension("csv");
                let written = png.map_err(|e| e.to_string()).and_then(|()| {
                    crate::export::write_atomically(&csv, distances_csv(spec, &cells).as_bytes())
                        .map_err(|e| e.to_string())
                });
                self.saved = match written {
                    Ok(()) => format!("saved {} and {}", path.display(), csv.display()),
                    Err(e) => format!("not saved: {e}"),
                };
            }
            ui.label(&self.saved);
        });
    }

    fn cells_ui(&self, ui: &mut egui::Ui) {
        let Some(spec) = &self.spec else {
            return;
        };
        let (rows, cols) = (spec.rows.values.len(), spec.cols.values.len());
        let label_width = 140.0;
        let side = ((ui.available_width() - label_width) / cols as f32 - 12.0)
            .min(ui.available_height() / rows as f32 - 40.0)
            .max(48.0);
        egui::Grid::new("comparison-grid").spacing([8.0, 6.0]).show(ui, |ui| {
            ui.label("");
            for value in &spec.cols.values {
                ui.strong(value.to_string());
            }
            ui.end_row();
            for (r, value) in spec.rows.values.iter().enumerate() {
                ui.strong(value.to_string());
                for c in 0..cols {
                    ui.vertical(
                        |ui| match self.cells.iter().find(|(cell, _)| cell.row == r && cell.col == c) {
                            Some((cell, texture)) => {
                                ui.add(egui::Image::new(texture).fit_to_exact_size(egui::vec2(side, side)))
                                    .on_hover_text(cell_label(spec, r, c));
                                ui.label(format!("d = {:.4}", cell.distance));
                            }
                            None => {
                                ui.allocate_space(egui::vec2(side, side));
                                ui.label("…");
                            }
                        },
                    );
                }
                ui.end_row();
            }
        });
    }
}

/// A field for one axis, wide enough for three or four values.
fn axis_edit_ui(ui: &mut egui::Ui, text: &mut String) -> egui::Response {
    ui.add(egui::TextEdit::singleline(text).desired_width(260.0))
}

/// An axis written back as `KIND=V1,V2`.
fn axis_text(axis: &crate::figures::grid::Axis) -> String {
    let values: Vec<String> = axis.values.iter().map(|v| v.value_text()).collect();
    format!("{}={}", axis.kind, values.join(","))
}

impl TheoryScene for GridScene {
    fn caption(&self) -> &'static str {
        "The comparison grid (AUTOMATIC1111's X/Y plot, for diffusion's own knobs): every cell starts from \
         the same x_T and draws the same noise; beside each is its distance to the same settings run for \
         T steps from that x_T (RMS of x − x_ref). The cells appear as they finish."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.computation.poll();
        self.receive(ui.ctx());
        if self.controls_ui(ui) {
            self.restart();
        }
        if let Some(problem) = &self.problem {
            ui.colored_label(ui.visuals().error_fg_color, problem);
        }
        self.save_ui(ui);
        self.cells_ui(ui);
    }
}
