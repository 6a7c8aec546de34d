//! Two forms of one ELBO, and Su's merged noise.
//!
//! Luo 2022 (`shared/seeds/000_9adf4b751b0c0e64.txt`, lines 264–350) writes
//! the diffusion ELBO twice: with *consistency* terms, an expectation over the
//! chain's neighbours x_{t−1} and x_{t+1}, and with *denoising-matching* terms,
//! KL(q(x_{t−1}|x_t, x0) ‖ p_θ(x_{t−1}|x_t)) in closed form under one x_t. Both
//! are estimated here one chain at a time for one x0 of the exact mixture, with a
//! 50-step chain and p_θ(x_{t−1}|x_t) = N(μ̃(E[x0|x_t], x_t), β̃_t I) (β_1 at t = 1):
//! - the consistency form term by term, each term from its own draw of
//!   (x_{t−1}, x_t, x_{t+1}): unbiased, with a larger variance;
//! - the denoising-matching form term by term, each term from its own x_t:
//!   unbiased, with a smaller variance (the tutorial's argument);
//! - every term from one chain, log p(x_T) + Σ log p_θ(x_{t−1}|x_t) − Σ log q(x_t|x_{t−1}):
//!   unbiased, and with a model this good its terms telescope, so its variance
//!   is as low as the denoising form's;
//! - the consistency form as the tutorial writes it, each term a closed-form
//!   KL(q(x_t|x_{t−1}) ‖ p_θ(x_t|x_{t+1})) at the sampled x_{t−1}, x_{t+1}. That
//!   integrates x_t out under q(x_t|x_{t−1}), although x_{t+1} was drawn from
//!   that very x_t, so its mean falls below the bound: the rewrite is not exact.
//!
//! Su's "demolish and rebuild" (`004_ac41b0bad519c11d.txt`, lines 36–117): the
//! loss ‖ε_t − ε_θ(ᾱ x0 + α β̄_{t−1} ε̄_{t−1} + β ε_t)‖² with two noises has the
//! same mean as the merged ‖(β/β̄) ε − ε_θ(ᾱ x0 + β̄ ε)‖² + D α² β̄²_{t−1}/β̄², and
//! a larger variance (his α, β, ᾱ, β̄ are DDPM's √α_t, √β_t, √ᾱ_t, √(1−ᾱ_t)).

use super::Inputs;
use super::common::{self, DETERMINISTIC, STOCHASTIC, check};
use super::data::{Figure, Panel, Point, Series};
use super::error::{FigureError, Result};
use crate::diffusion::elbo::gaussian_kl;
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::schedule::posterior_mean_coefficients_between;
use crate::diffusion::{NoiseRng, Schedule, ScheduleConfig, ScheduleKind};
use crate::jobs::JobContext;

/// The chain's length.
pub const CHAIN_STEPS: usize = 50;
/// Histogram bins.
const BINS: usize = 40;

/// How many estimates, and where Su's loss is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// One-chain estimates of each form (and draws of each loss), 10 to 100000.
    pub chains: usize,
    /// Su's losses at this t of the 1000-step linear schedule (2 to 1000).
    pub t: usize,
    /// Draws x0 and every noise.
    pub seed: u64,
}

impl Default for Setup {
    /// 2000 chains, t = 300.
    fn default() -> Self {
        Self {
            chains: 2000,
            t: 300,
            seed: 6,
        }
    }
}

figure_setup!(Setup, {
    chains => "chains": "one-chain estimates of each form, 10 to 100000",
    t => "t": "the step of Su's two losses, 2 to T",
    seed => "seed": "draws x0 and the noises",
});

/// Many one-sample estimates of one quantity.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimates {
    /// What they estimate, as the legend says it.
    pub name: String,
    /// The estimates.
    pub values: Vec<f64>,
}

impl Estimates {
    /// The mean and the standard error of the mean.
    #[must_use]
    pub fn mean_and_error(&self) -> (f64, f64) {
        common::mean_and_standard_error(&self.values)
    }

    /// The sample variance.
    #[must_use]
    pub fn variance(&self) -> f64 {
        common::sample_variance(&self.values)
    }
}

/// What the scene shows.
#[derive(Clone, Debug, PartialEq)]
pub struct ElboForms {
    /// Consistency terms, denoising-matching terms, one whole chain, and the
    /// tutorial's closed-form consistency KLs.
    pub forms: [Estimates; 4],
    /// Su's two-noise loss, then the merged one.
    pub losses: [Estimates; 2],
}

/// Runs the chains and draws the losses.
///
/// # Errors
/// A count or t out of range; [`FigureError::Cancelled`].
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<ElboForms> {
    if !(10..=100_000).contains(&setup.chains) {
        return Err(FigureError::bad_value(
            "chains",
            &setup.chains.to_string(),
            "between 10 and 100000",
        ));
    }
    if !(2..=inputs.schedule.train_steps()).contains(&setup.t) {
        return Err(FigureError::bad_value("t", &setup.t.to_string(), "must be in 2..=T"));
    }
    let mut rng = NoiseRng::seed_from(setup.seed);
    let forms = chain_estimates(&inputs.mixture, setup.chains, &mut rng, job)?;
    let losses = su_losses(&inputs.mixture, &inputs.schedule, setup, &mut rng)?;
    Ok(ElboForms { forms, losses })
}

/// The 50-step chain's schedule: DDPM's linear β, stretched to 50 steps.
///
/// # Errors
/// Never in practice: the range is valid.
pub fn chain_schedule() -> Result<Schedule> {
    Ok(Schedule::new(&ScheduleConfig {
        kind: ScheduleKind::Linear,
        train_steps: CHAIN_STEPS,
        beta_start: Some(0.002),
        beta_end: Some(0.4),
        zero_terminal_snr: false,
    })?)
}

/// The model's reverse step p_θ(x_{t−1}|x_t): its means per row and its variance.
fn model_step(mixture: &GaussianMixture, schedule: &Schedule, t: usize, x_t: &[Point]) -> Result<(Vec<Point>, f64)> {
    let means = common::reverse_mean(mixture, schedule.alpha_bar(t), schedule.alpha_bar(t - 1), x_t)?;
    let var = if t == 1 {
        schedule.beta(1)
    } else {
        schedule.posterior_variance(t)
    };
    Ok((means, var))
}

/// log N(x; mean, var I) in 2D.
fn log_normal(x: Point, mean: Point, var: f64) -> f64 {
    let sq = (x[0] - mean[0]).powi(2) + (x[1] - mean[1]).powi(2);
    -(2.0 * std::f64::consts::PI * var).ln() - sq / (2.0 * var)
}

/// KL(N(a, va I) ‖ N(b, vb I)) in 2D.
fn kl(a: Point, va: f64, b: Point, vb: f64) -> f64 {
    gaussian_kl(&a, &[va; 2], &b, &[vb; 2])
}

/// Draws from q(x_t|x0) for every row of `x0`.
fn noised(x0: &[Point], alpha_bar: f64, rng: &mut NoiseRng) -> Vec<Point> {
    let (a, s) = (alpha_bar.sqrt(), (1.0 - alpha_bar).sqrt());
    x0.iter()
        .map(|x| [a * x[0] + s * rng.normal(), a * x[1] + s * rng.normal()])
        .collect()
}

/// One forward step q(x_t|x_{t−1}) from every row.
fn stepped(schedule: &Schedule, t: usize, from: &[Point], rng: &mut NoiseRng) -> Vec<Point> {
    let (a, s) = (schedule.alpha(t).sqrt(), schedule.beta(t).sqrt());
    from.iter()
        .map(|x| [a * x[0] + s * rng.normal(), a * x[1] + s * rng.normal()])
        .collect()
}

/// The four estimators, each estimate one x0's ELBO from fresh noise.
struct Forms {
    /// Consistency terms, each from its own (x_{t−1}, x_t, x_{t+1}).
    consistency: Vec<f64>,
    /// Denoising-matching terms, each from its own x_t.
    denoising: Vec<f64>,
    /// Every term from one chain: the plain ELBO estimator.
    chain: Vec<f64>,
    /// The tutorial's closed-form consistency KLs on one chain.
    literal: Vec<f64>,
}

impl Forms {
    fn add(values: &mut [f64], terms: impl Iterator<Item = f64>) {
        for (v, term) in values.iter_mut().zip(terms) {
            *v += term;
        }
    }
}

fn chain_estimates(
    mixture: &GaussianMixture,
    n: usize,
    rng: &mut NoiseRng,
    job: &JobContext,
) -> Result<[Estimates; 4]> {
    let schedule = chain_schedule()?;
    let big_t = schedule.train_steps();
    // One x0 for every estimate: what differs between the forms is how they
    // use the noise, not the data point (whose spread all forms share).
    let (x0, _) = mixture.sample(1, None, rng)?;
    let x0 = vec![common::points(&x0)?.first().copied().unwrap_or([0.0, 0.0]); n];
    let mut forms = Forms {
        consistency: vec![0.0; n],
        denoising: vec![0.0; n],
        chain: vec![0.0; n],
        literal: vec![0.0; n],
    };
    add_end_terms(mixture, &schedule, &x0, rng, &mut forms)?;
    // The chain: chain[t][i] is estimate i's x_t.
    let mut chain = vec![x0.clone()];
    for t in 1..=big_t {
        chain.push(stepped(&schedule, t, &chain[t - 1], rng));
    }
    let mut model_on_chain = vec![(Vec::new(), 0.0)];
    for (t, x_t) in chain.iter().enumerate().skip(1) {
        check(job)?;
        job.report(format!("step {t} of {big_t}"));
        model_on_chain.push(model_step(mixture, &schedule, t, x_t)?);
    }
    // The chain's ends: log p(x_T) for the whole chain; for the tutorial's form
    // the reconstruction at the chain's x1 and the closed-form prior KL.
    let (a, beta) = (schedule.alpha(big_t).sqrt(), schedule.beta(big_t));
    Forms::add(
        &mut forms.chain,
        chain[big_t].iter().map(|x| log_normal(*x, [0.0, 0.0], 1.0)),
    );
    Forms::add(
        &mut forms.literal,
        (0..n).map(|i| {
            let before = chain[big_t - 1][i];
            log_normal(x0[i], model_on_chain[1].0[i], model_on_chain[1].1)
                - kl([a * before[0], a * before[1]], beta, [0.0, 0.0], 1.0)
        }),
    );
    let terms = Terms {
        mixture,
        schedule: &schedule,
        x0: &x0,
    };
    for t in 1..=big_t {
        let (a, beta) = (schedule.alpha(t).sqrt(), schedule.beta(t));
        let (means, var) = &model_on_chain[t];
        // log p_θ(x_{t−1}|x_t) − log q(x_t|x_{t−1}) along the chain.
        Forms::add(
            &mut forms.chain,
            (0..n).map(|i| {
                let forward = [a * chain[t - 1][i][0], a * chain[t - 1][i][1]];
                log_normal(chain[t - 1][i], means[i], *var) - log_normal(chain[t][i], forward, beta)
            }),
        );
        if t < big_t {
            let (next_means, next_var) = &model_on_chain[t + 1];
            Forms::add(
                &mut forms.literal,
                (0..n).map(|i| {
                    let forward = [a * chain[t - 1][i][0], a * chain[t - 1][i][1]];
                    -kl(forward, beta, next_means[i], *next_var)
                }),
            );
            add_consistency_term(&terms, t, rng, &mut forms.consistency)?;
        }
        if t >= 2 {
            add_denoising_term(&terms, t, rng, &mut forms.denoising)?;
        }
    }
    Ok([
        ("consistency terms", forms.consistency),
        ("denoising-matching terms", forms.denoising),
        ("one whole chain", forms.chain),
        ("consistency, closed-form KL (biased)", forms.literal),
    ]
    .map(|(name, values)| Estimates {
        name: name.into(),
        values,
    }))
}

/// The reconstruction and prior terms of every form.
fn add_end_terms(
    mixture: &GaussianMixture,
    schedule: &Schedule,
    x0: &[Point],
    rng: &mut NoiseRng,
    forms: &mut Forms,
) -> Result<()> {
    let big_t = schedule.train_steps();
    let n = x0.len();
    // Reconstruction log p_θ(x0|x1): its own x1 for the two term-by-term forms.
    for values in [&mut forms.consistency, &mut forms.denoising] {
        let x1 = noised(x0, schedule.alpha_bar(1), rng);
        let (means, var) = model_step(mixture, schedule, 1, &x1)?;
        Forms::add(values, (0..n).map(|i| log_normal(x0[i], means[i], var)));
    }
    // Prior matching: log p(x_T) − log q(x_T|x_{T−1}) from its own pair, or in
    // closed form against q(x_T|x0).
    let before = noised(x0, schedule.alpha_bar(big_t - 1), rng);
    let last = stepped(schedule, big_t, &before, rng);
    let (a, beta) = (schedule.alpha(big_t).sqrt(), schedule.beta(big_t));
    Forms::add(
        &mut forms.consistency,
        (0..n).map(|i| {
            log_normal(last[i], [0.0, 0.0], 1.0) - log_normal(last[i], [a * before[i][0], a * before[i][1]], beta)
        }),
    );
    let ab = schedule.alpha_bar(big_t);
    Forms::add(
        &mut forms.denoising,
        x0.iter()
            .map(|x| -kl([ab.sqrt() * x[0], ab.sqrt() * x[1]], 1.0 - ab, [0.0, 0.0], 1.0)),
    );
    Ok(())
}

/// What the term-by-term estimates draw from: the model and the x0 of each estimate.
struct Terms<'a> {
    mixture: &'a GaussianMixture,
    schedule: &'a Schedule,
    x0: &'a [Point],
}

/// E over (x_{t−1}, x_t, x_{t+1}) ~ q(·|x0) of log p_θ(x_t|x_{t+1}) − log q(x_t|x_{t−1}), one draw each.
fn add_consistency_term(terms: &Terms<'_>, t: usize, rng: &mut NoiseRng, values: &mut [f64]) -> Result<()> {
    let Terms { mixture, schedule, x0 } = *terms;
    let before = noised(x0, schedule.alpha_bar(t - 1), rng);
    let now = stepped(schedule, t, &before, rng);
    let after = stepped(schedule, t + 1, &now, rng);
    let (means, var) = model_step(mixture, schedule, t + 1, &after)?;
    let (a, beta) = (schedule.alpha(t).sqrt(), schedule.beta(t));
    Forms::add(
        values,
        (0..x0.len()).map(|i| {
            log_normal(now[i], means[i], var) - log_normal(now[i], [a * before[i][0], a * before[i][1]], beta)
        }),
    );
    Ok(())
}

/// −KL(q(x_{t−1}|x_t, x0) ‖ p_θ(x_{t−1}|x_t)) at one x_t ~ q(x_t|x0) each.
fn add_denoising_term(terms: &Terms<'_>, t: usize, rng: &mut NoiseRng, values: &mut [f64]) -> Result<()> {
    let Terms { mixture, schedule, x0 } = *terms;
    let x_t = noised(x0, schedule.alpha_bar(t), rng);
    let (means, var) = model_step(mixture, schedule, t, &x_t)?;
    let (c0, ct) = posterior_mean_coefficients_between(schedule.alpha_bar(t), schedule.alpha_bar(t - 1));
    let posterior_var = schedule.posterior_variance(t);
    Forms::add(
        values,
        (0..x0.len()).map(|i| {
            let posterior_mean = [0, 1].map(|d| c0 * x0[i][d] + ct * x_t[i][d]);
            -kl(posterior_mean, posterior_var, means[i], var)
        }),
    );
    Ok(())
}

fn su_losses(
    mixture: &GaussianMixture,
    schedule: &Schedule,
    setup: &Setup,
    rng: &mut NoiseRng,
) -> Result<[Estimates; 2]> {
    let t = setup.t;
    // Su's symbols from DDPM's.
    let (alpha, beta) = (schedule.alpha(t).sqrt(), schedule.beta(t).sqrt());
    let (signal, beta_bar) = (schedule.alpha_bar(t).sqrt(), (1.0 - schedule.alpha_bar(t)).sqrt());
    let beta_bar_before = (1.0 - schedule.alpha_bar(t - 1)).sqrt();
    let (x0, _) = mixture.sample(setup.chains, None, rng)?;
    let x0 = common::points(&x0)?;
    // ε_θ predicts ε_t: (β/β̄) times the exact ε of x_t.
    let predict = |x_t: &[Point]| -> Result<Vec<Point>> {
        let x0_hat =
            common::points(&mixture.posterior_mean(&common::tensor_f64(x_t)?, schedule.alpha_bar(t), None)?)?;
        Ok(x_t
            .iter()
            .zip(&x0_hat)
            .map(|(x, h)| [0, 1].map(|d| beta / beta_bar * (x[d] - signal * h[d]) / beta_bar))
            .collect())
    };
    let noise = |rng: &mut NoiseRng| -> Vec<Point> { (0..x0.len()).map(|_| [rng.normal(), rng.normal()]).collect() };
    let (earlier, latest) = (noise(rng), noise(rng));
    let two_x_t: Vec<Point> = (0..x0.len())
        .map(|i| [0, 1].map(|d| signal * x0[i][d] + alpha * beta_bar_before * earlier[i][d] + beta * latest[i][d]))
        .collect();
    let two = predict(&two_x_t)?
        .iter()
        .zip(&latest)
        .map(|(p, e)| (e[0] - p[0]).powi(2) + (e[1] - p[1]).powi(2))
        .collect();
    let merged_noise = noise(rng);
    let merged_x_t: Vec<Point> = (0..x0.len())
        .map(|i| [0, 1].map(|d| signal * x0[i][d] + beta_bar * merged_noise[i][d]))
        .collect();
    let constant = 2.0 * (alpha * beta_bar_before / beta_bar).powi(2);
    let merged = predict(&merged_x_t)?
        .iter()
        .zip(&merged_noise)
        .map(|(p, e)| (0..2).map(|d| (beta / beta_bar * e[d] - p[d]).powi(2)).sum::<f64>() + constant)
        .collect();
    Ok([
        Estimates {
            name: "two noises".into(),
            values: two,
        },
        Estimates {
            name: "one merged noise".into(),
            values: merged,
        },
    ])
}

/// Histograms of `sets` over one range (density per unit), as lines.
fn histograms(sets: &[&Estimates], colors: &[[u8; 3]]) -> Vec<Series> {
    let all = sets.iter().flat_map(|s| s.values.iter().copied());
    let (mut sorted, mut lo, mut hi): (Vec<f64>, f64, f64) = (all.collect(), 0.0, 1.0);
    sorted.sort_by(f64::total_cmp);
    if let (Some(first), Some(last)) = (sorted.get(sorted.len() / 200), sorted.get(sorted.len() * 199 / 200)) {
        (lo, hi) = (*first, last.max(first + 1e-9));
    }
    let width = (hi - lo) / BINS as f64;
    sets.iter()
        .zip(colors)
        .map(|(set, color)| {
            let mut counts = vec![0_usize; BINS];
            for v in &set.values {
                if (lo..hi).contains(v) {
                    counts[(((v - lo) / width) as usize).min(BINS - 1)] += 1;
                }
            }
            let n = set.values.len().max(1) as f64;
            let points = counts
                .iter()
                .enumerate()
                .map(|(b, c)| [lo + (b as f64 + 0.5) * width, *c as f64 / (n * width)])
                .collect();
            Series::line(set.name.clone(), *color, points)
        })
        .collect()
}

impl ElboForms {
    /// The variance of the consistency form over the denoising-matching form's.
    #[must_use]
    pub fn variance_ratio(&self) -> f64 {
        self.forms[0].variance() / self.forms[1].variance()
    }

    /// The two-noise loss's variance over the merged one's.
    #[must_use]
    pub fn loss_variance_ratio(&self) -> f64 {
        self.losses[0].variance() / self.losses[1].variance()
    }

    /// Histograms of the estimates and of the losses, with their means and variances.
    #[must_use]
    pub fn figure(&self) -> Figure {
        let colors = [STOCHASTIC, DETERMINISTIC, [150, 150, 150]];
        // The biased form's mean lies far off: it is in the numbers, not the histogram.
        let forms: Vec<&Estimates> = self.forms.iter().take(3).collect();
        let losses: Vec<&Estimates> = self.losses.iter().collect();
        let mut figure = Figure {
            panels: vec![
                Panel {
                    title: "one-chain ELBO estimates".into(),
                    x_label: "ELBO estimate (nats)".into(),
                    y_label: "density".into(),
                    series: histograms(&forms, &colors),
                    ..Panel::default()
                },
                Panel {
                    title: "Su: one loss, two ways".into(),
                    x_label: "loss".into(),
                    y_label: "density".into(),
                    series: histograms(&losses, &colors),
                    ..Panel::default()
                },
            ],
            ..Figure::default()
        };
        for set in self.forms.iter().chain(&self.losses) {
            let (mean, error) = set.mean_and_error();
            figure.number(format!("{}: mean", set.name), mean, "");
            figure.number(format!("{}: standard error", set.name), error, "");
            figure.number(format!("{}: variance", set.name), set.variance(), "");
        }
        figure.number(
            "variance ratio, consistency / denoising matching",
            self.variance_ratio(),
            "",
        );
        figure.number("variance ratio, two noises / merged", self.loss_variance_ratio(), "");
        figure
    }
}
