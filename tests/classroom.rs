//! In class: the explorer driven by the keyboard alone, and presentation mode,
//! through egui_kittest on lavapipe.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::window::{explorer, run_until};
use egui::{Key, Modifiers, TextStyle};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use noisescope::app::ExplorerApp;

fn finished(app: &ExplorerApp) -> bool {
    let run = app.run();
    run.run_id > 0 && run.frames.len() == run.expected_frames() && app.elbo_bits_per_dim().is_some()
}

fn press(harness: &mut Harness<'static, ExplorerApp>, key: Key) {
    harness.key_press(key);
    harness.run_steps(2);
}

fn shown_t(app: &ExplorerApp) -> usize {
    app.run().frames[app.current_frame()].t
}

#[test]
fn the_keyboard_alone_steps_plays_and_changes_class_and_gamma() {
    let mut harness = explorer();
    run_until(&mut harness, "the first run", finished);
    // DDIM, 50 steps, leading spacing: x_T is drawn at t = 981, x_0 is t = 0.
    press(&mut harness, Key::End);
    assert_eq!(shown_t(harness.state()), 981);
    press(&mut harness, Key::ArrowRight);
    assert_eq!(harness.state().current_frame(), 1);
    harness.key_press_modifiers(Modifiers::SHIFT, Key::ArrowRight);
    harness.run_steps(2);
    assert_eq!(harness.state().current_frame(), 11);
    press(&mut harness, Key::ArrowLeft);
    assert_eq!(harness.state().current_frame(), 10);
    press(&mut harness, Key::Home);
    assert_eq!(shown_t(harness.state()), 0);
    press(&mut harness, Key::Space);
    assert!(harness.state().is_playing());
    press(&mut harness, Key::Space);
    assert!(!harness.state().is_playing());
    let first_run = harness.state().run().run_id;
    press(&mut harness, Key::Num1);
    assert_eq!(harness.state().settings().class, Some(1));
    press(&mut harness, Key::CloseBracket);
    press(&mut harness, Key::CloseBracket);
    assert!((harness.state().settings().guidance.scale - 2.0).abs() < 1e-9);
    press(&mut harness, Key::OpenBracket);
    assert!((harness.state().settings().guidance.scale - 1.5).abs() < 1e-9);
    // Class 7 does not exist in a three-class mixture: nothing changes.
    press(&mut harness, Key::Num7);
    assert_eq!(harness.state().settings().class, Some(1));
    run_until(&mut harness, "the run for class 1", |app| {
        finished(app) && app.run().run_id > first_run
    });
}

#[test]
fn the_question_mark_lists_every_shortcut() {
    let mut harness = explorer();
    harness.run_steps(2);
    assert!(harness.query_by_label("Keyboard shortcuts").is_none());
    press(&mut harness, Key::Questionmark);
    harness.get_by_label("Keyboard shortcuts");
    for (key, what) in noisescope::app::keys::SHORTCUTS {
        harness.get_by_label(key);
        harness.get_by_label(what);
    }
    harness.snapshot("classroom_shortcuts");
    press(&mut harness, Key::Escape);
    assert!(harness.query_by_label("Keyboard shortcuts").is_none());
}

#[test]
fn presentation_mode_enlarges_the_type_and_shows_the_step() {
    let mut harness = explorer();
    run_until(&mut harness, "the first run", finished);
    let body = |harness: &Harness<'static, ExplorerApp>| harness.ctx.global_style().text_styles[&TextStyle::Body].size;
    let normal = body(&harness);
    assert!(harness.query_by_label_contains("SNR = ").is_none());
    press(&mut harness, Key::F5);
    assert!(harness.state().is_presenting());
    assert!(body(&harness) >= 1.5 * normal, "{} vs {normal}", body(&harness));
    // The caption strip: the sampler's equation and the step's numbers.
    harness.get_by_label_contains("x_s = √ᾱ_s x_θ");
    harness.get_by_label_contains("SNR = ∞");
    // The controls keep only what a lesson changes.
    assert!(harness.query_by_label_contains("Seed").is_none());
    harness.get_by_label("Sample");
    harness.snapshot("classroom_presentation");
    press(&mut harness, Key::F5);
    assert!(!harness.state().is_presenting());
    assert!((body(&harness) - normal).abs() < 1e-3);
}

#[test]
fn copy_as_command_redraws_the_run_bit_for_bit() {
    let mut harness = explorer();
    run_until(&mut harness, "the first run", finished);
    harness.get_by_label("Copy as command").click();
    harness.run_steps(2);
    let line = harness.state().last_command().expect("a command was copied").to_owned();
    harness.get_by_label_contains("copied: noisescope sample");
    let out = common::scratch("classroom", "samples.csv");
    let args: Vec<String> = line
        .split_whitespace()
        .skip(1)
        .map(|word| {
            if word == "samples.csv" {
                out.display().to_string()
            } else {
                word.to_owned()
            }
        })
        .collect();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_noisescope"))
        .args(&args)
        .status()
        .unwrap();
    assert!(status.success(), "{line}");
    let csv = std::fs::read_to_string(&out).unwrap();
    let from_command: Vec<f32> = csv
        .lines()
        .skip(1)
        .flat_map(|row| row.split(',').map(|v| v.parse::<f32>().unwrap()).collect::<Vec<_>>())
        .collect();
    let in_window = &harness.state().run().frames.last().unwrap().x;
    assert_eq!(&from_command, in_window, "{line}");
}
