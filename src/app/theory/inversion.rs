//! DDIM inversion and interpolation (Song, Meng & Ermon 2021, §4.3 and §5.3).
//! Two data points, one from each of two modes, are run up to latents x_T by
//! deterministic DDIM backwards and decoded again; then latents spherically
//! interpolated between them are decoded: every interpolant lands on the data,
//! while the straight line between the points crosses empty space.

use std::sync::Arc;

use candle_core::Tensor;
use egui::Color32;

use super::figure::{self, Frames, Point};
use super::job::Computation;
use super::{SceneContext, TheoryScene};
use crate::diffusion::inversion::{ddim_invert, slerp_between_rows};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{SamplerConfig, build_sampler};
use crate::diffusion::{NoiseRng, Schedule};
use crate::jobs::JobContext as Cancel;

/// The DDIM step counts offered (each way).
const STEP_CHOICES: [usize; 3] = [10, 50, 200];
/// Interpolants, ends included.
const INTERPOLANTS: usize = 9;

/// The inversion, the round trip and the interpolation.
pub struct Inversion {
    /// A and B.
    data: Vec<Point>,
    /// Their paths up to x_T (data first).
    up: Frames,
    /// The decoded paths of the interpolated latents (the ends decode A and B back).
    down: Frames,
    /// How far A and B came back from where they started.
    round_trip: [f64; 2],
    /// Each interpolant's end, in units of its nearest component's std.
    end_distances: Vec<f64>,
    /// The same for the midpoint of the straight line from A to B.
    midpoint_distance: f64,
}

/// What is inverted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Points,
    Images,
}

/// The inversion scene.
pub struct InversionScene {
    mode: Mode,
    /// Built when first shown: it runs the U-Net.
    images: Option<super::inversion_images::ImageInversion>,
    seed: u64,
    steps: usize,
    context: SceneContext,
    result: Computation<Inversion>,
    backdrop: figure::Backdrop,
}

impl InversionScene {
    /// Inverts one point of the 0.7 mode and one of the 0.2 mode.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut scene = Self {
            mode: Mode::Points,
            images: None,
            seed: 3,
            steps: 50,
            context: context.clone(),
            result: Computation::default(),
            backdrop: figure::Backdrop::new(&context.repaint, &context.mixture, 1.0),
        };
        scene.restart();
        scene
    }

    fn restart(&mut self) {
        let mixture = Arc::clone(&self.context.mixture);
        let schedule = Arc::clone(&self.context.schedule);
        let (seed, steps) = (self.seed, self.steps);
        self.result.restart(&self.context.repaint, move |cancel| {
            invert(&mixture, schedule, seed, steps, cancel)
        });
    }
}

/// How many of its component's stds `p` lies from the nearest component mean.
fn distance_in_stds(mixture: &GaussianMixture, p: Point) -> f64 {
    mixture
        .components()
        .iter()
        .map(|c| (p[0] - c.mean[0]).hypot(p[1] - c.mean[1]) / c.std.max(f64::MIN_POSITIVE))
        .fold(f64::INFINITY, f64::min)
}

fn invert(
    mixture: &GaussianMixture,
    schedule: Arc<Schedule>,
    seed: u64,
    steps: usize,
    cancel: &Cancel,
) -> Result<Inversion, String> {
    let mut rng = NoiseRng::seed_from(seed);
    let (a, _) = mixture.sample(1, Some(0), &mut rng).map_err(figure::message)?;
    let (b, _) = mixture.sample(1, Some(1), &mut rng).map_err(figure::message)?;
    let x0 = Tensor::cat(&[a, b], 0).map_err(figure::message)?;
    let mut sampler = build_sampler(
        &SamplerConfig {
            steps,
            ..SamplerConfig::default()
        },
        schedule,
    )
    .map_err(figure::message)?;
    let levels = ddim_invert(mixture, sampler.schedule(), None, &x0, sampler.timesteps()).map_err(figure::message)?;
    let mut up = vec![figure::points(&x0)?];
    for x in &levels {
        up.push(figure::points(x)?);
    }
    let latent = levels.last().ok_or("no levels")?;
    let start = slerp_between_rows(latent, INTERPOLANTS).map_err(figure::message)?;
    let down = figure::trace(sampler.as_mut(), mixture, None, &start, &mut rng, cancel)?.ok_or("cancelled")?;
    let ends = down.last().cloned().unwrap_or_default();
    let data = up[0].clone();
    let back = |i: usize, j: usize| (ends[j][0] - data[i][0]).hypot(ends[j][1] - data[i][1]);
    let midpoint = [
        f64::midpoint(data[0][0], data[1][0]),
        f64::midpoint(data[0][1], data[1][1]),
    ];
    Ok(Inversion {
        round_trip: [back(0, 0), back(1, INTERPOLANTS - 1)],
        end_distances: ends.iter().map(|p| distance_in_stds(mixture, *p)).collect(),
        midpoint_distance: distance_in_stds(mixture, midpoint),
        data,
        up,
        down,
    })
}

impl TheoryScene for InversionScene {
    fn caption(&self) -> &'static str {
        "DDIM inversion runs x_t = √ᾱ_t x_θ + √(1−ᾱ_t) ε_θ upwards, from a data point to its latent x_T; \
         DDIM decodes it back. Latents interpolated along a great circle, sin((1−λ)θ)/sin θ · x_T^A + \
         sin(λθ)/sin θ · x_T^B, decode to points on the data."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.mode, Mode::Points, "2D points (exact model)");
            ui.selectable_value(&mut self.mode, Mode::Images, "Images (the U-Net)");
        });
        if self.mode == Mode::Images {
            let repaint = self.context.repaint.clone();
            self.images
                .get_or_insert_with(|| super::inversion_images::ImageInversion::new(&repaint))
                .ui(ui);
            return;
        }
        self.result.poll();
        self.backdrop.poll(ui.ctx());
        let before = (self.seed, self.steps);
        ui.horizontal(|ui| {
            for steps in STEP_CHOICES {
                ui.selectable_value(&mut self.steps, steps, format!("{steps} steps"));
            }
            ui.add(egui::DragValue::new(&mut self.seed).prefix("Seed "));
            self.result.status_ui(ui);
            self.backdrop.status_ui(ui);
        });
        if (self.seed, self.steps) != before {
            self.restart();
        }
        let Some(r) = self.result.value() else {
            return;
        };
        ui.label(format!(
            "round trip (invert, then decode with {} DDIM steps): A comes back {:.4} away, B {:.4}",
            self.steps, r.round_trip[0], r.round_trip[1]
        ));
        let on_data = r.end_distances.iter().filter(|d| **d < 3.0).count();
        ui.label(format!(
            "slerp interpolants: {on_data} of {INTERPOLANTS} land within 3 std of a mode; the straight line's midpoint lies {:.1} std from the nearest mode",
            r.midpoint_distance
        ));
        let size = egui::vec2(ui.available_width(), ui.available_height().max(150.0));
        figure::plane_plot("inversion", size).show(ui, |plot_ui| {
            self.backdrop.ui(plot_ui);
            plot_ui.line(
                egui_plot::Line::new("straight line A → B", egui_plot::PlotPoints::from(r.data.clone()))
                    .color(Color32::GRAY)
                    .style(egui_plot::LineStyle::dashed_loose()),
            );
            // Wide, under the decoding paths: the ends of the interpolation retrace them.
            for i in 0..2 {
                plot_ui.line(
                    egui_plot::Line::new(
                        "inversion (data → x_T)",
                        egui_plot::PlotPoints::from(figure::path(&r.up, i)),
                    )
                    .color(figure::STOCHASTIC)
                    .width(5.0),
                );
            }
            figure::paths_ui(
                plot_ui,
                "decoding the interpolated latents",
                &r.down,
                INTERPOLANTS,
                figure::DETERMINISTIC,
            );
            if let Some(ends) = r.down.last() {
                figure::points_ui(
                    plot_ui,
                    "decoding the interpolated latents",
                    ends,
                    4.0,
                    figure::DETERMINISTIC,
                );
            }
            figure::points_ui(plot_ui, "A and B", &r.data, 5.0, Color32::WHITE);
        });
    }
}
