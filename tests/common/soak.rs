//! The soak: the explorer driven through many runs, as a restless class would
//! drive it. Each run changes the sampler and the steps, every tenth changes
//! the scene, and every other run is cancelled in the middle by the next. The
//! image batch samples with the U-Net on every other visit (a few steps: each
//! is a batch-16 forward pass) and with the empirical denoiser on the rest.
//! Shared by the reliability test (which asserts) and `cargo bench --bench
//! soak` (which prints).

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use noisescope::app::ExplorerApp;
use noisescope::diffusion::sampler::SamplerKind;

use super::window::{explorer, open_scene};

/// What one run left behind, read when it ended.
#[derive(Clone, Copy, Debug)]
pub struct RunSample {
    /// The run's number, from 0.
    pub run: usize,
    /// The scene's title.
    pub scene: &'static str,
    /// Whether the next run cancelled this one in the middle.
    pub cancelled: bool,
    /// The process's resident memory (after the allocator returned its free memory).
    pub resident_bytes: u64,
    /// The heap the program holds allocated.
    pub heap_bytes: u64,
    /// GPU memory held: the views' buffers and textures, and egui's textures.
    pub gpu_bytes: u64,
    /// The process's threads.
    pub threads: usize,
}

/// Runs before the figures count: every scene and both image-batch models
/// have run, the buffers have reached their largest size, the pools started.
pub const WARM_UP_RUNS: usize = 60;

/// The scenes visited, one per ten runs, in turn.
const SCENES: [&str; 4] = ["2D mixture", "Image batch", "2D mixture", "Images"];
const STEPS: [usize; 4] = [10, 25, 40, 60];
/// The U-Net runs at a few steps: each step is a batch-16 forward pass.
const NETWORK_STEPS: [usize; 4] = [2, 3, 4, 5];
const SAMPLERS: [SamplerKind; 6] = [
    SamplerKind::Ddpm,
    SamplerKind::Ddim,
    SamplerKind::DpmSolverPp,
    SamplerKind::HeunOde,
    SamplerKind::EdmHeun,
    SamplerKind::ReverseSde,
];

unsafe extern "C" {
    /// glibc: returns free memory at the top of each arena to the OS.
    fn malloc_trim(pad: usize) -> i32;
    /// glibc: the allocator's counters.
    fn mallinfo2() -> MallInfo2;
}

/// glibc's `struct mallinfo2` (every field a `size_t`).
#[repr(C)]
struct MallInfo2 {
    arena: usize,
    ordblks: usize,
    smblks: usize,
    hblks: usize,
    hblkhd: usize,
    usmblks: usize,
    fsmblks: usize,
    uordblks: usize,
    fordblks: usize,
    keepcost: usize,
}

/// Bytes the program holds allocated: the arenas' chunks in use plus the
/// blocks mapped on their own. Free memory the allocator keeps does not count,
/// so this grows only with what the program keeps.
fn heap_in_use_bytes() -> u64 {
    // SAFETY: mallinfo2 takes nothing and returns a plain struct by value.
    let info = unsafe { mallinfo2() };
    (info.uordblks + info.hblkhd) as u64
}

/// The resident memory once the allocator has handed its free memory back.
fn resident_bytes() -> u64 {
    // SAFETY: malloc_trim only releases free memory; any pad is valid.
    unsafe { malloc_trim(0) };
    status_field("VmRSS:") << 10
}

fn status_field(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The process's threads once the ones still finishing have ended: a
/// cancelled job's thread ends at its next check, a moment later.
fn settled_threads(harness: &mut Harness<'static, ExplorerApp>, baseline: Option<usize>) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let threads = status_field("Threads:") as usize;
        if baseline.is_none_or(|b| threads <= b) || Instant::now() > deadline {
            return threads;
        }
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn gpu_bytes(harness: &Harness<'static, ExplorerApp>) -> u64 {
    let textures = harness.ctx.tex_manager();
    let egui_bytes: usize = textures.read().allocated().map(|(_, meta)| meta.bytes_used()).sum();
    harness.state().gpu_bytes_held() + egui_bytes as u64
}

/// Steps frames until the latest run has all its frames (or, for a run to be
/// cancelled, its second), checking after every frame that the frames shown
/// belong to the latest run only.
fn step_run(harness: &mut Harness<'static, ExplorerApp>, cancel: bool) {
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut last_shown = (harness.state().run().run_id, harness.state().run().frames.len());
    loop {
        harness.step();
        let app = harness.state();
        let (latest, run) = (app.latest_run_id(), app.run());
        let shown = (run.run_id, run.frames.len());
        let grew = shown.0 != last_shown.0 || shown.1 > last_shown.1;
        assert!(
            !grew || shown.0 == latest,
            "a frame of run {} arrived after run {latest} replaced it",
            shown.0
        );
        last_shown = shown;
        let arrived = run.run_id == latest;
        let enough = if cancel { 2 } else { run.expected_frames() };
        if arrived && run.frames.len() >= enough {
            return;
        }
        assert!(Instant::now() < deadline, "run {latest} never finished");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Opens the image batch scene, waits for its models, and picks the U-Net on
/// every other visit (the empirical denoiser on the rest).
fn open_image_batch(harness: &mut Harness<'static, ExplorerApp>, visit: usize) {
    open_scene(harness, "Image batch");
    let deadline = Instant::now() + Duration::from_secs(120);
    while harness.state().run().dims != 784 {
        assert!(Instant::now() < deadline, "the image models never loaded");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    let model = if visit.is_multiple_of(2) {
        "Trained U-Net"
    } else {
        "Empirical denoiser"
    };
    harness.get_by_label(model).click();
    harness.run_steps(2);
}

/// Drives `runs` runs and returns what each left behind; `each` sees every
/// sample as it is taken.
pub fn soak(runs: usize, mut each: impl FnMut(&RunSample)) -> Vec<RunSample> {
    let mut harness = explorer();
    let mut samples = Vec::with_capacity(runs);
    let mut baseline_threads = None;
    let (mut scene, mut network, mut image_batch_visits) = ("2D mixture", false, 0);
    for run in 0..runs {
        if run % 10 == 0 && run > 0 {
            scene = SCENES[(run / 10) % SCENES.len()];
            network = false;
            if scene == "Image batch" {
                open_image_batch(&mut harness, image_batch_visits);
                network = image_batch_visits.is_multiple_of(2);
                image_batch_visits += 1;
            } else {
                open_scene(&mut harness, scene);
            }
        }
        let mut settings = harness.state().settings();
        settings.sampler.kind = SAMPLERS[run % SAMPLERS.len()];
        settings.sampler.spacing = settings.sampler.kind.default_spacing();
        let steps = if network { NETWORK_STEPS } else { STEPS };
        settings.sampler.steps = steps[(run / 2) % steps.len()];
        harness.state_mut().apply_settings(settings);
        let cancelled = run % 2 == 1 && scene != "Images";
        if scene == "Images" {
            // The forward scene starts no sampler run; let it draw.
            harness.run_steps(3);
        } else {
            step_run(&mut harness, cancelled);
        }
        // Show x_T, which every run has: the 2D view's density texture is as
        // fine as the frame shown needs, so a cancelled run left on whichever
        // frame had arrived held a texture of a size that depended on timing
        // (up to 0.1 MiB apart), and the GPU figure with it.
        harness.key_press(egui::Key::End);
        harness.step();
        // Draw the frame a window would show: the views upload to the GPU in
        // their paint callbacks, and the render submits the queue's writes.
        harness.render().expect("the frame renders");
        let threads = settled_threads(&mut harness, baseline_threads);
        let sample = RunSample {
            run,
            scene,
            cancelled,
            resident_bytes: resident_bytes(),
            heap_bytes: heap_in_use_bytes(),
            gpu_bytes: gpu_bytes(&harness),
            threads,
        };
        each(&sample);
        samples.push(sample);
        if baseline_threads.is_none() && run + 1 >= WARM_UP_RUNS {
            baseline_threads = Some(threads);
        }
    }
    samples
}
