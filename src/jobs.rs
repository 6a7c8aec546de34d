//! The job layer: every background thread of noisescope starts here.
//!
//! Two shapes of work run off the UI thread:
//! - a one-shot [`Job`]: a figure's computation, loading a model or an IDX
//!   file, an export. It gets a [`JobContext`] (asked between pieces of work
//!   whether to stop; told how far the work has got) and sends one result
//!   over a channel of capacity 1;
//! - a stream: the sampler worker and live training, long-lived threads that
//!   send many events over a [`bounded`] channel.
//!
//! Both start their thread with [`spawn_named`], the only call of
//! `std::thread::Builder::spawn` in the crate (clippy's `disallowed-methods`
//! keeps it so), and both call a [`Waker`] when something new is there: the
//! window passes `ctx.request_repaint`, the command line nothing. A job that is
//! cancelled (or dropped) never delivers its result.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Called from a job's thread when it has something new for the UI.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// A thread could not be started.
#[derive(Debug, thiserror::Error)]
#[error("could not start the {name} thread: {source}")]
pub struct SpawnError {
    /// The thread's name.
    pub name: String,
    /// The OS's reason.
    #[source]
    pub source: std::io::Error,
}

/// Starts `work` on a thread named `name` (`noisescope-…`, so that a debugger
/// or `top -H` tells the threads apart).
///
/// # Errors
/// The OS refused a new thread.
pub fn spawn_named<R: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<JoinHandle<R>, SpawnError> {
    #[allow(clippy::disallowed_methods)] // The one place threads start (module docs).
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(work)
        .map_err(|source| SpawnError {
            name: name.to_owned(),
            source,
        })
}

/// A bounded channel: a producer that runs ahead of its reader blocks instead
/// of filling memory.
#[must_use]
pub fn bounded<T>(capacity: usize) -> (SyncSender<T>, Receiver<T>) {
    sync_channel(capacity)
}

/// What a one-shot job is handed: whether to stop, and where to say how far it got.
#[derive(Clone, Default)]
pub struct JobContext {
    cancelled: Arc<AtomicBool>,
    progress: Arc<Mutex<String>>,
    waker: Option<Waker>,
    echo: bool,
}

impl std::fmt::Debug for JobContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobContext")
            .field("cancelled", &self.is_cancelled())
            .field("progress", &self.progress())
            .finish_non_exhaustive()
    }
}

impl JobContext {
    /// A context for work run in the foreground (the command line, tests): never
    /// cancelled; progress is printed to standard error when `echo` is true.
    #[must_use]
    pub fn foreground(echo: bool) -> Self {
        Self {
            echo,
            ..Self::default()
        }
    }

    /// Whether the job's result is no longer wanted.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// A step loop's verdict: break once the job is cancelled, else go on. The
    /// figures' sampler and flow callbacks return this after their own work.
    pub fn keep_going(&self) -> std::ops::ControlFlow<()> {
        if self.is_cancelled() {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    }

    /// Asks the job to stop at its next check.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// Says how far the job has got ("12/30 runs").
    pub fn report(&self, text: impl Into<String>) {
        let text = text.into();
        if self.echo {
            eprintln!("{text}");
        }
        if let Ok(mut progress) = self.progress.lock() {
            *progress = text;
        }
        if let Some(waker) = &self.waker {
            waker();
        }
    }

    /// The latest progress text ("" before the first report).
    #[must_use]
    pub fn progress(&self) -> String {
        self.progress.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

/// Where a one-shot job stands.
#[derive(Debug)]
pub enum Poll<T> {
    /// Still working.
    Pending,
    /// Finished with this result.
    Done(T),
    /// Its thread ended without a result (it panicked).
    Lost,
}

/// One piece of work on its own thread, delivering one result.
pub struct Job<T> {
    result: Receiver<T>,
    context: JobContext,
}

impl<T: Send + 'static> Job<T> {
    /// Starts `work` on a thread named `name`; `waker` is called when the
    /// result is in and after each progress report.
    ///
    /// # Errors
    /// The OS refused a new thread.
    pub fn start(
        name: &str,
        waker: Option<Waker>,
        work: impl FnOnce(&JobContext) -> T + Send + 'static,
    ) -> Result<Self, SpawnError> {
        let (sender, result) = bounded(1);
        let context = JobContext {
            waker: waker.clone(),
            ..JobContext::default()
        };
        let job_context = context.clone();
        spawn_named(name, move || {
            // A panic ends the job, not the window: its text becomes the job's
            // progress, the result channel closes (Poll::Lost), and the UI is woken to say so.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&job_context)));
            let value = match outcome {
                Ok(value) => value,
                Err(payload) => {
                    job_context.report(format!("it panicked: {}", panic_text(payload.as_ref())));
                    drop(sender);
                    if let Some(waker) = waker {
                        waker();
                    }
                    return;
                }
            };
            // A cancelled job's result is never shown; a dropped receiver means
            // the window has moved on.
            if !job_context.is_cancelled()
                && sender.send(value).is_ok()
                && let Some(waker) = waker
            {
                waker();
            }
        })?;
        Ok(Self { result, context })
    }
}

impl<T> Job<T> {
    /// Takes the result if it has arrived (never blocks).
    pub fn poll(&self) -> Poll<T> {
        match self.result.try_recv() {
            Ok(value) => Poll::Done(value),
            Err(TryRecvError::Empty) => Poll::Pending,
            Err(TryRecvError::Disconnected) => Poll::Lost,
        }
    }

    /// The job's latest progress text.
    #[must_use]
    pub fn progress(&self) -> String {
        self.context.progress()
    }

    /// Waits for the result (the command line and tests; never the UI).
    ///
    /// # Errors
    /// The job's thread ended without a result.
    pub fn wait(self) -> Result<T, Lost> {
        self.result.recv().map_err(|_| Lost)
    }
}

/// A panic's message, when it carried text.
#[must_use]
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned())
}

/// A job's thread ended without delivering its result.
#[derive(Debug, thiserror::Error)]
#[error("the background job stopped before it finished")]
pub struct Lost;

impl<T> Drop for Job<T> {
    fn drop(&mut self) {
        self.context.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::{Duration, Instant};

    fn wait_done<T>(job: &Job<T>) -> Poll<T> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match job.poll() {
                Poll::Pending if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
                other => return other,
            }
        }
    }

    #[test]
    fn a_job_delivers_its_result_and_wakes_the_ui() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&wakes);
        let waker: Waker = Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let job = Job::start("noisescope-test", Some(waker), |context| {
            context.report("half way");
            6 * 7
        })
        .unwrap();
        assert!(matches!(wait_done(&job), Poll::Done(42)));
        assert_eq!(job.progress(), "half way");
        // One wake for the report, one for the result.
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_dropped_job_is_told_to_stop_and_its_result_is_never_delivered() {
        let (seen_tx, seen_rx) = bounded(1);
        let (go_tx, go_rx) = bounded::<()>(1);
        let job = Job::start("noisescope-test", None, move |context| {
            go_rx.recv().ok();
            seen_tx.send(context.is_cancelled()).ok();
        })
        .unwrap();
        drop(job);
        go_tx.send(()).unwrap();
        assert_eq!(seen_rx.recv_timeout(Duration::from_secs(10)), Ok(true));
    }

    #[test]
    fn a_panicking_job_is_reported_lost_with_its_message_and_wakes_the_ui() {
        let (woken_tx, woken_rx) = std::sync::mpsc::channel();
        let waker: Waker = Arc::new(move || {
            let _ = woken_tx.send(());
        });
        let job: Job<u32> = Job::start("noisescope-test", Some(waker), |_| panic!("boom")).unwrap();
        assert!(matches!(wait_done(&job), Poll::Lost));
        assert_eq!(job.progress(), "it panicked: boom");
        assert!(
            woken_rx.recv_timeout(Duration::from_secs(10)).is_ok(),
            "the UI was never woken"
        );
    }

    #[test]
    fn spawned_threads_carry_their_name() {
        let name = spawn_named("noisescope-named", || std::thread::current().name().map(str::to_owned))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(name.as_deref(), Some("noisescope-named"));
    }
}
