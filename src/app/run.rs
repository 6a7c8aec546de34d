//! The frames of the current run, kept for scrubbing and export.

use crate::worker::Frame;

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
}
