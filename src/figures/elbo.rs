//! The ELBO term by term (Ho et al. 2020, eq. 5), for one x0 of the mixture
//! under its exact denoiser: L_T = KL(q(x_T|x0) ‖ N(0, I)), each
//! L_{t−1} = KL(q(x_{t−1}|x_t, x0) ‖ p(x_{t−1}|x_t)), and L_0 = −log p(x0|x1),
//! in bits per dimension. Along the reverse process, the bits spent so far
//! (rate) against the error of x_θ (distortion) is DDPM's Figure 5. Lin et al.'s
//! zero-terminal-SNR rescaling makes √ᾱ_T = 0 and so L_T = 0.

use super::Inputs;
use super::common::{self, DETERMINISTIC, STOCHASTIC};
use super::data::{Figure, Panel, Point, Series};
use super::error::{FigureError, Result};
use crate::diffusion::elbo::{Decoder, ElboConfig, ElboTerms, elbo_terms};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::{Denoiser, NoiseLevel, NoiseRng, Schedule, ScheduleConfig, ScheduleKind};
use crate::jobs::JobContext;

/// Bars for the L_{t−1} terms, each summing T / BINS of them.
pub const BINS: usize = 10;
/// Rate–distortion is measured every this many t.
const RD_EVERY: usize = 10;
/// Noise draws averaged per rate–distortion point.
const RD_DRAWS: usize = 64;

/// What the bound is computed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// The schedule.
    pub kind: ScheduleKind,
    /// Rescale it to zero terminal SNR (Lin et al. 2024).
    pub zero_terminal_snr: bool,
    /// Draws x0 and the noise.
    pub seed: u64,
}

impl Default for Setup {
    /// The linear schedule, no rescaling.
    fn default() -> Self {
        Self {
            kind: ScheduleKind::Linear,
            zero_terminal_snr: false,
            seed: 1,
        }
    }
}

figure_setup!(Setup, {
    kind => "schedule": "the noise schedule: linear, scaled-linear, cosine, sigmoid",
    zero_terminal_snr => "zero-terminal-snr": "rescale to ᾱ_T = 0: true or false",
    seed => "seed": "draws x0 and the noise",
});

/// The bound and the rate–distortion curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Bound {
    /// Every term, in nats.
    pub terms: ElboTerms,
    /// √ᾱ_T of the schedule used.
    pub sqrt_alpha_bar_last: f64,
    /// (rate in bits, RMS distortion) from t = T down to t = 1.
    pub rate_distortion: Vec<Point>,
    /// The data point.
    pub x0: Point,
}

/// The bound for one x0 of the mixture, and its rate–distortion curve.
///
/// # Errors
/// A bad schedule; cancelled.
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<Bound> {
    let mixture = inputs.mixture.as_ref();
    let config = ScheduleConfig {
        zero_terminal_snr: setup.zero_terminal_snr,
        ..ScheduleConfig::of_kind(setup.kind)
    };
    let schedule = Schedule::new(&config)?;
    let mut rng = NoiseRng::seed_from(setup.seed);
    let (x0, _) = mixture.sample(1, None, &mut rng)?;
    let x0 = x0.squeeze(0)?;
    let elbo = ElboConfig {
        decoder: Decoder::Gaussian,
        ..ElboConfig::default()
    };
    let keep_going = || !job.is_cancelled();
    let terms = elbo_terms(&schedule, mixture, &x0, None, elbo, &mut rng, &keep_going)?;
    common::check(job)?;
    let x0 = common::points(&x0.unsqueeze(0)?)?
        .first()
        .copied()
        .ok_or_else(|| FigureError::Other("the mixture drew no point".into()))?;
    let rate_distortion = rate_distortion(mixture, &schedule, &terms, x0, &mut rng)?;
    Ok(Bound {
        sqrt_alpha_bar_last: schedule.alpha_bar(schedule.train_steps()).sqrt(),
        terms,
        rate_distortion,
        x0,
    })
}

/// Rate (bits spent from L_T down to step t) and the RMS error of x_θ(x_t) over
/// [`RD_DRAWS`] noise draws, every [`RD_EVERY`] t.
fn rate_distortion(
    mixture: &GaussianMixture,
    schedule: &Schedule,
    terms: &ElboTerms,
    x0: Point,
    rng: &mut NoiseRng,
) -> Result<Vec<Point>> {
    let big_t = schedule.train_steps();
    let mut rate_nats = terms.prior_nats;
    let mut curve = Vec::new();
    for t in (1..=big_t).rev() {
        if t < big_t {
            // Reaching level t spent L_t (the term of step t + 1).
            rate_nats += terms.step_term(t + 1).unwrap_or(0.0);
        }
        if t % RD_EVERY != 0 && t != 1 {
            continue;
        }
        let alpha_bar = schedule.alpha_bar(t);
        let (a, s) = (alpha_bar.sqrt(), (1.0 - alpha_bar).sqrt());
        let x_t: Vec<Point> = (0..RD_DRAWS)
            .map(|_| [a * x0[0] + s * rng.normal(), a * x0[1] + s * rng.normal()])
            .collect();
        let x_t = common::tensor(&x_t)?;
        let level = NoiseLevel { t: t as f64, alpha_bar };
        let out = mixture.predict(&x_t, level, None)?;
        let x0_hat = common::points(&out.prediction.x0(&x_t, alpha_bar)?)?;
        let squared: f64 = x0_hat
            .iter()
            .map(|e| (e[0] - x0[0]).powi(2) + (e[1] - x0[1]).powi(2))
            .sum();
        let distortion = (squared / (2.0 * RD_DRAWS as f64)).sqrt();
        curve.push([rate_nats / std::f64::consts::LN_2, distortion]);
    }
    Ok(curve)
}

/// Nats of the whole bound for `dims` dimensions → bits per dimension.
#[must_use]
pub fn bits_per_dim(nats: f64, dims: usize) -> f64 {
    nats / (dims as f64 * std::f64::consts::LN_2)
}

/// (position, bits/dim, name) of each bar: L_0, the L_{t−1} in [`BINS`] groups, L_T.
#[must_use]
pub fn bars(terms: &ElboTerms) -> Vec<(f64, f64, String)> {
    let dims = terms.dims;
    let per_bin = terms.step_nats.len().div_ceil(BINS).max(1);
    let mut bars = vec![(0.0, bits_per_dim(terms.decoder_nats, dims), "L_0".to_owned())];
    for (i, chunk) in terms.step_nats.chunks(per_bin).enumerate() {
        let first_t = i * per_bin + 2;
        let last_t = first_t + chunk.len() - 1;
        bars.push((
            (i + 1) as f64,
            bits_per_dim(chunk.iter().sum(), dims),
            format!("L_(t−1), t = {first_t}..{last_t}"),
        ));
    }
    bars.push((
        (BINS + 1) as f64,
        bits_per_dim(terms.prior_nats, dims),
        "L_T".to_owned(),
    ));
    bars
}

impl Bound {
    /// Σ L_{t−1} in bits per dimension.
    #[must_use]
    pub fn steps_bits_per_dim(&self) -> f64 {
        bits_per_dim(self.terms.step_nats.iter().sum(), self.terms.dims)
    }

    /// The bars and the rate–distortion curve, and the bound's parts.
    #[must_use]
    pub fn figure(&self) -> Figure {
        let terms = &self.terms;
        let bars = bars(terms).into_iter().map(|(x, y, _)| [x, y]).collect();
        let mut figure = Figure {
            panels: vec![
                Panel {
                    title: "the bound term by term".into(),
                    x_label: "L_0 · L_(t−1) in 10 groups of t · L_T".into(),
                    y_label: "bits/dim".into(),
                    series: vec![Series::bars("terms", DETERMINISTIC, bars)],
                    ..Panel::default()
                },
                Panel {
                    title: "rate against distortion".into(),
                    x_label: "rate: bits spent from t = T (bits)".into(),
                    y_label: "distortion: RMS error of x_θ (data units)".into(),
                    series: vec![Series::line(
                        "reverse process",
                        STOCHASTIC,
                        self.rate_distortion.clone(),
                    )],
                    ..Panel::default()
                },
            ],
            ..Figure::default()
        };
        figure.number("x0.x", self.x0[0], "");
        figure.number("x0.y", self.x0[1], "");
        figure.number("√ᾱ_T", self.sqrt_alpha_bar_last, "");
        figure.number("total", terms.bits_per_dim(), "bits/dim");
        figure.number("L_T", bits_per_dim(terms.prior_nats, terms.dims), "bits/dim");
        figure.number("Σ L_(t−1)", self.steps_bits_per_dim(), "bits/dim");
        figure.number("L_0", bits_per_dim(terms.decoder_nats, terms.dims), "bits/dim");
        figure
    }
}
