//! Improved DDPM's cosine schedule (Nichol & Dhariwal 2021, eq. 17):
//! ᾱ_t = f(t)/f(0), f(t) = cos²(((t/T + s)/(1 + s)) · π/2), s = 0.008, against
//! DDPM's linear β_t from 10⁻⁴ to 0.02. The same image and the same noise,
//! x_t = √ᾱ_t x0 + √(1−ᾱ_t) ε, at the same t under both: the linear schedule has
//! destroyed the image long before t = T, so the last part of its chain is wasted.

use egui::Color32;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::figure;
use super::{SceneContext, TheoryScene};
use crate::app::image_scene::built_in_gray;
use crate::diffusion::{NoiseRng, Schedule, ScheduleConfig, ScheduleKind};

/// The t shown as images.
const SHOWN_T: [usize; 7] = [0, 100, 250, 400, 550, 700, 850];
/// √ᾱ_t below this: the image is gone (its signal is under a tenth of the noise's).
const GONE: f64 = 0.1;

/// The cosine-vs-linear scene.
pub struct CosineScene {
    schedules: Vec<(ScheduleKind, Schedule)>,
    image: usize,
    textures: Vec<Vec<egui::TextureHandle>>,
    names: Vec<String>,
}

impl CosineScene {
    /// The T-shirt under both schedules.
    #[must_use]
    pub fn new(_context: &SceneContext) -> Self {
        let schedules = [ScheduleKind::Linear, ScheduleKind::Cosine]
            .into_iter()
            .filter_map(|kind| Schedule::new(&ScheduleConfig::of_kind(kind)).ok().map(|s| (kind, s)))
            .collect();
        Self {
            schedules,
            image: 0,
            textures: Vec::new(),
            names: built_in_gray().into_iter().map(|(name, _)| name).collect(),
        }
    }

    /// Noises the chosen image at every shown t under each schedule, with one noise draw.
    fn upload(&mut self, ctx: &egui::Context) {
        if !self.textures.is_empty() {
            return;
        }
        let images = built_in_gray();
        let Some((_, x0)) = images.get(self.image) else {
            return;
        };
        let noise = NoiseRng::seed_from(1).normal_vec(x0.len());
        self.textures = self
            .schedules
            .iter()
            .map(|(kind, schedule)| {
                SHOWN_T
                    .iter()
                    .map(|&t| {
                        let ab = schedule.alpha_bar(t);
                        let (a, s) = (ab.sqrt() as f32, (1.0 - ab).sqrt() as f32);
                        let x_t: Vec<f32> = x0.iter().zip(&noise).map(|(x, e)| a * x + s * e).collect();
                        ctx.load_texture(
                            format!("{kind}-{t}"),
                            figure::gray_image(&x_t),
                            egui::TextureOptions::NEAREST,
                        )
                    })
                    .collect()
            })
            .collect();
    }
}

/// The share of t in 1..=T where √ᾱ_t < [`GONE`].
fn share_gone(schedule: &Schedule) -> f64 {
    let big_t = schedule.train_steps();
    let gone = (1..=big_t).filter(|&t| schedule.alpha_bar(t).sqrt() < GONE).count();
    gone as f64 / big_t as f64
}

fn color(kind: ScheduleKind) -> Color32 {
    crate::app::schedule_color(kind)
}

impl TheoryScene for CosineScene {
    fn caption(&self) -> &'static str {
        "Improved DDPM's cosine schedule ᾱ_t = f(t)/f(0), f(t) = cos²(((t/T + 0.008)/1.008)·π/2), \
         against the linear β_t = 10⁻⁴ … 0.02. Same image, same ε, same t: under the linear schedule \
         the image is gone long before t = T."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        let before = self.image;
        ui.horizontal_wrapped(|ui| {
            for (i, name) in self.names.iter().enumerate() {
                ui.selectable_value(&mut self.image, i, name);
            }
        });
        if self.image != before {
            self.textures.clear();
        }
        self.upload(ui.ctx());
        for (kind, schedule) in &self.schedules {
            ui.colored_label(
                color(*kind),
                format!(
                    "{kind}: the image is gone (√ᾱ_t < {GONE}) for {:.1} % of the T steps",
                    100.0 * share_gone(schedule)
                ),
            );
        }
        let side = (ui.available_width() / 7.0 - 12.0).clamp(40.0, 110.0);
        for ((kind, schedule), row) in self.schedules.iter().zip(&self.textures) {
            ui.horizontal(|ui| {
                for (&t, texture) in SHOWN_T.iter().zip(row) {
                    figure::image_ui(
                        ui,
                        texture,
                        side,
                        &format!("{kind} t = {t}, √ᾱ = {:.2}", schedule.alpha_bar(t).sqrt()),
                    );
                }
            });
        }
        Plot::new("cosine vs linear")
            .legend(Legend::default())
            .x_axis_label("t")
            .include_y(0.0)
            .include_y(1.0)
            .show(ui, |plot_ui| {
                for (kind, schedule) in &self.schedules {
                    let points: Vec<[f64; 2]> = (0..=schedule.train_steps())
                        .map(|t| [t as f64, schedule.alpha_bar(t).sqrt()])
                        .collect();
                    plot_ui.line(
                        Line::new(format!("√ᾱ_t, {kind}"), PlotPoints::from(points))
                            .color(color(*kind))
                            .width(2.0),
                    );
                }
                plot_ui.hline(egui_plot::HLine::new("√ᾱ_t = 0.1", GONE).color(Color32::GRAY));
            });
    }
}
