//! The true reverse kernel (Sohl-Dickstein et al. 2015;
//! `shared/seeds/001_61cf6ae1df241dda.txt`, lines 14 and 40–48, the entropy
//! bounds at lines 59–63). On the exact mixture, for s = t − Δ:
//! - the exact q(x_s|x_t) ∝ p_s(x_s) q(x_t|x_s), by Bayes on a grid, with
//!   q(x_t|x_s) = N(√(ᾱ_t/ᾱ_s) x_s, (1 − ᾱ_t/ᾱ_s) I);
//! - the Gaussians q(x_s|x_t, x0) (DDPM eq. 7 with β → 1 − ᾱ_t/ᾱ_s) for x0
//!   drawn from p(x0|x_t);
//! - the model's Gaussian p(x_s|x_t) with the kernel's exact mean and σ² = β̃ or β.
//!
//! KL(q(x_s|x_t) ‖ the moment-matched Gaussian) is near zero for small Δ and
//! grows as the kernel turns multimodal. The conditional entropy H(x_s|x_t) =
//! H(x_t|x_s) + H(x_s) − H(x_t) lies between Sohl-Dickstein's bounds:
//! H(x_t|x_s) + H(x_s|x0) − H(x_t|x0) ≤ H(x_s|x_t) ≤ H(x_t|x_s).
//! The lower bound always holds (it is I(x_t; x0) ≤ I(x_s; x0), data
//! processing); the upper one only where the forward process raises the
//! entropy, H(x_t) ≥ H(x_s). The paper's data has unit variance; the three
//! blobs have a variance of about 2.7 along x1, so the contraction by √ᾱ wins
//! over the added noise at large t, and the upper bound fails there.

use super::Inputs;
use super::common::{self, DETERMINISTIC, STOCHASTIC, check};
use super::data::{Figure, Panel, Point, Series};
use super::density_grid::DensityGrid;
use super::error::{FigureError, Result};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::schedule::{posterior_mean_coefficients_between, posterior_variance_between};
use crate::diffusion::{NoiseRng, Schedule};
use crate::jobs::JobContext;

/// Cells per side of a kernel's grid.
const KERNEL_CELLS: usize = 160;
/// Cells per side of a marginal p_s's grid, over ±[`MARGINAL_REACH`].
const MARGINAL_CELLS: usize = 240;
/// The marginal grids cover [−7, 7]² (p_s has unit variance at most, about the data's spread).
const MARGINAL_REACH: f64 = 7.0;
/// The Δ of the curves, log-spaced from 1 to t − 1.
const CURVE_DELTAS: usize = 18;
/// x0 shown behind x_t.
const SHOWN_X0: usize = 6;

/// Where the step is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// The noise level t of the linear schedule (2 to T).
    pub t: usize,
    /// The step Δ: the kernel goes from t to s = t − Δ (1 to t − 1; at s = 0
    /// the lower entropy bound is −∞).
    pub delta: usize,
    /// Draws x_t (and the x0 shown behind it).
    pub seed: u64,
}

impl Default for Setup {
    /// t = 400, Δ = 350: an x_t between the modes, whose kernel has all three.
    fn default() -> Self {
        Self {
            t: 400,
            delta: 350,
            seed: 10,
        }
    }
}

figure_setup!(Setup, {
    t => "t": "the noise level, 2 to T",
    delta => "delta": "the step: from t to t − delta, 1 to t − 1",
    seed => "seed": "draws x_t",
});

/// One step size's numbers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AtDelta {
    /// The step.
    pub delta: usize,
    /// KL(q(x_s|x_t) ‖ the moment-matched Gaussian).
    pub kl_best: f64,
    /// KL(q(x_s|x_t) ‖ N(exact mean, β̃ I)).
    pub kl_posterior_var: f64,
    /// KL(q(x_s|x_t) ‖ N(exact mean, β I)), β = 1 − ᾱ_t/ᾱ_s.
    pub kl_beta: f64,
    /// Sohl-Dickstein's lower bound on H(x_s|x_t).
    pub entropy_lower: f64,
    /// H(x_s|x_t) = H(x_t|x_s) + H(x_s) − H(x_t).
    pub entropy: f64,
    /// The upper bound H(x_t|x_s).
    pub entropy_upper: f64,
    /// H(x_t) − H(x_s): the upper bound holds exactly when it is ≥ 0.
    pub entropy_growth: f64,
}

/// What the scene shows.
#[derive(Clone, Debug, PartialEq)]
pub struct ReverseKernel {
    /// The setup.
    pub setup: Setup,
    /// The conditioning point.
    pub x_t: Point,
    /// q(x_s|x_t) on a grid.
    pub kernel: DensityGrid,
    /// Its mean from Tweedie: c0 E[x0|x_t] + ct x_t.
    pub exact_mean: Point,
    /// x0 behind x_t, drawn from p(x0|x_t), with the mean of q(x_s|x_t, x0).
    pub posteriors: Vec<(Point, Point)>,
    /// β̃ between s and t.
    pub posterior_var: f64,
    /// β = 1 − ᾱ_t/ᾱ_s.
    pub beta: f64,
    /// The numbers at the chosen Δ.
    pub at_delta: AtDelta,
    /// The numbers for Δ from 1 to t.
    pub curve: Vec<AtDelta>,
}

/// Draws x_t, builds its kernel at the chosen Δ and the curves over Δ.
///
/// # Errors
/// t or Δ out of range; [`FigureError::Cancelled`].
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<ReverseKernel> {
    let (mixture, schedule) = (inputs.mixture.as_ref(), inputs.schedule.as_ref());
    if !(2..=schedule.train_steps()).contains(&setup.t) {
        return Err(FigureError::bad_value("t", &setup.t.to_string(), "must be in 2..=T"));
    }
    if !(1..setup.t).contains(&setup.delta) {
        return Err(FigureError::bad_value(
            "delta",
            &setup.delta.to_string(),
            "must be in 1..t",
        ));
    }
    let mut rng = NoiseRng::seed_from(setup.seed);
    let (x0, _) = mixture.sample(1, None, &mut rng)?;
    let x0 = common::points(&x0)?.first().copied().unwrap_or([0.0, 0.0]);
    let ab_t = schedule.alpha_bar(setup.t);
    let x_t = [0, 1].map(|d| ab_t.sqrt() * x0[d] + (1.0 - ab_t).sqrt() * rng.normal());
    let s = setup.t - setup.delta;
    let posteriors = posteriors_behind(mixture, schedule, setup, x_t, &mut rng)?;
    let mut marginals = Marginals::new(mixture, schedule);
    let (at_delta, kernel, exact_mean) = numbers_at(mixture, schedule, setup.t, setup.delta, x_t, &mut marginals)?;
    let mut curve = Vec::new();
    for delta in curve_deltas(setup.t) {
        check(job)?;
        job.report(format!("Δ = {delta}"));
        curve.push(numbers_at(mixture, schedule, setup.t, delta, x_t, &mut marginals)?.0);
    }
    Ok(ReverseKernel {
        setup: *setup,
        x_t,
        kernel,
        exact_mean,
        posteriors,
        posterior_var: posterior_variance_between(ab_t, schedule.alpha_bar(s)),
        beta: 1.0 - ab_t / schedule.alpha_bar(s),
        at_delta,
        curve,
    })
}

/// Δ log-spaced from 1 to t − 1, each once.
fn curve_deltas(t: usize) -> Vec<usize> {
    let last = (t - 1) as f64;
    let mut deltas: Vec<usize> = (0..CURVE_DELTAS)
        .map(|i| last.powf(i as f64 / (CURVE_DELTAS - 1) as f64).round() as usize)
        .collect();
    deltas.dedup();
    deltas
}

/// q(x_s|x_t) by Bayes on a grid: log p_s(x_s) + log q(x_t|x_s), normalised.
/// The grid spans each component's posterior ± 6 standard deviations (from
/// the closed form, which is used for the extent alone).
///
/// # Errors
/// Tensor failures.
pub fn kernel_grid(mixture: &GaussianMixture, ab_t: f64, ab_s: f64, x_t: Point) -> Result<DensityGrid> {
    let (a, b) = ((ab_t / ab_s).sqrt(), 1.0 - ab_t / ab_s);
    let (mut min, mut max) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for c in mixture.components() {
        let prior_var = ab_s * c.std * c.std + 1.0 - ab_s;
        let var = 1.0 / (1.0 / prior_var + a * a / b);
        let reach = 6.0 * var.sqrt();
        for d in 0..2 {
            let mean = var * (ab_s.sqrt() * c.mean[d] / prior_var + a * x_t[d] / b);
            min[d] = min[d].min(mean - reach);
            max[d] = max[d].max(mean + reach);
        }
    }
    // Square cells: the longer side sets both.
    let half = (0..2).map(|d| (max[d] - min[d]) / 2.0).fold(0.0, f64::max);
    let centre = [0, 1].map(|d| f64::midpoint(min[d], max[d]));
    let (min, max) = (centre.map(|c| c - half), centre.map(|c| c + half));
    let cells = DensityGrid::centres(min, max, KERNEL_CELLS);
    let log_prior = mixture.log_density(&common::tensor_f64(&cells)?, ab_s)?;
    let log_values = cells
        .iter()
        .zip(log_prior)
        .map(|(x, lp)| lp - ((x_t[0] - a * x[0]).powi(2) + (x_t[1] - a * x[1]).powi(2)) / (2.0 * b))
        .collect();
    Ok(DensityGrid::from_log_values(min, max, KERNEL_CELLS, log_values))
}

/// E[x_s|x_t] at one point.
fn kernel_mean(mixture: &GaussianMixture, ab_t: f64, ab_s: f64, x_t: Point) -> Result<Point> {
    Ok(common::reverse_mean(mixture, ab_t, ab_s, &[x_t])?
        .first()
        .copied()
        .unwrap_or(x_t))
}

/// x0 drawn from p(x0|x_t) (p_0 samples resampled by q(x_t|x0)), each with
/// the mean of q(x_s|x_t, x0).
fn posteriors_behind(
    mixture: &GaussianMixture,
    schedule: &Schedule,
    setup: &Setup,
    x_t: Point,
    rng: &mut NoiseRng,
) -> Result<Vec<(Point, Point)>> {
    let ab_t = schedule.alpha_bar(setup.t);
    let (draws, _) = mixture.sample(4000, None, rng)?;
    let draws = common::points(&draws)?;
    let log_w: Vec<f64> = draws
        .iter()
        .map(|x0| -(0..2).map(|d| (x_t[d] - ab_t.sqrt() * x0[d]).powi(2)).sum::<f64>() / (2.0 * (1.0 - ab_t)))
        .collect();
    let top = log_w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = log_w.iter().map(|l| (l - top).exp()).collect();
    let (c0, ct) = posterior_mean_coefficients_between(ab_t, schedule.alpha_bar(setup.t - setup.delta));
    Ok((0..SHOWN_X0)
        .map(|_| {
            let x0 = draws[rng.categorical(&weights)];
            (x0, [0, 1].map(|d| c0 * x0[d] + ct * x_t[d]))
        })
        .collect())
}

/// The marginal entropies H(p_s), computed once per s.
struct Marginals<'a> {
    mixture: &'a GaussianMixture,
    schedule: &'a Schedule,
    entropies: std::collections::HashMap<usize, f64>,
}

impl<'a> Marginals<'a> {
    fn new(mixture: &'a GaussianMixture, schedule: &'a Schedule) -> Self {
        Self {
            mixture,
            schedule,
            entropies: std::collections::HashMap::new(),
        }
    }

    /// H(p_s) on [−7, 7]².
    fn entropy(&mut self, s: usize) -> Result<f64> {
        if let Some(h) = self.entropies.get(&s) {
            return Ok(*h);
        }
        let (min, max) = ([-MARGINAL_REACH; 2], [MARGINAL_REACH; 2]);
        let cells = DensityGrid::centres(min, max, MARGINAL_CELLS);
        let log_p = self
            .mixture
            .log_density(&common::tensor_f64(&cells)?, self.schedule.alpha_bar(s))?;
        let h = DensityGrid::from_log_values(min, max, MARGINAL_CELLS, log_p).entropy();
        self.entropies.insert(s, h);
        Ok(h)
    }
}

/// (D/2) log(2πe var) for D = 2: a 2D isotropic Gaussian's entropy.
fn gaussian_entropy(var: f64) -> f64 {
    (2.0 * std::f64::consts::PI * std::f64::consts::E * var).ln()
}

/// Step Δ's numbers, with the kernel on its grid and its exact mean they come from.
fn numbers_at(
    mixture: &GaussianMixture,
    schedule: &Schedule,
    t: usize,
    delta: usize,
    x_t: Point,
    marginals: &mut Marginals<'_>,
) -> Result<(AtDelta, DensityGrid, Point)> {
    let s = t - delta;
    let (ab_t, ab_s) = (schedule.alpha_bar(t), schedule.alpha_bar(s));
    let kernel = kernel_grid(mixture, ab_t, ab_s, x_t)?;
    let (mean, cov) = kernel.moments();
    let exact_mean = kernel_mean(mixture, ab_t, ab_s, x_t)?;
    let isotropic = |var: f64| [[var, 0.0], [0.0, var]];
    let beta = 1.0 - ab_t / ab_s;
    let forward = gaussian_entropy(beta);
    let (h_t, h_s) = (marginals.entropy(t)?, marginals.entropy(s)?);
    let numbers = AtDelta {
        delta,
        kl_best: kernel.kl_to_gaussian(mean, cov),
        kl_posterior_var: kernel.kl_to_gaussian(exact_mean, isotropic(posterior_variance_between(ab_t, ab_s))),
        kl_beta: kernel.kl_to_gaussian(exact_mean, isotropic(beta)),
        entropy_lower: forward + gaussian_entropy(1.0 - ab_s) - gaussian_entropy(1.0 - ab_t),
        entropy: forward + h_s - h_t,
        entropy_upper: forward,
        entropy_growth: h_t - h_s,
    };
    Ok((numbers, kernel, exact_mean))
}

/// A circle of radius `r` round `centre`.
fn circle(centre: Point, r: f64) -> Vec<Point> {
    (0..=48)
        .map(|i| {
            let angle = std::f64::consts::TAU * f64::from(i) / 48.0;
            [centre[0] + r * angle.cos(), centre[1] + r * angle.sin()]
        })
        .collect()
}

impl ReverseKernel {
    /// The kernel over the plane with the Gaussians; KL and entropy against Δ.
    #[must_use]
    pub fn figure(&self) -> Figure {
        let s = self.setup.t - self.setup.delta;
        let posterior_std = self.posterior_var.sqrt();
        let mut plane = Panel::plane(
            format!("q(x_{s}|x_{}) and its Gaussians", self.setup.t),
            vec![
                Series::points("x_t", [250, 210, 60], vec![self.x_t]),
                Series::points(
                    "x0 behind x_t",
                    [150, 150, 150],
                    self.posteriors.iter().map(|p| p.0).collect(),
                ),
                Series::lines(
                    "q(x_s|x_t,x0), 2σ",
                    [120, 200, 110],
                    self.posteriors
                        .iter()
                        .map(|p| circle(p.1, 2.0 * posterior_std))
                        .collect(),
                ),
                Series::line(
                    "model, σ² = β_post, 2σ",
                    DETERMINISTIC,
                    circle(self.exact_mean, 2.0 * posterior_std),
                ),
                Series::line(
                    "model, σ² = β, 2σ",
                    STOCHASTIC,
                    circle(self.exact_mean, 2.0 * self.beta.sqrt()),
                ),
            ],
        );
        plane.backdrop = Some(self.kernel.backdrop());
        let line = |f: fn(&AtDelta) -> f64| -> Vec<Point> {
            self.curve.iter().map(|a| [(a.delta as f64).log10(), f(a)]).collect()
        };
        let log_kl = |f: fn(&AtDelta) -> f64| -> Vec<Point> {
            self.curve
                .iter()
                .map(|a| [(a.delta as f64).log10(), f(a).max(1e-9).log10()])
                .collect()
        };
        let kl = Panel {
            title: "KL(q(x_s|x_t) ‖ Gaussian)".into(),
            x_label: "log₁₀ Δ".into(),
            y_label: "log₁₀ KL (nats)".into(),
            series: vec![
                Series::line("best Gaussian", [120, 200, 110], log_kl(|a| a.kl_best)),
                Series::line("σ² = β_post", DETERMINISTIC, log_kl(|a| a.kl_posterior_var)),
                Series::line("σ² = β", STOCHASTIC, log_kl(|a| a.kl_beta)),
            ],
            ..Panel::default()
        };
        let entropy = Panel {
            title: "H(x_s|x_t) between the bounds".into(),
            x_label: "log₁₀ Δ".into(),
            y_label: "nats".into(),
            series: vec![
                Series::line("upper H(x_t|x_s)", STOCHASTIC, line(|a| a.entropy_upper)),
                Series::line("H(x_s|x_t)", [120, 200, 110], line(|a| a.entropy)),
                Series::line("lower bound", DETERMINISTIC, line(|a| a.entropy_lower)),
            ],
            ..Panel::default()
        };
        let mut figure = Figure {
            panels: vec![plane, kl, entropy],
            ..Figure::default()
        };
        let a = self.at_delta;
        for (name, value, unit) in [
            ("t", self.setup.t as f64, ""),
            ("Δ", a.delta as f64, ""),
            ("KL to the best Gaussian", a.kl_best, "nats"),
            ("KL to σ² = β_post", a.kl_posterior_var, "nats"),
            ("KL to σ² = β", a.kl_beta, "nats"),
            ("entropy lower bound", a.entropy_lower, "nats"),
            ("H(x_s|x_t)", a.entropy, "nats"),
            ("entropy upper bound", a.entropy_upper, "nats"),
            ("H(x_t) − H(x_s)", a.entropy_growth, "nats"),
        ] {
            figure.number(name, value, unit);
        }
        figure
    }
}
