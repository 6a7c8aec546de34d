//! The explorer window under egui_kittest, rendered by wgpu (lavapipe in CI).

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use noisescope::app::ExplorerApp;

/// The explorer at a projector's 1280×720.
pub fn explorer() -> Harness<'static, ExplorerApp> {
    Harness::builder()
        .with_size([1280.0, 720.0])
        .wgpu()
        .build_eframe(|cc| ExplorerApp::new(cc).expect("the explorer starts"))
}

/// Steps frames until `done` holds (the worker streams on its own thread).
pub fn run_until(harness: &mut Harness<'static, ExplorerApp>, what: &str, done: impl Fn(&ExplorerApp) -> bool) {
    // Generous: CI machines can be slow; the test fails only if nothing ever arrives.
    let deadline = Instant::now() + Duration::from_secs(400);
    while Instant::now() < deadline {
        harness.step();
        if done(harness.state()) {
            harness.step();
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("timed out waiting for {what}");
}
