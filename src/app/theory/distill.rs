//! Progressive distillation on 2D data (Salimans & Ho 2022): the exact
//! mixture with 16 DDIM steps teaches an MLP to do the same in 8; that
//! student teaches the next in 4, then 2, then 1. Each student's samples are
//! compared, from the same x_T, with the 16-step teacher's, and with plain DDIM
//! on the exact model at the student's step count, which collapses toward the
//! data's mean when the steps are few.

use std::sync::Arc;

use candle_core::Tensor;
use egui::Color32;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::figure::{self, Frames};
use super::job::Computation;
use super::{SceneContext, TheoryScene};
use crate::data::Dataset;
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{SamplerConfig, build_sampler_on};
use crate::diffusion::timesteps::inference_timesteps;
use crate::diffusion::{Denoiser, NoiseRng, PredictionType, Schedule, ScheduleConfig, TimestepSpacing};
use crate::jobs::JobContext as Cancel;
use crate::model::distill::Distiller;
use crate::model::{Architecture, MlpConfig, ModelConfig, TrainedModel};

/// The first teacher's steps.
const TEACHER_STEPS: usize = 16;
/// Training steps of the first round (from scratch) and of later ones (from the teacher).
const FIRST_ROUND_STEPS: usize = 800;
/// See [`FIRST_ROUND_STEPS`].
const LATER_ROUND_STEPS: usize = 400;
/// Points compared per round.
const POINTS: usize = 500;
/// Paths drawn.
const PATHS: usize = 12;

/// One distilled student, judged.
pub struct Round {
    steps: usize,
    /// Median distance of its samples from the 16-step teacher's.
    student_distance: f64,
    /// The same for DDIM with the exact model at `steps` steps.
    naive_distance: f64,
    student_weights: Vec<f64>,
    student_paths: Frames,
}

/// Every round and the teacher's paths.
pub struct Distillation {
    teacher_paths: Frames,
    rounds: Vec<Round>,
}

/// The distillation scene.
pub struct DistillScene {
    shown: usize,
    result: Computation<Distillation>,
    backdrop: figure::Backdrop,
}

impl DistillScene {
    /// Distils at once (about a minute on two cores).
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut result = Computation::default();
        let mixture = Arc::clone(&context.mixture);
        result.restart(&context.repaint, move |cancel| distil(&mixture, cancel));
        Self {
            shown: 3,
            result,
            backdrop: figure::Backdrop::new(&context.repaint, &context.mixture, 1.0),
        }
    }
}

/// DDIM over exactly `timesteps` from `start`, every step kept.
fn ddim(
    model: &dyn Denoiser,
    schedule: &Arc<Schedule>,
    timesteps: Vec<usize>,
    start: &Tensor,
    cancel: &Cancel,
) -> Result<Frames, String> {
    let mut sampler =
        build_sampler_on(&SamplerConfig::default(), Arc::clone(schedule), timesteps).map_err(figure::message)?;
    let mut rng = NoiseRng::seed_from(0);
    figure::trace(sampler.as_mut(), model, None, start, &mut rng, cancel)?.ok_or_else(|| "cancelled".into())
}

fn distil(mixture: &Arc<GaussianMixture>, cancel: &Cancel) -> Result<Distillation, String> {
    let schedule = Arc::new(Schedule::new(&ScheduleConfig::default()).map_err(figure::message)?);
    let data = Dataset::from_mixture_samples(mixture, 5000, 0, "the three-blob mixture").map_err(figure::message)?;
    let config = ModelConfig {
        architecture: Architecture::Mlp(MlpConfig::default()),
        classes: 0,
        prediction: PredictionType::Sample,
        learned_variance: false,
        schedule: ScheduleConfig::default(),
    };
    let start = NoiseRng::seed_from(21)
        .randn((POINTS, 2), &candle_core::Device::Cpu)
        .map_err(figure::message)?;
    let trailing =
        |n| inference_timesteps(schedule.train_steps(), n, TimestepSpacing::Trailing).map_err(figure::message);
    let teacher_frames = ddim(mixture.as_ref(), &schedule, trailing(TEACHER_STEPS)?, &start, cancel)?;
    let reference = teacher_frames.last().cloned().unwrap_or_default();
    let mut teacher: Arc<dyn Denoiser> = Arc::clone(mixture) as Arc<dyn Denoiser>;
    let mut student = TrainedModel::fresh(config, 1).map_err(figure::message)?;
    let mut rounds = Vec::new();
    let mut steps = TEACHER_STEPS / 2;
    while steps >= 1 {
        let train_steps = if rounds.is_empty() {
            FIRST_ROUND_STEPS
        } else {
            LATER_ROUND_STEPS
        };
        let mut distiller =
            Distiller::new(teacher.as_ref(), student, &data, steps, 256, steps as u64).map_err(figure::message)?;
        for step in 1..=train_steps {
            if cancel.is_cancelled() {
                return Err("cancelled".into());
            }
            let loss = distiller.step().map_err(figure::message)?;
            if step % 50 == 0 {
                cancel.report(format!(
                    "distilling {} → {steps} steps: step {step} of {train_steps}, loss {loss:.4}",
                    2 * steps
                ));
            }
        }
        let trained = Arc::new(distiller.student().map_err(figure::message)?);
        let frames = ddim(
            trained.as_ref(),
            &schedule,
            distiller.student_timesteps(),
            &start,
            cancel,
        )?;
        let naive = ddim(mixture.as_ref(), &schedule, trailing(steps)?, &start, cancel)?;
        let ends = frames.last().cloned().unwrap_or_default();
        rounds.push(Round {
            steps,
            student_distance: figure::median_distance(&ends, &reference),
            naive_distance: figure::median_distance(naive.last().map_or(&[][..], Vec::as_slice), &reference),
            student_weights: figure::mode_fractions(mixture, &ends)?,
            student_paths: frames
                .into_iter()
                .map(|f| f.into_iter().take(PATHS).collect())
                .collect(),
        });
        student = distiller.student_to_train().map_err(figure::message)?;
        teacher = trained;
        steps /= 2;
    }
    Ok(Distillation {
        teacher_paths: teacher_frames
            .into_iter()
            .map(|f| f.into_iter().take(PATHS).collect())
            .collect(),
        rounds,
    })
}

/// "1 step", "4 steps".
fn steps_text(steps: usize) -> String {
    if steps == 1 {
        "1 step".into()
    } else {
        format!("{steps} steps")
    }
}

impl TheoryScene for DistillScene {
    fn caption(&self) -> &'static str {
        "Progressive distillation: the student learns the target x_tgt = (z_c − r z_a)/(√ᾱ_c − r√ᾱ_a), r = √(1−ᾱ_c)/√(1−ᾱ_a), \
         so that one DDIM step z_a → z_c lands where its teacher's two steps z_a → z_b → z_c do; \
         16 → 8 → 4 → 2 → 1 steps, each student teaching the next."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.result.poll();
        self.backdrop.poll(ui.ctx());
        self.result.status_ui(ui);
        let Some(result) = self.result.value() else {
            return;
        };
        ui.horizontal(|ui| {
            ui.label("Student:");
            for (i, round) in result.rounds.iter().enumerate() {
                ui.selectable_value(&mut self.shown, i, steps_text(round.steps));
            }
            self.backdrop.status_ui(ui);
        });
        let Some(round) = result.rounds.get(self.shown) else {
            return;
        };
        ui.label(format!(
            "{}: distilled student {:.3} from the 16-step teacher's samples, DDIM with the exact model {:.3} (median distances); student's mode weights {}",
            steps_text(round.steps),
            round.student_distance,
            round.naive_distance,
            figure::fractions_text(&round.student_weights)
        ));
        let size = egui::vec2(ui.available_width() / 2.0 - 8.0, ui.available_height().max(150.0));
        ui.horizontal(|ui| {
            figure::plane_plot("distillation paths", size).show(ui, |plot_ui| {
                self.backdrop.ui(plot_ui);
                figure::paths_ui(
                    plot_ui,
                    "teacher, 16 steps",
                    &result.teacher_paths,
                    PATHS,
                    Color32::GRAY,
                );
                let name = format!("student, {}", steps_text(round.steps));
                figure::paths_ui(plot_ui, &name, &round.student_paths, PATHS, figure::STOCHASTIC);
                if let Some(ends) = round.student_paths.last() {
                    figure::points_ui(plot_ui, &name, ends, 4.0, figure::STOCHASTIC);
                }
            });
            Plot::new("distillation error")
                .width(size.x)
                .height(size.y)
                .legend(Legend::default())
                .x_axis_label("log₂ steps")
                .y_axis_label("median distance from the 16-step teacher")
                .include_y(0.0)
                .show(ui, |plot_ui| {
                    let series = |f: &dyn Fn(&Round) -> f64| -> Vec<[f64; 2]> {
                        result.rounds.iter().map(|r| [(r.steps as f64).log2(), f(r)]).collect()
                    };
                    plot_ui.line(
                        Line::new("distilled student", PlotPoints::from(series(&|r| r.student_distance)))
                            .color(figure::STOCHASTIC)
                            .width(2.0),
                    );
                    plot_ui.line(
                        Line::new("DDIM, exact model", PlotPoints::from(series(&|r| r.naive_distance)))
                            .color(figure::DETERMINISTIC)
                            .width(2.0),
                    );
                });
        });
    }
}
