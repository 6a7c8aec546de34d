//! What each region of the explorer costs a software renderer: the 2D scene
//! at rest at 1280×720, rendered and read back through egui_kittest's eframe
//! path (as `cargo bench --bench explorer` does), whole and with the controls,
//! the plot strip or both hidden, against an empty eframe app in the same run.
//! Also prints how many triangles and vertices egui tessellated.
//!
//!     cargo run --release --example region_costs
//!
//! With `-- scrub`, the 2D picture redrawn every frame instead (a finished
//! 1000-step run stepped one step a frame, no model thread), whole and with
//! each layer off, with the CPU time of llvmpipe's rasteriser threads; with
//! `-- stream`, 1000-step runs streamed back to back as the bench times them,
//! whole and with each layer off, with every thread's CPU time a frame
//! (`STREAM_BATCH=N` for N particles); with `-- profile`, only the whole
//! window, long enough for `perf record`.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use noisescope::app::ExplorerApp;
use noisescope::app::background::Background;

#[path = "../tests/bench/cpu_time.rs"]
mod cpu_time;
use cpu_time::{process_cpu_ms, rasteriser_cpu_ms, threads_cpu_ms};

const FRAMES: usize = 60;
/// Frames per scrubbing case: enough for steady CPU figures.
const SCRUB_FRAMES: usize = 200;

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

/// The median wall time of a render, and the CPU time per frame (step and render).
fn frame_costs<State>(harness: &mut Harness<'_, State>) -> (f64, f64) {
    let cpu_before = process_cpu_ms();
    let wall = median_render_ms(harness);
    (wall, (process_cpu_ms() - cpu_before) / FRAMES as f64)
}

/// What the last frame's tessellated output asks of a rasteriser.
#[derive(Default)]
struct Census {
    /// Clipped primitives: one draw call each.
    meshes: usize,
    triangles: usize,
    vertices: usize,
    callbacks: usize,
    /// 4×4-pixel blocks each triangle overlaps, summed: what
    /// llvmpipe shades, roughly, however few pixels a thin triangle covers.
    blocks: usize,
    /// The same for triangles no wider than 2 pixels in x or y (feathering,
    /// thin lines).
    thin_blocks: usize,
    /// The same for text: glyphs sample the font atlas away from its white
    /// texel, where shapes sample it.
    text_blocks: usize,
}

/// The 4×4-pixel blocks within `low..high` that the triangle `corners`
/// overlaps (a block is out only if it lies wholly outside one edge).
fn blocks_touched(corners: [egui::Pos2; 3], low: egui::Pos2, high: egui::Pos2) -> usize {
    let [a, b, c] = corners;
    let clockwise = (b - a).x * (c - a).y - (b - a).y * (c - a).x < 0.0;
    let edges = if clockwise {
        [(a, c), (c, b), (b, a)]
    } else {
        [(a, b), (b, c), (c, a)]
    };
    let mut count = 0;
    let (x0, x1) = ((low.x / 4.0).floor() as i32, (high.x / 4.0).ceil() as i32);
    let (y0, y1) = ((low.y / 4.0).floor() as i32, (high.y / 4.0).ceil() as i32);
    for by in y0..y1.max(y0 + 1) {
        for bx in x0..x1.max(x0 + 1) {
            let (left, top) = (bx as f32 * 4.0, by as f32 * 4.0);
            let inside = edges.iter().all(|(p, q)| {
                let edge = *q - *p;
                // The block's corner farthest inside this edge.
                let corner = egui::pos2(
                    if edge.y > 0.0 { left } else { left + 4.0 },
                    if edge.x > 0.0 { top + 4.0 } else { top },
                );
                edge.x * (corner.y - p.y) - edge.y * (corner.x - p.x) >= 0.0
            });
            count += usize::from(inside);
        }
    }
    count
}

fn census<State>(harness: &Harness<'_, State>) -> Census {
    let output = harness.output();
    let ppp = output.pixels_per_point;
    let primitives = harness.ctx.tessellate(output.shapes.clone(), ppp);
    let mut census = Census {
        meshes: primitives.len(),
        ..Census::default()
    };
    for clipped in &primitives {
        match &clipped.primitive {
            egui::epaint::Primitive::Mesh(mesh) => {
                census.triangles += mesh.indices.len() / 3;
                census.vertices += mesh.vertices.len();
                for triangle in mesh.indices.chunks_exact(3) {
                    let corners = [0, 1, 2].map(|k| mesh.vertices[triangle[k] as usize].pos);
                    let clip = clipped.clip_rect;
                    let (mut low, mut high) = (egui::pos2(f32::MAX, f32::MAX), egui::pos2(f32::MIN, f32::MIN));
                    for corner in corners {
                        (low, high) = (low.min(corner), high.max(corner));
                    }
                    let (low, high) = (low.max(clip.min) * ppp, high.min(clip.max) * ppp);
                    if high.x <= low.x || high.y <= low.y {
                        continue;
                    }
                    let blocks = blocks_touched(corners.map(|c| c * ppp), low, high);
                    census.blocks += blocks;
                    if high.x - low.x <= 2.0 || high.y - low.y <= 2.0 {
                        census.thin_blocks += blocks;
                    }
                    let glyph = mesh.texture_id == egui::TextureId::default()
                        && triangle
                            .iter()
                            .any(|&i| mesh.vertices[i as usize].uv != egui::epaint::WHITE_UV);
                    if glyph {
                        census.text_blocks += blocks;
                    }
                }
            }
            egui::epaint::Primitive::Callback(_) => census.callbacks += 1,
        }
    }
    census
}

struct EmptyApp;

impl eframe::App for EmptyApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::CentralPanel::default().show(ui, |ui| ui.heading("reference"));
    }
}

fn main() {
    // The renderer options a real window runs with (dithering, the sampler's
    // own filtering), as the explorer bench uses; `--predictable` for
    // kittest's, which the snapshot tests use.
    let options = if std::env::args().any(|a| a == "--predictable") {
        egui_wgpu::RendererOptions::PREDICTABLE
    } else {
        egui_wgpu::RendererOptions::default()
    };
    if std::env::args().any(|a| a == "count") {
        counted_scrub(&mut explorer(options));
        return;
    }
    let mut empty = Harness::builder()
        .with_size([1280.0, 720.0])
        .with_render_options(options)
        .wgpu()
        .build_eframe(|cc| {
            let _ = Background::clear_instead_of_painting(&cc.egui_ctx);
            let _ = ExplorerApp::fit_renderer(&cc.egui_ctx, cc.wgpu_render_state.as_ref());
            EmptyApp
        });
    let (empty_ms, empty_cpu_ms) = frame_costs(&mut empty);
    println!("empty eframe app: median {empty_ms:.1} ms, {empty_cpu_ms:.1} CPU ms a frame");
    let mut harness = explorer(options);
    let case = |harness: &mut Harness<'static, ExplorerApp>, name: &str| {
        let (ms, cpu_ms) = frame_costs(harness);
        let Census {
            meshes,
            triangles,
            vertices,
            callbacks,
            blocks,
            thin_blocks,
            text_blocks,
        } = census(harness);
        println!(
            "{name}: median {ms:.1} ms ({:.1}× empty), CPU {cpu_ms:.1} ms ({:.1}×), {meshes} draws, {triangles} triangles, {vertices} vertices, \
             {callbacks} callbacks, {blocks} blocks ({thin_blocks} under thin triangles, {text_blocks} under text)",
            ms / empty_ms,
            cpu_ms / empty_cpu_ms
        );
    };
    case(&mut harness, "whole window");
    // `region_costs profile`: only the whole window, long enough for
    // `perf record` to see where a frame goes.
    if std::env::args().any(|a| a == "profile") {
        for _ in 0..10 {
            case(&mut harness, "whole window");
        }
        return;
    }
    if std::env::args().any(|a| a == "scrub") {
        scrub_costs(&mut harness);
        return;
    }
    if std::env::args().any(|a| a == "stream") {
        stream_costs(&mut harness);
        return;
    }
    harness.key_press(egui::Key::C);
    case(&mut harness, "controls hidden");
    harness.key_press(egui::Key::P);
    case(&mut harness, "controls and strip hidden");
    harness.key_press(egui::Key::C);
    case(&mut harness, "strip hidden");
    harness.key_press(egui::Key::P);
    case(&mut harness, "whole window again");
    // Each layer alone off, then back on.
    for layer in ["Show density", "Show score", "Show trails"] {
        harness.get_by_label_contains(layer).click();
        case(&mut harness, &format!("whole window, {layer} off"));
        harness.get_by_label_contains(layer).click();
    }
    // As `explore` opens it, feathering is off on a software renderer
    // (`ExplorerApp::fit_renderer`): the other setting, for comparison.
    let feathering = harness.ctx.tessellation_options(|options| options.feathering);
    harness
        .ctx
        .tessellation_options_mut(|options| options.feathering = !feathering);
    let other = if feathering { "off" } else { "on" };
    case(&mut harness, &format!("whole window, egui's feathering {other}"));
    harness
        .ctx
        .tessellation_options_mut(|options| options.feathering = feathering);
    for layer in ["Show density", "Show score", "Show trails"] {
        harness.get_by_label_contains(layer).click();
    }
    harness.key_press(egui::Key::C);
    harness.key_press(egui::Key::P);
    case(&mut harness, "controls and strip hidden, no layers");
    let (again, again_cpu_ms) = frame_costs(&mut empty);
    println!("empty eframe app again: median {again:.1} ms, {again_cpu_ms:.1} CPU ms a frame");
}

/// The 2D picture redrawn every frame with no model thread running: a
/// 1000-step DDPM run, finished, stepped one step a frame from x_T (as
/// playback does), with each layer alone off. What a streaming frame costs
/// to draw, apart from what the worker takes from the rasteriser.
fn scrub_costs(harness: &mut Harness<'static, ExplorerApp>) {
    finished_ddpm_run(harness, None);
    let timed = |harness: &mut Harness<'static, ExplorerApp>, name: &str, scrub: bool| {
        harness.key_press(egui::Key::End);
        harness.step();
        harness.step();
        let cpu_before = process_cpu_ms();
        let rasteriser_before = rasteriser_cpu_ms();
        let mut ms = Vec::with_capacity(SCRUB_FRAMES);
        for _ in 0..SCRUB_FRAMES {
            if scrub {
                harness.key_press(egui::Key::ArrowRight);
            }
            harness.step();
            let started = std::time::Instant::now();
            let _ = harness.render();
            ms.push(started.elapsed().as_secs_f64() * 1e3);
        }
        ms.sort_by(f64::total_cmp);
        let cpu_ms = (process_cpu_ms() - cpu_before) / SCRUB_FRAMES as f64;
        let rasteriser_ms = (rasteriser_cpu_ms() - rasteriser_before) / SCRUB_FRAMES as f64;
        println!(
            "{name}: median {:.1} ms, CPU {cpu_ms:.1} ms a frame ({rasteriser_ms:.1} in llvmpipe's rasterisers), kept picture copied: {}",
            ms[SCRUB_FRAMES / 2],
            harness.state().plane_copied_kept_picture()
        );
    };
    let scrubbed = |harness: &mut Harness<'static, ExplorerApp>, name: &str| timed(harness, name, true);
    timed(harness, "at rest, at x_T", false);
    whole_then_each_layer_off(harness, "scrubbing", scrubbed);
    timed(harness, "at rest, at x_T, again", false);
}

/// The explorer as `explore` opens it at 1280×720, its first run complete.
fn explorer(options: egui_wgpu::RendererOptions) -> Harness<'static, ExplorerApp> {
    let mut harness = Harness::builder()
        .with_size([1280.0, 720.0])
        .with_render_options(options)
        .wgpu()
        .build_eframe(|cc| {
            let mut app = ExplorerApp::new(cc).expect("the explorer starts");
            app.clear_background(&cc.egui_ctx);
            let _ = ExplorerApp::fit_renderer(&cc.egui_ctx, cc.wgpu_render_state.as_ref());
            app
        });
    settle(&mut harness, 0);
    harness
}

/// `region_costs count` (under `valgrind --tool=callgrind`, driven by
/// `tests/bench/count_frames.sh`): the 2D picture redrawn every frame, as in
/// `scrub`, for `COUNT_FRAMES` frames between two marks on stdout, each
/// followed by a pause in which the script zeroes and then dumps callgrind's
/// counters. Instruction counts are the same from run to run, where a shared
/// host's frame times swing by half. `COUNT_STRIDE` steps a frame (50: a
/// frame shows a step 50 further on, as a run streams); `COUNT_LAYERS_OFF` names layers
/// (`density`, `score`, `trails`) to turn off first.
fn counted_scrub(harness: &mut Harness<'static, ExplorerApp>) {
    use std::io::Write;
    finished_ddpm_run(harness, None);
    let layers_off = std::env::var("COUNT_LAYERS_OFF").unwrap_or_default();
    for layer in layers_off.split(',').filter(|layer| !layer.is_empty()) {
        harness.get_by_label_contains(&format!("Show {layer}")).click();
    }
    let frames: usize = std::env::var("COUNT_FRAMES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let pause = std::time::Duration::from_secs(8);
    harness.key_press(egui::Key::End);
    // Warm: every pipeline variant the frames use is compiled before counting.
    for _ in 0..2 {
        harness.key_press(egui::Key::ArrowRight);
        harness.step();
        let _ = harness.render();
    }
    println!("COUNT-BEGIN");
    std::io::stdout().flush().expect("stdout");
    std::thread::sleep(pause);
    // A 1000-step run streams in about 60 frames: each frame shows a step
    // `COUNT_STRIDE` further on (50 by default: 20 frames cross the run).
    let stride: usize = std::env::var("COUNT_STRIDE")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    for _ in 0..frames {
        // Shift + → steps ten: each key press costs the window a pass of its
        // own, which under callgrind took longer than the frames counted.
        for _ in 0..stride / 10 {
            harness.key_press_modifiers(egui::Modifiers::SHIFT, egui::Key::ArrowRight);
        }
        for _ in 0..stride % 10 {
            harness.key_press(egui::Key::ArrowRight);
        }
        harness.step();
        let _ = harness.render();
    }
    println!("COUNT-END at frame {}", harness.state().current_frame());
    std::io::stdout().flush().expect("stdout");
    std::thread::sleep(pause);
}

/// Starts a 1000-step DDPM run (of `batch` samples, else the window's own
/// batch) and waits for it, and its ELBO, to finish.
fn finished_ddpm_run(harness: &mut Harness<'static, ExplorerApp>, batch: Option<usize>) {
    let before = harness.state().run().run_id;
    let mut settings = harness.state().settings();
    settings.sampler.kind = noisescope::diffusion::sampler::SamplerKind::Ddpm;
    settings.sampler.steps = 1000;
    if let Some(batch) = batch {
        settings.batch = batch;
    }
    harness.state_mut().apply_settings(settings);
    settle(harness, before);
}

/// Frames per streaming case.
const STREAM_FRAMES: usize = 200;

/// 1000-step DDPM runs streamed back to back, as the bench times them, whole
/// and with each layer alone off: the wall time of a frame, its egui pass,
/// and every thread's CPU time a frame.
fn stream_costs(harness: &mut Harness<'static, ExplorerApp>) {
    let batch = std::env::var("STREAM_BATCH").ok().and_then(|b| b.parse().ok());
    finished_ddpm_run(harness, batch);
    let streamed = |harness: &mut Harness<'static, ExplorerApp>, name: &str| {
        let threads_before = threads_cpu_ms();
        let (mut pass_ms, mut render_ms) = (Vec::new(), Vec::new());
        let mut runs = 0;
        while render_ms.len() < STREAM_FRAMES {
            let before = harness.state().run().run_id;
            harness.get_by_label("Sample").click();
            loop {
                let started = std::time::Instant::now();
                harness.step();
                pass_ms.push(started.elapsed().as_secs_f64() * 1e3);
                let started = std::time::Instant::now();
                let _ = harness.render();
                render_ms.push(started.elapsed().as_secs_f64() * 1e3);
                if harness.state().run().run_id > before && complete(harness.state()) {
                    break;
                }
            }
            runs += 1;
        }
        let frames = render_ms.len() as f64;
        pass_ms.sort_by(f64::total_cmp);
        render_ms.sort_by(f64::total_cmp);
        println!(
            "{name}: {runs} runs, {frames} frames, pass median {:.1} ms, render median {:.1} ms, p99 {:.1} ms",
            pass_ms[pass_ms.len() / 2],
            render_ms[render_ms.len() / 2],
            render_ms[(render_ms.len() - 1) * 99 / 100]
        );
        for (tid, comm, ms) in threads_cpu_ms() {
            let before = threads_before
                .iter()
                .find(|(t, _, _)| *t == tid)
                .map_or(0.0, |(_, _, ms)| *ms);
            let per_frame = (ms - before) / frames;
            if per_frame >= 0.05 {
                println!("    thread {tid} {comm}: {per_frame:.2} CPU ms a frame");
            }
        }
    };
    whole_then_each_layer_off(harness, "streaming", streamed);
}

/// Runs `case` on the whole picture, with each layer alone off, and whole again.
fn whole_then_each_layer_off(
    harness: &mut Harness<'static, ExplorerApp>,
    name: &str,
    case: impl Fn(&mut Harness<'static, ExplorerApp>, &str),
) {
    case(harness, name);
    for layer in ["Show density", "Show score", "Show trails"] {
        harness.get_by_label_contains(layer).click();
        case(harness, &format!("{name}, {layer} off"));
        harness.get_by_label_contains(layer).click();
    }
    case(harness, &format!("{name} again"));
}

/// Whether the current run is whole and its ELBO is in.
fn complete(app: &ExplorerApp) -> bool {
    let run = app.run();
    run.run_id > 0 && run.frames.len() == run.expected_frames() && app.elbo_bits_per_dim().is_some()
}

/// Steps until a run started after run `before` is complete: until the new
/// run's first event the store still holds the old, complete run.
fn settle(harness: &mut Harness<'static, ExplorerApp>, before: u64) {
    for _ in 0..20_000 {
        harness.step();
        if harness.state().run().run_id > before && complete(harness.state()) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}
