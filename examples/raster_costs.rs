//! What the renderer charges for what egui paints: fill area, small
//! triangles, text and arrows, each against a nearly empty 1280×720 window,
//! rendered and read back through egui_kittest with eframe's renderer options
//! (not kittest's predictable ones). On a software renderer this is where a
//! frame's time goes; it is why the panels' background is cleared, not painted
//! (`app::background`), and why the score arrows are filled polygons.
//!
//!     cargo run --release --example raster_costs
#![allow(clippy::print_stdout)]

use egui_kittest::Harness;

const SIZE: [f32; 2] = [1280.0, 720.0];
const FRAMES: usize = 30;

/// Renders `paint` for `FRAMES` frames; prints the median time of a render and readback.
fn time(label: &str, paint: impl FnMut(&mut egui::Ui) + 'static) {
    time_with(label, egui_wgpu::RendererOptions::default(), paint);
}

/// [`time`] with other renderer options.
fn time_with(label: &str, options: egui_wgpu::RendererOptions, paint: impl FnMut(&mut egui::Ui) + 'static) {
    let renderer = egui_kittest::wgpu::WgpuTestRenderer::with_render_options(options);
    let mut harness = Harness::builder().with_size(SIZE).renderer(renderer).build_ui(paint);
    let mut render_ms = Vec::with_capacity(FRAMES);
    for _ in 0..FRAMES {
        harness.step();
        let started = std::time::Instant::now();
        if let Err(error) = harness.render() {
            println!("{label}: no render ({error})");
            return;
        }
        render_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    render_ms.sort_by(f64::total_cmp);
    println!("{label}: median {:.1} ms", render_ms[FRAMES / 2]);
}

fn main() {
    time("nearly empty window", |ui| {
        ui.label("reference");
    });
    for windows in [1, 3] {
        time(&format!("{windows} translucent full-window fills"), move |ui| {
            let rect = ui.ctx().content_rect();
            for _ in 0..windows {
                ui.painter()
                    .rect_filled(rect, 0.0, egui::Color32::from_rgba_unmultiplied(200, 100, 50, 20));
            }
        });
    }
    let undithered = egui_wgpu::RendererOptions {
        dithering: false,
        ..egui_wgpu::RendererOptions::default()
    };
    time_with("1 translucent full-window fill, no dithering", undithered, |ui| {
        let rect = ui.ctx().content_rect();
        ui.painter()
            .rect_filled(rect, 0.0, egui::Color32::from_rgba_unmultiplied(200, 100, 50, 20));
    });
    for (name, filter) in [
        ("linear", egui::TextureOptions::LINEAR),
        ("nearest", egui::TextureOptions::NEAREST),
    ] {
        let mut texture: Option<egui::TextureHandle> = None;
        time(
            &format!("1 full-window fill from a white texture, {name} sampling"),
            move |ui| {
                let texture = texture.get_or_insert_with(|| {
                    ui.ctx()
                        .load_texture("white", egui::ColorImage::filled([4, 4], egui::Color32::WHITE), filter)
                });
                let rect = ui.ctx().content_rect();
                ui.painter().image(
                    texture.id(),
                    rect,
                    egui::Rect::from_min_max(egui::pos2(0.5, 0.5), egui::pos2(0.5, 0.5)),
                    egui::Color32::from_rgba_unmultiplied(200, 100, 50, 20),
                );
            },
        );
    }
    for count in [2000_u16, 8000] {
        time(&format!("{count} small rectangles (6×6 points)"), move |ui| {
            for i in 0..count {
                let (column, row) = (f32::from(i % 160), f32::from(i / 160));
                let rect = egui::Rect::from_min_size(egui::pos2(column * 8.0, row * 8.0 % 720.0), egui::vec2(6.0, 6.0));
                ui.painter().rect_filled(rect, 0.0, egui::Color32::LIGHT_BLUE);
            }
        });
    }
    time("40 lines of text", |ui| {
        for line in 0..40 {
            ui.label(format!(
                "line {line}: the quick brown fox jumps over the lazy dog, 0123456789"
            ));
        }
    });
    time("289 stroked arrows (egui's Painter::arrow)", |ui| {
        for i in 0..289_u16 {
            let origin = egui::pos2(f32::from(i % 17) * 40.0 + 20.0, f32::from(i / 17) * 40.0 + 20.0);
            ui.painter().arrow(
                origin,
                egui::vec2(15.0, 8.0),
                egui::Stroke::new(1.2, egui::Color32::WHITE),
            );
        }
    });
}
