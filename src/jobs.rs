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

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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

/// How a thread shares the CPU with everything else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Priority {
    /// The operating system's default.
    #[default]
    Normal,
    /// Runs on CPU time no other thread wants (Linux's `SCHED_IDLE`; the
    /// default elsewhere). For a model thread beside a software renderer: on
    /// two cores, llvmpipe's rasteriser threads woke onto the core that the
    /// model did not hold, queued there one behind the other in 4 ms slices,
    /// and the other core sat idle as the model blocked and woke (`perf sched
    /// timehist`). A thread at this priority counts as idle when threads are
    /// placed, so they take its core at once. A lower nice value does not do
    /// this: reniced to 19, the model changed the frame by nothing.
    Background,
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
    spawn_named_with(name, Priority::Normal, work)
}

/// [`spawn_named`] at `priority`. A priority the OS refuses is said on
/// standard error, and the thread runs at the default.
///
/// # Errors
/// The OS refused a new thread.
pub fn spawn_named_with<R: Send + 'static>(
    name: &str,
    priority: Priority,
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<JoinHandle<R>, SpawnError> {
    let thread_name = name.to_owned();
    #[allow(clippy::disallowed_methods)] // The one place threads start (module docs).
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            match set_this_threads_priority(priority) {
                Ok(()) if priority == Priority::Background => LAST_PAUSE.set(Some(Instant::now())),
                Ok(()) => {}
                Err(error) => eprintln!("noisescope: {thread_name} runs at the default priority: {error}"),
            }
            work()
        })
        .map_err(|source| SpawnError {
            name: name.to_owned(),
            source,
        })
}

thread_local! {
    /// When this thread last let its core go idle: set only on a thread that
    /// runs at [`Priority::Background`], so [`pause_point`] does nothing elsewhere.
    static LAST_PAUSE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// How long a [`Priority::Background`] thread works before [`pause_point`]
/// lets its core go idle for a moment.
const BACKGROUND_WORK_BETWEEN_PAUSES: Duration = Duration::from_millis(1);
/// How long [`pause_point`] sleeps: long enough that a woken thread is placed
/// on the idle core (a 1 µs sleep, with the timer slack cut to match, was not).
const BACKGROUND_PAUSE: Duration = Duration::from_micros(50);

/// Called between steps of long work. On a [`Priority::Background`] thread,
/// once a millisecond of work has gone by since the last pause, it sleeps for
/// 50 µs; elsewhere it does nothing.
///
/// Why: a kernel may not count a core that runs only idle-priority work as
/// free when it places a woken thread (this project's 2-core VMs do not).
/// `perf sched` over streamed 2D runs showed llvmpipe's rasteriser threads
/// queued one behind the other on one core, 1.22–1.25 ms on average each
/// time they woke, while the model thread held the other (0.27–0.30 ms with
/// no model running). While the core is idle a waiting thread moves onto it:
/// a pause each millisecond cut the wait to 0.40–0.44 ms, for about 5% of
/// the model's speed.
pub fn pause_point() {
    let Some(last_pause) = LAST_PAUSE.get() else {
        return;
    };
    if last_pause.elapsed() >= BACKGROUND_WORK_BETWEEN_PAUSES {
        std::thread::sleep(BACKGROUND_PAUSE);
        LAST_PAUSE.set(Some(Instant::now()));
    }
}

/// Sets the calling thread's scheduling policy for `priority`.
#[cfg(target_os = "linux")]
fn set_this_threads_priority(priority: Priority) -> std::io::Result<()> {
    if priority == Priority::Normal {
        return Ok(());
    }
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid `sched_param` that outlives the call, and
    // pid 0 names the calling thread; the call only reads `param`.
    let status = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &raw const param) };
    if status == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Other systems keep the default priority.
#[cfg(not(target_os = "linux"))]
fn set_this_threads_priority(_priority: Priority) -> std::io::Result<()> {
    Ok(())
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

    fn wait_done<T>(job: &Job<T>) -> Poll<T> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match job.poll() {
                Poll::Pending if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
                other => return other,
            }
        }
    }

    /// The calling thread's scheduling policy (Linux).
    #[cfg(target_os = "linux")]
    fn this_threads_policy() -> i32 {
        // SAFETY: pid 0 names the calling thread; the call reads nothing of ours.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_background_thread_runs_at_idle_priority_and_a_normal_one_does_not() {
        let policy = |priority| {
            spawn_named_with("noisescope-test", priority, this_threads_policy)
                .unwrap()
                .join()
                .unwrap()
        };
        assert_eq!(policy(Priority::Background), libc::SCHED_IDLE);
        assert_eq!(policy(Priority::Normal), libc::SCHED_OTHER);
    }

    /// The calling thread's voluntary context switches so far (Linux).
    #[cfg(target_os = "linux")]
    fn voluntary_switches() -> u64 {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let line = status
            .lines()
            .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
            .unwrap();
        line.trim().parse().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn only_a_background_thread_gives_its_core_away_at_a_pause_point() {
        // 50 pause points, each after more than a millisecond of work: each
        // lets a background thread's core go idle (it sleeps, a voluntary
        // switch) and a normal thread's not at all.
        let switches = |priority| {
            spawn_named_with("noisescope-test", priority, || {
                let before = voluntary_switches();
                for _ in 0..50 {
                    let started = Instant::now();
                    while started.elapsed() < Duration::from_micros(1200) {
                        std::hint::spin_loop();
                    }
                    pause_point();
                }
                voluntary_switches() - before
            })
            .unwrap()
            .join()
            .unwrap()
        };
        assert!(switches(Priority::Background) >= 50);
        assert!(switches(Priority::Normal) < 5);
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
