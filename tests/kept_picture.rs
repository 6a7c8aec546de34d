//! The 2D view keeps a picture that held still for a frame and copies it from
//! then on (`render::cached`): the copy must look as the layers drawn straight
//! do, and a change must never show the kept picture.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::window::{explorer, run_until};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use noisescope::app::ExplorerApp;

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

#[test]
fn a_picture_that_holds_still_is_copied_and_looks_as_drawn() {
    let mut harness = explorer();
    run_until(&mut harness, "the first run settles", |app| {
        let run = app.run();
        run.run_id > 0 && run.frames.len() == run.expected_frames() && app.elbo_bits_per_dim().is_some()
    });
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
