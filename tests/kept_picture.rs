//! The 2D view keeps a picture that held still for a frame and copies it from
//! then on (`render::cached`): the copy must look as the layers drawn straight
//! do, and a change must never show the kept picture. Its density, drawn at
//! as few texels as p_t's detail allows, must show p_t. Beside a software
//! renderer the model thread takes only the CPU time the rasteriser leaves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::window::{explorer, run_until};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use noisescope::app::ExplorerApp;
use noisescope::diffusion::mixture::GaussianMixture;

/// One frame through the egui pass and the renderer.
fn frame(harness: &mut Harness<'static, ExplorerApp>) -> image::RgbaImage {
    harness.step();
    harness.render().expect("the frame renders")
}

/// The share of pixels whose colour differs by more than `levels` in a channel.
fn share_differing(a: &image::RgbaImage, b: &image::RgbaImage, levels: u8) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let differing = a
        .pixels()
        .zip(b.pixels())
        .filter(|(p, q)| p.0.iter().zip(q.0).any(|(x, y)| x.abs_diff(y) > levels))
        .count();
    differing as f64 / f64::from(a.width() * a.height())
}

/// The explorer once its first run and that run's ELBO are in.
fn settled_explorer() -> Harness<'static, ExplorerApp> {
    let mut harness = explorer();
    run_until(&mut harness, "the first run settles", |app| {
        let run = app.run();
        run.run_id > 0 && run.frames.len() == run.expected_frames() && app.elbo_bits_per_dim().is_some()
    });
    harness
}

#[test]
fn a_picture_that_holds_still_is_copied_and_looks_as_drawn() {
    let mut harness = settled_explorer();
    harness.remove_cursor();
    let drawn = frame(&mut harness);
    assert!(
        !harness.state().plane_copied_kept_picture(),
        "the first frame of a picture is drawn layer by layer"
    );
    let copied = frame(&mut harness);
    assert!(
        harness.state().plane_copied_kept_picture(),
        "a picture asked for twice in a row is copied"
    );
    // The density is magnified from its own texture at a whole-pixel origin in
    // the copy and at the view's own origin on screen, so a few pixels of its
    // smooth gradient may round differently; nothing else may change.
    let share = share_differing(&drawn, &copied, 3);
    assert!(share < 0.001, "{:.3}% of the pixels differ", 100.0 * share);

    // Back to x_T is a new picture: drawn straight, never the kept one.
    harness.get_by_label("First").click();
    harness.step();
    let stepped = frame(&mut harness);
    assert!(!harness.state().plane_copied_kept_picture());
    assert!(
        share_differing(&stepped, &copied, 3) > 0.01,
        "x_T shows a different picture"
    );
    let kept_again = frame(&mut harness);
    assert!(harness.state().plane_copied_kept_picture());
    assert!(share_differing(&stepped, &kept_again, 3) < 0.001);
}

/// The colour `plane.wgsl`'s `density_fs` gives p_t at `x`: the marginal
/// q(x_t) = Σ_k w_k N(x_t; √ᾱ μ_k, (ᾱ s_k² + 1 − ᾱ) I) relative to its
/// highest component peak, on a square-root scale, from dark slate to amber;
/// in 8-bit levels.
fn density_colour(mixture: &GaussianMixture, x: [f64; 2], alpha_bar: f64) -> [f64; 3] {
    let (mut density, mut peak) = (0.0, 0.0_f64);
    for c in mixture.components() {
        let v = alpha_bar * c.std * c.std + 1.0 - alpha_bar;
        let d = [x[0] - alpha_bar.sqrt() * c.mean[0], x[1] - alpha_bar.sqrt() * c.mean[1]];
        let height = c.weight / (std::f64::consts::TAU * v);
        density += height * (-(d[0] * d[0] + d[1] * d[1]) / (2.0 * v)).exp();
        peak = peak.max(height);
    }
    let level = (density / peak).clamp(0.0, 1.0).sqrt();
    let (low, high) = ([0.07, 0.09, 0.13], [0.98, 0.62, 0.18]);
    [0, 1, 2].map(|i| 255.0 * (low[i] + (high[i] - low[i]) * level))
}

/// Probes a 40×40 grid of the view's pixels at the frame on screen: where a
/// pixel shows the density alone (its colour on the slate-to-amber line, not
/// a particle or a label over it), it must be p_t's colour at that point
/// within `levels`. Returns the share of probes that showed the density.
fn density_matches(harness: &mut Harness<'static, ExplorerApp>, levels: f64) -> f64 {
    let image = frame(harness);
    let app = harness.state();
    let rect = app.figure_rect().expect("the 2D view is drawn");
    // The frame's t, as the viewer reads it (past the schedule's end: the data).
    let t = app.run().frames[app.current_frame()].t;
    let alpha_bar = if t <= app.schedule().train_steps() {
        app.schedule().alpha_bar(t)
    } else {
        1.0
    };
    let mixture = noisescope::app::default_mixture().expect("the shipped mixture");
    // The viewer frames every component's mean ± 3 std, at least ±3, with 10% to spare.
    let reach = mixture
        .components()
        .iter()
        .map(|c| c.mean[0].abs().max(c.mean[1].abs()) + 3.0 * c.std)
        .fold(3.0, f64::max);
    let half_extent = f64::from(reach as f32 * 1.1);
    let (mut shown, mut probes) = (0, 0);
    for row in 0..40 {
        for col in 0..40 {
            let u = (f64::from(col) + 0.5) / 40.0;
            let v = (f64::from(row) + 0.5) / 40.0;
            let px = (f64::from(rect.left()) + u * f64::from(rect.width())).floor();
            let py = (f64::from(rect.top()) + v * f64::from(rect.height())).floor();
            // The pixel's centre in data units.
            let x = [
                ((px + 0.5 - f64::from(rect.left())) / f64::from(rect.width()) * 2.0 - 1.0) * half_extent,
                (1.0 - (py + 0.5 - f64::from(rect.top())) / f64::from(rect.height()) * 2.0) * half_extent,
            ];
            let pixel = image.get_pixel(px as u32, py as u32).0.map(f64::from);
            probes += 1;
            // The level this pixel's red channel stands for, and the colour on the line there.
            let level = ((pixel[0] / 255.0 - 0.07) / 0.91).clamp(0.0, 1.0);
            let on_line = [0.09 + 0.53 * level, 0.13 + 0.05 * level];
            if (pixel[1] - 255.0 * on_line[0]).abs() > 3.0 || (pixel[2] - 255.0 * on_line[1]).abs() > 3.0 {
                continue;
            }
            shown += 1;
            let expected = density_colour(&mixture, x, alpha_bar);
            assert!(
                (pixel[0] - expected[0]).abs() <= levels,
                "at ({x:?}), ᾱ = {alpha_bar}: red {} on screen, {:.1} for p_t",
                pixel[0],
                expected[0]
            );
        }
    }
    f64::from(shown) / f64::from(probes)
}

/// The density's texture has as few texels as p_t's narrowest component
/// allows (a few dozen a side at x_T), magnified bilinearly: on screen it
/// must still be p_t, at x_T and at the sharpest t, the data.
#[test]
fn the_density_on_screen_is_p_t_at_x_t_and_at_the_data() {
    let mut harness = settled_explorer();
    for layer in ["Show score", "Show trails"] {
        harness.get_by_label_contains(layer).click();
    }
    harness.remove_cursor();
    for (button, what) in [("First", "x_T"), ("Last", "the data")] {
        harness.get_by_label(button).click();
        harness.step();
        let shown = density_matches(&mut harness, 4.0);
        assert!(
            shown > 0.8,
            "at {what} only {:.0}% of the probes show the density",
            100.0 * shown
        );
    }
}

#[test]
fn the_density_texture_has_six_texels_a_narrowest_std_and_at_most_half_the_views_pixels() {
    use noisescope::render::plane::density_side_for;
    // [−3, 3]² with σ = 1: 6 units at 6 texels a unit.
    assert_eq!(density_side_for(800.0, 3.0, 1.0), 36);
    // σ = 0.1 asks for 360 texels, more than half of a 600-pixel view.
    assert_eq!(density_side_for(600.0, 3.0, 0.1), 300);
    // Very broad: the least the texture has.
    assert_eq!(density_side_for(600.0, 3.0, 10.0), 32);
    // No spread at all (a point mass at the data): half the view.
    assert_eq!(density_side_for(600.0, 3.0, 0.0), 300);
}

/// The policy of every model thread (`noisescope-worker`) of this process.
#[cfg(target_os = "linux")]
fn model_thread_policies() -> Vec<i32> {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc lists this process's threads");
    tasks
        .flatten()
        .filter(|task| {
            // The kernel keeps 15 bytes of a thread's name.
            std::fs::read_to_string(task.path().join("comm")).is_ok_and(|comm| comm.trim() == "noisescope-work")
        })
        .filter_map(|task| task.file_name().to_str()?.parse::<libc::pid_t>().ok())
        // SAFETY: the call only reads the thread id it is given; a thread
        // that has ended since answers -1, which the assertion reports.
        .map(|tid| unsafe { libc::sched_getscheduler(tid) })
        .collect()
}

#[cfg(target_os = "linux")]
#[test]
fn beside_a_software_renderer_the_model_thread_runs_at_idle_priority() {
    let mut software = None;
    let _harness = Harness::builder().with_size([1280.0, 720.0]).wgpu().build_eframe(|cc| {
        software = Some(
            cc.wgpu_render_state
                .as_ref()
                .is_some_and(noisescope::render::is_software),
        );
        ExplorerApp::new(cc).expect("the explorer starts")
    });
    // Every explorer in this test binary runs on the same adapter, so every
    // model thread alive has the same policy, once it has set it: a thread
    // sets its own as it starts, which may be a moment after its window.
    let expected = if software.expect("the explorer was built") {
        libc::SCHED_IDLE
    } else {
        libc::SCHED_OTHER
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let settled = |policies: &[i32]| !policies.is_empty() && policies.iter().all(|&policy| policy == expected);
    let mut policies = model_thread_policies();
    while !settled(&policies) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
        policies = model_thread_policies();
    }
    assert!(
        settled(&policies),
        "model threads' policies {policies:?} (none: no model thread), expected {expected}"
    );
}
