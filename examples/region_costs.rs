//! What each region of the explorer costs a software renderer: the 2D scene
//! at rest at 1280×720, rendered and read back through egui_kittest's eframe
//! path (as `cargo bench --bench explorer` does), whole and with the controls,
//! the plot strip or both hidden, against an empty eframe app in the same run.
//! Also prints how many triangles and vertices egui tessellated.
//!
//!     cargo run --release --example region_costs
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use noisescope::app::ExplorerApp;
use noisescope::app::background::Background;

const FRAMES: usize = 40;

fn median_render_ms<State>(harness: &mut Harness<'_, State>) -> f64 {
    let mut ms = Vec::with_capacity(FRAMES);
    for _ in 0..FRAMES {
        harness.step();
        let started = std::time::Instant::now();
        let _ = harness.render();
        ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    ms[FRAMES / 2]
}

/// Triangles and vertices in the last frame's tessellated output.
fn census<State>(harness: &Harness<'_, State>) -> (usize, usize, usize) {
    let output = harness.output();
    let primitives = harness.ctx.tessellate(output.shapes.clone(), output.pixels_per_point);
    let (mut triangles, mut vertices, mut callbacks) = (0, 0, 0);
    for clipped in &primitives {
        match &clipped.primitive {
            egui::epaint::Primitive::Mesh(mesh) => {
                triangles += mesh.indices.len() / 3;
                vertices += mesh.vertices.len();
            }
            egui::epaint::Primitive::Callback(_) => callbacks += 1,
        }
    }
    (triangles, vertices, callbacks)
}

struct EmptyApp;

impl eframe::App for EmptyApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::CentralPanel::default().show(ui, |ui| ui.heading("reference"));
    }
}

fn main() {
    let mut empty = Harness::builder().with_size([1280.0, 720.0]).wgpu().build_eframe(|cc| {
        let _ = Background::clear_instead_of_painting(&cc.egui_ctx);
        EmptyApp
    });
    let empty_ms = median_render_ms(&mut empty);
    println!("empty eframe app: median {empty_ms:.1} ms");
    let mut harness = Harness::builder().with_size([1280.0, 720.0]).wgpu().build_eframe(|cc| {
        let mut app = ExplorerApp::new(cc).expect("the explorer starts");
        app.clear_background(&cc.egui_ctx);
        app
    });
    for _ in 0..2000 {
        harness.step();
        let run = harness.state().run();
        if run.run_id > 0 && run.frames.len() == run.expected_frames() && harness.state().elbo_bits_per_dim().is_some()
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let case = |harness: &mut Harness<'static, ExplorerApp>, name: &str| {
        let ms = median_render_ms(harness);
        let (triangles, vertices, callbacks) = census(harness);
        println!(
            "{name}: median {ms:.1} ms ({:.1}× empty), {triangles} triangles, {vertices} vertices, {callbacks} callbacks",
            ms / empty_ms
        );
    };
    case(&mut harness, "whole window");
    harness.key_press(egui::Key::C);
    case(&mut harness, "controls hidden");
    harness.key_press(egui::Key::P);
    case(&mut harness, "controls and strip hidden");
    harness.key_press(egui::Key::C);
    case(&mut harness, "strip hidden");
    harness.key_press(egui::Key::P);
    case(&mut harness, "whole window again");
    for layer in ["Show density", "Show score", "Show trails"] {
        harness.get_by_label_contains(layer).click();
        case(&mut harness, &format!("whole window, after toggling {layer}"));
    }
    harness.key_press(egui::Key::C);
    harness.key_press(egui::Key::P);
    case(&mut harness, "controls and strip hidden, no layers");
}
