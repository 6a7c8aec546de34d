//! In class: the explorer driven by the keyboard alone, and presentation mode,
//! through egui_kittest on lavapipe.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::window::{explorer, run_until};
use egui::{Key, Modifiers, TextStyle};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use noisescope::app::controls::Scene;
use noisescope::app::{ExplorerApp, LaunchOptions, lesson};
use noisescope::scenes::{Chapter, SceneId};

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
    // The run finished first, so the snapshot is the same every time.
    run_until(&mut harness, "the first run", finished);
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
    // The controls fold; brought back, they keep only what a lesson changes.
    assert!(harness.query_by_label("Sample").is_none());
    press(&mut harness, Key::C);
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
    assert_the_copied_command_redraws_the_run(&mut harness, "samples.csv");
}

#[test]
fn guided_levels_change_the_run_and_the_copied_command_keeps_them() {
    let mut harness = explorer();
    run_until(&mut harness, "the first run", finished);
    // Class 1 at γ = 3 (four presses of ] from 1), guided at every level.
    let before = harness.state().run().run_id;
    press(&mut harness, Key::Num1);
    for _ in 0..4 {
        press(&mut harness, Key::CloseBracket);
    }
    assert!((harness.state().settings().guidance.scale - 3.0).abs() < 1e-9);
    run_until(&mut harness, "the run at γ = 3", |app| {
        finished(app) && app.run().run_id > before
    });
    let every_level = harness.state().run().frames.last().unwrap().x.clone();
    let before = harness.state().run().run_id;
    harness
        .get_by_role_and_label(egui::accesskit::Role::ComboBox, "Guided levels")
        .click();
    harness.run_steps(2);
    harness.get_by_label("σ ≤ 1").click();
    harness.run_steps(2);
    let interval = harness.state().settings().guidance.interval;
    assert_eq!((interval.low, interval.high), (0.0, 1.0));
    run_until(&mut harness, "the run guided where σ ≤ 1", |app| {
        finished(app) && app.run().run_id > before
    });
    assert_ne!(harness.state().run().frames.last().unwrap().x, every_level);
    let line = assert_the_copied_command_redraws_the_run(&mut harness, "guided-levels.csv");
    assert!(
        line.contains("--guidance 3 ") && line.contains("--guidance-interval 0,1 "),
        "{line}"
    );
}

/// Presses "Copy as command", runs the copied line and checks that its CSV
/// (written to `csv_name` in the scratch folder) holds the window's last
/// frame bit for bit; returns the line.
fn assert_the_copied_command_redraws_the_run(harness: &mut Harness<'static, ExplorerApp>, csv_name: &str) -> String {
    harness.get_by_label("Copy as command").click();
    harness.run_steps(2);
    let line = harness.state().last_command().expect("a command was copied").to_owned();
    harness.get_by_label_contains("copied: noisescope sample");
    let out = common::scratch("classroom", csv_name);
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
    line
}

/// The t on screen, wherever the scene keeps it.
fn t_on_screen(app: &ExplorerApp) -> usize {
    match app.scene() {
        Scene::ImageForward => app.image_t(),
        _ => shown_t(app),
    }
}

#[test]
fn the_default_lesson_runs_on_page_down_alone() {
    let stops = lesson::parse(
        noisescope::assets::DEFAULT_LESSON.text,
        noisescope::assets::DEFAULT_LESSON.path,
    )
    .unwrap();
    let mut harness = explorer();
    harness.run_steps(2);
    for (i, stop) in stops.iter().enumerate() {
        press(&mut harness, Key::PageDown);
        let runs = matches!(stop.scene, Scene::Mixture2D | Scene::ImageBatch);
        run_until(&mut harness, &format!("stop {}", i + 1), |app| {
            app.lesson_position().is_some_and(|(at, _)| at == i)
                && app.scene() == stop.scene
                && (!runs || (finished(app) && stop.t.is_none_or(|t| t_on_screen(app) == t)))
        });
        let app = harness.state();
        assert_eq!(
            app.settings().sampler.kind,
            stop.settings.sampler.kind,
            "stop {}",
            i + 1
        );
        assert_eq!(app.settings().class, stop.settings.class, "stop {}", i + 1);
        if let (Some(t), true) = (stop.t, runs || stop.scene == Scene::ImageForward) {
            assert_eq!(t_on_screen(app), t, "stop {}: {}", i + 1, stop.title);
        }
        let position = format!("stop {} of {}: {}", i + 1, stops.len(), stop.title);
        assert!(
            harness.query_all_by_label_contains(&position).next().is_some(),
            "{position}"
        );
    }
    // Past the end, PageDown stays on the last stop; PageUp goes back one.
    press(&mut harness, Key::PageDown);
    assert_eq!(harness.state().lesson_position().unwrap().0, stops.len() - 1);
    press(&mut harness, Key::PageUp);
    assert_eq!(harness.state().lesson_position().unwrap().0, stops.len() - 2);
}

#[test]
fn a_lesson_file_with_a_mistake_is_a_message_naming_the_line() {
    let path = common::scratch("classroom", "broken.lesson");
    std::fs::write(&path, "[stop]\nscene = images\nt = soon\n").unwrap();
    let mut harness = explorer();
    harness.run_steps(2);
    harness.get_by_label("Lesson").click();
    harness.run_steps(2);
    let edit = harness.get_by_role_and_label(egui::accesskit::Role::TextInput, "Lesson file");
    edit.set_text_value_accesskit(path.to_str().unwrap());
    harness.run_steps(2);
    harness.get_by_label("Open lesson…").click();
    harness.run_steps(3);
    harness.get_by_label_contains("broken.lesson line 3: t must be a number, got 'soon'");
    assert!(harness.state().lesson_position().is_none());
}

#[test]
fn the_shipped_lessons_open_from_the_lesson_menu() {
    let mut harness = explorer();
    harness.run_steps(2);
    harness.get_by_label("Lesson").click();
    harness.run_steps(2);
    harness.get_by_label("Shipped ☰").click();
    harness.run_steps(2);
    harness.get_by_label("Sohl-Dickstein et al. 2015, in six stops").click();
    harness.run_steps(2);
    press(&mut harness, Key::PageDown);
    harness.run_steps(2);
    let app = harness.state();
    assert_eq!(app.lesson_position(), Some((0, "Destroying structure".to_owned())));
    assert_eq!(app.scene(), Scene::ImageForward);
}

#[test]
fn a_saved_session_restores_and_a_broken_one_is_ignored() {
    let path = common::scratch("classroom", "session.lesson");
    std::fs::write(
        &path,
        "zoom = 1.25\n[stop]\nscene = 2d-mixture\nsampler = ddpm\nsteps = 100\nseed = 9\nt = 0\n",
    )
    .unwrap();
    let session = path.clone();
    let mut harness = Harness::builder()
        .with_size([1280.0, 720.0])
        .wgpu()
        .build_eframe(move |cc| ExplorerApp::with_session(cc, session).expect("the explorer starts"));
    run_until(&mut harness, "the restored run", finished);
    let settings = harness.state().settings();
    assert_eq!(
        (settings.sampler.kind.name(), settings.sampler.steps, settings.seed),
        ("ddpm", 100, 9)
    );
    assert!((harness.ctx.zoom_factor() - 1.25).abs() < 1e-6);
    // Closing writes the view back.
    press(&mut harness, Key::Num2);
    drop(harness);
    let saved = std::fs::read_to_string(&path).unwrap();
    assert!(
        saved.contains("sampler = \"ddpm\"") && saved.contains("class = 2") && saved.contains("[[stop]]"),
        "{saved}"
    );

    std::fs::write(&path, "zoom = 1\n[stop]\ncolour = red\n").unwrap();
    let session = path.clone();
    let mut harness = Harness::builder()
        .with_size([1280.0, 720.0])
        .wgpu()
        .build_eframe(move |cc| ExplorerApp::with_session(cc, session).expect("the explorer starts"));
    harness.run_steps(2);
    assert_eq!(harness.state().settings().sampler.kind.name(), "ddim");
    harness.get_by_label_contains("session ignored: ");
    harness.get_by_label_contains("line 3: unknown key 'colour'");
}

/// The explorer at `size`, presenting or not, settled on its first run.
fn explorer_at(size: [f32; 2], present: bool) -> Harness<'static, ExplorerApp> {
    let mut harness = Harness::builder().with_size(size).wgpu().build_eframe(move |cc| {
        let mut app = ExplorerApp::new(cc).expect("the explorer starts");
        let options = LaunchOptions {
            present,
            ..LaunchOptions::default()
        };
        app.apply_launch_options(options, &cc.egui_ctx)
            .expect("the options apply");
        app
    });
    run_until(&mut harness, "the first run", finished);
    harness
}

/// The figure's share of the window, once the scene has drawn it.
fn figure_share(harness: &mut Harness<'static, ExplorerApp>, scene: SceneId, size: [f32; 2]) -> f32 {
    harness.state_mut().show_scene(scene);
    harness.run_steps(3);
    run_until(harness, &format!("{}'s figure", scene.id()), |app| {
        app.scene().id() == scene && app.figure_rect().is_some()
    });
    let rect = harness.state().figure_rect().unwrap();
    // To look at what was measured: NOISESCOPE_SHARE_SHOTS=DIR saves each frame.
    if let Ok(dir) = std::env::var("NOISESCOPE_SHARE_SHOTS") {
        let image = harness.render().unwrap();
        image
            .save(format!("{dir}/{}-{}x{}.png", scene.id(), size[0], size[1]))
            .unwrap();
    }
    rect.area() / (size[0] * size[1])
}

/// Every text node's rectangle lies inside the window, and one that starts in
/// a side panel ends in it: nothing runs off an edge and is cut.
fn assert_no_text_is_clipped(harness: &Harness<'static, ExplorerApp>, size: [f32; 2], what: &str) {
    let window = egui::Rect::from_min_size(egui::Pos2::ZERO, size.into()).expand(1.0);
    let panels = harness.state().panel_rects().to_vec();
    for node in harness.query_all_by_label_contains("") {
        let rect = node.rect();
        let label = node.accesskit_node().label().unwrap_or_default();
        if label == "Resize panel" {
            // The panel's edge handle, not text.
            continue;
        }
        // Nodes inside a scroll area may sit below the fold; only the width matters.
        assert!(
            rect.min.x >= window.min.x && rect.max.x <= window.max.x,
            "{what}: '{label}' runs off the window: {rect:?}"
        );
        for panel in &panels {
            let starts_inside = panel.x_range().contains(rect.min.x) && panel.y_range().contains(rect.center().y);
            assert!(
                !starts_inside || rect.max.x <= panel.max.x + 1.0,
                "{what}: '{label}' runs out of its panel {panel:?}: {rect:?}"
            );
        }
    }
}

#[test]
fn the_figure_fills_the_window_in_every_chapter_at_projector_sizes() {
    // Each chapter's main scene: the forward process, sampling, the four
    // parameterizations, DDPM vs DDIM, guidance, the U-Net's batch.
    let scenes = [
        SceneId::ImageForward,
        SceneId::Mixture2D,
        SceneId::FourWays,
        SceneId::DdpmVsDdim,
        SceneId::Guidance,
        SceneId::ImageBatch,
    ];
    for size in [[1280.0, 720.0], [1920.0, 1080.0]] {
        for present in [false, true] {
            let mut harness = explorer_at(size, present);
            for scene in scenes {
                let share = figure_share(&mut harness, scene, size);
                // The batch's 4×4 grid of 28 px images is 112 px square: 6×
                // (672 px) at 720 px high and 9× (1008 px) at 1080, each 49%
                // of the window, as the next whole number would not fit.
                // Whole-number magnification wins over the last percent.
                let least = match (present, scene) {
                    (true, SceneId::ImageBatch) => 0.49,
                    (true, _) => 0.5,
                    (false, _) => 0.4,
                };
                println!(
                    "{size:?} presenting {present}: {} figure {:.0}%",
                    scene.id(),
                    share * 100.0
                );
                assert!(
                    share >= least,
                    "{:?} presenting {present}: {} covers {share:.2}",
                    size,
                    scene.id()
                );
                assert_no_text_is_clipped(&harness, size, scene.id());
            }
        }
    }
}

#[test]
fn the_navigator_lists_every_scene_and_ctrl_page_keys_walk_them() {
    let mut harness = explorer();
    harness.run_steps(2);
    harness.get_by_label(noisescope::app::navigator::MENU_LABEL).click();
    harness.run_steps(2);
    for chapter in Chapter::ALL {
        harness.get_by_label(chapter.title());
    }
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 720.0));
    for scene in SceneId::ALL {
        // Exactly one entry each (get_by_label fails on none and on two), on screen.
        let entry = harness.get_by_label(scene.title());
        assert!(
            screen.contains_rect(entry.rect()),
            "{} is off screen: {:?}",
            scene.id(),
            entry.rect()
        );
    }
    press(&mut harness, Key::Escape);
    let start = harness.state().scene().id();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::PageDown);
    harness.run_steps(2);
    assert_eq!(harness.state().scene().id(), start.step(1));
    harness.key_press_modifiers(Modifiers::COMMAND, Key::PageUp);
    harness.run_steps(2);
    harness.key_press_modifiers(Modifiers::COMMAND, Key::PageUp);
    harness.run_steps(2);
    assert_eq!(harness.state().scene().id(), start.step(-1));
}

#[test]
fn a_lesson_opened_from_the_command_line_presents_its_first_stop() {
    let stops = lesson::parse(
        noisescope::assets::DEFAULT_LESSON.text,
        noisescope::assets::DEFAULT_LESSON.path,
    )
    .unwrap();
    let mut harness = Harness::builder().with_size([1280.0, 720.0]).wgpu().build_eframe(|cc| {
        let mut app = ExplorerApp::new(cc).expect("the explorer starts");
        let options = LaunchOptions {
            lesson: Some(("class.lesson".into(), noisescope::assets::DEFAULT_LESSON.text.into())),
            present: true,
            light: true,
            ..LaunchOptions::default()
        };
        app.apply_launch_options(options, &cc.egui_ctx)
            .expect("the options apply");
        app
    });
    harness.run_steps(3);
    let app = harness.state();
    assert_eq!(app.lesson_position(), Some((0, stops[0].title.clone())));
    assert_eq!(app.scene(), stops[0].scene);
    assert!(app.is_presenting());
    assert!(app.is_light());
    assert!(!harness.ctx.global_style().visuals.dark_mode);
}

#[test]
fn the_controls_fold_and_come_back_by_key_and_by_button_and_the_theme_switches() {
    let mut harness = explorer();
    run_until(&mut harness, "the first run", finished);
    harness.get_by_label("Sample");
    press(&mut harness, Key::C);
    assert!(!harness.state().controls_open());
    // Folded: the controls are gone from the window, the strip's way back is there.
    assert!(harness.query_by_label("Sample").is_none());
    harness.get_by_label("▶").click();
    harness.run_steps(2);
    assert!(harness.state().controls_open());
    harness.get_by_label("Sample");
    // The side strip folds by P and comes back by its button.
    press(&mut harness, Key::P);
    assert!(harness.query_by_label("First").is_none());
    harness.get_by_label("◀").click();
    harness.run_steps(2);
    harness.get_by_label("First");
    press(&mut harness, Key::L);
    assert!(harness.state().is_light());
    harness.get_by_label("Dark (L)").click();
    harness.run_steps(2);
    assert!(!harness.state().is_light());
    // A plot becomes the figure by its title, and gives it back the same way.
    harness.get_by_label("KL terms").click();
    harness.run_steps(2);
    let big = harness.state().figure_rect().unwrap();
    assert!(big.height() > 500.0, "{big:?}");
    harness.get_by_label("KL terms").click();
    harness.run_steps(2);
    // F12 shows the frame times.
    press(&mut harness, Key::F12);
    harness.get_by_label_contains("UI pass: median");
}

/// Steps until no theory scene computes any more (its "computing…" is gone).
fn settle_scene(harness: &mut Harness<'static, ExplorerApp>) {
    harness.run_steps(3);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(400);
    while harness.query_all_by_label("computing…").next().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the scene never finished computing"
        );
        harness.step();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    harness.run_steps(2);
}

/// Presentation mode at 1280×720 in one theme: the 2D scene, the image batch,
/// the forward-process comparison and three theory scenes.
fn presentation_snapshots(light: bool) {
    let scenes = [
        SceneId::Mixture2D,
        SceneId::ImageBatch,
        SceneId::ImageForward,
        SceneId::DdpmVsDdim,
        SceneId::FourWays,
        SceneId::SdeVsOde,
    ];
    let mut harness = explorer();
    run_until(&mut harness, "the first run", finished);
    if light {
        press(&mut harness, Key::L);
    }
    for scene in scenes {
        harness.state_mut().show_scene(scene);
        harness.run_steps(3);
        if scene == SceneId::ImageForward {
            // The comparison: cosine's row under linear's, same x0 and ε.
            harness.get_by_label("cosine").click();
            harness.run_steps(2);
        }
        if scene == SceneId::ImageBatch {
            run_until(&mut harness, "a U-Net run", |app| {
                finished(app) && app.run().dims == 784
            });
        }
        press(&mut harness, Key::F5);
        settle_scene(&mut harness);
        let theme = if light { "light" } else { "dark" };
        harness.snapshot(format!("present_{theme}_{}", scene.id()));
        press(&mut harness, Key::F5);
    }
}

#[test]
fn presentation_snapshots_in_the_dark_theme() {
    presentation_snapshots(false);
}

#[test]
fn presentation_snapshots_in_the_light_theme() {
    presentation_snapshots(true);
}
