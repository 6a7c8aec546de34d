//! The variational bound, term by term (Ho et al. 2020, eq. 5; Sohl-Dickstein et al. 2015).
//!
//! −log p(x_0) ≤ L_T + Σ_{t=2}^{T} L_{t−1} + L_0, with
//! - L_T = KL(q(x_T | x_0) ‖ N(0, I));
//! - L_{t−1} = KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t)), both Gaussian, so closed form:
//!   ½ Σ_d [log(σ_p²/σ_q²) + (σ_q² + (μ_q − μ_p)²)/σ_p² − 1], where
//!   μ_q = μ̃(x_t, x_0), σ_q² = β̃_t and μ_p = μ̃(x_t, x̂0) (Ho et al. eq. 7, 8);
//! - L_0 = −log p_θ(x_0 | x_1), a Gaussian discretized to the 256 bins of 8-bit
//!   data in [−1, 1], the edge bins reaching to ±∞ (Ho et al. eq. 13).
//!
//! Each L_{t−1} is evaluated at one x_t ~ q(x_t | x_0) drawn from the given RNG.
//! The total in bits per dimension divides the nats by D ln 2.

use candle_core::{DType, Tensor};

use super::denoiser::Denoiser;
use super::denoiser::NoiseLevel;
use super::error::{Result, invalid};
use super::noise::NoiseRng;
use super::param::Prediction;
use super::sampler::DdpmVariance;
use super::schedule::Schedule;

/// How L_0 models x_0 given x_1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Decoder {
    /// 8-bit data in [−1, 1]: a Gaussian integrated over each pixel's bin.
    #[default]
    Discretized8Bit,
    /// Continuous data (2D toys): the Gaussian density itself.
    Gaussian,
}

/// What the bound is computed with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ElboConfig {
    /// The reverse variance σ_t² of p_θ.
    pub variance: DdpmVariance,
    /// The decoder of L_0.
    pub decoder: Decoder,
}

/// Every term of the bound for one x_0, in nats.
#[derive(Clone, Debug, PartialEq)]
pub struct ElboTerms {
    /// L_T.
    pub prior_nats: f64,
    /// L_{t−1} for t = 2..=T, at index t − 2.
    pub step_nats: Vec<f64>,
    /// L_0.
    pub decoder_nats: f64,
    /// D, the number of dimensions of x_0.
    pub dims: usize,
}

impl ElboTerms {
    /// L_{t−1} for t in 2..=T.
    #[must_use]
    pub fn step_term(&self, t: usize) -> Option<f64> {
        t.checked_sub(2).and_then(|i| self.step_nats.get(i)).copied()
    }

    /// The whole bound in nats.
    #[must_use]
    pub fn total_nats(&self) -> f64 {
        self.prior_nats + self.step_nats.iter().sum::<f64>() + self.decoder_nats
    }

    /// The whole bound in bits per dimension.
    #[must_use]
    pub fn bits_per_dim(&self) -> f64 {
        let dims = self.dims as f64;
        self.total_nats() / (dims * std::f64::consts::LN_2)
    }
}

/// ½ Σ_d KL(N(μ_q, σ_q²) ‖ N(μ_p, σ_p²)) for diagonal Gaussians, in nats.
#[must_use]
pub fn gaussian_kl(mean_q: &[f64], var_q: &[f64], mean_p: &[f64], var_p: &[f64]) -> f64 {
    mean_q
        .iter()
        .zip(var_q)
        .zip(mean_p.iter().zip(var_p))
        .map(|((mq, vq), (mp, vp))| 0.5 * ((vp / vq).ln() + (vq + (mq - mp).powi(2)) / vp - 1.0))
        .sum()
}

/// −log of the probability a N(mean, std²) gives x's 8-bit bin (half width 1/255).
#[must_use]
pub fn discretized_gaussian_nll(x: f64, mean: f64, std: f64) -> f64 {
    const HALF_BIN: f64 = 1.0 / 255.0;
    let z = |edge: f64| (edge - mean) / (std * std::f64::consts::SQRT_2);
    // P(lo < X < hi) with the tails computed from erfc on the side where they are small.
    let upper_tail = |edge: f64| 0.5 * libm::erfc(z(edge));
    let lower_tail = |edge: f64| 0.5 * libm::erfc(-z(edge));
    let probability = if x < -0.999 {
        lower_tail(x + HALF_BIN)
    } else if x > 0.999 {
        upper_tail(x - HALF_BIN)
    } else if x - HALF_BIN > mean {
        upper_tail(x - HALF_BIN) - upper_tail(x + HALF_BIN)
    } else {
        lower_tail(x + HALF_BIN) - lower_tail(x - HALF_BIN)
    };
    -probability.max(1e-12).ln()
}

/// Rows evaluated per model call: a network evaluates many t in one batch.
const ROWS_PER_CALL: usize = 50;

/// Every term of the bound for the single example `x0` (any shape).
///
/// The T noised copies are evaluated [`ROWS_PER_CALL`] at a time through
/// [`Denoiser::predict_rows`]; `keep_going` is asked before each call, so a
/// caller can abandon the work part-way.
///
/// # Errors
/// Denoiser failures, T < 2, a learned variance the model lacks, or
/// [`super::Error::Cancelled`] when `keep_going` said no.
pub fn elbo_terms(
    schedule: &Schedule,
    model: &dyn Denoiser,
    x0: &Tensor,
    label: Option<u32>,
    config: ElboConfig,
    rng: &mut NoiseRng,
    keep_going: &dyn Fn() -> bool,
) -> Result<ElboTerms> {
    let big_t = schedule.train_steps();
    if big_t < 2 {
        return Err(invalid("the ELBO needs at least 2 training steps"));
    }
    let batch = x0.unsqueeze(0)?;
    let data = to_f64_vec(x0)?;
    // One x_t ~ q(x_t | x_0) per term: L_{t−1} for t = 2..=T, then L_0 at t = 1.
    let order: Vec<usize> = (2..=big_t).chain([1]).collect();
    let mut noised = Vec::with_capacity(order.len());
    for &t in &order {
        let noise = rng.randn_like(&batch)?;
        noised.push(super::sampler::add_noise(schedule, &batch, &noise, t)?);
    }
    let mut step_nats = Vec::with_capacity(big_t - 1);
    let mut decoder_nats = 0.0;
    for (chunk, x_chunk) in order.chunks(ROWS_PER_CALL).zip(noised.chunks(ROWS_PER_CALL)) {
        if !keep_going() {
            return Err(super::Error::Cancelled);
        }
        let levels: Vec<NoiseLevel> = chunk
            .iter()
            .map(|&t| NoiseLevel {
                t: t as f64,
                alpha_bar: schedule.alpha_bar(t),
            })
            .collect();
        let labels = label.map(|y| vec![y; chunk.len()]);
        let out = model.predict_rows(&Tensor::cat(x_chunk, 0)?, &levels, labels.as_deref())?;
        for (row, (&t, x_t)) in chunk.iter().zip(x_chunk).enumerate() {
            let value = out.prediction.value.narrow(0, row, 1)?;
            let alpha_bar = schedule.alpha_bar(t);
            let x0_hat = to_f64_vec(&Prediction::new(out.prediction.kind, value).x0(x_t, alpha_bar)?)?;
            let interp = out.variance_interp.as_ref().map(|v| v.narrow(0, row, 1)).transpose()?;
            let var_p = reverse_variance(schedule, t, config.variance, interp.as_ref(), data.len())?;
            if t == 1 {
                decoder_nats = decoder_nll(&data, &x0_hat, &var_p, config.decoder);
            } else {
                let x_t = to_f64_vec(x_t)?;
                let (c0, ct) = schedule.posterior_mean_coefficients(t);
                let mean_q: Vec<f64> = data.iter().zip(&x_t).map(|(x0, xt)| c0 * x0 + ct * xt).collect();
                let mean_p: Vec<f64> = x0_hat.iter().zip(&x_t).map(|(x0, xt)| c0 * x0 + ct * xt).collect();
                let var_q = vec![schedule.posterior_variance(t); data.len()];
                step_nats.push(gaussian_kl(&mean_q, &var_q, &mean_p, &var_p));
            }
        }
    }
    let alpha_bar_t = schedule.alpha_bar(big_t);
    let prior_var = vec![1.0 - alpha_bar_t; data.len()];
    let prior_mean: Vec<f64> = data.iter().map(|x| alpha_bar_t.sqrt() * x).collect();
    let prior_nats = gaussian_kl(&prior_mean, &prior_var, &vec![0.0; data.len()], &vec![1.0; data.len()]);
    Ok(ElboTerms {
        prior_nats,
        step_nats,
        decoder_nats,
        dims: data.len(),
    })
}

/// σ_t² of p_θ(x_{t−1} | x_t) per element. β̃_1 = 0, so t = 1 uses β̃_2, as
/// Improved DDPM's clipped log-variance does.
fn reverse_variance(
    schedule: &Schedule,
    t: usize,
    variance: DdpmVariance,
    interp: Option<&Tensor>,
    dims: usize,
) -> Result<Vec<f64>> {
    let large = schedule.beta(t);
    let small = schedule.posterior_variance(if t == 1 { 2 } else { t });
    Ok(match variance {
        DdpmVariance::Large => vec![large; dims],
        DdpmVariance::Small => vec![small; dims],
        DdpmVariance::Learned => {
            let v = interp.ok_or_else(|| invalid("learned variance needs a model that predicts it"))?;
            to_f64_vec(v)?
                .into_iter()
                .map(|v| {
                    let frac = (v + 1.0) / 2.0;
                    (frac * large.ln() + (1.0 - frac) * small.ln()).exp()
                })
                .collect()
        }
    })
}

/// −log p(x_0 | x_1) summed over dimensions, for the decoder's mean and variance.
fn decoder_nll(data: &[f64], mean: &[f64], var: &[f64], decoder: Decoder) -> f64 {
    data.iter()
        .zip(mean.iter().zip(var))
        .map(|(x, (m, v))| match decoder {
            Decoder::Discretized8Bit => discretized_gaussian_nll(*x, *m, v.sqrt()),
            Decoder::Gaussian => 0.5 * ((2.0 * std::f64::consts::PI * v).ln() + (x - m).powi(2) / v),
        })
        .sum()
}

fn to_f64_vec(x: &Tensor) -> Result<Vec<f64>> {
    Ok(x.flatten_all()?.to_dtype(DType::F64)?.to_vec1()?)
}
