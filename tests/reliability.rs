//! Nothing is lost and nothing crashes: training killed with SIGKILL at
//! random moments resumes to the very weights an uninterrupted run writes, and
//! a lost GPU device closes the window with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use noisescope::model::params::read_safetensors;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod common;

const KILLED_RUNS: usize = 20;

fn train(out: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_noisescope"));
    command
        .args(["train", "--data", "two-moons", "--steps", "1200"])
        .args(["--checkpoint-every", "37", "--channels", "16", "--seed", "5", "--out"])
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    command
}

/// Every tensor's raw bytes and the metadata, by name: equal exactly when the
/// files hold the same weights bit for bit (the files' own byte order of
/// metadata may differ between processes).
fn weights(path: &Path) -> (BTreeMap<String, Vec<u8>>, BTreeMap<String, String>) {
    let (tensors, metadata) = read_safetensors(path).unwrap();
    let bytes = tensors
        .into_iter()
        .map(|(name, tensor)| {
            let values: Vec<f32> = tensor.flatten_all().unwrap().to_vec1().unwrap();
            (name, values.iter().flat_map(|v| v.to_le_bytes()).collect())
        })
        .collect();
    (bytes, metadata.into_iter().collect())
}

#[test]
fn training_killed_at_random_moments_resumes_to_the_uninterrupted_weights() {
    let straight_path = common::scratch("reliability", "straight.safetensors");
    let started = Instant::now();
    let output = train(&straight_path).output().unwrap();
    assert!(output.status.success());
    let run_time = started.elapsed();
    let straight = weights(&straight_path);

    let mut rng = ChaCha8Rng::seed_from_u64(23);
    let mut resumed_runs = 0;
    for run in 0..KILLED_RUNS {
        let path = common::scratch("reliability", &format!("killed-{run}.safetensors"));
        let mut child = train(&path).spawn().unwrap();
        // Anywhere from start-up to the last checkpoint and the final write.
        std::thread::sleep(run_time.mul_f64(rng.random_range(0.05..1.0)));
        child.kill().unwrap();
        child.wait().unwrap();
        let output = train(&path).output().unwrap();
        assert!(
            output.status.success(),
            "run {run}: the resumed run failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        resumed_runs += usize::from(String::from_utf8_lossy(&output.stdout).contains("resuming from"));
        assert!(
            weights(&path) == straight,
            "run {run}: the resumed weights differ from the uninterrupted run's"
        );
    }
    println!(
        "{resumed_runs} of {KILLED_RUNS} killed runs resumed from a checkpoint (run time {:.2} s)",
        run_time.as_secs_f64()
    );
    // The test means something only if kills landed mid-run.
    assert!(resumed_runs > 0, "no killed run had a checkpoint to resume from");
}

#[test]
fn a_lost_gpu_device_closes_the_window_with_its_message() {
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use std::sync::{Arc, Mutex};

    let device = Arc::new(Mutex::new(None));
    let kept = Arc::clone(&device);
    let mut harness = Harness::builder()
        .with_size([1280.0, 720.0])
        .wgpu()
        .build_eframe(move |cc| {
            *kept.lock().unwrap() = cc.wgpu_render_state.as_ref().map(|s| s.device.clone());
            noisescope::app::ExplorerApp::new(cc).unwrap()
        });
    harness.run_steps(2);
    let device: wgpu::Device = device
        .lock()
        .unwrap()
        .clone()
        .expect("the test window has a wgpu device");
    device.destroy();
    let _ = device.poll(wgpu::PollType::wait_indefinitely());
    harness.run_steps(3);
    harness.get_by_label_contains("the GPU device was lost");
    assert_eq!(harness.state().uncaptured_gpu_errors(), 0);
}
