//! The explorer window, driven through egui_kittest and rendered by wgpu
//! (lavapipe in CI): controls found by label, runs streamed, steps scrubbed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::window::{assert_two_moons_x_spread, explorer, open_scene, run_until};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use noisescope::app::ExplorerApp;

/// Presses First, then Next `steps` times, as a teacher would.
fn step_from_first_frame(harness: &mut Harness<'static, ExplorerApp>, steps: usize) {
    harness.get_by_label("First").click();
    harness.run_steps(2);
    for _ in 0..steps {
        harness.get_by_label("Next").click();
        harness.run_steps(1);
    }
    harness.run_steps(1);
}

fn finished(app: &ExplorerApp) -> bool {
    let run = app.run();
    run.run_id > 0 && run.frames.len() == run.expected_frames()
}

/// The run is complete and its ELBO has arrived: nothing on screen changes any more.
fn settled(app: &ExplorerApp) -> bool {
    finished(app) && app.elbo_bits_per_dim().is_some()
}

#[test]
fn every_control_is_labelled() {
    let harness = explorer();
    for label in [
        "Sample",
        "Stop",
        "Schedule",
        "Sampler",
        "Spacing",
        "η (0 = DDIM, 1 = DDPM)",
        "γ (guidance)",
        "Class",
        "Batch (samples)",
        "Steps",
        "Play",
    ] {
        // A slider's text is both its own label and a text node: at least one must exist.
        assert!(
            harness.query_all_by_label(label).next().is_some(),
            "no control labelled {label}"
        );
    }
}

#[test]
fn changing_the_schedule_changes_the_plotted_alpha_bar_t() {
    let mut harness = explorer();
    harness.get_by_label_contains("ᾱ_T = 4.036e-5");
    harness.get_by_label("Schedule").click();
    harness.run_steps(2);
    harness.get_by_label("cosine").click();
    harness.run_steps(2);
    // diffusers' squaredcos_cap_v2 ends at ᾱ_T = 2.4288e-9 (tests/data/diffusers_reference.json).
    harness.get_by_label_contains("ᾱ_T = 2.429e-9");
    assert!(harness.query_by_label_contains("ᾱ_T = 4.036e-5").is_none());

    // The image batch's U-Net samples on its own (linear) schedule; the cosine
    // chosen here comes back in the other scenes.
    open_scene(&mut harness, "Image batch");
    run_until(&mut harness, "a U-Net run", |app| settled(app) && app.run().dims == 784);
    harness.get_by_label_contains("ᾱ_T = 4.036e-5");
    for scene in ["Images", "2D mixture"] {
        open_scene(&mut harness, scene);
        harness.run_steps(2);
        harness.get_by_label_contains("ᾱ_T = 2.429e-9");
    }
}

#[test]
fn sample_streams_frames_and_scrubbing_shows_each_step() {
    let mut harness = explorer();
    run_until(&mut harness, "the first run", finished);
    let first = harness.state().run().run_id;
    harness.get_by_label("Sample").click();
    run_until(&mut harness, "a new run", |app| {
        app.run().run_id > first && settled(app)
    });
    let run = harness.state().run();
    assert_eq!(run.frames.len(), 51, "x_T plus one frame per DDIM step");
    assert_eq!(harness.state().current_frame(), 50, "the view follows the newest frame");

    step_from_first_frame(&mut harness, 10);
    assert_eq!(harness.state().current_frame(), 10);
    let t = harness.state().run().frames[10].t;
    assert_eq!(t, 781, "frame 10 of leading 50-step DDIM is t = 781");
    harness.get_by_label_contains("t = 781 / 1000");
    harness.snapshot("explorer_ddim_step_10");
}

#[test]
fn the_forward_process_climbs_from_data_to_noise() {
    let mut harness = explorer();
    run_until(&mut harness, "the first run", finished);
    harness.get_by_label("Direction").click();
    harness.run_steps(2);
    harness.get_by_label("forward: closed form").click();
    run_until(&mut harness, "a forward run", |app| {
        settled(app) && app.run().frames.first().is_some_and(|f| f.t == 0)
    });
    let ts: Vec<usize> = harness.state().run().frames.iter().map(|f| f.t).collect();
    assert_eq!(ts[..3], [0, 1, 21], "data first, then the leading levels ascending");
    assert_eq!(*ts.last().unwrap(), 981);
    harness.get_by_label_contains("forward (closed form)");
    // Scrub back to t = 481 (frame 25): the blobs are half dissolved.
    step_from_first_frame(&mut harness, 25);
    harness.get_by_label_contains("t = 481 / 1000");
    harness.snapshot("explorer_forward_t481");
}

#[test]
fn a_finished_run_plots_its_kl_terms() {
    let mut harness = explorer();
    run_until(&mut harness, "the ELBO", |app| app.elbo_bits_per_dim().is_some());
    let bits = harness.state().elbo_bits_per_dim().unwrap();
    assert!(bits.is_finite());
    harness.get_by_label_contains(&format!("ELBO of the first sample: {bits:.3} bits/dim"));
    // The KL plot's legend, in its title line.
    harness.get_by_label_contains("log₁₀ L_{t−1} (nats)");
}

#[test]
fn the_image_scene_noises_a_fashion_mnist_image_on_the_gpu() {
    let mut harness = explorer();
    run_until(&mut harness, "the mixture run behind", settled);
    open_scene(&mut harness, "Images");
    harness.run_steps(2);
    harness.get_by_label_contains("T-shirt: 28×28 px");
    harness.get_by_label("Sneaker").click();
    harness.run_steps(2);
    harness.get_by_label_contains("Sneaker: 28×28 px");
    // t starts at 250: ᾱ_250 of the linear schedule (diffusers' table) is 0.5210.
    harness.get_by_label_contains("ᾱ_t = 0.5241");
    harness.get_by_label("+1").click();
    harness.run_steps(2);
    harness.get_by_label_contains("ᾱ_t = 0.5214");
    harness.snapshot("explorer_image_sneaker_t251");
    harness.get_by_label("ε").click();
    harness.run_steps(2);
    harness.snapshot("explorer_image_sneaker_noise");
}

#[test]
fn the_image_scene_browses_the_fashion_mnist_test_set() {
    let mut harness = explorer();
    // The mixture run behind finishes first, so its KL plot is settled in the snapshot.
    run_until(&mut harness, "the mixture run behind", settled);
    open_scene(&mut harness, "Images");
    harness.run_steps(2);
    harness.get_by_label("Fashion-MNIST test set").click();
    // The file is read on its own thread; the window keeps drawing meanwhile.
    run_until(&mut harness, "the test set", |app| {
        app.image_scene_image()
            .is_some_and(|image| image.name.starts_with("t10k-images"))
    });
    // Test image 0 is an ankle boot, image 19 a T-shirt (the built-in PNGs are those two).
    harness.get_by_label_contains("t10k-images-idx3-ubyte.gz #0 (Ankle boot): 28×28 px");
    harness
        .get_by_role_and_label(egui::accesskit::Role::SpinButton, "Image number (of 10000)")
        .set_value_accesskit(19.0);
    harness.run_steps(2);
    harness.get_by_label_contains("t10k-images-idx3-ubyte.gz #19 (T-shirt/top): 28×28 px");
    harness.snapshot("explorer_image_fashion_mnist_test_19");
    // The same bytes as the built-in PNG copy of test image 19, so the same picture.
    let bytes = |app: &ExplorerApp| -> Vec<u8> {
        let image = app.image_scene_image().unwrap();
        image.rgba.iter().map(|v| (v * 255.0).round() as u8).collect()
    };
    let from_set = bytes(harness.state());
    harness.get_by_label("T-shirt").click();
    harness.run_steps(2);
    assert_eq!(bytes(harness.state()), from_set);
}

#[test]
fn a_bad_image_file_is_a_message_not_a_crash() {
    let mut harness = explorer();
    open_scene(&mut harness, "Images");
    harness.run_steps(2);
    let path = std::env::temp_dir().join(format!("noisescope-kittest-bad-{}.png", std::process::id()));
    std::fs::write(&path, b"not a png").unwrap();
    let edit = harness.get_by_role_and_label(egui::accesskit::Role::TextInput, "Image path");
    edit.focus();
    edit.type_text(path.to_str().unwrap());
    harness.run_steps(1);
    harness.get_by_label("Open").click();
    harness.run_steps(2);
    harness.get_by_label_contains("not a readable image");
    harness.get_by_label_contains("T-shirt: 28×28 px");
}

#[test]
fn schedules_compare_side_by_side_on_the_same_image_and_noise() {
    let mut harness = explorer();
    run_until(&mut harness, "the mixture run behind", settled);
    open_scene(&mut harness, "Images");
    harness.run_steps(2);
    harness.get_by_label("cosine").click();
    harness.run_steps(2);
    // At t = 250 the linear schedule keeps ᾱ = 0.5241 of the signal, cosine 0.8470
    // (diffusers' tables): linear has destroyed far more of the small image.
    harness.get_by_label_contains("linear: t = 250, ᾱ_t = 0.5241");
    harness.get_by_label_contains("cosine: t = 250, ᾱ_t = 0.8470");
    harness.snapshot("explorer_compare_linear_cosine_t250");
    harness.get_by_label("Rows at equal SNR (not equal t)").click();
    harness.run_steps(2);
    // At equal SNR the cosine row moves to a later t, where its ᾱ matches linear's.
    harness.get_by_label_contains("cosine: t = ");
    assert!(harness.query_by_label_contains("cosine: t = 250,").is_none());
    assert_eq!(
        harness.query_all_by_label_contains("ᾱ_t = 0.52").count(),
        2,
        "both rows keep the same signal"
    );
}

fn export_stem(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("noisescope-export-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("lesson").to_str().unwrap().to_owned()
}

/// Every frame of a GIF file.
fn gif_frames(path: &str) -> Vec<image::Frame> {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let decoder = image::codecs::gif::GifDecoder::new(file).unwrap();
    image::AnimationDecoder::into_frames(decoder).collect_frames().unwrap()
}

/// Presses a button through accessibility, as a screen reader would: the
/// 720 px window shows only part of the controls, and these may be below.
fn press_button(harness: &mut Harness<'static, ExplorerApp>, label: &str) {
    harness.get_by_label(label).click_accesskit();
}

fn set_stem(harness: &mut Harness<'static, ExplorerApp>, stem: &str) {
    let edit = harness.get_by_role_and_label(egui::accesskit::Role::TextInput, "Files start with");
    edit.set_text_value_accesskit(stem);
    harness.run_steps(2);
}

#[test]
fn the_2d_scene_exports_curves_points_frame_and_run() {
    let mut harness = explorer();
    run_until(&mut harness, "the first run", settled);
    let stem = export_stem("csv");
    set_stem(&mut harness, &stem);
    press_button(&mut harness, "Save curves CSV");
    harness.run_steps(2);
    let curves = std::fs::read_to_string(format!("{stem}-curves.csv")).unwrap();
    let lines: Vec<&str> = curves.lines().collect();
    assert_eq!(lines.len(), 1001, "a header and T rows");
    assert!(
        lines[2].split(',').nth(7).is_some_and(|kl| kl.parse::<f64>().is_ok()),
        "KL column: {}",
        lines[2]
    );
    press_button(&mut harness, "Save points CSV");
    harness.run_steps(2);
    let points = std::fs::read_to_string(format!("{stem}-points-t0.csv")).unwrap();
    assert_eq!(points.lines().count(), 2001, "a header and 2000 particles at t = 0");
    assert!(harness.state().export_message().starts_with("saved "));
    press_button(&mut harness, "Save frame PNG");
    run_until(&mut harness, "the frame PNG", |app| {
        app.export_message().ends_with("2d-t0.png")
    });
    let png = image::open(format!("{stem}-2d-t0.png")).unwrap().to_rgba8();
    assert_eq!(png.dimensions(), (512, 512));
    let particle_pixels = png.pixels().filter(|p| p.0 == [140, 217, 255, 255]).count();
    assert!(
        particle_pixels > 1000,
        "the particles are drawn: {particle_pixels} pixels"
    );
    press_button(&mut harness, "Save run GIF");
    run_until(&mut harness, "the run GIF", |app| {
        app.export_message().ends_with("2d-run.gif")
    });
    assert_eq!(
        gif_frames(&format!("{stem}-2d-run.gif")).len(),
        51,
        "x_T and each of the 50 steps"
    );
}

#[test]
fn the_image_scene_exports_png_and_gif() {
    let mut harness = explorer();
    open_scene(&mut harness, "Images");
    harness.run_steps(2);
    let stem = export_stem("images");
    set_stem(&mut harness, &stem);
    press_button(&mut harness, "Save x_t PNG");
    run_until(&mut harness, "the PNG", |app| app.export_message().starts_with("saved"));
    let png = image::open(format!("{stem}-x_t250.png")).unwrap().to_rgba8();
    assert_eq!(png.dimensions(), (28, 28));
    press_button(&mut harness, "Save GIF (t = 0 to T)");
    run_until(&mut harness, "the GIF", |app| {
        app.export_message().ends_with("forward.gif")
    });
    let frames = gif_frames(&format!("{stem}-forward.gif"));
    assert_eq!(frames.len(), 51);
    assert_eq!(frames[0].buffer().dimensions(), (224, 224), "28 px enlarged 8×");
}

#[test]
fn an_export_to_a_folder_that_cannot_take_it_is_refused_before_any_work() {
    let mut harness = explorer();
    run_until(&mut harness, "the first run", settled);
    set_stem(&mut harness, "/no/such/folder/lesson");
    press_button(&mut harness, "Save run GIF");
    harness.run_steps(1);
    // At once, not after encoding every frame: no "saving…" in between.
    assert_eq!(
        harness.state().export_message(),
        "cannot write /no/such/folder: the folder does not exist"
    );
}

#[test]
fn a_mixture_file_deleted_or_changed_after_it_was_chosen_gets_a_message() {
    let mut harness = explorer();
    run_until(&mut harness, "the first run", settled);
    let path = std::path::PathBuf::from(export_stem("mixture")).with_file_name("two.json");
    let mixture = r#"{"components": [{"mean": [-1, 0], "std": 0.2}, {"mean": [1, 0], "std": 0.2}]}"#;
    std::fs::write(&path, mixture).unwrap();
    let edit = harness.get_by_role_and_label(egui::accesskit::Role::TextInput, "Mixture path");
    edit.set_text_value_accesskit(path.to_str().unwrap());
    harness.run_steps(1);
    // Chosen, then deleted before it is loaded.
    std::fs::remove_file(&path).unwrap();
    press_button(&mut harness, "Load");
    harness.run_steps(2);
    let status = harness.state().status().to_owned();
    assert!(status.contains("two.json") && !status.contains('\n'), "{status}");
    // Changed into something else: its own message, and the window goes on.
    std::fs::write(&path, r#"{"components": [{"mean": [-1,"#).unwrap();
    press_button(&mut harness, "Load");
    harness.run_steps(2);
    assert!(
        harness.state().status().contains("not a valid mixture JSON"),
        "{}",
        harness.state().status()
    );
    std::fs::write(&path, mixture).unwrap();
    let before = harness.state().run().run_id;
    press_button(&mut harness, "Load");
    run_until(&mut harness, "a run of the repaired file", |app| {
        app.run().run_id > before && settled(app)
    });
}

/// Opens the image batch scene and switches it to the memorizing empirical denoiser.
fn choose_empirical_denoiser(harness: &mut Harness<'static, ExplorerApp>) {
    open_scene(harness, "Image batch");
    run_until(harness, "the image models", |app| app.run().dims == 784);
    let before = harness.state().run().run_id;
    harness.get_by_label("Empirical denoiser").click();
    run_until(harness, "an empirical-denoiser run", |app| {
        app.run().run_id > before && settled(app)
    });
}

#[test]
fn the_image_batch_scene_samples_with_the_trained_unet() {
    let mut harness = explorer();
    run_until(&mut harness, "the mixture run behind", settled);
    open_scene(&mut harness, "Image batch");
    run_until(&mut harness, "a U-Net run", |app| settled(app) && app.run().dims == 784);
    harness.get_by_label_contains("U-Net trained by noisescope");
    let run = harness.state().run();
    assert_eq!(run.frames.len(), 51);
    // Unlike the empirical denoiser, the network makes new images: many pixels
    // fall between Fashion-MNIST's 8-bit levels.
    let last = &run.frames[50].x;
    let off_grid = last
        .iter()
        .filter(|v| {
            let level = (f64::from(**v) + 1.0) * 127.5;
            (level - level.round()).abs() > 0.05
        })
        .count();
    assert!(
        off_grid > last.len() / 10,
        "only {off_grid} of {} pixels are new",
        last.len()
    );
    // The bound of a trained model beats the 8 bits/dim of a uniform guess.
    let bits = harness.state().elbo_bits_per_dim().unwrap();
    assert!(bits > 0.0 && bits < 8.0, "{bits} bits/dim");
    harness.snapshot("explorer_image_batch_unet");
}

#[test]
fn the_image_batch_scene_samples_fashion_mnist_with_the_empirical_denoiser() {
    let mut harness = explorer();
    run_until(&mut harness, "the mixture run behind", settled);
    choose_empirical_denoiser(&mut harness);
    let run = harness.state().run();
    assert_eq!(run.batch(), 16);
    assert_eq!(run.frames.len(), 51);
    // The memorizing denoiser's samples are its training images: every pixel of
    // the final batch sits on the 8-bit grid of Fashion-MNIST, scaled to [−1, 1].
    let last = &run.frames[50].x;
    let off_grid = last
        .iter()
        .filter(|v| {
            let level = (f64::from(**v) + 1.0) * 127.5;
            (level - level.round()).abs() > 0.05
        })
        .count();
    assert!(
        off_grid < last.len() / 100,
        "{off_grid} of {} pixels are not 8-bit levels",
        last.len()
    );
    harness.get_by_label_contains("empirical");
    harness.snapshot("explorer_image_batch_final");
    step_from_first_frame(&mut harness, 25);
    harness.get_by_label("x0").click();
    harness.run_steps(2);
    harness.snapshot("explorer_image_batch_x0_hat_frame25");
}

#[test]
fn the_image_batch_exports_its_grid_and_its_run() {
    let mut harness = explorer();
    run_until(&mut harness, "the mixture run behind", settled);
    choose_empirical_denoiser(&mut harness);
    let stem = export_stem("batch");
    set_stem(&mut harness, &stem);
    press_button(&mut harness, "Save grid PNG");
    run_until(&mut harness, "the grid PNG", |app| {
        app.export_message().ends_with(".png")
    });
    let png = image::open(format!("{stem}-batch-t0.png")).unwrap().to_rgba8();
    assert_eq!(
        png.dimensions(),
        (4 * 28 * 4, 4 * 28 * 4),
        "a 4×4 grid of 28 px images, enlarged 4×"
    );
    press_button(&mut harness, "Save run GIF");
    run_until(&mut harness, "the run GIF", |app| {
        app.export_message().ends_with("batch-run.gif")
    });
    assert_eq!(
        gif_frames(&format!("{stem}-batch-run.gif")).len(),
        51,
        "x_T and each of the 50 steps"
    );
}

#[test]
fn the_markov_chain_noises_the_image_with_fresh_noise() {
    let mut harness = explorer();
    open_scene(&mut harness, "Images");
    harness.run_steps(2);
    harness.get_by_label("cosine").click();
    harness.run_steps(2);
    harness.get_by_label_contains("cosine: t = 250");
    harness.get_by_label("Markov chain").click();
    harness.run_steps(3);
    // The chain's ε belongs to the main schedule, so the comparison row steps aside.
    assert!(harness.query_by_label_contains("cosine: t = 250").is_none());
    harness.get_by_label_contains("linear: t = 250, ᾱ_t = 0.5241");
    harness.get_by_label("+1").click();
    harness.run_steps(2);
    harness.get_by_label_contains("linear: t = 251");
}

#[test]
fn the_train_scene_fits_two_moons_live() {
    let mut harness = explorer();
    run_until(&mut harness, "the mixture run behind", settled);
    open_scene(&mut harness, "Train 2D");
    harness.run_steps(2);
    harness.get_by_label("two-moons").click();
    harness.get_by_label("Train").click();
    run_until(&mut harness, "the first preview", |app| {
        app.train_scene().preview().is_some()
    });
    assert!(harness.state().train_scene().running());
    run_until(&mut harness, "the end of training", |app| {
        app.train_scene().model().is_some()
    });
    let scene = harness.state().train_scene();
    let losses = scene.losses();
    assert_eq!(losses.len(), 2000, "a loss per step");
    let mean = |part: &[[f64; 2]]| part.iter().map(|[_, l]| l).sum::<f64>() / part.len() as f64;
    let (first, last) = (mean(&losses[..100]), mean(&losses[1900..]));
    assert!(last < 0.6 * first, "the loss fell from {first} to only {last}");
    // 2000 steps of 256 rows, t uniform: every bin of the histogram near 1/50 of them.
    let counts = scene.t_counts();
    let total: u32 = counts.iter().sum();
    assert_eq!(total, 2000 * 256);
    let expected = f64::from(total) / counts.len() as f64;
    assert!(
        counts.iter().all(|&n| (f64::from(n) - expected).abs() < 0.1 * expected),
        "{counts:?}"
    );
    // The final samples have the data's spread.
    let (step, points) = scene.preview().unwrap();
    assert_eq!(*step, 2000);
    assert_two_moons_x_spread(points, "the preview");
    harness.get_by_label_contains("trained 2000 steps");
    harness.snapshot("explorer_train_two_moons");

    // The trained network takes the 2D scene's sampler, and its samples are moons.
    let before = harness.state().run().run_id;
    harness.get_by_label("Sample it in the 2D scene").click();
    run_until(&mut harness, "a run of the trained MLP", |app| {
        app.run().run_id > before && settled(app) && app.scene() == noisescope::app::controls::Scene::Mixture2D
    });
    harness.get_by_label_contains("Model: MLP trained on two-moons");
    let run = harness.state().run();
    assert_two_moons_x_spread(&run.frames[run.frames.len() - 1].x, "the 2D scene's run");
    // Two moons have no exact density here: neither p_t nor its score is drawn.
    harness.snapshot("explorer_2d_trained_mlp");
    let before = harness.state().run().run_id;
    harness.get_by_label("Back to the exact mixture").click();
    run_until(&mut harness, "the exact mixture again", |app| {
        app.run().run_id > before && settled(app)
    });
    harness.get_by_label_contains("Model: three blobs");
}

/// Pixels of the x0 estimates' colour (a light green no other layer uses).
fn x0_pixels(harness: &mut Harness<'static, ExplorerApp>) -> usize {
    let image = harness.render().unwrap();
    image
        .pixels()
        .filter(|p| p[1] > 200 && p[0] > 110 && p[0] < 190 && p[2] < 160)
        .count()
}

#[test]
fn each_particles_posterior_mean_shows_on_demand_and_is_tweedies() {
    use noisescope::diffusion::{Schedule, ScheduleConfig};
    let mut harness = explorer();
    run_until(&mut harness, "the first run", settled);
    // Frame 35 is t = 281: the estimates have found the blobs.
    step_from_first_frame(&mut harness, 35);
    let without = x0_pixels(&mut harness);
    harness.get_by_label("Show x0 estimate E[x0|x_t]").click();
    harness.run_steps(2);
    harness.remove_cursor();
    harness.run_steps(1);
    let with = x0_pixels(&mut harness);
    assert!(
        with > without + 200,
        "x0 estimates drew {with} green pixels, {without} before"
    );
    harness.snapshot("explorer_x0_estimates");

    // What is drawn is the worker's x̂0 for the exact mixture: Bayes' posterior
    // mean E[x0|x_t], component by component, at frame 35's t.
    let run = harness.state().run();
    let frame = &run.frames[35];
    let alpha_bar = Schedule::new(&ScheduleConfig::default()).unwrap().alpha_bar(frame.t);
    let mixture = noisescope::assets::three_blobs().unwrap();
    let x_t = candle_core::Tensor::from_vec(frame.x.clone(), (frame.x.len() / 2, 2), &candle_core::Device::Cpu)
        .unwrap()
        .to_dtype(candle_core::DType::F64)
        .unwrap();
    let bayes: Vec<f64> = mixture
        .posterior_mean(&x_t, alpha_bar, None)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let drawn = frame.x0_hat.as_ref().unwrap();
    let largest = drawn
        .iter()
        .zip(&bayes)
        .map(|(a, b)| (f64::from(*a) - b).abs())
        .fold(0.0, f64::max);
    assert!(largest < 1e-3, "x̂0 differs from E[x0|x_t] by {largest}");
}
