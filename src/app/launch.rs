//! Opening the window straight into class: `explore --lesson FILE --scene ID
//! --present --light --size WxH --frame-stats PATH`. Every flag is checked
//! before the window opens (the command line does it, with one line naming
//! the flag); here they are applied to the new window.

use std::path::PathBuf;

use super::ExplorerApp;
use super::controls::Scene;
use crate::scenes::SceneId;

/// How the window opens; everything in it has been checked.
#[derive(Default)]
pub struct LaunchOptions {
    /// A lesson to open at its first stop: its name in messages and its text.
    pub lesson: Option<(String, String)>,
    /// The scene to open in.
    pub scene: Option<SceneId>,
    /// Open in presentation mode.
    pub present: bool,
    /// Open in the light theme.
    pub light: bool,
    /// The window's inner size in points.
    pub size: Option<[f32; 2]>,
    /// Write one CSV line a frame here (`frame,unix_ms,ui_ms,interval_ms`).
    pub frame_stats: Option<std::fs::File>,
}

impl ExplorerApp {
    /// Applies `options` to a new window (after its session, which they override).
    ///
    /// # Errors
    /// The frame-stats file cannot be written, or the lesson does not parse.
    pub fn apply_launch_options(&mut self, options: LaunchOptions, ctx: &egui::Context) -> anyhow::Result<()> {
        if let Some(file) = options.frame_stats {
            self.layout.frame_stats = super::frame_stats::FrameStats::with_csv(file)
                .map_err(|e| anyhow::anyhow!("--frame-stats: cannot write: {e}"))?;
        }
        if options.light {
            self.set_light_theme(true);
        }
        if let Some(scene) = options.scene {
            self.enter_scene(Scene::from_id(scene));
        }
        if let Some((source, text)) = options.lesson {
            self.open_lesson(&text, &source)
                .map_err(|e| anyhow::anyhow!("--lesson: {e}"))?;
        }
        if options.present && !self.presentation.is_on() {
            self.toggle_presentation(ctx);
        }
        // The window opens at this size already; said again because a restored
        // session asks for its own size, and the flag wins.
        if let Some([width, height]) = options.size {
            ctx.send_viewport_cmd(egui::ViewportCommand::InnerSize(egui::vec2(width, height)));
        }
        Ok(())
    }
}

/// Where the window's session is kept: `$NOISESCOPE_SESSION`, else
/// `$XDG_CONFIG_HOME/noisescope/session.lesson`, else `~/.config/noisescope/session.lesson`.
#[must_use]
pub fn session_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NOISESCOPE_SESSION") {
        return Some(path.into());
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".config")))?;
    Some(config.join("noisescope").join("session.lesson"))
}

/// Opens the explorer window as `options` say and runs until it closes.
///
/// # Errors
/// No display or no usable graphics adapter, with eframe's reason.
pub fn launch(options: LaunchOptions) -> anyhow::Result<()> {
    let size = options.size.unwrap_or([1280.0, 720.0]);
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size(size)
            .with_min_inner_size([640.0, 400.0])
            .with_title("noisescope"),
        renderer: eframe::Renderer::Wgpu,
        wgpu_options: crate::render::faults::wgpu_configuration(),
        ..eframe::NativeOptions::default()
    };
    eframe::run_native(
        "noisescope",
        native,
        Box::new(move |cc| {
            let mut app = match session_path() {
                Some(path) => ExplorerApp::with_session(cc, path),
                None => ExplorerApp::new(cc),
            }
            .map_err(Box::<dyn std::error::Error + Send + Sync>::from)?;
            // Before presentation mode, which keeps the styles it found.
            app.clear_background(&cc.egui_ctx);
            ExplorerApp::fit_renderer(&cc.egui_ctx, cc.wgpu_render_state.as_ref());
            app.apply_launch_options(options, &cc.egui_ctx)
                .map_err(Box::<dyn std::error::Error + Send + Sync>::from)?;
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("could not open the explorer window: {e}"))
}
