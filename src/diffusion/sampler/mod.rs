//! Samplers: from x_T ~ N(0, I) back to data, one reported step at a time.
//!
//! The shape follows diffusers/candle schedulers: a [`Sampler`] knows its
//! [`Sampler::timesteps`], advances x with [`Sampler::step`], and noises data
//! with [`Sampler::add_noise`]; randomness comes only from the [`NoiseRng`]
//! passed in. Unlike diffusers, `step` calls the denoiser itself, because Heun
//! and Langevin need more than one evaluation per step.
//!
//! | sampler | file | paper |
//! |---|---|---|
//! | DDPM ancestral | [`ancestral`] | Ho et al. 2020, Algorithm 2 |
//! | DDIM (η) | [`ancestral`] | Song, Meng & Ermon 2021, eq. 12 |
//! | PF-ODE Euler, Heun; reverse SDE Euler–Maruyama | [`sde`] | Song et al. 2021 (score SDE), eqs. 6, 13 |
//! | DPM-Solver++(2M) | [`dpm_solver`] | Lu et al. 2022, Algorithm 2 |
//! | Langevin, annealed Langevin | [`langevin`] | Song & Ermon 2019, Algorithm 1 |
//! | EDM Heun, EDM stochastic | [`edm`] | Karras et al. 2022, Algorithms 1 and 2 |
//!
//! The flow-matching ODE's Euler and Heun samplers are in [`crate::diffusion::flow`].

pub mod ancestral;
pub mod dpm_solver;
pub mod edm;
pub mod langevin;
pub mod sde;

use std::ops::ControlFlow;
use std::sync::Arc;

use candle_core::Tensor;

use super::denoiser::{Denoiser, Labels, NoiseLevel};
use super::error::{Result, invalid};
use super::noise::NoiseRng;
use super::schedule::Schedule;
use super::timesteps::{TimestepSpacing, inference_timesteps};

/// Which sampler runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SamplerKind {
    /// DDPM ancestral sampling.
    Ddpm,
    /// DDIM with stochasticity η.
    #[default]
    Ddim,
    /// Probability-flow ODE, Euler steps.
    EulerOde,
    /// Probability-flow ODE, Heun (2nd order) steps.
    HeunOde,
    /// Reverse-time SDE, Euler–Maruyama steps.
    ReverseSde,
    /// DPM-Solver++(2M), multistep 2nd order in log-SNR.
    DpmSolverPp,
    /// Langevin dynamics at the smallest noise level.
    Langevin,
    /// Annealed Langevin dynamics over the visited noise levels (NCSN).
    AnnealedLangevin,
    /// EDM's deterministic Heun sampler in σ (Karras et al. 2022, Algorithm 1).
    EdmHeun,
    /// EDM's stochastic sampler with churn (Karras et al. 2022, Algorithm 2).
    EdmStochastic,
}

named_enum!(SamplerKind, "sampler", [Ddpm => "ddpm", Ddim => "ddim", EulerOde => "euler-ode", HeunOde => "heun-ode", ReverseSde => "reverse-sde", DpmSolverPp => "dpm-solver++", Langevin => "langevin", AnnealedLangevin => "annealed-langevin", EdmHeun => "edm-heun", EdmStochastic => "edm-stochastic"]);

impl SamplerKind {
    /// The spacing a sampler runs best on, used where none is named.
    ///
    /// DPM-Solver++'s second-order steps extrapolate x̂0 linearly in λ; time-even
    /// spacings end with one large λ gap (λ from 2.2 to 9.2 in the last of 10
    /// leading steps of the linear schedule) across which that extrapolation
    /// overshoots, so the sample spreads grow too wide and stop improving with more
    /// steps. Even steps in λ keep every gap the same size, but at 10 steps each is
    /// 2.1 wide, too coarse where the modes separate, and a third of them fall where
    /// x̂0 barely changes (λ above 5). DPM-Solver's own `time_quadratic` spacing
    /// avoids both: with it the spreads' error falls from 5 to 50 steps and stays
    /// below DDIM's from 10 up (tests/exact_mixture.rs).
    #[must_use]
    pub fn default_spacing(self) -> TimestepSpacing {
        match self {
            Self::DpmSolverPp => TimestepSpacing::TimeQuadratic,
            // EDM's own choice (their eq. 5).
            Self::EdmHeun | Self::EdmStochastic => TimestepSpacing::Karras,
            _ => TimestepSpacing::Leading,
        }
    }
}

/// DDPM's choice of reverse variance σ_t² (Ho et al. 2020, §3.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DdpmVariance {
    /// σ_t² = β_t, optimal for x_0 ~ N(0, I).
    Large,
    /// σ_t² = β̃_t, optimal for a deterministic x_0.
    #[default]
    Small,
    /// The model's learned interpolation between the two (Nichol & Dhariwal 2021, eq. 15).
    Learned,
}

/// Settings of (annealed) Langevin dynamics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LangevinConfig {
    /// Langevin updates at each noise level.
    pub steps_per_level: usize,
    /// Annealed: the step size at level t is this × (1 − ᾱ_t) (Song & Ermon 2019,
    /// α_i ∝ σ_i²).
    pub annealed_step_scale: f64,
    /// Plain Langevin: the fixed step size, in squared data units.
    pub step_size: f64,
}

impl Default for LangevinConfig {
    fn default() -> Self {
        Self {
            // Measured on the 0.7/0.2/0.1 mixture (tests/exact_mixture.rs): fewer
            // updates or smaller steps leave the weights flattened toward equal.
            steps_per_level: 30,
            annealed_step_scale: 0.3,
            step_size: 0.01,
        }
    }
}

/// Settings of DPM-Solver++(2M).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DpmSolverConfig {
    /// Take the step into the last visited level first order, as well as the
    /// step from it to t = 0 (diffusers' `lower_order_final`, for every step count;
    /// diffusers applies it below 15 steps). The last gap in λ is the largest
    /// under most spacings, and the one where extrapolating x̂0 overshoots.
    pub lower_order_final: bool,
}

impl Default for DpmSolverConfig {
    fn default() -> Self {
        Self {
            lower_order_final: true,
        }
    }
}

/// Everything that defines a sampler, given a schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplerConfig {
    /// Which sampler.
    pub kind: SamplerKind,
    /// N, the number of inference steps (noise levels for Langevin).
    pub steps: usize,
    /// How the N steps spread over the T training steps.
    pub spacing: TimestepSpacing,
    /// DDIM's stochasticity η ∈ [0, 1]: 0 is deterministic, 1 is DDPM with β̃.
    pub eta: f64,
    /// DDPM's reverse variance.
    pub ddpm_variance: DdpmVariance,
    /// Clip x̂0 to [−1, 1] (diffusers' `clip_sample`); for image data only.
    pub clip_sample: bool,
    /// Langevin settings.
    pub langevin: LangevinConfig,
    /// DPM-Solver++ settings.
    pub dpm_solver: DpmSolverConfig,
    /// EDM's churn (for [`SamplerKind::EdmStochastic`]).
    pub edm: edm::EdmConfig,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self {
            kind: SamplerKind::Ddim,
            steps: 50,
            spacing: TimestepSpacing::Leading,
            eta: 0.0,
            ddpm_variance: DdpmVariance::Small,
            clip_sample: false,
            langevin: LangevinConfig::default(),
            dpm_solver: DpmSolverConfig::default(),
            edm: edm::EdmConfig::default(),
        }
    }
}

/// What one step computed: everything a UI streams.
#[derive(Clone, Debug)]
pub struct StepOutput {
    /// The step's position in [`Sampler::timesteps`].
    pub index: usize,
    /// The level stepped from.
    pub t: usize,
    /// The level reached (0 = data).
    pub t_next: usize,
    /// x at `t_next`.
    pub x_next: Tensor,
    /// The model's x̂0 at (x_t, t).
    pub x0_hat: Tensor,
    /// The model's ε̂ at (x_t, t).
    pub eps_hat: Tensor,
    /// ᾱ at `t`.
    pub alpha_bar: f64,
    /// The standard deviation of the fresh noise this step injected (0 if none).
    pub noise_std: f64,
}

/// A reverse-process sampler.
pub trait Sampler: Send {
    /// The training timesteps visited, in sampling order (descending for all
    /// but plain Langevin, which stays at one level).
    fn timesteps(&self) -> &[usize];

    /// The schedule it samples under.
    fn schedule(&self) -> &Schedule;

    /// Advances `x` (at `timesteps()[index]`) by one step.
    ///
    /// # Errors
    /// Denoiser or tensor failures, or a learned variance the model lacks.
    fn step(
        &mut self,
        model: &dyn Denoiser,
        labels: Labels<'_>,
        index: usize,
        x: &Tensor,
        rng: &mut NoiseRng,
    ) -> Result<StepOutput>;

    /// x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε (Ho et al. 2020, eq. 4).
    ///
    /// # Errors
    /// Tensor failures (mismatched shapes).
    fn add_noise(&self, x0: &Tensor, noise: &Tensor, t: usize) -> Result<Tensor> {
        add_noise(self.schedule(), x0, noise, t)
    }

    /// The level after step `index` (0 after the last).
    fn next_t(&self, index: usize) -> usize {
        self.timesteps().get(index + 1).copied().unwrap_or(0)
    }
}

/// x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε (Ho et al. 2020, eq. 4); t = 0 returns x_0.
///
/// # Errors
/// Tensor failures (mismatched shapes).
pub fn add_noise(schedule: &Schedule, x0: &Tensor, noise: &Tensor, t: usize) -> Result<Tensor> {
    let alpha_bar = schedule.alpha_bar(t);
    Ok(((x0 * alpha_bar.sqrt())? + (noise * (1.0 - alpha_bar).sqrt())?)?)
}

/// Builds the sampler a config describes, on its own timestep spacing.
///
/// # Errors
/// Steps outside 1..=T, η outside [0, 1], or bad Langevin settings.
pub fn build_sampler(config: &SamplerConfig, schedule: Arc<Schedule>) -> Result<Box<dyn Sampler>> {
    let timesteps = inference_timesteps(&schedule, config.steps, config.spacing)?;
    build_sampler_on(config, schedule, timesteps)
}

/// Builds a sampler that visits exactly `timesteps` (strictly descending, in 1..=T).
///
/// # Errors
/// Bad timesteps, η outside [0, 1], or bad Langevin settings.
pub fn build_sampler_on(
    config: &SamplerConfig,
    schedule: Arc<Schedule>,
    timesteps: Vec<usize>,
) -> Result<Box<dyn Sampler>> {
    check_timesteps(&timesteps, schedule.train_steps())?;
    if !(0.0..=1.0).contains(&config.eta) {
        return Err(invalid(format!("eta must lie in [0, 1], got {}", config.eta)));
    }
    let clip = config.clip_sample;
    Ok(match config.kind {
        SamplerKind::Ddpm => Box::new(ancestral::Ancestral::new(
            schedule,
            timesteps,
            ancestral::Rule::Ddpm(config.ddpm_variance),
            clip,
        )),
        SamplerKind::Ddim => Box::new(ancestral::Ancestral::new(
            schedule,
            timesteps,
            ancestral::Rule::Ddim { eta: config.eta },
            clip,
        )),
        SamplerKind::EulerOde => Box::new(sde::ScoreSde::new(schedule, timesteps, sde::Rule::EulerOde, clip)),
        SamplerKind::HeunOde => Box::new(sde::ScoreSde::new(schedule, timesteps, sde::Rule::HeunOde, clip)),
        SamplerKind::ReverseSde => Box::new(sde::ScoreSde::new(schedule, timesteps, sde::Rule::EulerMaruyama, clip)),
        SamplerKind::DpmSolverPp => Box::new(dpm_solver::DpmSolverPp::new(
            schedule,
            timesteps,
            clip,
            config.dpm_solver,
        )),
        SamplerKind::EdmHeun => Box::new(edm::Edm::new(schedule, timesteps, None, clip)),
        SamplerKind::EdmStochastic => {
            let churn = config.edm;
            if !(churn.churn >= 0.0 && churn.noise >= 0.0 && churn.sigma_min <= churn.sigma_max) {
                return Err(invalid(format!(
                    "EDM churn needs S_churn ≥ 0, S_noise ≥ 0 and S_tmin ≤ S_tmax, got {churn:?}"
                )));
            }
            Box::new(edm::Edm::new(schedule, timesteps, Some(churn), clip))
        }
        SamplerKind::Langevin | SamplerKind::AnnealedLangevin => Box::new(langevin::Langevin::new(
            schedule,
            &timesteps,
            config.kind == SamplerKind::AnnealedLangevin,
            config.langevin,
        )?),
    })
}

fn check_timesteps(timesteps: &[usize], train_steps: usize) -> Result<()> {
    if timesteps.is_empty() {
        return Err(invalid("a sampler needs at least one timestep"));
    }
    if let Some(t) = timesteps.iter().find(|t| !(1..=train_steps).contains(*t)) {
        return Err(invalid(format!("timestep {t} is outside 1..={train_steps}")));
    }
    if timesteps.windows(2).any(|w| w[0] <= w[1]) {
        return Err(invalid("timesteps must be strictly descending"));
    }
    Ok(())
}

/// Runs every step from `x_start`, handing each to `on_step`; returns the final
/// sample, or `None` if `on_step` broke off (a cancelled run).
///
/// # Errors
/// The first failing step's error.
pub fn run_sampler(
    sampler: &mut dyn Sampler,
    model: &dyn Denoiser,
    labels: Labels<'_>,
    x_start: &Tensor,
    rng: &mut NoiseRng,
    mut on_step: impl FnMut(&StepOutput) -> ControlFlow<()>,
) -> Result<Option<Tensor>> {
    let mut x = x_start.clone();
    for index in 0..sampler.timesteps().len() {
        let out = sampler.step(model, labels, index, &x, rng)?;
        if on_step(&out).is_break() {
            return Ok(None);
        }
        x = out.x_next;
    }
    Ok(Some(x))
}

/// Samples `rows` points of `dims` values from N(0, I) and runs the sampler to the end.
///
/// # Errors
/// As [`run_sampler`].
pub fn sample_from_noise(
    sampler: &mut dyn Sampler,
    model: &dyn Denoiser,
    labels: Labels<'_>,
    shape: &[usize],
    rng: &mut NoiseRng,
) -> Result<Tensor> {
    let x_start = rng.randn(shape, &candle_core::Device::Cpu)?;
    let result = run_sampler(sampler, model, labels, &x_start, rng, |_| ControlFlow::Continue(()))?;
    result.ok_or_else(|| invalid("the run was stopped"))
}

/// The model's (x̂0, ε̂) at one level, with optional clipping of x̂0.
pub(crate) struct Evaluation {
    pub x0: Tensor,
    pub eps: Tensor,
    pub variance_interp: Option<Tensor>,
}

impl Evaluation {
    /// ŝ = −ε̂ / √(1 − ᾱ_t).
    pub fn score(&self, alpha_bar: f64) -> Result<Tensor> {
        Ok((&self.eps * (-1.0 / (1.0 - alpha_bar).sqrt()))?)
    }
}

/// Evaluates `model` at (x, t); with `clip`, x̂0 is clipped to [−1, 1] and ε̂
/// recomputed from it, as diffusers does.
pub(crate) fn evaluate(
    model: &dyn Denoiser,
    schedule: &Schedule,
    labels: Labels<'_>,
    x: &Tensor,
    t: usize,
    clip: bool,
) -> Result<Evaluation> {
    let level = NoiseLevel {
        t: t as f64,
        alpha_bar: schedule.alpha_bar(t),
    };
    evaluate_at(model, level, labels, x, clip)
}

/// [`evaluate`] at any level, on or between the schedule's steps.
pub(crate) fn evaluate_at(
    model: &dyn Denoiser,
    level: NoiseLevel,
    labels: Labels<'_>,
    x: &Tensor,
    clip: bool,
) -> Result<Evaluation> {
    let alpha_bar = level.alpha_bar;
    let out = model.predict(x, level, labels)?;
    let mut x0 = out.prediction.x0(x, alpha_bar)?;
    let mut eps = out.prediction.epsilon(x, alpha_bar)?;
    if clip {
        x0 = x0.clamp(-1.0, 1.0)?;
        eps = ((x - (&x0 * alpha_bar.sqrt())?)? / (1.0 - alpha_bar).sqrt())?;
    }
    Ok(Evaluation {
        x0,
        eps,
        variance_interp: out.variance_interp,
    })
}
