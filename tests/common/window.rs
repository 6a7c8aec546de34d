//! The explorer window under egui_kittest, rendered by wgpu (lavapipe in CI).

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use noisescope::app::ExplorerApp;

/// The explorer at a projector's 1280×720.
pub fn explorer() -> Harness<'static, ExplorerApp> {
    Harness::builder()
        .with_size([1280.0, 720.0])
        .wgpu()
        .build_eframe(|cc| ExplorerApp::new(cc).expect("the explorer starts"))
}

/// Opens the scene called `title` through the navigator's menu, as a user
/// does, then takes the pointer away: where the menu entry was depends on how
/// many scenes the menu lists, and a snapshot must not change with that.
pub fn open_scene(harness: &mut Harness<'static, ExplorerApp>, title: &str) {
    harness.get_by_label(noisescope::app::navigator::MENU_LABEL).click();
    harness.run_steps(2);
    harness.get_by_label(title).click();
    harness.run_steps(2);
    harness.remove_cursor();
    harness.run_steps(1);
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

/// Points (x, y interleaved) have two-moons' spread in x: the moons' x is
/// 1.6 (cos θ − ½) for θ uniform on [0, π], whose RMS is 1.6 √¾ = 1.386.
pub fn assert_two_moons_x_spread(points: &[f32], what: &str) {
    let xs: Vec<f64> = points.chunks_exact(2).map(|p| f64::from(p[0])).collect();
    let spread = (xs.iter().map(|x| x * x).sum::<f64>() / xs.len() as f64).sqrt();
    assert!(
        (spread / 1.386 - 1.0).abs() < 0.1,
        "{what}: x spread {spread}, not 1.386"
    );
}
