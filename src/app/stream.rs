//! A run's stream in one place: a control change starts a run on the worker
//! ([`ExplorerApp::start_run`]), its events arrive here
//! ([`ExplorerApp::receive_events`], through `Worker::poll`, which drops every
//! event of an older run), each frame is kept in the [`RunStore`] for
//! scrubbing and export, and uploaded once to the scene's GPU store
//! (`render::plane` for particles, `render::grid` for images).

use std::sync::Arc;

use super::controls::Scene;
use super::{ExplorerApp, image_scene};
use crate::diffusion::forward::ForwardMode;
use crate::render::grid::GridResources;
use crate::render::plane::PlaneResources;
use crate::worker::{Direction, Event, Frame, RunModel, RunSpec};

/// One position on the timeline: x at level `t`, and what the model said there.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredFrame {
    /// The level of `x` (0 = data).
    pub t: usize,
    /// x_t, row-major `[batch, dims]`.
    pub x: Vec<f32>,
    /// The model's x̂0 at this x (none at t = 0).
    pub x0_hat: Option<Vec<f32>>,
    /// The model's ε̂ at this x (none at t = 0).
    pub eps_hat: Option<Vec<f32>>,
    /// The std of the noise the step into this frame injected.
    pub noise_std: f64,
}

/// Everything received of one run.
#[derive(Clone, Debug, Default)]
pub struct RunStore {
    /// The run these frames belong to (0: none yet).
    pub run_id: u64,
    /// The levels the run visits, in order.
    pub timesteps: Vec<usize>,
    /// The data dimension.
    pub dims: usize,
    /// Frame 0 is x_T; frame k + 1 follows step k.
    pub frames: Vec<StoredFrame>,
    /// Wall time of the finished run.
    pub elapsed_secs: Option<f64>,
    /// Frames uploaded to the GPU store so far (with the x̂0 of all but the last).
    on_gpu: usize,
}

/// Frames not yet on the GPU ([`RunStore::take_new_frames`]).
pub(super) struct NewFrames<'a> {
    /// The index of the first new frame.
    pub first: usize,
    /// The new frames' x, in order.
    pub xs: Vec<&'a [f32]>,
    /// The frame the first x̂0 was made at.
    pub x0_first: usize,
    /// The x̂0 made at frames `x0_first..`, in order.
    pub x0s: Vec<&'a [f32]>,
}

impl RunStore {
    /// Starts a new run from `x_start` at level `t`.
    pub fn begin(&mut self, run_id: u64, t: usize, timesteps: Vec<usize>, x_start: Vec<f32>, dims: usize) {
        *self = Self {
            run_id,
            timesteps,
            dims,
            frames: vec![StoredFrame {
                t,
                x: x_start,
                x0_hat: None,
                eps_hat: None,
                noise_std: 0.0,
            }],
            elapsed_secs: None,
            on_gpu: 0,
        };
    }

    /// Adds a step: its prediction belongs to the frame it started from.
    pub fn push(&mut self, frame: Frame) {
        if let Some(from) = self.frames.get_mut(frame.index) {
            from.x0_hat = Some(frame.x0_hat);
            from.eps_hat = Some(frame.eps_hat);
        }
        self.frames.push(StoredFrame {
            t: frame.t_next,
            x: frame.x_next,
            x0_hat: None,
            eps_hat: None,
            noise_std: frame.noise_std,
        });
    }

    /// The frames that arrived since the last call, and the x̂0 that came
    /// with them (the one made at each frame before them), all marked as
    /// handed to the GPU store; `None` if nothing arrived.
    pub(super) fn take_new_frames(&mut self) -> Option<NewFrames<'_>> {
        let (first, end) = (self.on_gpu, self.frames.len());
        if first >= end {
            return None;
        }
        self.on_gpu = end;
        let x0_first = first.saturating_sub(1);
        Some(NewFrames {
            first,
            xs: self.frames[first..end].iter().map(|f| f.x.as_slice()).collect(),
            x0_first,
            x0s: self.frames[x0_first..end - 1]
                .iter()
                .map_while(|f| f.x0_hat.as_deref())
                .collect(),
        })
    }

    /// The number of frames a complete run has.
    #[must_use]
    pub fn expected_frames(&self) -> usize {
        self.timesteps.len() + 1
    }

    /// The number of rows (samples).
    #[must_use]
    pub fn batch(&self) -> usize {
        self.frames.first().map_or(0, |f| f.x.len() / self.dims.max(1))
    }

    /// The frame nearest to level `t` (the first one at or below it).
    #[must_use]
    pub fn frame_at_t(&self, t: f64) -> Option<usize> {
        self.frames
            .iter()
            .enumerate()
            .min_by(|(_, a), (_, b)| {
                let (da, db) = ((a.t as f64 - t).abs(), (b.t as f64 - t).abs());
                da.total_cmp(&db)
            })
            .map(|(i, _)| i)
    }
}

impl ExplorerApp {
    /// The id of the run most recently started (its frames are the only ones shown).
    #[must_use]
    pub fn latest_run_id(&self) -> u64 {
        self.worker.as_ref().map_or(0, crate::worker::Worker::latest_run)
    }

    /// The bytes of GPU memory the views hold: the run's frames, the image and its noise.
    #[must_use]
    pub fn gpu_bytes_held(&self) -> u64 {
        self.render_state.as_ref().map_or(0, crate::render::held_bytes)
    }

    /// Starts a run of the current settings on the worker (the old one is cancelled).
    pub(super) fn start_run(&mut self) {
        if !self.rebuild_schedule() {
            return;
        }
        let settings = self.controls.settings;
        let (model, settings, kind) = match self.controls.scene {
            Scene::ImageBatch => {
                let Some(image_model) = self.image_scene.model() else {
                    self.image_scene.request_model(&self.repaint);
                    self.status = "loading the images…".into();
                    return;
                };
                // Image data lives in [−1, 1]: clip x̂0 as diffusers does; reverse only.
                let mut settings = settings;
                settings.direction = Direction::Reverse;
                settings.batch = image_scene::BATCH as usize;
                settings.sampler.clip_sample = true;
                let model = match self.image_scene.chosen_network() {
                    Some(net) => RunModel::Network {
                        net: net.clone(),
                        data: Arc::clone(&image_model.mixture),
                    },
                    None => RunModel::Mixture(Arc::clone(&image_model.mixture)),
                };
                (model, settings, RunKind::Grid(image_model.shape))
            }
            _ => (self.plane.run_model(), settings, RunKind::Plane),
        };
        let Some(worker) = &mut self.worker else {
            return;
        };
        worker.start(RunSpec { model, settings });
        self.run_kind = kind;
        self.timeline.restart();
        self.timeline.train_steps = self.schedule.train_steps();
        self.timeline.direction = direction_text(settings.direction);
        self.status = "sampling…".into();
    }

    /// Drains the worker and uploads the new frames, once each and all in one write.
    pub(super) fn receive_events(&mut self) {
        let Some(worker) = &self.worker else {
            return;
        };
        for event in worker.poll() {
            match event {
                Event::Started {
                    run_id,
                    start_t,
                    timesteps,
                    x_start,
                    dims,
                } => {
                    self.run.begin(run_id, start_t, timesteps, x_start, dims);
                    self.plots.clear_kl();
                    self.begin_gpu_run();
                }
                Event::Step { frame, .. } => self.run.push(frame),
                Event::Finished { elapsed_secs, .. } => {
                    self.run.elapsed_secs = Some(elapsed_secs);
                    // The time goes in a tooltip: the status line itself stays the same run to run.
                    self.status = format!("finished: {} steps", self.run.timesteps.len());
                }
                Event::Elbo {
                    step_nats,
                    bits_per_dim,
                    ..
                } => self.plots.set_kl(step_nats, bits_per_dim),
                Event::Failed { message, .. } => self.status = message,
            }
        }
        self.upload_new_frames();
        self.timeline
            .set_available(self.run.frames.len(), self.run.expected_frames());
    }

    fn begin_gpu_run(&mut self) {
        let Some(state) = &self.render_state else {
            return;
        };
        let mut renderer = state.renderer.write();
        match self.run_kind {
            RunKind::Plane => {
                if let Some(plane) = renderer.callback_resources.get_mut::<PlaneResources>() {
                    plane.begin_run(&state.device, self.run.expected_frames(), self.run.batch());
                }
            }
            RunKind::Grid(shape) => {
                if let Some(grid) = renderer.callback_resources.get_mut::<GridResources>()
                    && let Err(message) = grid.begin_run(&state.device, self.run.expected_frames(), shape)
                {
                    self.status = message;
                }
            }
        }
    }

    /// Uploads the frames that arrived since the last upload, and the
    /// model's x̂0 at each frame before them (an x̂0 arrives with the next frame).
    fn upload_new_frames(&mut self) {
        let Some(new) = self.run.take_new_frames() else {
            return;
        };
        let Some(state) = &self.render_state else {
            return;
        };
        let mut renderer = state.renderer.write();
        match self.run_kind {
            RunKind::Plane => {
                if let Some(plane) = renderer.callback_resources.get_mut::<PlaneResources>() {
                    plane.upload_steps(&state.queue, new.first, &new.xs);
                    plane.upload_x0s(&state.queue, new.x0_first, &new.x0s);
                }
            }
            RunKind::Grid(_) => {
                if let Some(grid) = renderer.callback_resources.get::<GridResources>() {
                    grid.upload_xs(&state.queue, new.first, &new.xs);
                    grid.upload_x0s(&state.queue, new.x0_first, &new.x0s);
                }
            }
        }
    }
}

/// Which GPU store the current run streams into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RunKind {
    /// Particles of the 2D scene.
    Plane,
    /// A batch of images.
    Grid(crate::render::grid::GridShape),
}

fn direction_text(direction: Direction) -> &'static str {
    match direction {
        Direction::Reverse => "reverse (denoising)",
        Direction::Forward(ForwardMode::ClosedForm) => "forward (closed form)",
        Direction::Forward(ForwardMode::MarkovChain) => "forward (Markov chain)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(index: usize, t: usize, t_next: usize) -> Frame {
        Frame {
            index,
            t,
            t_next,
            x_next: vec![t_next as f32; 2],
            x0_hat: vec![1.0; 2],
            eps_hat: vec![0.5; 2],
            alpha_bar: 0.5,
            noise_std: 0.1,
        }
    }

    #[test]
    fn predictions_attach_to_the_frame_they_were_made_at() {
        let mut run = RunStore::default();
        run.begin(3, 20, vec![20, 10], vec![0.0; 2], 2);
        run.push(frame(0, 20, 10));
        run.push(frame(1, 10, 0));
        assert_eq!(run.frames.len(), run.expected_frames());
        assert_eq!(run.frames.iter().map(|f| f.t).collect::<Vec<_>>(), [20, 10, 0]);
        assert!(run.frames[0].x0_hat.is_some() && run.frames[2].x0_hat.is_none());
        assert_eq!(run.frame_at_t(12.0), Some(1));
    }

    #[test]
    fn each_frame_and_each_prediction_goes_to_the_gpu_once() {
        let mut run = RunStore::default();
        run.begin(3, 30, vec![30, 20, 10], vec![0.0; 2], 2);
        run.push(frame(0, 30, 20));
        let new = run.take_new_frames().unwrap();
        assert_eq!((new.first, new.xs.len(), new.x0_first, new.x0s.len()), (0, 2, 0, 1));
        assert!(run.take_new_frames().is_none(), "nothing new, nothing to upload");
        // Frame 1's x̂0 arrives with frame 2, after frame 1 went up.
        run.push(frame(1, 20, 10));
        run.push(frame(2, 10, 0));
        let new = run.take_new_frames().unwrap();
        assert_eq!((new.first, new.xs.len(), new.x0_first, new.x0s.len()), (2, 2, 1, 2));
        assert_eq!(new.xs, [&[10.0_f32; 2][..], &[0.0; 2][..]]);
        // A new run starts over at frame 0.
        run.begin(4, 30, vec![30], vec![0.0; 2], 2);
        assert_eq!(
            run.take_new_frames()
                .map(|new| (new.first, new.xs.len(), new.x0s.len())),
            Some((0, 1, 0))
        );
    }
}
