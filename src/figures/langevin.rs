//! Langevin dynamics (Song & Ermon 2019): x ← x + (α/2) ∇log p(x) + √α z.
//!
//! Plain Langevin on the data score mixes between separated modes only by
//! chance, so it keeps the weights of wherever the particles started (§3.2.2).
//! Annealed Langevin (Algorithm 1) runs it level by level on p_σ for falling σ:
//! the noisy levels spread the mass with the right weights, then sharpen.

use std::sync::Arc;

use super::Inputs;
use super::common::{self, DETERMINISTIC, Frames, STOCHASTIC};
use super::data::{Figure, Panel, Point, Series};
use super::error::{FigureError, Result};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{SamplerConfig, SamplerKind, build_sampler};
use crate::diffusion::{NoiseRng, Schedule};
use crate::jobs::JobContext;

/// Particles per sampler.
pub const PARTICLES: usize = 1000;
/// Noise levels of the annealed run (and plain Langevin's step count).
pub const LEVELS: usize = 50;
/// Particles drawn in the plots.
const SHOWN: usize = 400;
/// Arrows along x of the score field.
const ARROWS_PER_SIDE: usize = 17;

/// The runs, and which annealed level the figure shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Draws the start and the noise of both runs.
    pub seed: u64,
    /// The annealed level shown, 0 (the start) to [`LEVELS`] (the end).
    pub level: usize,
}

impl Default for Setup {
    /// Seed 3, the end of the run.
    fn default() -> Self {
        Self { seed: 3, level: LEVELS }
    }
}

figure_setup!(Setup, {
    seed => "seed": "draws the start and the noise",
    level => "level": "the annealed level shown, 0 (start) to 50 (end)",
});

/// Both runs and the score field at every annealed level.
#[derive(Clone, Debug, PartialEq)]
pub struct LangevinRuns {
    /// Plain Langevin's particles after each level's updates.
    pub plain: Frames,
    /// Annealed Langevin's particles after each level.
    pub annealed: Frames,
    /// The mode weights at the end of plain Langevin.
    pub plain_fractions: Vec<f64>,
    /// The mode weights after each annealed level (index 0: the start).
    pub annealed_fractions: Vec<Vec<f64>>,
    /// The levels t of the annealed run, in order.
    pub levels: Vec<usize>,
    /// σ_t = √(1 − ᾱ_t) of each level.
    pub sigmas: Vec<f64>,
    /// The arrow origins.
    pub grid: Vec<Point>,
    /// 0.3 σ_t ∇log p_t on the arrow grid, per level.
    pub fields: Vec<Vec<Point>>,
    /// The level shown.
    pub shown: usize,
}

/// Runs `kind` from N(0, I), keeping every level; returns the frames and the levels.
fn run(kind: SamplerKind, seed: u64, inputs: &Inputs, job: &JobContext) -> Result<(Frames, Vec<usize>)> {
    let config = SamplerConfig {
        kind,
        steps: LEVELS,
        ..SamplerConfig::default()
    };
    let mut sampler = build_sampler(&config, Arc::clone(&inputs.schedule))?;
    let mut rng = NoiseRng::seed_from(seed);
    let start = rng.randn((PARTICLES, 2), &candle_core::Device::Cpu)?;
    let levels = sampler.timesteps().to_vec();
    let frames = common::trace(sampler.as_mut(), inputs.mixture.as_ref(), None, &start, &mut rng, job)?;
    Ok((frames, levels))
}

/// Plain and annealed Langevin from the same start, and the score field per level.
///
/// # Errors
/// A level past [`LEVELS`]; cancelled.
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<LangevinRuns> {
    if setup.level > LEVELS {
        return Err(FigureError::bad_value(
            "level",
            &setup.level.to_string(),
            format!("must be at most {LEVELS}"),
        ));
    }
    let mixture = inputs.mixture.as_ref();
    let (plain, _) = run(SamplerKind::Langevin, setup.seed, inputs, job)?;
    let (annealed, levels) = run(SamplerKind::AnnealedLangevin, setup.seed, inputs, job)?;
    let grid = common::arrow_grid(ARROWS_PER_SIDE);
    let fields = levels
        .iter()
        .map(|&t| score_field(mixture, &inputs.schedule, t, &grid))
        .collect::<Result<_>>()?;
    let plain_fractions = common::mode_fractions(mixture, plain.last().map_or(&[][..], Vec::as_slice))?;
    let annealed_fractions = annealed
        .iter()
        .map(|frame| common::mode_fractions(mixture, frame))
        .collect::<Result<_>>()?;
    Ok(LangevinRuns {
        plain_fractions,
        annealed_fractions,
        plain,
        annealed,
        sigmas: levels
            .iter()
            .map(|&t| (1.0 - inputs.schedule.alpha_bar(t)).sqrt())
            .collect(),
        levels,
        grid,
        fields,
        shown: setup.level,
    })
}

/// 0.3 σ_t ∇log p_t (= −0.3 ε_θ) at every grid point: the score's direction,
/// with a length that stays readable at every σ.
fn score_field(mixture: &GaussianMixture, schedule: &Schedule, t: usize, grid: &[Point]) -> Result<Vec<Point>> {
    let alpha_bar = schedule.alpha_bar(t);
    let score = common::points(&mixture.score(&common::tensor(grid)?, alpha_bar, None)?)?;
    let scale = 0.3 * (1.0 - alpha_bar).sqrt();
    Ok(score.iter().map(|s| [s[0] * scale, s[1] * scale]).collect())
}

impl LangevinRuns {
    /// Index into `levels` of the updates that produced annealed level `level`
    /// (level k's updates ran at `levels[k − 1]`; the start is level 0).
    #[must_use]
    pub fn field_index(&self, level: usize) -> usize {
        level.saturating_sub(1).min(self.levels.len().saturating_sub(1))
    }

    /// The mode weights after annealed level `level`.
    #[must_use]
    pub fn annealed_at(&self, level: usize) -> &[f64] {
        self.annealed_fractions.get(level).map_or(&[][..], Vec::as_slice)
    }

    /// Plain Langevin's end, and annealed Langevin at `level` over its score field.
    #[must_use]
    pub fn figure_at(&self, level: usize) -> Figure {
        let last = self.plain.last().cloned().unwrap_or_default();
        let plain = Panel::plane(
            "plain Langevin on ∇log p_0",
            vec![Series::points(
                "plain Langevin",
                STOCHASTIC,
                last.into_iter().take(SHOWN).collect(),
            )],
        );
        let frame = self
            .annealed
            .get(level)
            .or(self.annealed.last())
            .cloned()
            .unwrap_or_default();
        let mut series = Vec::new();
        if let Some(field) = self.fields.get(self.field_index(level)) {
            let tips = common::arrow_tips(&self.grid, field, 0.45);
            series.push(Series::arrows(
                "σ ∇log p_σ (direction of the score)",
                [150, 150, 150],
                &self.grid,
                &tips,
            ));
        }
        series.push(Series::points(
            "annealed Langevin",
            DETERMINISTIC,
            frame.into_iter().take(SHOWN).collect(),
        ));
        let annealed = Panel::plane(format!("annealed Langevin after level {level}"), series);
        let mut figure = Figure {
            panels: vec![plain, annealed],
            ..Figure::default()
        };
        for (k, w) in self.plain_fractions.iter().enumerate() {
            figure.number(format!("plain: weight of mode {}", k + 1), *w, "");
        }
        for (k, w) in self.annealed_at(level).iter().enumerate() {
            figure.number(format!("annealed: weight of mode {}", k + 1), *w, "");
        }
        figure
    }

    /// [`Self::figure_at`] the level of the setup.
    #[must_use]
    pub fn figure(&self) -> Figure {
        self.figure_at(self.shown)
    }
}
