//! Tweedie's formula, named (Luo 2022;
//! `shared/seeds/000_9adf4b751b0c0e64.txt`, lines 600–620): for
//! q(x_t|x0) = N(√ᾱ_t x0, (1−ᾱ_t) I),
//! E[x0|x_t] = (x_t + (1−ᾱ_t) ∇log p_t(x_t)) / √ᾱ_t.
//!
//! On the exact three-blob mixture the score is known, so the formula's right
//! side is computed from it, and its left side independently, by Bayes per
//! component ([`GaussianMixture::posterior_mean`]); the two agree to rounding.
//! The posterior mean is the best guess of x0 in squared error: the scene
//! compares it, at every t, with the naive inversion x_t/√ᾱ_t (Tweedie without
//! the score) and with the data mean (the guess that ignores x_t). The
//! four-parameterizations scene's x_θ arrow points at √ᾱ_t E[x0|x_t].

use super::Inputs;
use super::common::{self, DETERMINISTIC, STOCHASTIC, check, density_backdrop};
use super::data::{Backdrop, Figure, Panel, Point, Series};
use super::error::{FigureError, Result};
use crate::diffusion::NoiseRng;
use crate::diffusion::mixture::GaussianMixture;
use crate::jobs::JobContext;

/// Where the particles are noised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// The noise level t of the linear schedule (1 to T).
    pub t: usize,
    /// Particles drawn on the plane.
    pub particles: usize,
    /// Draws the data points and the noise.
    pub seed: u64,
}

impl Default for Setup {
    /// t = 300, 40 particles.
    fn default() -> Self {
        Self {
            t: 300,
            particles: 40,
            seed: 3,
        }
    }
}

figure_setup!(Setup, {
    t => "t": "the noise level, 1 to T",
    particles => "particles": "particles on the plane, 1 to 2000",
    seed => "seed": "draws x0 and the noise",
});

/// Data points behind the squared-error curves (more than are drawn, so the curves are smooth).
const ERROR_PARTICLES: usize = 2000;
/// t values of the squared-error curves.
const ERROR_TS: usize = 60;

/// One t's mean squared errors of the three guesses of x0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Errors {
    /// The noise level.
    pub t: usize,
    /// E‖x0 − E[x0|x_t]‖².
    pub posterior_mean: f64,
    /// E‖x0 − x_t/√ᾱ_t‖².
    pub naive: f64,
    /// E‖x0 − E[x0]‖².
    pub data_mean: f64,
}

/// What the scene shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Tweedie {
    /// The noise level shown on the plane.
    pub t: usize,
    /// ᾱ_t.
    pub alpha_bar: f64,
    /// The data points.
    pub x0: Vec<Point>,
    /// Their noised versions.
    pub x_t: Vec<Point>,
    /// (x_t + (1−ᾱ_t) ∇log p_t(x_t)) / √ᾱ_t.
    pub tweedie: Vec<Point>,
    /// E[x0|x_t] by Bayes, component by component.
    pub bayes: Vec<Point>,
    /// The three guesses' errors at t values from 1 to T.
    pub errors: Vec<Errors>,
    /// Their errors at the shown t.
    pub errors_at_t: Errors,
    /// p_t behind the particles.
    pub backdrop: Backdrop,
}

/// Noises the particles, applies both sides of the formula, and measures the
/// guesses on 2000 data points (the first `particles` of them are drawn).
///
/// # Errors
/// t or the particle count out of range; [`FigureError::Cancelled`].
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<Tweedie> {
    let (mixture, schedule) = (&inputs.mixture, &inputs.schedule);
    if setup.t == 0 || setup.t > schedule.train_steps() {
        return Err(FigureError::bad_value("t", &setup.t.to_string(), "must be in 1..=T"));
    }
    if !(1..=2000).contains(&setup.particles) {
        return Err(FigureError::bad_value(
            "particles",
            &setup.particles.to_string(),
            "between 1 and 2000",
        ));
    }
    let mut rng = NoiseRng::seed_from(setup.seed);
    let (x0, noise) = draw(mixture, ERROR_PARTICLES.max(setup.particles), &mut rng)?;
    let alpha_bar = schedule.alpha_bar(setup.t);
    let shown = setup.particles;
    let x_t = noised(&x0[..shown], &noise[..shown], alpha_bar);
    let (tweedie, bayes) = (
        tweedie_mean(mixture, &x_t, alpha_bar)?,
        common::points(&mixture.posterior_mean(&common::tensor_f64(&x_t)?, alpha_bar, None)?)?,
    );
    let data_mean = mean(&x0);
    let mut errors = Vec::with_capacity(ERROR_TS);
    for i in 0..ERROR_TS {
        check(job)?;
        let big_t = schedule.train_steps();
        let t = 1 + (big_t - 1) * i / (ERROR_TS - 1);
        errors.push(guess_errors(mixture, &x0, &noise, t, schedule.alpha_bar(t), data_mean)?);
    }
    let errors_at_t = guess_errors(mixture, &x0, &noise, setup.t, alpha_bar, data_mean)?;
    Ok(Tweedie {
        t: setup.t,
        errors_at_t,
        alpha_bar,
        x0: x0[..shown].to_vec(),
        x_t,
        tweedie,
        bayes,
        errors,
        backdrop: density_backdrop(mixture, alpha_bar)?,
    })
}

fn draw(mixture: &GaussianMixture, n: usize, rng: &mut NoiseRng) -> Result<(Vec<Point>, Vec<Point>)> {
    let (x0, _) = mixture.sample(n, None, rng)?;
    let noise = (0..n).map(|_| [rng.normal(), rng.normal()]).collect();
    Ok((common::points(&x0)?, noise))
}

fn noised(x0: &[Point], noise: &[Point], alpha_bar: f64) -> Vec<Point> {
    let (a, s) = (alpha_bar.sqrt(), (1.0 - alpha_bar).sqrt());
    x0.iter()
        .zip(noise)
        .map(|(x, e)| [a * x[0] + s * e[0], a * x[1] + s * e[1]])
        .collect()
}

/// Tweedie's right side, from the exact score.
fn tweedie_mean(mixture: &GaussianMixture, x_t: &[Point], alpha_bar: f64) -> Result<Vec<Point>> {
    let score = common::points(&mixture.score(&common::tensor_f64(x_t)?, alpha_bar, None)?)?;
    let (a, var) = (alpha_bar.sqrt(), 1.0 - alpha_bar);
    Ok(x_t
        .iter()
        .zip(&score)
        .map(|(x, s)| [(x[0] + var * s[0]) / a, (x[1] + var * s[1]) / a])
        .collect())
}

fn guess_errors(
    mixture: &GaussianMixture,
    x0: &[Point],
    noise: &[Point],
    t: usize,
    alpha_bar: f64,
    data_mean: Point,
) -> Result<Errors> {
    let x_t = noised(x0, noise, alpha_bar);
    let posterior = tweedie_mean(mixture, &x_t, alpha_bar)?;
    let naive: Vec<Point> = x_t
        .iter()
        .map(|x| [x[0] / alpha_bar.sqrt(), x[1] / alpha_bar.sqrt()])
        .collect();
    let constant = vec![data_mean; x0.len()];
    Ok(Errors {
        t,
        posterior_mean: mean_squared_error(x0, &posterior),
        naive: mean_squared_error(x0, &naive),
        data_mean: mean_squared_error(x0, &constant),
    })
}

fn mean(points: &[Point]) -> Point {
    let n = points.len().max(1) as f64;
    let sum = points.iter().fold([0.0, 0.0], |s, p| [s[0] + p[0], s[1] + p[1]]);
    [sum[0] / n, sum[1] / n]
}

/// The mean over rows of ‖a − b‖².
#[must_use]
pub fn mean_squared_error(a: &[Point], b: &[Point]) -> f64 {
    let total: f64 = a
        .iter()
        .zip(b)
        .map(|(p, q)| (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2))
        .sum();
    total / a.len().max(1) as f64
}

impl Tweedie {
    /// The largest distance between the formula's two sides.
    #[must_use]
    pub fn largest_gap(&self) -> f64 {
        self.tweedie
            .iter()
            .zip(&self.bayes)
            .map(|(p, q)| (p[0] - q[0]).hypot(p[1] - q[1]))
            .fold(0.0, f64::max)
    }

    /// The plane with x_t → E[x0|x_t], and the three guesses' errors against t.
    #[must_use]
    pub fn figure(&self) -> Figure {
        let mut plane = Panel::plane(
            format!("x_t → E[x0|x_t] at t = {}", self.t),
            vec![
                Series::points("x0", [150, 150, 150], self.x0.clone()),
                Series::points("x_t", STOCHASTIC, self.x_t.clone()),
                Series::arrows("Tweedie's E[x0|x_t]", DETERMINISTIC, &self.x_t, &self.tweedie),
            ],
        );
        plane.backdrop = Some(self.backdrop.clone());
        let curve = |f: fn(&Errors) -> f64| -> Vec<Point> {
            self.errors
                .iter()
                .map(|e| [e.t as f64, f(e).max(1e-12).log10()])
                .collect()
        };
        let errors = Panel {
            title: "the best guess of x0, by t".into(),
            x_label: "t (training step)".into(),
            y_label: "log₁₀ mean ‖x0 − guess‖²".into(),
            series: vec![
                Series::line("x_t/√ᾱ_t (no score)", STOCHASTIC, curve(|e| e.naive)),
                Series::line("E[x0] (ignores x_t)", [150, 150, 150], curve(|e| e.data_mean)),
                Series::line("E[x0|x_t] (Tweedie)", DETERMINISTIC, curve(|e| e.posterior_mean)),
            ],
            ..Panel::default()
        };
        let mut figure = Figure {
            panels: vec![plane, errors],
            ..Figure::default()
        };
        figure.number("t", self.t as f64, "");
        figure.number("ᾱ_t", self.alpha_bar, "");
        figure.number("largest |Tweedie − Bayes|", self.largest_gap(), "data units");
        let e = self.errors_at_t;
        figure.number("mean squared error of E[x0|x_t]", e.posterior_mean, "data units²");
        figure.number("mean squared error of x_t/√ᾱ_t", e.naive, "data units²");
        figure.number("mean squared error of E[x0]", e.data_mean, "data units²");
        figure
    }
}
