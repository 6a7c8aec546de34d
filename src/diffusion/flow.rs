//! Flow matching and rectified flow: the straight path from data to noise and
//! the ODE along its velocity (Lipman et al. 2023; Liu, Gong & Liu 2023).
//!
//! The path is x_τ = (1 − τ) x_0 + τ ε for τ ∈ [0, 1], whose conditional
//! velocity is ε − x_0 (Liu et al. eq. 1; Lipman et al. eq. 23 with σ_min = 0).
//! The marginal velocity u(x, τ) = E[ε − x_0 | x_τ = x] carries p_0 to p_1 = N(0, I)
//! (Lipman et al. Theorem 1); sampling integrates dx/dτ = u backwards from τ = 1.
//!
//! **The same point as a VP point.** x_τ / c = √ᾱ x_0 + √(1 − ᾱ) ε with
//! c = √((1 − τ)² + τ²) and √ᾱ = (1 − τ)/c: both processes pass through the
//! same noise levels, so any [`Denoiser`]'s x̂_0 and ε̂ give the velocity
//! û = ε̂ − x̂_0 = (x − x̂_0)/τ, and a flow network is a [`Denoiser`] too
//! ([`PredictionType::FlowVelocity`]). The exact Gaussian mixture's velocity is
//! therefore its posterior mean at the matching ᾱ, computed in f64.
//!
//! Conversions at (x, τ) given û: x̂_0 = x − τ û, ε̂ = x + (1 − τ) û, and the
//! score ∇ log p_τ(x) = −ε̂/τ (x | x_0 ~ N((1 − τ) x_0, τ² I)).
//!
//! | solver | step from τ to τ' = τ − h |
//! |---|---|
//! | Euler | x' = x − h û(x, τ) |
//! | Heun | x̃ = x − h û(x, τ); x' = x − h (û(x, τ) + û(x̃, τ'))/2 |

use std::ops::ControlFlow;

use candle_core::{DType, Tensor};

use super::denoiser::{Denoiser, Labels, NoiseLevel};
use super::error::{Result, invalid};
use super::mixture::GaussianMixture;
use super::param::PredictionType;
use super::schedule::{Schedule, linspace};

/// Which process a run samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Process {
    /// The VP diffusion x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε and its samplers.
    #[default]
    Diffusion,
    /// The flow-matching path x_τ = (1 − τ) x_0 + τ ε and its ODE.
    Flow,
}

named_enum!(Process, "process", [Diffusion => "diffusion", Flow => "flow"]);

/// ᾱ of the VP point that x_τ is a rescaling of: (1 − τ)² / ((1 − τ)² + τ²).
#[must_use]
pub fn alpha_bar_of(tau: f64) -> f64 {
    let (signal, noise) = ((1.0 - tau).powi(2), tau * tau);
    signal / (signal + noise)
}

/// c = √((1 − τ)² + τ²): x_τ = c · x_VP.
#[must_use]
pub fn vp_scale(tau: f64) -> f64 {
    ((1.0 - tau).powi(2) + tau * tau).sqrt()
}

/// x_τ = (1 − τ) x_0 + τ ε.
///
/// # Errors
/// Tensor failures (mismatched shapes).
pub fn add_noise(x0: &Tensor, noise: &Tensor, tau: f64) -> Result<Tensor> {
    Ok(((x0 * (1.0 - tau))? + (noise * tau)?)?)
}

/// A velocity field u(x, τ) on the flow path.
pub trait VelocityField: Send + Sync {
    /// û at every row of `x`, shaped and typed like `x`.
    ///
    /// # Errors
    /// Shape mismatches, unknown labels, tensor failures.
    fn velocity(&self, x: &Tensor, tau: f64, labels: Labels<'_>) -> Result<Tensor>;
}

/// The exact marginal velocity of the mixture, in f64: û = (x − E[x_0 | x])/τ,
/// with E[x_0 | x] the posterior mean at ᾱ = [`alpha_bar_of`] τ of x / c; at τ = 0,
/// û = E[ε] − x = −x.
impl VelocityField for GaussianMixture {
    fn velocity(&self, x: &Tensor, tau: f64, labels: Labels<'_>) -> Result<Tensor> {
        let x64 = x.to_dtype(DType::F64)?;
        let u = if tau <= 0.0 {
            x64.neg()?
        } else {
            let x0 = self.posterior_mean(&(&x64 / vp_scale(tau))?, alpha_bar_of(tau), labels)?;
            ((x64 - x0)? / tau)?
        };
        Ok(u.to_dtype(x.dtype())?)
    }
}

/// Any [`Denoiser`] as a velocity field: û = ε̂ − x̂_0 at the matching VP point.
///
/// A network trained on a schedule only knows the levels t = 1..=T, so τ is
/// held inside the range those levels reach (τ ≈ 0.994 at the linear schedule's
/// t = T), and t is the schedule's fractional t at that ᾱ.
pub struct DenoiserField<'a> {
    /// The model.
    pub denoiser: &'a dyn Denoiser,
    /// The schedule it was trained on.
    pub schedule: &'a Schedule,
}

impl VelocityField for DenoiserField<'_> {
    fn velocity(&self, x: &Tensor, tau: f64, labels: Labels<'_>) -> Result<Tensor> {
        let big_t = self.schedule.train_steps();
        let range = |t: usize| super::param::flow_time(self.schedule.alpha_bar(t));
        let tau = tau.clamp(range(1), range(big_t));
        let alpha_bar = alpha_bar_of(tau);
        let level = NoiseLevel {
            t: self.schedule.fractional_t(alpha_bar),
            alpha_bar,
        };
        let x_vp = (x / vp_scale(tau))?;
        let prediction = self.denoiser.predict(&x_vp, level, labels)?.prediction;
        if prediction.kind == PredictionType::FlowVelocity {
            return Ok(prediction.value);
        }
        Ok((prediction.epsilon(&x_vp, alpha_bar)? - prediction.x0(&x_vp, alpha_bar)?)?)
    }
}

/// How the flow ODE is stepped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FlowSolver {
    /// First order: one evaluation per step.
    #[default]
    Euler,
    /// Second order (Heun's trapezoid): two evaluations per step.
    Heun,
}

named_enum!(FlowSolver, "flow solver", [Euler => "euler", Heun => "heun"]);

/// Everything that defines a flow sampler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowConfig {
    /// The solver.
    pub solver: FlowSolver,
    /// N, the number of steps from τ = 1 to τ = 0, evenly spaced in τ.
    pub steps: usize,
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            solver: FlowSolver::Euler,
            steps: 50,
        }
    }
}

/// The most flow steps a sampler takes (each is a model evaluation or two).
pub const MAX_FLOW_STEPS: usize = 100_000;

/// What one flow step computed.
#[derive(Clone, Debug)]
pub struct FlowStep {
    /// The step's position, from 0.
    pub index: usize,
    /// τ stepped from.
    pub tau: f64,
    /// τ reached.
    pub tau_next: f64,
    /// x at `tau_next`.
    pub x_next: Tensor,
    /// The velocity at (x, τ).
    pub velocity: Tensor,
    /// x̂_0 = x − τ û at (x, τ).
    pub x0_hat: Tensor,
}

/// Euler or Heun on dx/dτ = u(x, τ), from τ = 1 to 0 in even steps.
#[derive(Clone, Debug)]
pub struct FlowSampler {
    config: FlowConfig,
    times: Vec<f64>,
}

impl FlowSampler {
    /// A sampler for `config`.
    ///
    /// # Errors
    /// Steps outside 1..=[`MAX_FLOW_STEPS`].
    pub fn new(config: FlowConfig) -> Result<Self> {
        if !(1..=MAX_FLOW_STEPS).contains(&config.steps) {
            return Err(invalid(format!(
                "flow steps must lie in 1..={MAX_FLOW_STEPS}, got {}",
                config.steps
            )));
        }
        Ok(Self {
            config,
            times: linspace(1.0, 0.0, config.steps + 1),
        })
    }

    /// The N + 1 times visited, from 1 down to 0.
    #[must_use]
    pub fn times(&self) -> &[f64] {
        &self.times
    }

    /// The number of steps.
    #[must_use]
    pub fn steps(&self) -> usize {
        self.config.steps
    }

    /// Model evaluations per run: N for Euler, 2N for Heun.
    #[must_use]
    pub fn evaluations(&self) -> usize {
        match self.config.solver {
            FlowSolver::Euler => self.config.steps,
            FlowSolver::Heun => 2 * self.config.steps,
        }
    }

    /// Advances `x` at `times()[index]` to `times()[index + 1]`.
    ///
    /// # Errors
    /// An index past the last step; the field's or tensor failures.
    pub fn step(&self, field: &dyn VelocityField, labels: Labels<'_>, index: usize, x: &Tensor) -> Result<FlowStep> {
        let (Some(&tau), Some(&tau_next)) = (self.times.get(index), self.times.get(index + 1)) else {
            return Err(invalid(format!(
                "step {index} is past the last of {}",
                self.config.steps
            )));
        };
        let h = tau_next - tau;
        let velocity = field.velocity(x, tau, labels)?;
        let euler = (x + (&velocity * h)?)?;
        let x_next = match self.config.solver {
            FlowSolver::Euler => euler,
            FlowSolver::Heun => {
                let ahead = field.velocity(&euler, tau_next, labels)?;
                (x + ((&velocity + ahead)? * (0.5 * h))?)?
            }
        };
        let x0_hat = (x - (&velocity * tau)?)?;
        Ok(FlowStep {
            index,
            tau,
            tau_next,
            x_next,
            velocity,
            x0_hat,
        })
    }
}

/// Runs every step from `x_start` (at τ = 1), handing each to `on_step`; the
/// final sample, or `None` if `on_step` broke off.
///
/// # Errors
/// The first failing step's error.
pub fn run_flow(
    sampler: &FlowSampler,
    field: &dyn VelocityField,
    labels: Labels<'_>,
    x_start: &Tensor,
    mut on_step: impl FnMut(&FlowStep) -> ControlFlow<()>,
) -> Result<Option<Tensor>> {
    let mut x = x_start.clone();
    for index in 0..sampler.steps() {
        let out = sampler.step(field, labels, index, &x)?;
        if on_step(&out).is_break() {
            return Ok(None);
        }
        x = out.x_next;
    }
    Ok(Some(x))
}

/// Straightness of paths: the end-to-end distance over the length travelled,
/// averaged over rows (1 for a straight line). `frames` are the points along
/// the path, first to last, each `[rows, dims]`.
///
/// # Errors
/// Fewer than two frames, or tensors of different shapes.
pub fn straightness(frames: &[Tensor]) -> Result<f64> {
    let (Some(first), Some(last)) = (frames.first(), frames.last()) else {
        return Err(invalid("straightness needs at least two points per path"));
    };
    if frames.len() < 2 {
        return Err(invalid("straightness needs at least two points per path"));
    }
    let row_norms = |d: Tensor| -> Result<Vec<f64>> {
        let d = d.to_dtype(DType::F64)?.flatten_from(1)?;
        Ok(d.sqr()?.sum(1)?.sqrt()?.to_vec1::<f64>()?)
    };
    let chord = row_norms((last - first)?)?;
    let mut length = vec![0.0; chord.len()];
    for pair in frames.windows(2) {
        for (l, d) in length.iter_mut().zip(row_norms((&pair[1] - &pair[0])?)?) {
            *l += d;
        }
    }
    let ratios: Vec<f64> = chord
        .iter()
        .zip(&length)
        .map(|(c, l)| if *l > 0.0 { c / l } else { 1.0 })
        .collect();
    Ok(ratios.iter().sum::<f64>() / ratios.len().max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::mixture::Component;
    use candle_core::Device;

    fn one_gaussian(std: f64) -> GaussianMixture {
        GaussianMixture::new(vec![Component {
            mean: vec![1.0, -0.5],
            std,
            weight: 1.0,
            label: None,
        }])
        .unwrap()
    }

    #[test]
    fn the_path_is_a_rescaled_vp_point() {
        for tau in [0.1, 0.5, 0.9] {
            let alpha_bar = alpha_bar_of(tau);
            let c = vp_scale(tau);
            assert!((c * alpha_bar.sqrt() - (1.0 - tau)).abs() < 1e-12);
            assert!((c * (1.0 - alpha_bar).sqrt() - tau).abs() < 1e-12);
            assert!((crate::diffusion::param::flow_time(alpha_bar) - tau).abs() < 1e-12);
        }
    }

    /// One Gaussian N(μ, s² I): x_τ ~ N((1 − τ) μ, ((1 − τ)² s² + τ²) I), and the
    /// velocity is linear, u = −μ + ((τ − (1 − τ) s²)/((1 − τ)² s² + τ²)) (x − (1 − τ) μ)
    /// (d/dτ of the mean, plus the spread's growth rate times the offset).
    #[test]
    fn the_mixture_velocity_of_one_gaussian_is_the_closed_form() {
        let (s, mu) = (0.4_f64, [1.0_f64, -0.5]);
        let mixture = one_gaussian(s);
        let x = Tensor::new(&[[0.3_f64, 0.2], [-1.0, 2.0]], &Device::Cpu).unwrap();
        for tau in [0.0, 0.2, 0.7, 1.0] {
            let u: Vec<Vec<f64>> = mixture.velocity(&x, tau, None).unwrap().to_vec2().unwrap();
            let var = (1.0 - tau).powi(2) * s * s + tau * tau;
            let rate = (tau - (1.0 - tau) * s * s) / var;
            for (row, point) in [[0.3, 0.2], [-1.0, 2.0]].iter().enumerate() {
                for d in 0..2 {
                    let expected = -mu[d] + rate * (point[d] - (1.0 - tau) * mu[d]);
                    assert!(
                        (u[row][d] - expected).abs() < 1e-9,
                        "τ = {tau}: {} vs {expected}",
                        u[row][d]
                    );
                }
            }
        }
    }

    #[test]
    fn a_denoiser_field_matches_the_exact_velocity_inside_the_schedule() {
        let mixture = one_gaussian(0.3);
        let schedule = Schedule::new(&crate::diffusion::ScheduleConfig::default()).unwrap();
        let field = DenoiserField {
            denoiser: &mixture,
            schedule: &schedule,
        };
        let x = Tensor::new(&[[0.3_f32, 0.2], [-1.0, 2.0]], &Device::Cpu).unwrap();
        for tau in [0.05, 0.5, 0.9] {
            let exact: Vec<Vec<f32>> = mixture.velocity(&x, tau, None).unwrap().to_vec2().unwrap();
            let adapted: Vec<Vec<f32>> = field.velocity(&x, tau, None).unwrap().to_vec2().unwrap();
            for (a, b) in exact.iter().flatten().zip(adapted.iter().flatten()) {
                assert!((a - b).abs() < 1e-4, "τ = {tau}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn straightness_is_one_for_a_line_and_less_for_a_corner() {
        let frames = |points: &[[f64; 2]]| -> Vec<Tensor> {
            points
                .iter()
                .map(|p| Tensor::new(&[*p], &Device::Cpu).unwrap())
                .collect()
        };
        let line = straightness(&frames(&[[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])).unwrap();
        assert!((line - 1.0).abs() < 1e-12);
        // Two unit legs at a right angle: chord √2 over length 2.
        let corner = straightness(&frames(&[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])).unwrap();
        assert!((corner - 2f64.sqrt() / 2.0).abs() < 1e-12);
    }
}
