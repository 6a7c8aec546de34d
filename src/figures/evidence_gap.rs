//! The ELBO and the evidence gap (Luo 2022, eq. 15;
//! `shared/seeds/000_9adf4b751b0c0e64.txt`, lines 56–90):
//! log p(x) = E_q[log p(x, z)/q(z|x)] + KL(q(z|x) ‖ p(z|x)).
//!
//! On a 1D latent model with an exact posterior ([`super::latent_model`]), a
//! Gaussian q(z|x) is set by its mean and spread, and optionally moved by
//! gradient ascent on the ELBO. The evidence, the ELBO and the KL are printed
//! and drawn; the ELBO and the KL are swept over q's mean (the gap closes where
//! q meets the posterior); and Jensen's inequality is shown by Monte Carlo:
//! the mean of log w, w = p(x, z)/q(z|x) with z ~ q, tends to the ELBO, while
//! the log of the mean of w tends to log p(x) (lines 58–70).

use super::common::{DETERMINISTIC, STOCHASTIC, check};
use super::data::{Figure, Panel, Point, Series};
use super::error::{FigureError, Result};
use super::latent_model::{Gaussian1d, GaussianQ, LatentModel, log_sum_exp, mixture_log_density};
use crate::diffusion::NoiseRng;
use crate::jobs::JobContext;

/// Which prior the latent model has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prior {
    /// p(z) = N(0, 1), p(x|z) = N(2z, 0.5²): the posterior is Gaussian, so q can reach it.
    Gaussian,
    /// p(z) = ½ N(−2, 0.6²) + ½ N(2, 0.6²), p(x|z) = N(z, 2): the posterior has
    /// two modes, and no Gaussian q closes the gap.
    TwoModes,
}

named_enum!(Prior, "prior", [Gaussian => "gaussian", TwoModes => "two-modes"]);

impl Prior {
    /// The latent model with this prior.
    #[must_use]
    pub fn model(self) -> LatentModel {
        match self {
            Self::Gaussian => LatentModel {
                prior: vec![Gaussian1d {
                    weight: 1.0,
                    mean: 0.0,
                    var: 1.0,
                }],
                slope: 2.0,
                noise_var: 0.25,
            },
            Self::TwoModes => LatentModel {
                prior: [-2.0, 2.0]
                    .map(|mean| Gaussian1d {
                        weight: 0.5,
                        mean,
                        var: 0.36,
                    })
                    .to_vec(),
                slope: 1.0,
                noise_var: 2.0,
            },
        }
    }
}

/// The model, the observation and q.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Setup {
    /// The latent model's prior (and its likelihood).
    pub prior: Prior,
    /// The observed x.
    pub x: f64,
    /// q(z|x)'s mean before fitting.
    pub q_mean: f64,
    /// q(z|x)'s standard deviation before fitting (> 0).
    pub q_std: f64,
    /// Gradient-ascent steps on the ELBO over q's mean and log-spread (0: q as set).
    pub fit_steps: usize,
    /// Monte Carlo draws z ~ q for the Jensen panel.
    pub samples: usize,
    /// The Monte Carlo draws' seed.
    pub seed: u64,
}

impl Default for Setup {
    /// The Gaussian prior, x = 0.5, q equal to the prior, no fitting, 4096 draws.
    fn default() -> Self {
        Self {
            prior: Prior::Gaussian,
            x: 0.5,
            q_mean: 0.0,
            q_std: 1.0,
            fit_steps: 0,
            samples: 4096,
            seed: 1,
        }
    }
}

figure_setup!(Setup, {
    prior => "prior": "the latent model: gaussian or two-modes",
    x => "x": "the observed x",
    q_mean => "q-mean": "q(z|x)'s mean before fitting",
    q_std => "q-std": "q(z|x)'s standard deviation before fitting (> 0)",
    fit_steps => "fit-steps": "gradient steps on the ELBO from there (0 to 10000)",
    samples => "samples": "Monte Carlo draws z ~ q (1 to 1000000)",
    seed => "seed": "the draws' seed",
});

/// The largest gradient step's size, in q's mean and log-spread.
const LEARNING_RATE: f64 = 1.0;
/// The finite-difference step of the ELBO's gradient.
const GRADIENT_STEP: f64 = 1e-5;
/// Points of each density curve and of the sweep.
const CURVE_POINTS: usize = 301;

/// What the scene shows.
#[derive(Clone, Debug, PartialEq)]
pub struct EvidenceGap {
    /// The setup it was computed for.
    pub setup: Setup,
    /// The model.
    pub model: LatentModel,
    /// q as set.
    pub q_start: GaussianQ,
    /// q after the gradient steps (`q_start` with none).
    pub q: GaussianQ,
    /// The ELBO after each gradient step, the first before any.
    pub fit_elbos: Vec<f64>,
    /// log p(x), in closed form.
    pub log_evidence: f64,
    /// The ELBO of `q`.
    pub elbo: f64,
    /// KL(q ‖ p(z|x)).
    pub kl: f64,
    /// log w = log p(x, z) − log q(z|x) for each draw z ~ q.
    pub log_weights: Vec<f64>,
    /// The posterior's mean and standard deviation.
    pub posterior_moments: (f64, f64),
    /// (q's mean, ELBO, KL) with q's mean swept over the posterior mean ± 3
    /// and its spread that of `q`.
    pub sweep: Vec<[f64; 3]>,
}

/// The scene's numbers for `setup`.
///
/// # Errors
/// A value out of range; [`FigureError::Cancelled`].
pub fn compute(setup: &Setup, job: &JobContext) -> Result<EvidenceGap> {
    validate(setup)?;
    let model = setup.prior.model();
    let q_start = GaussianQ {
        mean: setup.q_mean,
        std: setup.q_std,
    };
    let (q, fit_elbos) = fit(&model, setup.x, q_start, setup.fit_steps, job)?;
    let posterior_moments = model.posterior_moments(setup.x);
    let sweep = sweep(&model, setup.x, q, posterior_moments.0, job)?;
    let mut rng = NoiseRng::seed_from(setup.seed);
    let log_weights = (0..setup.samples)
        .map(|_| {
            let z = q.mean + q.std * rng.normal();
            model.log_joint(setup.x, z) - q.log_density(z)
        })
        .collect();
    Ok(EvidenceGap {
        setup: *setup,
        log_evidence: model.log_evidence(setup.x),
        elbo: model.elbo(setup.x, q),
        kl: model.kl_to_posterior(setup.x, q),
        posterior_moments,
        sweep,
        model,
        q_start,
        q,
        fit_elbos,
        log_weights,
    })
}

/// The ELBO and the KL with q's mean moved over `centre` ± 3, its spread kept.
fn sweep(model: &LatentModel, x: f64, q: GaussianQ, centre: f64, job: &JobContext) -> Result<Vec<[f64; 3]>> {
    (0..CURVE_POINTS)
        .map(|i| {
            check(job)?;
            let mean = centre - 3.0 + 6.0 * i as f64 / (CURVE_POINTS - 1) as f64;
            let moved = GaussianQ { mean, std: q.std };
            Ok([mean, model.elbo(x, moved), model.kl_to_posterior(x, moved)])
        })
        .collect()
}

fn validate(setup: &Setup) -> Result<()> {
    let bad = |key: &str, value: String, reason: &str| Err(FigureError::bad_value(key, &value, reason));
    if !setup.x.is_finite() || setup.x.abs() > 100.0 {
        return bad("x", setup.x.to_string(), "x must be a number within ±100");
    }
    if !setup.q_mean.is_finite() || setup.q_mean.abs() > 100.0 {
        return bad(
            "q-mean",
            setup.q_mean.to_string(),
            "the mean must be a number within ±100",
        );
    }
    if !(setup.q_std.is_finite() && (1e-3..=100.0).contains(&setup.q_std)) {
        return bad(
            "q-std",
            setup.q_std.to_string(),
            "the spread must be between 0.001 and 100",
        );
    }
    if setup.fit_steps > 10_000 {
        return bad("fit-steps", setup.fit_steps.to_string(), "at most 10000 steps");
    }
    if !(1..=1_000_000).contains(&setup.samples) {
        return bad("samples", setup.samples.to_string(), "between 1 and 1000000 draws");
    }
    Ok(())
}

/// `steps` of gradient ascent on the ELBO over (mean, log std). Each step tries
/// twice the last step's size and halves it until the ELBO does not fall, so
/// it neither diverges nor crawls.
fn fit(model: &LatentModel, x: f64, start: GaussianQ, steps: usize, job: &JobContext) -> Result<(GaussianQ, Vec<f64>)> {
    let elbo_of = |mean: f64, log_std: f64| {
        model.elbo(
            x,
            GaussianQ {
                mean,
                std: log_std.exp(),
            },
        )
    };
    let (mut mean, mut log_std) = (start.mean, start.std.ln());
    let mut current = elbo_of(mean, log_std);
    let mut elbos = vec![current];
    let mut rate = LEARNING_RATE / 2.0;
    for step in 0..steps {
        check(job)?;
        if step % 25 == 0 {
            job.report(format!("gradient step {step}/{steps}"));
        }
        let h = GRADIENT_STEP;
        let d_mean = (elbo_of(mean + h, log_std) - elbo_of(mean - h, log_std)) / (2.0 * h);
        let d_log_std = (elbo_of(mean, log_std + h) - elbo_of(mean, log_std - h)) / (2.0 * h);
        rate = (2.0 * rate).min(LEARNING_RATE);
        loop {
            let (next_mean, next_log_std) = (mean + rate * d_mean, (log_std + rate * d_log_std).clamp(-6.9, 4.6));
            let next = elbo_of(next_mean, next_log_std);
            if next >= current {
                (mean, log_std, current) = (next_mean, next_log_std, next);
                break;
            }
            rate *= 0.5;
            if rate < 1e-12 {
                // At the optimum to rounding: no step helps; stay.
                break;
            }
        }
        elbos.push(current);
    }
    Ok((
        GaussianQ {
            mean,
            std: log_std.exp(),
        },
        elbos,
    ))
}

impl EvidenceGap {
    /// The mean of log w over the draws, and its standard error.
    #[must_use]
    pub fn monte_carlo_elbo(&self) -> (f64, f64) {
        super::common::mean_and_standard_error(&self.log_weights)
    }

    /// log of the mean of w over the first `count` draws.
    #[must_use]
    pub fn log_mean_weight(&self, count: usize) -> f64 {
        let draws = &self.log_weights[..count.min(self.log_weights.len())];
        log_sum_exp(draws) - (draws.len().max(1) as f64).ln()
    }

    /// The densities, the three numbers as bars, the sweep over q's mean and Jensen's panel.
    #[must_use]
    pub fn figure(&self) -> Figure {
        let mut figure = Figure {
            panels: vec![
                self.densities_panel(),
                self.bars_panel(),
                self.sweep_panel(),
                self.jensen_panel(),
            ],
            ..Figure::default()
        };
        let (mc_elbo, mc_error) = self.monte_carlo_elbo();
        let (post_mean, post_std) = self.posterior_moments;
        for (name, value, unit) in [
            ("log p(x)", self.log_evidence, "nats"),
            ("ELBO", self.elbo, "nats"),
            ("KL(q ‖ p(z|x))", self.kl, "nats"),
            ("ELBO + KL − log p(x)", self.elbo + self.kl - self.log_evidence, "nats"),
            ("Monte Carlo mean of log w", mc_elbo, "nats"),
            ("its standard error", mc_error, "nats"),
            (
                "log of the mean of w",
                self.log_mean_weight(self.log_weights.len()),
                "nats",
            ),
            ("q's mean", self.q.mean, "latent units"),
            ("q's standard deviation", self.q.std, "latent units"),
            ("posterior mean", post_mean, "latent units"),
            ("posterior standard deviation", post_std, "latent units"),
        ] {
            figure.number(name, value, unit);
        }
        figure.number("gradient steps", self.fit_elbos.len().saturating_sub(1) as f64, "");
        figure
    }

    fn z_range(&self) -> (f64, f64) {
        let (post_mean, post_std) = self.posterior_moments;
        let spans = [
            (self.q.mean, self.q.std),
            (self.q_start.mean, self.q_start.std),
            (post_mean, post_std),
            (0.0, 1.0),
        ];
        let lo = spans.iter().map(|(m, s)| m - 3.5 * s).fold(f64::INFINITY, f64::min);
        let hi = spans.iter().map(|(m, s)| m + 3.5 * s).fold(f64::NEG_INFINITY, f64::max);
        (lo.max(-12.0), hi.min(12.0))
    }

    fn curve(&self, log_density: impl Fn(f64) -> f64) -> Vec<Point> {
        let (lo, hi) = self.z_range();
        (0..CURVE_POINTS)
            .map(|i| {
                let z = lo + (hi - lo) * i as f64 / (CURVE_POINTS - 1) as f64;
                [z, log_density(z).exp()]
            })
            .collect()
    }

    fn densities_panel(&self) -> Panel {
        let posterior = self.model.posterior(self.setup.x);
        let mut series = vec![
            Series::line("prior p(z)", GREY, self.curve(|z| self.model.log_prior(z))),
            Series::line(
                "posterior p(z|x)",
                DETERMINISTIC,
                self.curve(|z| mixture_log_density(&posterior, z)),
            ),
        ];
        if self.q != self.q_start {
            series.push(Series::line(
                "q as set",
                FAINT,
                self.curve(|z| self.q_start.log_density(z)),
            ));
        }
        series.push(Series::line(
            "q(z|x)",
            STOCHASTIC,
            self.curve(|z| self.q.log_density(z)),
        ));
        Panel {
            title: format!("densities over z, x = {}", self.setup.x),
            x_label: "z (latent)".into(),
            y_label: "density".into(),
            series,
            ..Panel::default()
        }
    }

    fn bars_panel(&self) -> Panel {
        Panel {
            title: "log p(x) = ELBO + KL".into(),
            x_label: "0 log p(x) · 1 ELBO · 2 KL".into(),
            y_label: "nats".into(),
            series: vec![
                Series::bars("log p(x)", GREY, vec![[0.0, self.log_evidence]]),
                Series::bars("ELBO", STOCHASTIC, vec![[1.0, self.elbo]]),
                Series::bars("KL(q ‖ p(z|x))", DETERMINISTIC, vec![[2.0, self.kl]]),
            ],
            ..Panel::default()
        }
    }

    fn sweep_panel(&self) -> Panel {
        let (lo, hi) = (
            self.sweep.first().map_or(0.0, |p| p[0]),
            self.sweep.last().map_or(0.0, |p| p[0]),
        );
        let elbo = self.sweep.iter().map(|p| [p[0], p[1]]).collect();
        let kl = self.sweep.iter().map(|p| [p[0], p[2]]).collect();
        Panel {
            title: format!("over q's mean, spread {:.3}", self.q.std),
            x_label: "q's mean (latent)".into(),
            y_label: "nats".into(),
            series: vec![
                Series::line("log p(x)", GREY, vec![[lo, self.log_evidence], [hi, self.log_evidence]]),
                Series::line("ELBO", STOCHASTIC, elbo),
                Series::line("KL", DETERMINISTIC, kl),
                Series::points("q", MARKER, vec![[self.q.mean, self.elbo]]),
            ],
            ..Panel::default()
        }
    }

    fn jensen_panel(&self) -> Panel {
        let mut mean_log = Vec::new();
        let mut log_mean = Vec::new();
        let mut count = 1;
        while count <= self.log_weights.len() {
            let k = count as f64;
            mean_log.push([k.log2(), self.log_weights[..count].iter().sum::<f64>() / k]);
            log_mean.push([k.log2(), self.log_mean_weight(count)]);
            count *= 2;
        }
        let right = mean_log.last().map_or(0.0, |p| p[0]);
        Panel {
            title: "Jensen: log E[w] ≥ E[log w]".into(),
            x_label: "log₂ draws".into(),
            y_label: "nats".into(),
            series: vec![
                Series::line(
                    "log p(x)",
                    GREY,
                    vec![[0.0, self.log_evidence], [right, self.log_evidence]],
                ),
                Series::line("ELBO", FAINT, vec![[0.0, self.elbo], [right, self.elbo]]),
                Series::line("mean of log w", STOCHASTIC, mean_log),
                Series::line("log of mean w", DETERMINISTIC, log_mean),
            ],
            ..Panel::default()
        }
    }
}

/// The colour of the evidence and the prior.
const GREY: [u8; 3] = [150, 150, 150];
/// The colour of q before fitting and of the exact ELBO line.
const FAINT: [u8; 3] = [230, 200, 120];
/// The colour of q's own point on the sweep.
const MARKER: [u8; 3] = [220, 60, 60];
