//! Exports from the window: CSV inline, images and GIFs on a background thread.
//! The writers themselves live in [`crate::export`].

use std::path::Path;
use std::sync::Arc;

use super::export_panel::ExportRequest;
use super::image_scene::LoadedImage;
use super::stream::RunKind;
use super::{ExplorerApp, viewer};
use crate::diffusion::Schedule;

/// An export that runs off the UI thread: the saved path, or a one-line error.
pub(super) type ExportJob = Box<dyn FnOnce() -> Result<String, String> + Send>;

impl ExplorerApp {
    /// The last export's message (a saved path or a one-line error).
    #[must_use]
    pub fn export_message(&self) -> &str {
        self.export.message()
    }

    pub(super) fn export(&mut self, request: ExportRequest) {
        let stem = self.export.stem().to_owned();
        // Checked before any encoding starts (a 1000-frame GIF takes a while):
        // a folder that cannot take the file is said at once, and no work is lost.
        if let Err(e) = crate::export::check_writable(Path::new(&format!("{stem}-export"))) {
            self.export.set_message(e.to_string());
            return;
        }
        let result = match request {
            ExportRequest::Curves => {
                let path = format!("{stem}-curves.csv");
                let text = crate::export::curves_csv(&self.schedule, self.plots.kl_nats());
                crate::export::write_text(Path::new(&path), &text)
                    .map(|()| path)
                    .map_err(String::from)
            }
            ExportRequest::Points => match self.run.frames.get(self.timeline.current) {
                Some(frame) => {
                    let path = format!("{stem}-points-t{}.csv", frame.t);
                    let text = crate::export::points_csv(&frame.x, self.run.dims);
                    crate::export::write_text(Path::new(&path), &text)
                        .map(|()| path)
                        .map_err(String::from)
                }
                None => Err("no frame to save yet".into()),
            },
            ExportRequest::Png => return self.start_background_export(self.image_export_job(false)),
            ExportRequest::Gif => return self.start_background_export(self.image_export_job(true)),
            ExportRequest::GridPng => return self.start_background_export(self.batch_export_job(false)),
            ExportRequest::RunGif => return self.start_background_export(self.batch_export_job(true)),
            ExportRequest::PlanePng => return self.start_background_export(self.plane_export_job(false)),
            ExportRequest::PlaneGif => return self.start_background_export(self.plane_export_job(true)),
        };
        self.export.set_message(match result {
            Ok(path) => format!("saved {path}"),
            Err(message) => message,
        });
    }

    /// Image jobs for the forward-process scene.
    fn image_export_job(&self, gif: bool) -> Result<ExportJob, String> {
        let image = self.image_scene.current().ok_or("no image to save")?.clone();
        let noise = image.noise(self.controls.settings.seed);
        let schedule = Arc::clone(&self.schedule);
        let t = self.image_scene.t.min(schedule.train_steps());
        let stem = self.export.stem().to_owned();
        Ok(Box::new(move || {
            if gif {
                export_gif(&stem, &image, &noise, &schedule)
            } else {
                export_png(&stem, &image, &noise, schedule.alpha_bar(t), t)
            }
        }))
    }

    /// Jobs for the image batch scene: the grid at the current step, or every step.
    fn batch_export_job(&self, gif: bool) -> Result<ExportJob, String> {
        let RunKind::Grid(shape) = self.run_kind else {
            return Err("no image batch to save yet".into());
        };
        let stem = self.export.stem().to_owned();
        if gif {
            let frames: Vec<Vec<f32>> = self.run.frames.iter().map(|f| f.x.clone()).collect();
            return Ok(Box::new(move || {
                let images = frames
                    .iter()
                    .map(|x| crate::export::enlarge(&grid_image(x, shape), 2))
                    .collect();
                let path = format!("{stem}-batch-run.gif");
                crate::export::write_gif(Path::new(&path), images, 60)
                    .map(|()| path)
                    .map_err(String::from)
            }));
        }
        let frame = self
            .run
            .frames
            .get(self.timeline.current)
            .ok_or("no frame to save yet")?;
        let (x, t) = (frame.x.clone(), frame.t);
        Ok(Box::new(move || {
            let path = format!("{stem}-batch-t{t}.png");
            crate::export::write_png(Path::new(&path), &crate::export::enlarge(&grid_image(&x, shape), 4))
                .map(|()| path)
                .map_err(String::from)
        }))
    }

    /// Jobs for the 2D scene: the view at the current step, or every step, drawn
    /// on the CPU like the window draws it (density behind, particles on top).
    fn plane_export_job(&self, gif: bool) -> Result<ExportJob, String> {
        const SIZE: u32 = 512;
        const GRID: usize = 128;
        if self.run_kind != RunKind::Plane || self.run.frames.is_empty() {
            return Err("no 2D run to save yet".into());
        }
        let chosen: Vec<(Vec<f32>, usize)> = if gif {
            self.run.frames.iter().map(|f| (f.x.clone(), f.t)).collect()
        } else {
            let frame = self
                .run
                .frames
                .get(self.timeline.current)
                .ok_or("no frame to save yet")?;
            vec![(frame.x.clone(), frame.t)]
        };
        let (mixture, schedule) = (Arc::clone(&self.plane.mixture), Arc::clone(&self.schedule));
        let half_extent = self.plane.viewer.half_extent();
        let stem = self.export.stem().to_owned();
        Ok(Box::new(move || {
            let draw = |(x, t): &(Vec<f32>, usize)| {
                let alpha_bar = schedule.alpha_bar((*t).min(schedule.train_steps()));
                let density = viewer::density_levels(&mixture, half_extent, alpha_bar, GRID);
                crate::export::plane_image(x, half_extent, &density, GRID as u32, SIZE)
            };
            if gif {
                let path = format!("{stem}-2d-run.gif");
                crate::export::write_gif(Path::new(&path), chosen.iter().map(draw).collect(), 80)
                    .map(|()| path)
                    .map_err(String::from)
            } else {
                let path = format!("{stem}-2d-t{}.png", chosen[0].1);
                crate::export::write_png(Path::new(&path), &draw(&chosen[0]))
                    .map(|()| path)
                    .map_err(String::from)
            }
        }))
    }

    /// Encoding can take a while (a large photo, a 1000-step GIF): it runs on its
    /// own thread and reports back through `export_done`.
    fn start_background_export(&mut self, job: Result<ExportJob, String>) {
        let waker = super::theory::job::repaint_waker(&self.repaint);
        let started = job.and_then(|job| {
            crate::jobs::Job::start("noisescope-export", Some(waker), move |_| job()).map_err(|e| e.to_string())
        });
        match started {
            Ok(job) => {
                self.export_done = Some(job);
                self.export.set_message("saving…".into());
            }
            Err(message) => self.export.set_message(message),
        }
    }

    pub(super) fn poll_export(&mut self) {
        let Some(job) = &self.export_done else {
            return;
        };
        let saved = match job.poll() {
            crate::jobs::Poll::Pending => return,
            crate::jobs::Poll::Done(saved) => saved,
            crate::jobs::Poll::Lost => Err("the export stopped before it finished".into()),
        };
        self.export.set_message(match saved {
            Ok(path) => format!("saved {path}"),
            Err(message) => message,
        });
        self.export_done = None;
    }
}

fn export_png(stem: &str, image: &LoadedImage, noise: &[f32], alpha_bar: f64, t: usize) -> Result<String, String> {
    let noised = crate::export::noised_image(image.width, image.height, &image.rgba, noise, alpha_bar);
    let path = format!("{stem}-x_t{t}.png");
    crate::export::write_png(Path::new(&path), &noised)
        .map(|()| path)
        .map_err(String::from)
}

/// The forward process from t = 0 to T in 51 frames; small images are enlarged
/// (nearest neighbour) to at least 224 px, large ones shrunk to at most 512 px.
fn export_gif(stem: &str, image: &LoadedImage, noise: &[f32], schedule: &Schedule) -> Result<String, String> {
    const FRAMES: usize = 50;
    let side = image.width.max(image.height).max(1);
    let big_t = schedule.train_steps();
    let frames = (0..=FRAMES)
        .map(|k| {
            let t = k * big_t / FRAMES;
            let noised =
                crate::export::noised_image(image.width, image.height, &image.rgba, noise, schedule.alpha_bar(t));
            if side > 512 {
                image::imageops::thumbnail(&noised, image.width * 512 / side, image.height * 512 / side)
            } else {
                crate::export::enlarge(&noised, (224 / side).max(1))
            }
        })
        .collect();
    let path = format!("{stem}-forward.gif");
    crate::export::write_gif(Path::new(&path), frames, 80)
        .map(|()| path)
        .map_err(String::from)
}

/// A batch of images in [−1, 1] laid out as the grid view shows it.
fn grid_image(values: &[f32], shape: crate::render::grid::GridShape) -> image::RgbaImage {
    crate::export::image_grid(values, shape.width, shape.height, shape.cols, shape.batch)
}
