//! Background computations for the theory scenes.
//!
//! A scene's figure can take longer than a frame (hundreds of sampler steps),
//! so it runs on a named thread and arrives over a bounded channel. Restarting
//! a [`Computation`] cancels the old job: its flag is raised, its receiver is
//! dropped, and whatever it would have sent is never shown.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex};

/// Handed to a job: asked between pieces of work whether to stop, and told
/// how far the job has got.
#[derive(Clone, Debug, Default)]
pub struct Cancel {
    cancelled: Arc<AtomicBool>,
    progress: Arc<Mutex<String>>,
    repaint: Option<egui::Context>,
}

impl Cancel {
    /// Whether the job's result is no longer wanted.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Shows `text` beside the spinner while the job runs.
    pub fn report(&self, text: String) {
        if let Ok(mut progress) = self.progress.lock() {
            *progress = text;
        }
        if let Some(repaint) = &self.repaint {
            repaint.request_repaint();
        }
    }

    fn progress(&self) -> String {
        self.progress.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

/// The latest result of a scene's figure, computed off the UI thread.
pub struct Computation<T> {
    running: Option<(Receiver<Result<T, String>>, Cancel)>,
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

impl<T: Send + 'static> Computation<T> {
    /// Cancels any running job and starts `work` on a new thread; `repaint`
    /// wakes the UI when the result is in.
    pub fn restart(
        &mut self,
        repaint: &egui::Context,
        work: impl FnOnce(&Cancel) -> Result<T, String> + Send + 'static,
    ) {
        self.cancel();
        let (sender, receiver) = sync_channel(1);
        let cancel = Cancel {
            repaint: Some(repaint.clone()),
            ..Cancel::default()
        };
        let job_cancel = cancel.clone();
        let repaint = repaint.clone();
        let spawned = std::thread::Builder::new()
            .name("noisescope-scene".into())
            .spawn(move || {
                let result = work(&job_cancel);
                if !job_cancel.is_cancelled() && sender.send(result).is_ok() {
                    repaint.request_repaint();
                }
            });
        match spawned {
            Ok(_) => self.running = Some((receiver, cancel)),
            Err(e) => self.latest = Some(Err(format!("could not start the scene's thread: {e}"))),
        }
    }

    /// Takes a finished result, if one arrived; true when something new arrived.
    pub fn poll(&mut self) -> bool {
        let Some((receiver, _)) = &self.running else {
            return false;
        };
        match receiver.try_recv() {
            Ok(result) => {
                self.latest = Some(result);
                self.running = None;
                true
            }
            Err(TryRecvError::Empty) => false,
            Err(TryRecvError::Disconnected) => {
                self.latest = Some(Err("the scene's computation stopped unexpectedly".into()));
                self.running = None;
                true
            }
        }
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
        if let Some((_, cancel)) = &self.running {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("computing…");
                let progress = cancel.progress();
                if !progress.is_empty() {
                    ui.label(progress);
                }
            });
        } else if let Some(message) = self.error() {
            ui.colored_label(ui.visuals().error_fg_color, message);
        }
    }
}

impl<T> Computation<T> {
    fn cancel(&mut self) {
        if let Some((_, cancel)) = self.running.take() {
            cancel.cancelled.store(true, Ordering::Relaxed);
        }
    }
}

impl<T> Drop for Computation<T> {
    fn drop(&mut self) {
        self.cancel();
    }
}
