//! The theory scenes in the window, through egui_kittest on lavapipe. A scene
//! whose figure the library computes (`tests/figures.rs` checks its numbers)
//! is opened by its navigator entry in one loop over the registry, and
//! snapshotted once its figure is in. The others, whose computation still
//! lives in the window, are opened with one click and their numbers read off
//! the screen and checked against exact answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use noisescope::app::ExplorerApp;
use noisescope::scenes::SceneId;

fn open(title: &str) -> Harness<'static, ExplorerApp> {
    let mut harness = Harness::builder()
        .with_size([1280.0, 720.0])
        .wgpu()
        .build_eframe(|cc| ExplorerApp::new(cc).expect("the explorer starts"));
    harness.run_steps(2);
    common::window::open_scene(&mut harness, title);
    harness
}

/// A node's text: a label's value, or any other widget's label.
fn text_of(node: &egui_kittest::Node<'_>) -> Option<String> {
    let node = node.accesskit_node();
    node.value().or_else(|| node.label())
}

/// The text of the label that starts with `prefix`, once the scene has
/// finished computing (steps frames until then).
fn label(harness: &mut Harness<'static, ExplorerApp>, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        harness.step();
        let computing = harness.query_all_by_label("computing…").next().is_some();
        let found = harness
            .query_all_by_label_contains(prefix)
            .filter_map(|node| text_of(&node))
            .find(|text| text.starts_with(prefix));
        if let (false, Some(text)) = (computing, found) {
            return text;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let shown: Vec<String> = harness
        .query_all_by_label_contains("")
        .filter_map(|node| text_of(&node))
        .collect();
    panic!("no label starting with {prefix:?} appeared; the window shows {shown:?}");
}

/// Every decimal number in `text` after `marker`, in order.
fn numbers_after(text: &str, marker: &str) -> Vec<f64> {
    let start = text
        .find(marker)
        .map_or_else(|| panic!("{marker:?} not in {text:?}"), |i| i + marker.len());
    let mut numbers = Vec::new();
    let mut current = String::new();
    for c in text[start..].chars().chain([' ']) {
        let has_digit = current.chars().any(|d| d.is_ascii_digit());
        let continues = c.is_ascii_digit()
            || (c == '.' && has_digit)
            || (c == '-' && (current.is_empty() || current.ends_with('e')))
            || (c == 'e' && has_digit && !current.contains('e'));
        if continues {
            current.push(c);
        } else {
            if has_digit {
                numbers.push(current.trim_end_matches(['.', 'e', '-']).parse().unwrap());
            }
            current.clear();
        }
    }
    numbers
}

fn click(harness: &mut Harness<'static, ExplorerApp>, label: &str) {
    harness.get_by_label(label).click();
    harness.run_steps(2);
}

/// Steps frames until no scene is computing (a figure is in), for at most 300 s.
fn wait_for_figure(harness: &mut Harness<'static, ExplorerApp>, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut quiet_frames = 0;
    while quiet_frames < 3 {
        assert!(Instant::now() < deadline, "{what}: still computing after 300 s");
        harness.step();
        if harness.query_all_by_label("computing…").next().is_some() {
            quiet_frames = 0;
            std::thread::sleep(Duration::from_millis(10));
        } else {
            quiet_frames += 1;
        }
    }
}

#[test]
fn every_scene_the_library_computes_opens_from_the_navigator_and_shows_its_figure() {
    // One harness per scene; their snapshot results are gathered and checked at the end.
    let mut results = egui_kittest::SnapshotResults::new();
    for &id in SceneId::ALL {
        if noisescope::figures::setup_keys(id).is_none() {
            continue;
        }
        let mut harness = open(id.title());
        wait_for_figure(&mut harness, id.id());
        harness.get_by_label(id.title());
        results.add(harness.try_snapshot(format!("scene_{}", id.id().replace('-', "_"))));
    }
    results.unwrap();
}

#[test]
fn ddim_inversion_round_trips_an_image_through_the_unet() {
    let mut harness = open("DDIM inversion");
    click(&mut harness, "Images (the U-Net)");
    let trip = label(
        &mut harness,
        "round trip (invert, then decode with 50 DDIM steps), RMS per pixel",
    );
    eprintln!("{trip}");
    let (a, b) = (numbers_after(&trip, "A ")[0], numbers_after(&trip, ", B ")[0]);
    // Pixels span [−1, 1]: a round trip within a few hundredths is the same image.
    assert!(a < 0.1 && b < 0.1, "{trip}");
    harness.snapshot("scene_ddim_inversion_images");
}
