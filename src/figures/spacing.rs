//! Timestep spacing (Lin et al. 2024, Table 2): which t an N-step sampler
//! visits out of T, by the rules diffusers uses, and the two that follow the
//! schedule's log-SNR (DPM-Solver's and Karras et al.'s), on the linear schedule.
//! Pure schedule arithmetic.

use super::common::class_color;
use super::data::{Figure, Panel, Series};
use super::error::Result;
use crate::diffusion::timesteps::inference_timesteps;
use crate::diffusion::{Schedule, ScheduleConfig, TimestepSpacing};

/// Which sampler and which chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// N, the sampling steps.
    pub steps: usize,
    /// T, the training steps.
    pub train_steps: usize,
}

impl Default for Setup {
    /// N = 10 of T = 1000, where leading never reaches t = T.
    fn default() -> Self {
        Self {
            steps: 10,
            train_steps: 1000,
        }
    }
}

figure_setup!(Setup, {
    steps => "steps": "N, the sampling steps",
    train_steps => "train-steps": "T, the training steps",
});

/// The t each rule visits, first to last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spacings {
    /// (rule, visited t) for every rule, in [`TimestepSpacing::ALL`]'s order.
    pub rows: Vec<(TimestepSpacing, Vec<usize>)>,
}

/// The visited t under every rule.
///
/// # Errors
/// N = 0, T = 0, or N > T.
pub fn compute(setup: &Setup) -> Result<Spacings> {
    let schedule = Schedule::new(&ScheduleConfig {
        train_steps: setup.train_steps,
        ..ScheduleConfig::default()
    })?;
    let rows = TimestepSpacing::ALL
        .iter()
        .map(|&spacing| Ok((spacing, inference_timesteps(&schedule, setup.steps, spacing)?)))
        .collect::<Result<_>>()?;
    Ok(Spacings { rows })
}

/// A rule's colour.
#[must_use]
pub fn color(spacing: TimestepSpacing) -> super::data::Rgb {
    let row = TimestepSpacing::ALL.iter().position(|s| *s == spacing).unwrap_or(0);
    class_color(row)
}

/// "901, 801, …, 1" for at most 12 values, else the ends and the count.
#[must_use]
pub fn visited_text(timesteps: &[usize]) -> String {
    if timesteps.len() <= 12 {
        timesteps.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    } else {
        let first = timesteps.first().copied().unwrap_or(0);
        let last = timesteps.last().copied().unwrap_or(0);
        format!("{first}, …, {last} ({} values)", timesteps.len())
    }
}

impl Spacings {
    /// One row of points per rule, at y = 0, 1, 2.
    #[must_use]
    pub fn figure(&self) -> Figure {
        let series = self
            .rows
            .iter()
            .enumerate()
            .map(|(row, (spacing, timesteps))| {
                let points = timesteps.iter().map(|&t| [t as f64, row as f64]).collect();
                Series::points(spacing.to_string(), color(*spacing), points)
            })
            .collect();
        let mut figure = Figure {
            panels: vec![Panel {
                title: "visited timesteps".into(),
                x_label: "t (training step)".into(),
                y_label: "rule (row as in the legend)".into(),
                series,
                ..Panel::default()
            }],
            ..Figure::default()
        };
        for (spacing, timesteps) in &self.rows {
            figure.number(
                format!("{spacing}: first t"),
                timesteps.first().copied().unwrap_or(0) as f64,
                "",
            );
            figure.number(
                format!("{spacing}: last t"),
                timesteps.last().copied().unwrap_or(0) as f64,
                "",
            );
        }
        figure
    }
}
