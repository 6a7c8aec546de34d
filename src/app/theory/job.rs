//! A theory scene's latest figure, computed by a [`crate::jobs::Job`].
//!
//! A scene's figure can take longer than a frame (hundreds of sampler steps),
//! so it is computed off the UI thread. Restarting a [`Computation`] drops the
//! old job, which cancels it: whatever it would have sent is never shown.

use crate::jobs::{Job, JobContext, Poll, Waker};

/// The latest result of a scene's figure, computed off the UI thread.
pub struct Computation<T> {
    running: Option<Job<Result<T, String>>>,
    latest: Option<Result<T, String>>,
}

impl<T> Default for Computation<T> {
    fn default() -> Self {
        Self {
            running: None,
            latest: None,
        }
    }
}

/// A waker that asks `ctx` for a repaint.
#[must_use]
pub fn repaint_waker(ctx: &egui::Context) -> Waker {
    let ctx = ctx.clone();
    std::sync::Arc::new(move || ctx.request_repaint())
}

impl<T: Send + 'static> Computation<T> {
    /// Cancels any running job and starts `work` on a new thread; `repaint`
    /// wakes the UI when the result is in.
    pub fn restart(
        &mut self,
        repaint: &egui::Context,
        work: impl FnOnce(&JobContext) -> Result<T, String> + Send + 'static,
    ) {
        self.running = None;
        match Job::start("noisescope-scene", Some(repaint_waker(repaint)), work) {
            Ok(job) => self.running = Some(job),
            Err(e) => self.latest = Some(Err(e.to_string())),
        }
    }

    /// Takes a finished result, if one arrived; true when something new arrived.
    pub fn poll(&mut self) -> bool {
        let Some(job) = &self.running else {
            return false;
        };
        let finished = match job.poll() {
            Poll::Pending => return false,
            Poll::Done(result) => result,
            Poll::Lost => Err(format!("the scene's computation stopped: {}", job.progress())),
        };
        self.latest = Some(finished);
        self.running = None;
        true
    }

    /// Whether a job is still computing.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// The latest finished value (kept while a newer one computes).
    #[must_use]
    pub fn value(&self) -> Option<&T> {
        self.latest.as_ref().and_then(|r| r.as_ref().ok())
    }

    /// The latest failure's message.
    #[must_use]
    pub fn error(&self) -> Option<&str> {
        self.latest.as_ref().and_then(|r| r.as_ref().err()).map(String::as_str)
    }

    /// Shows "computing…" or the failure, in one line.
    pub fn status_ui(&self, ui: &mut egui::Ui) {
        if let Some(job) = &self.running {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("computing…");
                let progress = job.progress();
                if !progress.is_empty() {
                    ui.label(progress);
                }
            });
        } else if let Some(message) = self.error() {
            ui.colored_label(ui.visuals().error_fg_color, message);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn finish<T: Send + 'static>(computation: &mut Computation<T>) {
        for _ in 0..2000 {
            if computation.poll() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        panic!("the computation never finished");
    }

    #[test]
    fn a_panicking_figure_becomes_the_scenes_one_line_message_and_the_next_computes() {
        let ctx = egui::Context::default();
        let mut computation = Computation::<u32>::default();
        computation.restart(&ctx, |_| panic!("index out of bounds"));
        finish(&mut computation);
        assert_eq!(
            computation.error(),
            Some("the scene's computation stopped: it panicked: index out of bounds")
        );
        assert!(computation.value().is_none());
        computation.restart(&ctx, |_| Ok(7));
        finish(&mut computation);
        assert_eq!(computation.value(), Some(&7));
        assert_eq!(computation.error(), None);
    }
}
