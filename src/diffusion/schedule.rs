//! Noise schedules: the variances β_t of the forward process and everything
//! derived from them.
//!
//! Indexing follows the papers: x_0 is data and t = 1..T are noisy steps, so
//! ᾱ_0 = 1. (diffusers' 0-based index k is our t = k + 1.)
//!
//! | quantity | definition |
//! |---|---|
//! | α_t | 1 − β_t |
//! | ᾱ_t | ∏_{s ≤ t} α_s (Ho et al. 2020, eq. 4: q(x_t\|x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I)) |
//! | SNR(t) | ᾱ_t / (1 − ᾱ_t) (Kingma et al. 2021, eq. 3) |
//! | β̃_t | (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t (Ho et al. eq. 7) |
//! | μ̃_t | c_0 x_0 + c_t x_t, c_0 = √ᾱ_{t−1} β_t / (1 − ᾱ_t), c_t = √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) (eq. 7) |
//!
//! Families (diffusers' names in brackets):
//! - [`ScheduleKind::Linear`] (`linear`): Ho et al., β linear from 1e-4 to 0.02.
//! - [`ScheduleKind::ScaledLinear`] (`scaled_linear`): √β linear from √0.00085 to √0.012.
//! - [`ScheduleKind::Cosine`] (`squaredcos_cap_v2`): Nichol & Dhariwal 2021, eq. 17,
//!   f(t) = cos²((t/T + s)/(1 + s) · π/2), β_t = min(1 − f(t)/f(t−1), 0.999).
//! - [`ScheduleKind::Sigmoid`] (`sigmoid`): β = σ(linspace(−6, 6, T))·(β_end − β_start) + β_start.
//!
//! Zero terminal SNR is Lin et al. 2024, Algorithm 1.

use super::error::{Result, invalid};

/// The family of β_t.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ScheduleKind {
    /// DDPM's linear β (Ho et al. 2020).
    #[default]
    Linear,
    /// Stable Diffusion's: linear in √β, squared.
    ScaledLinear,
    /// Improved DDPM's cosine ᾱ (Nichol & Dhariwal 2021).
    Cosine,
    /// diffusers' sigmoid β.
    Sigmoid,
}

named_enum!(ScheduleKind, "schedule", [Linear => "linear", ScaledLinear => "scaled-linear", Cosine => "cosine", Sigmoid => "sigmoid"]);

impl ScheduleKind {
    /// The default (β_start, β_end) of the family; `None` for cosine, which has none.
    #[must_use]
    pub fn default_beta_range(self) -> Option<(f64, f64)> {
        match self {
            Self::Linear | Self::Sigmoid => Some((1e-4, 0.02)),
            Self::ScaledLinear => Some((0.00085, 0.012)),
            Self::Cosine => None,
        }
    }
}

/// The cosine schedule's offset s (Nichol & Dhariwal 2021, eq. 17).
pub const COSINE_OFFSET: f64 = 0.008;
/// The cap on each β of the cosine schedule (diffusers' `max_beta`).
pub const COSINE_MAX_BETA: f64 = 0.999;

/// Everything that defines a schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScheduleConfig {
    /// The family of β_t.
    pub kind: ScheduleKind,
    /// T, the number of training steps (t = 1..T).
    pub train_steps: usize,
    /// β at t = 1 (or √β's start for scaled-linear); `None` takes the family's default.
    pub beta_start: Option<f64>,
    /// β at t = T (or √β's end for scaled-linear); `None` takes the family's default.
    pub beta_end: Option<f64>,
    /// Rescale so that ᾱ_T = 0, i.e. SNR(T) = 0 (Lin et al. 2024, Algorithm 1).
    pub zero_terminal_snr: bool,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            kind: ScheduleKind::Linear,
            train_steps: 1000,
            beta_start: None,
            beta_end: None,
            zero_terminal_snr: false,
        }
    }
}

impl ScheduleConfig {
    /// The config of `kind` with every other field at its default.
    #[must_use]
    pub fn of_kind(kind: ScheduleKind) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }

    /// The (β_start, β_end) this config uses, checked.
    fn beta_range(&self) -> Result<Option<(f64, f64)>> {
        let Some((default_start, default_end)) = self.kind.default_beta_range() else {
            if self.beta_start.is_some() || self.beta_end.is_some() {
                return Err(invalid(
                    "the cosine schedule has no beta range: drop --beta-start/--beta-end",
                ));
            }
            return Ok(None);
        };
        let start = self.beta_start.unwrap_or(default_start);
        let end = self.beta_end.unwrap_or(default_end);
        for (name, beta) in [("beta-start", start), ("beta-end", end)] {
            if !(beta > 0.0 && beta < 1.0) {
                return Err(invalid(format!("{name} must lie in (0, 1), got {beta}")));
            }
        }
        Ok(Some((start, end)))
    }
}

/// ᾱ as a function of continuous time u ∈ [0, 1], with ᾱ(0) = 1.
///
/// A learned schedule (VDM's SNR(u) = exp(−γ_η(u))) implements this and becomes a
/// discrete [`Schedule`] through [`Schedule::from_continuous`].
pub trait ContinuousSchedule {
    /// ᾱ(u) for u in [0, 1]; must decrease from ᾱ(0) = 1.
    fn alpha_bar_at(&self, u: f64) -> f64;
}

/// The cosine schedule's ᾱ(u) = f(u)/f(0) (Nichol & Dhariwal 2021, eq. 17).
#[derive(Clone, Copy, Debug, Default)]
pub struct CosineAlphaBar;

impl ContinuousSchedule for CosineAlphaBar {
    fn alpha_bar_at(&self, u: f64) -> f64 {
        let f = |u: f64| {
            ((u + COSINE_OFFSET) / (1.0 + COSINE_OFFSET) * std::f64::consts::FRAC_PI_2)
                .cos()
                .powi(2)
        };
        f(u) / f(0.0)
    }
}

/// The largest T a schedule is built with: its tables (and a printed one)
/// stay far below a memory budget, and a mistyped T fails at once instead of
/// computing for minutes.
pub const MAX_TRAIN_STEPS: usize = 1_000_000;

/// A discrete schedule: β_t for t = 1..T and every derived table, in f64.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    betas: Vec<f64>,
    alpha_bars: Vec<f64>,
}

impl Schedule {
    /// Builds the schedule a config describes.
    ///
    /// # Errors
    /// T = 0, a β outside (0, 1), or a β range given to the cosine family.
    pub fn new(config: &ScheduleConfig) -> Result<Self> {
        let steps = config.train_steps;
        if steps == 0 {
            return Err(invalid("train-steps (T) must be at least 1"));
        }
        if steps > MAX_TRAIN_STEPS {
            return Err(invalid(format!(
                "train-steps (T) must be at most {MAX_TRAIN_STEPS} (DDPM's is 1000), got {steps}"
            )));
        }
        let betas = match (config.kind, config.beta_range()?) {
            (ScheduleKind::Cosine, _) => betas_from_continuous(&CosineAlphaBar, steps, COSINE_MAX_BETA),
            (ScheduleKind::Linear, Some((start, end))) => linspace(start, end, steps),
            (ScheduleKind::ScaledLinear, Some((start, end))) => linspace(start.sqrt(), end.sqrt(), steps)
                .into_iter()
                .map(|b| b * b)
                .collect(),
            (ScheduleKind::Sigmoid, Some((start, end))) => linspace(-6.0, 6.0, steps)
                .into_iter()
                .map(|x| 1.0 / (1.0 + (-x).exp()) * (end - start) + start)
                .collect(),
            (_, None) => return Err(invalid("this schedule needs a beta range")),
        };
        let schedule = Self::from_betas(betas)?;
        Ok(if config.zero_terminal_snr {
            schedule.rescaled_zero_terminal_snr()
        } else {
            schedule
        })
    }

    /// Builds a schedule from β_1..β_T.
    ///
    /// # Errors
    /// An empty list or a β outside (0, 1].
    pub fn from_betas(betas: Vec<f64>) -> Result<Self> {
        if betas.is_empty() {
            return Err(invalid("a schedule needs at least one step"));
        }
        if let Some(b) = betas.iter().find(|b| !(**b > 0.0 && **b <= 1.0)) {
            return Err(invalid(format!("every beta must lie in (0, 1], got {b}")));
        }
        let mut alpha_bar = 1.0;
        let alpha_bars = betas
            .iter()
            .map(|b| {
                alpha_bar *= 1.0 - b;
                alpha_bar
            })
            .collect();
        Ok(Self { betas, alpha_bars })
    }

    /// Samples a continuous ᾱ(u) at u = t/T and derives β_t = min(1 − ᾱ_t/ᾱ_{t−1}, `max_beta`).
    ///
    /// # Errors
    /// T = 0 or a non-decreasing ᾱ.
    pub fn from_continuous(schedule: &dyn ContinuousSchedule, train_steps: usize, max_beta: f64) -> Result<Self> {
        if train_steps == 0 {
            return Err(invalid("train-steps (T) must be at least 1"));
        }
        Self::from_betas(betas_from_continuous(schedule, train_steps, max_beta))
    }

    /// Lin et al. 2024, Algorithm 1: shift and scale √ᾱ so that √ᾱ_T = 0 while √ᾱ_1 is kept.
    #[must_use]
    pub fn rescaled_zero_terminal_snr(&self) -> Self {
        let sqrt_ab: Vec<f64> = self.alpha_bars.iter().map(|a| a.sqrt()).collect();
        let first = sqrt_ab[0];
        let last = sqrt_ab[sqrt_ab.len() - 1];
        if first <= last {
            // T = 1: there is nothing to rescale against; ᾱ_1 becomes 0.
            return Self {
                betas: vec![1.0],
                alpha_bars: vec![0.0],
            };
        }
        let alpha_bars: Vec<f64> = sqrt_ab
            .iter()
            .map(|s| ((s - last) * first / (first - last)).powi(2))
            .collect();
        let betas = alpha_bars
            .iter()
            .enumerate()
            .map(|(i, ab)| if i == 0 { 1.0 - ab } else { 1.0 - ab / alpha_bars[i - 1] })
            .collect();
        Self { betas, alpha_bars }
    }

    /// T, the number of training steps.
    #[must_use]
    pub fn train_steps(&self) -> usize {
        self.betas.len()
    }

    /// β_t for t in 1..=T.
    #[must_use]
    pub fn beta(&self, t: usize) -> f64 {
        self.betas[self.index(t)]
    }

    /// α_t = 1 − β_t.
    #[must_use]
    pub fn alpha(&self, t: usize) -> f64 {
        1.0 - self.beta(t)
    }

    /// ᾱ_t for t in 0..=T, with ᾱ_0 = 1.
    #[must_use]
    pub fn alpha_bar(&self, t: usize) -> f64 {
        if t == 0 { 1.0 } else { self.alpha_bars[self.index(t)] }
    }

    /// SNR(t) = ᾱ_t / (1 − ᾱ_t); infinite at t = 0.
    #[must_use]
    pub fn snr(&self, t: usize) -> f64 {
        let ab = self.alpha_bar(t);
        ab / (1.0 - ab)
    }

    /// log SNR(t) = log ᾱ_t − log(1 − ᾱ_t); −∞ where ᾱ_t = 0.
    #[must_use]
    pub fn log_snr(&self, t: usize) -> f64 {
        let ab = self.alpha_bar(t);
        ab.ln() - (-ab).ln_1p()
    }

    /// β̃_t, the variance of q(x_{t−1} | x_t, x_0) (Ho et al. eq. 7); β̃_1 = 0.
    #[must_use]
    pub fn posterior_variance(&self, t: usize) -> f64 {
        posterior_variance_between(self.alpha_bar(t), self.alpha_bar(t - 1))
    }

    /// The coefficients (c_0, c_t) of μ̃_t = c_0 x_0 + c_t x_t (Ho et al. eq. 7).
    #[must_use]
    pub fn posterior_mean_coefficients(&self, t: usize) -> (f64, f64) {
        posterior_mean_coefficients_between(self.alpha_bar(t), self.alpha_bar(t - 1))
    }

    /// Continuous-time ᾱ(u), linear between the grid points u = t/T.
    #[must_use]
    pub fn alpha_bar_continuous(&self, u: f64) -> f64 {
        let position = u.clamp(0.0, 1.0) * self.train_steps() as f64;
        let below = position.floor();
        let weight = position - below;
        // `below` is in 0..=T after the clamp, so the cast is exact.
        let below = below as usize;
        let low = self.alpha_bar(below);
        if weight == 0.0 {
            return low;
        }
        low + weight * (self.alpha_bar(below + 1) - low)
    }

    /// The fractional t whose ᾱ is `alpha_bar`: log SNR interpolated linearly
    /// between the neighbouring steps (diffusers' `_sigma_to_t`, which
    /// interpolates log σ = −λ/2), held to [1, T] outside the schedule's range.
    #[must_use]
    pub fn fractional_t(&self, alpha_bar: f64) -> f64 {
        let big_t = self.train_steps();
        let log_snr = |ab: f64| {
            let ab = ab.clamp(f64::MIN_POSITIVE, 1.0);
            ab.ln() - (-ab).ln_1p()
        };
        let target = log_snr(alpha_bar);
        let at = |t: usize| log_snr(self.alpha_bar(t));
        if target >= at(1) {
            return 1.0;
        }
        if target <= at(big_t) {
            return big_t as f64;
        }
        // λ falls with t: bisect for at(lo) > target ≥ at(hi).
        let (mut lo, mut hi) = (1, big_t);
        while hi - lo > 1 {
            let mid = usize::midpoint(lo, hi);
            if at(mid) > target { lo = mid } else { hi = mid }
        }
        lo as f64 + (at(lo) - target) / (at(lo) - at(hi))
    }

    fn index(&self, t: usize) -> usize {
        assert!(
            (1..=self.train_steps()).contains(&t),
            "t = {t} is outside 1..={}",
            self.train_steps()
        );
        t - 1
    }
}

impl ContinuousSchedule for Schedule {
    fn alpha_bar_at(&self, u: f64) -> f64 {
        self.alpha_bar_continuous(u)
    }
}

/// The variance of q(x_s | x_t, x_0) for any s < t, from ᾱ_t and ᾱ_s
/// (DDIM, Song et al. 2021, eq. 16 with η = 1).
#[must_use]
pub fn posterior_variance_between(alpha_bar_t: f64, alpha_bar_s: f64) -> f64 {
    if alpha_bar_t >= 1.0 {
        return 0.0;
    }
    (1.0 - alpha_bar_s) / (1.0 - alpha_bar_t) * (1.0 - alpha_bar_t / alpha_bar_s)
}

/// (c_0, c_t) of the mean of q(x_s | x_t, x_0) for any s < t (Ho et al. eq. 7 with
/// β replaced by 1 − ᾱ_t/ᾱ_s).
#[must_use]
pub fn posterior_mean_coefficients_between(alpha_bar_t: f64, alpha_bar_s: f64) -> (f64, f64) {
    let beta = 1.0 - alpha_bar_t / alpha_bar_s;
    let c0 = alpha_bar_s.sqrt() * beta / (1.0 - alpha_bar_t);
    let ct = (alpha_bar_t / alpha_bar_s).sqrt() * (1.0 - alpha_bar_s) / (1.0 - alpha_bar_t);
    (c0, ct)
}

/// numpy's `linspace(start, end, n)`.
#[must_use]
pub fn linspace(start: f64, end: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![start];
    }
    let step = (end - start) / (n - 1) as f64;
    (0..n)
        .map(|i| if i == n - 1 { end } else { start + step * i as f64 })
        .collect()
}

fn betas_from_continuous(schedule: &dyn ContinuousSchedule, steps: usize, max_beta: f64) -> Vec<f64> {
    (0..steps)
        .map(|i| {
            let u0 = i as f64 / steps as f64;
            let u1 = (i + 1) as f64 / steps as f64;
            (1.0 - schedule.alpha_bar_at(u1) / schedule.alpha_bar_at(u0)).min(max_beta)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_endpoints_are_the_configured_betas() {
        let s = Schedule::new(&ScheduleConfig::default()).unwrap();
        assert!((s.beta(1) - 1e-4).abs() < 1e-15);
        assert!((s.beta(1000) - 0.02).abs() < 1e-15);
        assert_eq!(s.alpha_bar(0), 1.0);
    }

    #[test]
    fn posterior_variance_matches_ho_eq7() {
        let s = Schedule::new(&ScheduleConfig::of_kind(ScheduleKind::Cosine)).unwrap();
        for t in [2, 10, 500, 1000] {
            let expected = (1.0 - s.alpha_bar(t - 1)) / (1.0 - s.alpha_bar(t)) * s.beta(t);
            assert!((s.posterior_variance(t) - expected).abs() < 1e-12);
        }
        assert_eq!(s.posterior_variance(1), 0.0);
    }

    #[test]
    fn continuous_view_passes_through_grid_points() {
        let s = Schedule::new(&ScheduleConfig::default()).unwrap();
        assert!((s.alpha_bar_continuous(0.25) - s.alpha_bar(250)).abs() < 1e-12);
        let mid = s.alpha_bar_continuous(0.2505);
        assert!(mid < s.alpha_bar(250) && mid > s.alpha_bar(251));
    }

    #[test]
    fn bad_betas_are_rejected() {
        let mut config = ScheduleConfig {
            beta_end: Some(1.5),
            ..ScheduleConfig::default()
        };
        assert!(Schedule::new(&config).is_err());
        config.beta_end = Some(0.02);
        config.train_steps = 0;
        assert!(Schedule::new(&config).is_err());
    }
}
