//! Progressive distillation on 2D data (Salimans & Ho 2022): the exact
//! mixture with 16 DDIM steps teaches an MLP to do the same in 8; that
//! student teaches the next in 4, then 2, then 1. Each student's samples are
//! compared, from the same x_T, with the 16-step teacher's, and with plain DDIM
//! on the exact model at the student's step count, which collapses toward the
//! data's mean when the steps are few.

use std::sync::Arc;

use candle_core::Tensor;

use super::Inputs;
use super::common::{self, DETERMINISTIC, Frames, STOCHASTIC};
use super::data::{Backdrop, Figure, Panel, Series};
use super::error::{FigureError, Result};
use crate::data::Dataset;
use crate::diffusion::sampler::{SamplerConfig, build_sampler_on};
use crate::diffusion::timesteps::inference_timesteps;
use crate::diffusion::{Denoiser, NoiseRng, PredictionType, Schedule, ScheduleConfig, TimestepSpacing};
use crate::jobs::JobContext;
use crate::model::distill::Distiller;
use crate::model::{Architecture, MlpConfig, ModelConfig, TrainedModel};

/// The first teacher's steps.
pub const TEACHER_STEPS: usize = 16;
/// Points compared per round.
const POINTS: usize = 500;
/// Paths drawn.
const PATHS: usize = 12;

/// How long each round trains, and which student the figure shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Training steps of the first round (from scratch).
    pub first_round_steps: usize,
    /// Training steps of each later round (from the teacher's weights).
    pub later_round_steps: usize,
    /// Draws the compared x_T.
    pub seed: u64,
    /// The student shown, by its steps: 8, 4, 2 or 1.
    pub student: usize,
}

impl Default for Setup {
    /// 800 + 3 × 400 training steps (about a minute on two cores); the one-step student.
    fn default() -> Self {
        Self {
            first_round_steps: 800,
            later_round_steps: 400,
            seed: 21,
            student: 1,
        }
    }
}

figure_setup!(Setup, {
    first_round_steps => "first-round-steps": "training steps of the first round (from scratch)",
    later_round_steps => "later-round-steps": "training steps of each later round",
    seed => "seed": "draws the compared x_T",
    student => "student": "the student shown, by its steps: 8, 4, 2 or 1",
});

/// One distilled student, judged.
#[derive(Clone, Debug, PartialEq)]
pub struct Round {
    /// Its sampling steps.
    pub steps: usize,
    /// Median distance of its samples from the 16-step teacher's.
    pub student_distance: f64,
    /// The same for DDIM with the exact model at `steps` steps.
    pub naive_distance: f64,
    /// The mode weights of its samples.
    pub student_weights: Vec<f64>,
    /// Its first paths.
    pub student_paths: Frames,
}

/// Every round and the teacher's paths.
#[derive(Clone, Debug, PartialEq)]
pub struct Distillation {
    /// The 16-step teacher's first paths.
    pub teacher_paths: Frames,
    /// 8, 4, 2 and 1 steps.
    pub rounds: Vec<Round>,
    /// Index into `rounds` of the student shown.
    pub shown: usize,
    /// p_0, behind the paths.
    pub backdrop: Backdrop,
}

/// DDIM over exactly `timesteps` from `start`, every step kept.
fn ddim(
    model: &dyn Denoiser,
    schedule: &Arc<Schedule>,
    timesteps: Vec<usize>,
    start: &Tensor,
    job: &JobContext,
) -> Result<Frames> {
    let mut sampler = build_sampler_on(&SamplerConfig::default(), Arc::clone(schedule), timesteps)?;
    let mut rng = NoiseRng::seed_from(0);
    common::trace(sampler.as_mut(), model, None, start, &mut rng, job)
}

/// "1 step", "4 steps".
#[must_use]
pub fn steps_text(steps: usize) -> String {
    if steps == 1 {
        "1 step".into()
    } else {
        format!("{steps} steps")
    }
}

/// Distils 16 → 8 → 4 → 2 → 1 steps, judging each student.
///
/// # Errors
/// A student that is not 8, 4, 2 or 1; a training failure; cancelled.
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<Distillation> {
    let shown = [8, 4, 2, 1]
        .iter()
        .position(|&s| s == setup.student)
        .ok_or_else(|| FigureError::bad_value("student", &setup.student.to_string(), "must be 8, 4, 2 or 1"))?;
    let mixture = &inputs.mixture;
    let schedule = Arc::new(Schedule::new(&ScheduleConfig::default())?);
    let data = Dataset::from_mixture_samples(mixture, 5000, 0, "the three-blob mixture")?;
    let config = ModelConfig {
        architecture: Architecture::Mlp(MlpConfig::default()),
        classes: 0,
        prediction: PredictionType::Sample,
        learned_variance: false,
        schedule: ScheduleConfig::default(),
    };
    let start = NoiseRng::seed_from(setup.seed).randn((POINTS, 2), &candle_core::Device::Cpu)?;
    let trailing = |n| inference_timesteps(&schedule, n, TimestepSpacing::Trailing);
    let teacher_frames = ddim(mixture.as_ref(), &schedule, trailing(TEACHER_STEPS)?, &start, job)?;
    let reference = teacher_frames.last().cloned().unwrap_or_default();
    let mut teacher: Arc<dyn Denoiser> = Arc::clone(mixture) as Arc<dyn Denoiser>;
    let mut student = TrainedModel::fresh(config, 1)?;
    let mut rounds = Vec::new();
    let mut steps = TEACHER_STEPS / 2;
    while steps >= 1 {
        let train_steps = if rounds.is_empty() {
            setup.first_round_steps
        } else {
            setup.later_round_steps
        };
        let mut distiller = Distiller::new(teacher.as_ref(), student, &data, steps, 256, steps as u64)?;
        for step in 1..=train_steps {
            common::check(job)?;
            let loss = distiller.step()?;
            if step % 50 == 0 {
                job.report(format!(
                    "distilling {} → {steps} steps: step {step} of {train_steps}, loss {loss:.4}",
                    2 * steps
                ));
            }
        }
        let trained = Arc::new(distiller.student()?);
        let frames = ddim(trained.as_ref(), &schedule, distiller.student_timesteps(), &start, job)?;
        let naive = ddim(mixture.as_ref(), &schedule, trailing(steps)?, &start, job)?;
        let ends = frames.last().cloned().unwrap_or_default();
        rounds.push(Round {
            steps,
            student_distance: common::median_distance(&ends, &reference),
            naive_distance: common::median_distance(naive.last().map_or(&[][..], Vec::as_slice), &reference),
            student_weights: common::mode_fractions(mixture, &ends)?,
            student_paths: common::first_paths(frames, PATHS),
        });
        student = distiller.student_to_train()?;
        teacher = trained;
        steps /= 2;
    }
    Ok(Distillation {
        teacher_paths: common::first_paths(teacher_frames, PATHS),
        rounds,
        shown,
        backdrop: common::density_backdrop(mixture, 1.0)?,
    })
}

impl Distillation {
    /// Student `shown`'s paths over the teacher's, and every student's distance.
    #[must_use]
    pub fn figure_at(&self, shown: usize) -> Figure {
        let mut panels = Vec::new();
        if let Some(round) = self.rounds.get(shown) {
            let name = format!("student, {}", steps_text(round.steps));
            let ends = round.student_paths.last().cloned().unwrap_or_default();
            let mut plane = Panel::plane(
                format!("the {} student's paths", steps_text(round.steps)),
                vec![
                    Series::lines(
                        "teacher, 16 steps",
                        [150, 150, 150],
                        common::paths(&self.teacher_paths, PATHS),
                    ),
                    Series::lines(name.clone(), STOCHASTIC, common::paths(&round.student_paths, PATHS)),
                    Series::points(format!("{name}: samples"), STOCHASTIC, ends),
                ],
            );
            plane.backdrop = Some(self.backdrop.clone());
            panels.push(plane);
        }
        let series = |f: fn(&Round) -> f64| self.rounds.iter().map(|r| [(r.steps as f64).log2(), f(r)]).collect();
        panels.push(Panel {
            title: "distance from the 16-step teacher".into(),
            x_label: "log₂ steps".into(),
            y_label: "median distance (data units)".into(),
            series: vec![
                Series::line("distilled student", STOCHASTIC, series(|r| r.student_distance)),
                Series::line("DDIM, exact model", DETERMINISTIC, series(|r| r.naive_distance)),
            ],
            ..Panel::default()
        });
        let mut figure = Figure {
            panels,
            ..Figure::default()
        };
        for round in &self.rounds {
            let steps = steps_text(round.steps);
            figure.number(
                format!("{steps}: distilled student's distance"),
                round.student_distance,
                "data units",
            );
            figure.number(
                format!("{steps}: exact model's distance"),
                round.naive_distance,
                "data units",
            );
            for (k, w) in round.student_weights.iter().enumerate() {
                figure.number(format!("{steps}: weight of mode {}", k + 1), *w, "");
            }
        }
        figure
    }

    /// [`Self::figure_at`] the student of the setup.
    #[must_use]
    pub fn figure(&self) -> Figure {
        self.figure_at(self.shown)
    }
}
