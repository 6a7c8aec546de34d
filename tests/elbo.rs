//! The variational bound: closed forms against Monte Carlo and exact cases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{row, three_blobs};
use noisescope::diffusion::elbo::{Decoder, ElboConfig, ElboTerms, discretized_gaussian_nll, elbo_terms, gaussian_kl};
use noisescope::diffusion::mixture::GaussianMixture;
use noisescope::diffusion::sampler::DdpmVariance;
use noisescope::diffusion::{NoiseRng, Schedule, ScheduleConfig, ScheduleKind};

fn log_normal(x: f64, mean: f64, var: f64) -> f64 {
    -0.5 * ((2.0 * std::f64::consts::PI * var).ln() + (x - mean).powi(2) / var)
}

#[test]
fn closed_form_kl_matches_monte_carlo() {
    // q(x_{t−1} | x_t, x_0) against p_θ(x_{t−1} | x_t) with the exact mixture's x̂0
    // and σ² = β_t, at one t: E_q[log q − log p] by sampling.
    let schedule = Schedule::new(&ScheduleConfig::of_kind(ScheduleKind::Cosine)).unwrap();
    let t = 50;
    let x0 = [2.5, 1.5];
    let x_t = [0.2, -0.9];
    let mixture = three_blobs();
    let level = noisescope::diffusion::NoiseLevel {
        t: t as f64,
        alpha_bar: schedule.alpha_bar(t),
    };
    let x0_hat = common::first_row(
        &noisescope::diffusion::Denoiser::predict(&mixture, &row(&x_t), level, None)
            .unwrap()
            .prediction
            .value,
    );
    let (c0, ct) = schedule.posterior_mean_coefficients(t);
    let mean_q: Vec<f64> = x0.iter().zip(&x_t).map(|(a, b)| c0 * a + ct * b).collect();
    let mean_p: Vec<f64> = x0_hat.iter().zip(&x_t).map(|(a, b)| c0 * a + ct * b).collect();
    let var_q = schedule.posterior_variance(t);
    let var_p = schedule.beta(t);
    let closed = gaussian_kl(&mean_q, &[var_q; 2], &mean_p, &[var_p; 2]);

    let mut rng = NoiseRng::seed_from(1);
    let draws = 200_000;
    let mut sum = 0.0;
    let mut sum_sq = 0.0;
    for _ in 0..draws {
        let mut log_ratio = 0.0;
        for d in 0..2 {
            let y = mean_q[d] + var_q.sqrt() * rng.normal();
            log_ratio += log_normal(y, mean_q[d], var_q) - log_normal(y, mean_p[d], var_p);
        }
        sum += log_ratio;
        sum_sq += log_ratio * log_ratio;
    }
    let mean = sum / draws as f64;
    let std_error = ((sum_sq / draws as f64 - mean * mean) / draws as f64).sqrt();
    assert!(closed > 0.01, "a non-trivial KL: {closed}");
    assert!(
        (mean - closed).abs() < 4.0 * std_error,
        "MC {mean} ± {std_error} vs closed form {closed}"
    );
}

/// The bound's terms for `x0` under the empirical denoiser of `x0` alone, which
/// knows x_0 exactly, on the linear schedule.
fn perfect_denoiser_terms(x0: &[f64], variance: DdpmVariance, decoder: Decoder) -> (Schedule, ElboTerms) {
    let model = GaussianMixture::empirical(&[x0.to_vec()], None).unwrap();
    let schedule = Schedule::new(&ScheduleConfig::default()).unwrap();
    let config = ElboConfig { variance, decoder };
    let x0 = row(x0).squeeze(0).unwrap();
    let terms = elbo_terms(
        &schedule,
        &model,
        &x0,
        None,
        config,
        &mut NoiseRng::seed_from(2),
        &|| true,
    )
    .unwrap();
    (schedule, terms)
}

#[test]
fn a_perfect_denoiser_has_zero_step_terms() {
    // The empirical denoiser of a single point knows x_0 exactly, so with σ² = β̃
    // every L_{t−1} vanishes and L_T is the prior KL alone.
    let x0 = [0.5, -0.25, 1.0];
    let (schedule, terms) = perfect_denoiser_terms(&x0, DdpmVariance::Small, Decoder::Discretized8Bit);
    assert_eq!(terms.step_nats.len(), 999);
    assert!(
        terms.step_nats.iter().all(|kl| kl.abs() < 1e-6),
        "max {:?}",
        terms.step_nats.iter().copied().fold(0.0, f64::max)
    );
    let a = schedule.alpha_bar(1000);
    let prior: f64 = x0
        .iter()
        .map(|x| 0.5 * ((1.0 - a) + a * x * x - 1.0 - (1.0 - a).ln()))
        .sum();
    assert!((terms.prior_nats - prior).abs() < 1e-12);
    // L_0: x̂0 = x_0 exactly; each pixel's bin holds P(|z| < (1/255)/σ_1).
    let sigma = schedule.posterior_variance(2).sqrt();
    let nll_1d = discretized_gaussian_nll(0.5, 0.5, sigma);
    assert!((terms.decoder_nats - (2.0 * nll_1d + discretized_gaussian_nll(1.0, 1.0, sigma))).abs() < 1e-5);
    let expected_bits = (terms.prior_nats + terms.decoder_nats) / (3.0 * std::f64::consts::LN_2);
    assert!((terms.bits_per_dim() - expected_bits).abs() < 1e-6);
}

#[test]
fn large_variance_costs_exactly_the_variance_mismatch() {
    // Perfect x̂0 with σ² = β_t: each L_{t−1} = D/2 (log(β/β̃) + β̃/β − 1).
    let x0 = [0.1, 0.9];
    let (schedule, terms) = perfect_denoiser_terms(&x0, DdpmVariance::Large, Decoder::Gaussian);
    for t in [2, 10, 500, 1000] {
        let (large, small) = (schedule.beta(t), schedule.posterior_variance(t));
        let expected = (large / small).ln() + small / large - 1.0;
        let got = terms.step_term(t).unwrap();
        assert!(
            (got - expected).abs() < 1e-5 * expected.max(1e-3),
            "t={t}: {got} vs {expected}"
        );
    }
}

#[test]
fn discretized_nll_matches_numerical_integration() {
    let integrate = |lo: f64, hi: f64, mean: f64, std: f64| {
        let n = 20_000;
        let h = (hi - lo) / n as f64;
        (0..=n)
            .map(|i| {
                let x = lo + i as f64 * h;
                let w = if i == 0 || i == n {
                    1.0
                } else if i % 2 == 1 {
                    4.0
                } else {
                    2.0
                };
                w * log_normal(x, mean, std * std).exp()
            })
            .sum::<f64>()
            * h
            / 3.0
    };
    let half = 1.0 / 255.0;
    for (x, mean, std) in [(0.2, 0.21, 0.01), (-0.5, 0.3, 0.4), (0.7, 0.5, 0.05)] {
        let expected = -integrate(x - half, x + half, mean, std).ln();
        let got = discretized_gaussian_nll(x, mean, std);
        assert!(
            (got - expected).abs() < 1e-6 * expected.abs().max(1.0),
            "{x},{mean},{std}: {got} vs {expected}"
        );
    }
    // Like Improved DDPM, a bin's probability is floored at 1e-12.
    assert!((discretized_gaussian_nll(0.7, 0.1, 0.05) - 1e12f64.ln()).abs() < 1e-9);
    // Edge bins reach to infinity: a mean far beyond +1 still gives x = 1 probability ~1.
    assert!(discretized_gaussian_nll(1.0, 5.0, 0.1) < 1e-9);
}

#[test]
fn the_bound_stops_when_asked() {
    let model = GaussianMixture::empirical(&[vec![0.5, -0.25]], None).unwrap();
    let schedule = Schedule::new(&ScheduleConfig::default()).unwrap();
    let x0 = row(&[0.5, -0.25]).squeeze(0).unwrap();
    let calls = std::cell::Cell::new(0);
    let result = elbo_terms(
        &schedule,
        &model,
        &x0,
        None,
        ElboConfig::default(),
        &mut NoiseRng::seed_from(2),
        &|| {
            calls.set(calls.get() + 1);
            calls.get() < 3
        },
    );
    assert!(matches!(result, Err(noisescope::diffusion::Error::Cancelled)));
    assert_eq!(
        calls.get(),
        3,
        "asked before each batch of levels, stopped at the first no"
    );
}
