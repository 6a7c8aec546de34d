//! A nearly empty eframe window that redraws without pause and writes the same
//! frame-time CSV as `explore --frame-stats`: the reference that real-window
//! playback is measured against (`tests/playback.sh`), on the same machine and
//! in the same run.
//!
//!     cargo run --release --example empty_window -- WIDTHxHEIGHT STATS.csv SECONDS

use std::time::Instant;

use noisescope::app::frame_stats::FrameStats;

struct EmptyWindow {
    stats: FrameStats,
    started: Instant,
    run_secs: f64,
}

impl eframe::App for EmptyWindow {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let start = Instant::now();
        ui.label("noisescope: the empty reference window");
        self.stats.record(start);
        let ctx = ui.ctx();
        if self.started.elapsed().as_secs_f64() > self.run_secs {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        ctx.request_repaint();
    }
}

fn parse_args() -> anyhow::Result<([f32; 2], std::path::PathBuf, f64)> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [size, path, secs] = args.as_slice() else {
        anyhow::bail!("usage: empty_window WIDTHxHEIGHT STATS.csv SECONDS");
    };
    let (width, height) = size
        .split_once('x')
        .ok_or_else(|| anyhow::anyhow!("size: expected WIDTHxHEIGHT, got {size}"))?;
    Ok(([width.parse()?, height.parse()?], path.into(), secs.parse()?))
}

fn main() -> anyhow::Result<()> {
    let (size, path, run_secs) = parse_args()?;
    let stats = FrameStats::with_csv(std::fs::File::create(path)?)?;
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_inner_size(size),
        renderer: eframe::Renderer::Wgpu,
        ..eframe::NativeOptions::default()
    };
    let app = EmptyWindow {
        stats,
        started: Instant::now(),
        run_secs,
    };
    eframe::run_native("empty window", native, Box::new(move |_cc| Ok(Box::new(app))))
        .map_err(|error| anyhow::anyhow!("{error}"))
}
