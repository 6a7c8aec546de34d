//! Guidance on the labelled mixture, where every part is exact.
//! - Classifier guidance (Dhariwal & Nichol 2021, eq. 14):
//!   ∇log p_γ(x_t | y) = ∇log p(x_t) + γ ∇log p(y | x_t), with the exact noisy classifier.
//! - Classifier-free guidance (Ho & Salimans 2022, eq. 6): ε_γ = ε_u + γ (ε_c − ε_u).
//!
//! γ = 1 samples p(x | y) exactly; larger γ sharpens the class toward its mode,
//! and very large γ collapses it.
//! - A guidance interval (Kynkäänniemi et al. 2024) applies γ only where σ lies
//!   in (σ_lo, σ_hi]: guided only at low noise, where each blob is already its
//!   class's, the samples keep the class's own spread.

use std::sync::Arc;

use super::Inputs;
use super::common::{self, DETERMINISTIC, STOCHASTIC};
use super::data::{Backdrop, Figure, Panel, Point, Series};
use super::error::{FigureError, Result};
use crate::diffusion::denoiser::NoisyClassifier;
use crate::diffusion::guidance::{GuidanceConfig, GuidanceKind, Guided, SigmaInterval};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{SamplerConfig, build_sampler};
use crate::diffusion::{Denoiser, NoiseLevel, NoiseRng, Schedule};
use crate::jobs::JobContext;

/// Particles sampled.
const PARTICLES: usize = 800;
/// Arrows along x.
const ARROWS_PER_SIDE: usize = 11;

/// Which guidance, toward which class, how hard.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Setup {
    /// Classifier guidance or classifier-free.
    pub kind: GuidanceKind,
    /// The class guided toward (0, 1 or 2).
    pub class: u32,
    /// γ, the guidance scale.
    pub gamma: f64,
    /// The noise levels γ applies at, in σ = √((1 − ᾱ)/ᾱ); γ = 1 elsewhere.
    pub interval: SigmaInterval,
    /// The level the arrows are drawn at.
    pub t: usize,
    /// Draws x_T and the noise.
    pub seed: u64,
}

impl Default for Setup {
    /// Classifier guidance toward class 1 (weight 0.2) at γ = 1.
    fn default() -> Self {
        Self {
            kind: GuidanceKind::Classifier,
            class: 1,
            gamma: 1.0,
            interval: SigmaInterval::default(),
            t: 600,
            seed: 4,
        }
    }
}

impl Setup {
    /// The guidance the samples and the arrows use.
    fn guidance(&self) -> GuidanceConfig {
        GuidanceConfig {
            kind: self.kind,
            scale: self.gamma,
            interval: self.interval,
        }
    }
}

figure_setup!(Setup, {
    kind => "kind": "classifier or cfg (classifier-free)",
    class => "class": "the class guided toward: 0, 1 or 2",
    gamma => "gamma": "γ, the guidance scale",
    interval => "interval": "LOW,HIGH: guide only where σ is in (LOW, HIGH], e.g. 0,0.5",
    t => "t": "the level the arrows are drawn at, 1 to 1000",
    seed => "seed": "draws x_T and the noise",
});

/// What the samples of the guided class look like.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassStatistics {
    /// The fraction of samples in the class's component.
    pub share: f64,
    /// The distance of their mean from the component's mean.
    pub offset: f64,
    /// Their per-axis standard deviation about their own mean.
    pub spread: f64,
    /// The component's own standard deviation.
    pub class_std: f64,
}

/// The arrows at level t and the guided samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Guidance {
    /// The setup computed.
    pub setup: Setup,
    /// The arrow origins.
    pub grid: Vec<Point>,
    /// (1 − ᾱ_t) × the unconditional score (classifier) or −√(1−ᾱ_t) ε_u (CFG).
    pub unconditional: Vec<Point>,
    /// The guidance term: γ ∇log p(y | x_t) or γ (ε_c − ε_u), scaled alike.
    pub guidance: Vec<Point>,
    /// Their sum: the guided field.
    pub guided: Vec<Point>,
    /// The guided samples.
    pub samples: Vec<Point>,
    /// How the guided class's samples came out (`None` for a class the mixture lacks).
    pub statistics: Option<ClassStatistics>,
    /// p_0, behind the samples.
    pub backdrop: Backdrop,
}

/// The fields at t and [`PARTICLES`] guided DDIM samples.
///
/// # Errors
/// t outside 1..=T; a class the mixture lacks; cancelled.
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<Guidance> {
    let (mixture, schedule) = (&inputs.mixture, &inputs.schedule);
    if setup.t == 0 || setup.t > schedule.train_steps() {
        return Err(FigureError::bad_value("t", &setup.t.to_string(), "must be in 1..=1000"));
    }
    let grid = common::arrow_grid(ARROWS_PER_SIDE);
    let (unconditional, guidance) = fields(mixture, schedule, setup, &grid)?;
    let guided = unconditional
        .iter()
        .zip(&guidance)
        .map(|(u, g)| [u[0] + g[0], u[1] + g[1]])
        .collect();
    let model = Guided::new(mixture.as_ref(), Some(mixture.as_ref()), setup.guidance())?;
    let mut sampler = build_sampler(&SamplerConfig::default(), Arc::clone(schedule))?;
    let labels = vec![setup.class; PARTICLES];
    let mut rng = NoiseRng::seed_from(setup.seed);
    let start = rng.randn((PARTICLES, 2), &candle_core::Device::Cpu)?;
    let mut frames = common::trace(sampler.as_mut(), &model, Some(&labels), &start, &mut rng, job)?;
    let samples = frames.pop().unwrap_or_default();
    Ok(Guidance {
        setup: *setup,
        unconditional,
        guidance,
        guided,
        statistics: class_statistics(mixture, setup.class, &samples)?,
        samples,
        grid,
        backdrop: common::density_backdrop(mixture, 1.0)?,
    })
}

/// The share of samples in the class's component, how far their mean lies
/// from the component's mean, their per-axis spread about their own mean,
/// and the component's std.
fn class_statistics(mixture: &GaussianMixture, class: u32, samples: &[Point]) -> Result<Option<ClassStatistics>> {
    let Some(k) = mixture.components().iter().position(|c| c.label == Some(class)) else {
        return Ok(None);
    };
    let component = &mixture.components()[k];
    let assigned = mixture.assign(&common::tensor(samples)?)?;
    let inside: Vec<Point> = samples
        .iter()
        .zip(&assigned)
        .filter(|(_, a)| **a == k)
        .map(|(p, _)| *p)
        .collect();
    let (count, total) = (inside.len().max(1) as f64, samples.len().max(1) as f64);
    let mean = inside
        .iter()
        .fold([0.0, 0.0], |m, p| [m[0] + p[0] / count, m[1] + p[1] / count]);
    let squared: f64 = inside
        .iter()
        .map(|p| (p[0] - mean[0]).powi(2) + (p[1] - mean[1]).powi(2))
        .sum();
    Ok(Some(ClassStatistics {
        share: inside.len() as f64 / total,
        offset: (mean[0] - component.mean[0]).hypot(mean[1] - component.mean[1]),
        spread: (squared / (2.0 * count)).sqrt(),
        class_std: component.std,
    }))
}

/// The unconditional field and the guidance term on the grid, as steps of
/// (1 − ᾱ_t) × score (= −√(1 − ᾱ_t) ε).
fn fields(
    mixture: &GaussianMixture,
    schedule: &Schedule,
    setup: &Setup,
    grid: &[Point],
) -> Result<(Vec<Point>, Vec<Point>)> {
    let alpha_bar = schedule.alpha_bar(setup.t);
    // The γ the sampler steps with at this level, so the arrows match it.
    let gamma = setup.guidance().scale_at(alpha_bar);
    let level = NoiseLevel {
        t: setup.t as f64,
        alpha_bar,
    };
    let x = common::tensor(grid)?;
    let labels = vec![setup.class; grid.len()];
    let scale = |p: Vec<Point>, by: f64| p.iter().map(|v| [v[0] * by, v[1] * by]).collect::<Vec<_>>();
    match setup.kind {
        GuidanceKind::Classifier => {
            let score = mixture.score(&x, alpha_bar, None)?;
            let grad = mixture.log_prob_grad(&x, level, &labels)?;
            let step = 1.0 - alpha_bar;
            Ok((
                scale(common::points(&score)?, step),
                scale(common::points(&grad)?, step * gamma),
            ))
        }
        GuidanceKind::ClassifierFree => {
            let epsilon = |labels: Option<&[u32]>| -> Result<Vec<Point>> {
                let out = mixture.predict(&x, level, labels)?;
                common::points(&out.prediction.epsilon(&x, alpha_bar)?)
            };
            let (eps_u, eps_c) = (epsilon(None)?, epsilon(Some(&labels))?);
            let toward_data = -(1.0 - alpha_bar).sqrt();
            let difference: Vec<Point> = eps_c
                .iter()
                .zip(&eps_u)
                .map(|(c, u)| [c[0] - u[0], c[1] - u[1]])
                .collect();
            Ok((scale(eps_u, toward_data), scale(difference, toward_data * gamma)))
        }
    }
}

impl Guidance {
    /// The fields as arrows, and the samples over p_0.
    #[must_use]
    pub fn figure(&self) -> Figure {
        let (u_name, g_name, sum_name) = match self.setup.kind {
            GuidanceKind::Classifier => ("∇log p(x_t)", "γ∇log p(y|x_t)", "guided score"),
            GuidanceKind::ClassifierFree => ("−ε_u", "−γ(ε_c − ε_u)", "−ε_γ (guided)"),
        };
        let arrows = [
            (u_name, &self.unconditional, [150, 150, 150]),
            (g_name, &self.guidance, STOCHASTIC),
            (sum_name, &self.guided, [120, 200, 110]),
        ]
        .into_iter()
        .map(|(name, vectors, color)| {
            Series::arrows(name, color, &self.grid, &common::arrow_tips(&self.grid, vectors, 0.6))
        })
        .collect();
        let mut samples = Panel::plane(
            "guided samples",
            vec![Series::points(
                format!("samples, γ = {:.1}", self.setup.gamma),
                DETERMINISTIC,
                self.samples.clone(),
            )],
        );
        samples.backdrop = Some(self.backdrop.clone());
        let mut figure = Figure {
            panels: vec![
                Panel::plane(format!("the fields at t = {}", self.setup.t), arrows),
                samples,
            ],
            ..Figure::default()
        };
        if let Some(stats) = &self.statistics {
            figure.number("share in the class", 100.0 * stats.share, "%");
            figure.number("offset of the mean", stats.offset, "data units");
            figure.number("per-axis spread", stats.spread, "data units");
            figure.number("the class's own std", stats.class_std, "data units");
        }
        figure
    }
}
