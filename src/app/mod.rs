//! The explorer window: controls on the left, the viewer in the centre, the
//! timeline and the schedule plots below. The app only draws and routes: runs
//! happen on the [`Worker`], GPU work in [`crate::render`].

pub mod background;
mod classroom;
pub mod command;
pub mod controls;
pub mod export_panel;
mod exporting;
pub mod frame_stats;
pub mod image_scene;
pub mod image_set;
pub mod keys;
pub mod launch;
pub mod layout;
pub mod lesson;
pub mod lesson_file;
pub mod loaded_image;
pub mod navigator;
pub mod plane_scene;
pub mod plots;
pub mod presentation;
pub mod stream;
mod teaching;
pub mod theory;
pub mod timeline;
pub mod train_scene;
pub mod viewer;

use std::path::Path;
use std::sync::Arc;

use controls::{ControlsPanel, Scene};
use export_panel::ExportPanel;
use image_scene::ImageScene;
use plots::PlotsPanel;
use stream::{RunKind, RunStore};
use timeline::TimelinePanel;
use train_scene::TrainScene;
use viewer::PlaneFrame;

use crate::diffusion::forward::ForwardMode;
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::{Schedule, ScheduleConfig, ScheduleKind};
use crate::render::grid::GridResources;
use crate::render::plane::PlaneResources;
use crate::worker::Worker;

pub use launch::{LaunchOptions, launch, session_path};

/// The built-in mixture the explorer opens with.
pub const DEFAULT_MIXTURE_NAME: &str = "three blobs (weights 0.7 / 0.2 / 0.1)";

/// The eframe application.
pub struct ExplorerApp {
    /// The GPU device's watch: a lost device closes the window with its message.
    gpu: Option<crate::render::faults::DeviceWatch>,
    controls: ControlsPanel,
    timeline: TimelinePanel,
    plots: PlotsPanel,
    /// The 2D mixture scene: its model, classes and view.
    plane: plane_scene::PlaneScene,
    image_scene: ImageScene,
    train_scene: TrainScene,
    theory: theory::TheoryScenes,
    show_help: bool,
    presentation: presentation::Presentation,
    last_command: Option<String>,
    /// The lesson being taught and the session saved on close.
    teaching: teaching::Teaching,
    /// A message shown until closed.
    notice: Option<String>,
    run_kind: RunKind,
    last_scene: Scene,
    export: ExportPanel,
    export_done: Option<crate::jobs::Job<Result<String, String>>>,
    repaint: egui::Context,
    run: RunStore,
    worker: Option<Worker>,
    render_state: Option<egui_wgpu::RenderState>,
    schedule: Arc<Schedule>,
    /// The chosen schedule, kept while a network's own stands in for it.
    schedule_before_network: Option<crate::diffusion::ScheduleConfig>,
    status: String,
    /// What surrounds the figure: folded panels, the theme, frame times.
    layout: layout::LayoutState,
}

impl ExplorerApp {
    /// Builds the pipelines, starts the worker and the first run.
    ///
    /// # Errors
    /// The worker thread could not start, or the shipped assets are broken.
    pub fn new(cc: &eframe::CreationContext<'_>) -> anyhow::Result<Self> {
        install_fonts(&cc.egui_ctx);
        // Text fields as wide as their panel allows, not egui's fixed 280 points,
        // which held the controls panel wider than it needs.
        cc.egui_ctx
            .all_styles_mut(|style| style.spacing.text_edit_width = 140.0);
        let render_state = cc.wgpu_render_state.clone();
        // The watch first: an error while the pipelines build is then logged, never a panic.
        let gpu = render_state
            .as_ref()
            .map(|state| crate::render::faults::DeviceWatch::install(&state.device));
        let unsupported = render_state.as_ref().and_then(crate::render::install);
        let ctx = cc.egui_ctx.clone();
        let priority = Self::model_priority(render_state.as_ref());
        let worker = Worker::spawn_with(priority, move || ctx.request_repaint())?;
        let mixture = default_mixture()?;
        let schedule = Arc::new(Schedule::new(&controls::Settings::default().schedule)?);
        let mut app = Self {
            controls: ControlsPanel::new(DEFAULT_MIXTURE_NAME.into(), plane_scene::class_count(&mixture)),
            timeline: TimelinePanel::default(),
            plots: PlotsPanel::new(Arc::clone(&schedule)),
            plane: plane_scene::PlaneScene::new(Arc::clone(&mixture), DEFAULT_MIXTURE_NAME.into()),
            image_scene: ImageScene::new(render_state.clone()),
            train_scene: TrainScene::new(cc.egui_ctx.clone()),
            theory: theory::TheoryScenes::new(cc.egui_ctx.clone(), Arc::clone(&mixture))?,
            show_help: false,
            presentation: presentation::Presentation::default(),
            last_command: None,
            teaching: teaching::Teaching::default(),
            notice: unsupported,
            run_kind: RunKind::Plane,
            last_scene: Scene::Mixture2D,
            export: ExportPanel::default(),
            export_done: None,
            repaint: cc.egui_ctx.clone(),
            run: RunStore::default(),
            worker: Some(worker),
            render_state,
            schedule,
            schedule_before_network: None,
            status: String::new(),
            layout: layout::LayoutState::default(),
            gpu,
        };
        app.upload_mixture();
        app.start_run();
        Ok(app)
    }

    /// As [`Self::new`], reopening the view saved in `session` (if it is there
    /// and readable) and saving the view there when the window closes.
    ///
    /// # Errors
    /// As [`Self::new`].
    pub fn with_session(cc: &eframe::CreationContext<'_>, session: std::path::PathBuf) -> anyhow::Result<Self> {
        let mut app = Self::new(cc)?;
        app.restore_session(&session);
        app.teaching.session_path = Some(session);
        Ok(app)
    }

    /// The scene shown.
    #[must_use]
    pub fn scene(&self) -> Scene {
        self.controls.scene
    }

    /// The t of the Images scene.
    #[must_use]
    pub fn image_t(&self) -> usize {
        self.image_scene.t
    }

    /// The image the Images scene noises.
    #[must_use]
    pub fn image_scene_image(&self) -> Option<&image_scene::LoadedImage> {
        self.image_scene.current()
    }

    /// The settings the controls show.
    #[must_use]
    pub fn settings(&self) -> controls::Settings {
        self.controls.settings
    }

    /// Replaces every setting (as a lesson or a benchmark does) and restarts the run.
    pub fn apply_settings(&mut self, settings: controls::Settings) {
        self.controls.settings = settings;
        self.start_run();
    }

    /// The frames received so far of the current run.
    #[must_use]
    pub fn run(&self) -> &RunStore {
        &self.run
    }

    /// The frame the timeline shows.
    #[must_use]
    pub fn current_frame(&self) -> usize {
        self.timeline.current
    }

    /// The schedule in use.
    #[must_use]
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The ELBO of the current run's first sample, in bits/dim, once computed.
    #[must_use]
    pub fn elbo_bits_per_dim(&self) -> Option<f64> {
        self.plots.elbo_bits_per_dim()
    }

    /// Whether the 2D view's last frame was copied from its kept picture
    /// (`render::cached`), not drawn layer by layer.
    #[must_use]
    pub fn plane_copied_kept_picture(&self) -> bool {
        self.render_state.as_ref().is_some_and(|state| {
            state
                .renderer
                .read()
                .callback_resources
                .get::<PlaneResources>()
                .is_some_and(PlaneResources::copied_kept_picture)
        })
    }

    /// The bytes of GPU memory the current run's frames hold.
    #[must_use]
    pub fn gpu_run_bytes(&self) -> u64 {
        let Some(state) = &self.render_state else {
            return 0;
        };
        let renderer = state.renderer.read();
        match self.run_kind {
            RunKind::Plane => renderer
                .callback_resources
                .get::<PlaneResources>()
                .map_or(0, PlaneResources::position_bytes),
            RunKind::Grid(_) => renderer
                .callback_resources
                .get::<GridResources>()
                .map_or(0, GridResources::run_bytes),
        }
    }

    /// The live-training scene.
    #[must_use]
    pub fn train_scene(&self) -> &TrainScene {
        &self.train_scene
    }

    /// Whether the timeline is playing back.
    #[must_use]
    pub fn is_playing(&self) -> bool {
        self.timeline.playing
    }

    /// Whether presentation mode is on.
    #[must_use]
    pub fn is_presenting(&self) -> bool {
        self.presentation.is_on()
    }

    /// The status line (errors and run times).
    #[must_use]
    pub fn status(&self) -> &str {
        &self.status
    }

    /// A network only knows the schedule it was trained on: while the image
    /// batch or the 2D scene samples with one, its schedule stands in for the chosen one (the
    /// panel shows it), and the chosen one comes back in every other scene.
    fn sync_network_schedule(&mut self) {
        let network_schedule = match self.controls.scene {
            Scene::ImageBatch => self.image_scene.chosen_network().map(|net| net.config().schedule),
            Scene::Mixture2D => self.plane.network.as_ref().map(|p| p.net.config().schedule),
            _ => None,
        };
        match network_schedule {
            Some(theirs) => {
                let mine = std::mem::replace(&mut self.controls.settings.schedule, theirs);
                self.schedule_before_network.get_or_insert(mine);
            }
            None => {
                if let Some(mine) = self.schedule_before_network.take() {
                    self.controls.settings.schedule = mine;
                }
            }
        }
    }

    /// Builds the schedule the settings name; false (and a status) if they are invalid.
    fn rebuild_schedule(&mut self) -> bool {
        self.sync_network_schedule();
        match Schedule::new(&self.controls.settings.schedule) {
            Ok(schedule) => {
                self.schedule = Arc::new(schedule);
                self.plots.set_schedule(Arc::clone(&self.schedule));
                self.image_scene.train_steps = self.schedule.train_steps();
                self.image_scene.t = self.image_scene.t.min(self.schedule.train_steps());
                true
            }
            Err(e) => {
                self.status = format!("schedule: {e}");
                false
            }
        }
    }

    fn open_mixture(&mut self, path: &Path) {
        match GaussianMixture::load(path) {
            Ok(mixture) if mixture.dims() != 2 => {
                self.status = format!(
                    "{}: the 2D scene needs a 2-dimensional mixture, this one has {} dimensions",
                    path.display(),
                    mixture.dims()
                );
            }
            Ok(mixture) => self.use_mixture(Arc::new(mixture), path.display().to_string()),
            Err(e) => self.status = e.to_string(),
        }
    }

    /// Goes back to the built-in three-blob mixture.
    fn reset_mixture(&mut self) {
        match default_mixture() {
            Ok(mixture) => self.use_mixture(mixture, DEFAULT_MIXTURE_NAME.into()),
            Err(e) => self.status = e.to_string(),
        }
    }

    /// Makes `mixture` the 2D scene's model and restarts the run.
    fn use_mixture(&mut self, mixture: Arc<GaussianMixture>, name: String) {
        self.controls.network_in_use = false;
        self.controls.exact_density_shown = true;
        self.controls.model_name.clone_from(&name);
        self.plane.use_mixture(mixture, name);
        self.controls.class_count = self.plane.classes;
        self.controls.settings.class = None;
        self.upload_mixture();
        self.start_run();
    }

    fn upload_mixture(&self) {
        let Some(state) = &self.render_state else {
            return;
        };
        let components: Vec<[f32; 4]> = self
            .plane
            .mixture
            .components()
            .iter()
            .map(|c| [c.mean[0] as f32, c.mean[1] as f32, c.std as f32, c.weight as f32])
            .collect();
        if let Some(plane) = state.renderer.write().callback_resources.get_mut::<PlaneResources>() {
            plane.set_mixture(&state.queue, &components);
        }
    }

    /// Takes in what the background threads sent since the last frame.
    fn poll_background(&mut self) {
        self.receive_events();
        self.poll_export();
        self.train_scene.poll();
        if let Some(plane) = self.train_scene.take_handover() {
            self.use_plane_network(Some(plane));
        }
        if self.image_scene.poll_model() && self.controls.scene == Scene::ImageBatch {
            self.start_run();
        }
    }

    fn handle_requests(&mut self) {
        let scene = self.controls.scene;
        if scene != self.last_scene {
            // Classes differ between scenes.
            self.controls.settings.class = None;
            self.enter_scene(scene);
        }
        self.handle_panel_requests();
    }

    /// Sets up `scene` (its classes) and restarts its run, or frees the worker.
    fn enter_scene(&mut self, scene: Scene) {
        self.controls.scene = scene;
        self.last_scene = scene;
        let batch = scene == Scene::ImageBatch;
        self.controls.class_count = if batch { 10 } else { self.plane.classes };
        self.controls.class_names = if batch {
            crate::data::idx::FASHION_MNIST_CLASSES
                .iter()
                .map(|&s| s.to_owned())
                .collect()
        } else {
            Vec::new()
        };
        if matches!(scene, Scene::Mixture2D | Scene::ImageBatch) {
            self.start_run();
            return;
        }
        // No run here, but the chosen schedule comes back (a network's may have stood in).
        self.rebuild_schedule();
        if let (Scene::Theory(_), Some(worker)) = (scene, &self.worker) {
            // A theory scene computes on its own thread: free the CPU for it.
            worker.stop();
        }
    }

    fn handle_panel_requests(&mut self) {
        let scene = self.controls.scene;
        if self.image_scene.take_model_change() && scene == Scene::ImageBatch {
            self.start_run();
        }
        if let Some(request) = self.export.take_request() {
            self.export(request);
        }
        let requests = self.controls.take_requests();
        if let Some(path) = requests.open_model {
            self.open_mixture(&path);
        }
        if requests.exact_model {
            self.use_plane_network(None);
        }
        if requests.copy_command {
            self.copy_command();
        }
        if requests.stop {
            if let Some(worker) = &self.worker {
                worker.stop();
            }
            self.status = "stopped".into();
        } else if requests.changed || requests.sample {
            self.start_run();
        }
        if let Some(t) = self.plots.take_requested_t() {
            if self.controls.scene == Scene::ImageForward {
                let t = t.round().clamp(0.0, self.schedule.train_steps() as f64) as usize;
                self.image_scene.t = t;
            } else if let Some(frame) = self.run.frame_at_t(t) {
                self.timeline.scrub_to(frame);
            }
        }
    }

    /// Puts a model from Train 2D into the 2D scene, or (with `None`) the exact mixture back.
    fn use_plane_network(&mut self, network: Option<train_scene::TrainedPlaneModel>) {
        match network {
            Some(plane) => {
                self.controls.model_name.clone_from(&plane.name);
                self.controls.exact_density_shown = plane.learned_the_mixture;
                self.plane.use_network(plane);
                self.controls.network_in_use = true;
                self.controls.settings.class = None;
                // The scene change restarts the run (in handle_requests).
                self.controls.scene = Scene::Mixture2D;
                if self.last_scene == Scene::Mixture2D {
                    self.enter_scene(Scene::Mixture2D);
                }
            }
            None => self.use_mixture(Arc::clone(&self.plane.mixture), self.plane.name.clone()),
        }
    }

    fn plane_frame(&mut self) -> PlaneFrame {
        let frame = self.run.frames.get(self.timeline.current);
        let t = frame.map_or(0, |f| f.t);
        self.timeline.current_t = t;
        self.plots.cursor_t = t;
        let alpha_bar = if t <= self.schedule.train_steps() {
            self.schedule.alpha_bar(t)
        } else {
            1.0
        };
        self.timeline.alpha_bar = alpha_bar;
        PlaneFrame {
            step: u32::try_from(self.timeline.current).unwrap_or(0),
            frames: u32::try_from(self.run.expected_frames()).unwrap_or(0),
            particles: u32::try_from(self.run.batch()).unwrap_or(0),
            alpha_bar,
            // The density and score drawn are the mixture's: right for it, and for
            // a network that learned it, but not for one trained on a toy.
            show_density: self.controls.show_density && self.controls.exact_density_shown,
            show_score: self.controls.show_score && self.controls.exact_density_shown,
            show_trails: self.controls.show_trails,
            show_x0: self.controls.show_x0,
        }
    }
}

impl ExplorerApp {
    fn image_scene_ui(&mut self, ui: &mut egui::Ui) -> Option<egui::Rect> {
        let t = self.image_scene.t.min(self.schedule.train_steps());
        self.plots.cursor_t = t;
        let main_kind = self.controls.settings.schedule.kind;
        let compared = self.compared_schedules();
        self.plots.set_comparison(
            compared
                .iter()
                .map(|(kind, schedule)| (kind.name().to_owned(), schedule_color(*kind), Arc::clone(schedule)))
                .collect(),
        );
        let target_log_snr = self.schedule.log_snr(t);
        let mut rows = vec![view_row(main_kind.name(), schedule_color(main_kind), &self.schedule, t)];
        for (kind, schedule) in &compared {
            let row_t = if self.image_scene.align_snr {
                t_at_log_snr(schedule, target_log_snr)
            } else {
                t.min(schedule.train_steps())
            };
            rows.push(view_row(kind.name(), schedule_color(*kind), schedule, row_t));
        }
        let seed = self.controls.settings.seed;
        if self.image_scene.forward_mode == ForwardMode::MarkovChain {
            // The chain's ε belongs to the main schedule: compare in closed form only.
            rows.truncate(1);
        }
        let schedule = Arc::clone(&self.schedule);
        let presenting = self.presentation.is_on();
        self.image_scene.ui(ui, &rows, (seed, presenting), &schedule)
    }

    /// The schedules picked for comparison, other than the main one, with the main T.
    fn compared_schedules(&self) -> Vec<(ScheduleKind, Arc<Schedule>)> {
        let main = self.controls.settings.schedule;
        self.image_scene
            .compare
            .iter()
            .filter(|kind| **kind != main.kind)
            .filter_map(|kind| {
                let config = ScheduleConfig {
                    kind: *kind,
                    beta_start: None,
                    beta_end: None,
                    ..main
                };
                Schedule::new(&config).ok().map(|s| (*kind, Arc::new(s)))
            })
            .collect()
    }
}

/// One image row: the schedule's name, t, ᾱ_t and SNR.
fn view_row(name: &str, color: egui::Color32, schedule: &Schedule, t: usize) -> image_scene::ViewRow {
    let alpha_bar = schedule.alpha_bar(t);
    image_scene::ViewRow {
        label: format!("{name}: t = {t}, ᾱ_t = {alpha_bar:.4}, SNR = {:.3}", schedule.snr(t)),
        color,
        alpha_bar,
    }
}

/// The t whose log SNR is closest to `target` (log SNR falls with t).
fn t_at_log_snr(schedule: &Schedule, target: f64) -> usize {
    (0..=schedule.train_steps())
        .min_by(|a, b| {
            let da = (schedule.log_snr(*a) - target).abs();
            let db = (schedule.log_snr(*b) - target).abs();
            da.total_cmp(&db)
        })
        .unwrap_or(0)
}

/// Each schedule's colour, shared by its curves and its image row.
#[must_use]
pub fn schedule_color(kind: ScheduleKind) -> egui::Color32 {
    let [r, g, b] = crate::figures::common::schedule_color(kind);
    egui::Color32::from_rgb(r, g, b)
}

impl Drop for ExplorerApp {
    fn drop(&mut self) {
        if let Some(path) = &self.teaching.session_path {
            self.save_session(path);
        }
        // Join the worker before the render state goes.
        self.worker.take();
    }
}

/// The shipped three-blob mixture.
///
/// # Errors
/// Only if the file compiled into the binary is malformed.
pub fn default_mixture() -> crate::diffusion::Result<Arc<GaussianMixture>> {
    crate::assets::three_blobs()
}

/// egui's fonts lack ∇ and some combining marks; DejaVu Sans (shipped in
/// `assets/fonts/`, with its licence) fills the gaps as a fallback.
fn install_fonts(ctx: &egui::Context) {
    let mut fonts = egui::FontDefinitions::default();
    fonts.font_data.insert(
        "dejavu-sans".into(),
        Arc::new(egui::FontData::from_static(crate::assets::FALLBACK_FONT.bytes)),
    );
    for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        fonts.families.entry(family).or_default().push("dejavu-sans".into());
    }
    ctx.set_fonts(fonts);
}
