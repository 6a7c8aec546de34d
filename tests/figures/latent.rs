//! The first half of the theory (latent variables and the ELBO): each figure's
//! numbers against closed forms written out here, or numerical integrals
//! computed here.

use std::f64::consts::PI;

use noisescope::figures::Figure;
use noisescope::scenes::SceneId;

use super::{figure, value};

fn log_normal(x: f64, mean: f64, var: f64) -> f64 {
    -0.5 * ((2.0 * PI * var).ln() + (x - mean).powi(2) / var)
}

/// The Gaussian model p(z) = N(0, 1), p(x|z) = N(2z, 0.25): its evidence,
/// posterior, and, for q = N(m, s²), the ELBO and KL(q ‖ posterior), all in
/// closed form (Bishop, PRML eq. 2.115–2.117; the Gaussian KL).
struct GaussianModel {
    x: f64,
}

impl GaussianModel {
    const SLOPE: f64 = 2.0;
    const NOISE_VAR: f64 = 0.25;

    fn log_evidence(&self) -> f64 {
        log_normal(self.x, 0.0, Self::SLOPE * Self::SLOPE + Self::NOISE_VAR)
    }

    fn posterior(&self) -> (f64, f64) {
        let var = 1.0 / (1.0 + Self::SLOPE * Self::SLOPE / Self::NOISE_VAR);
        (var * Self::SLOPE * self.x / Self::NOISE_VAR, var)
    }

    fn elbo(&self, m: f64, s: f64) -> f64 {
        let reconstruction = -0.5 * (2.0 * PI * Self::NOISE_VAR).ln()
            - ((self.x - Self::SLOPE * m).powi(2) + Self::SLOPE * Self::SLOPE * s * s) / (2.0 * Self::NOISE_VAR);
        let prior = -0.5 * (2.0 * PI).ln() - (m * m + s * s) / 2.0;
        let entropy = 0.5 * (2.0 * PI * std::f64::consts::E * s * s).ln();
        reconstruction + prior + entropy
    }

    fn kl(&self, m: f64, s: f64) -> f64 {
        let (mean, var) = self.posterior();
        0.5 * ((var / (s * s)).ln() + (s * s + (m - mean).powi(2)) / var - 1.0)
    }
}

fn gap(settings: &[&str]) -> Figure {
    figure(SceneId::ElboGap, settings)
}

#[test]
fn the_elbo_and_the_kl_add_up_to_the_evidence_in_closed_form() {
    for (x, m, s) in [(0.5, 0.0, 1.0), (1.5, -1.0, 0.3), (-2.0, 2.0, 2.5), (0.5, 0.2, 0.05)] {
        let settings = [format!("x={x}"), format!("q-mean={m}"), format!("q-std={s}")];
        let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
        let figure = gap(&settings);
        let exact = GaussianModel { x };
        let what = format!("x = {x}, q = N({m}, {s}²)");
        assert!(
            (value(&figure, "log p(x)") - exact.log_evidence()).abs() < 1e-9,
            "{what}"
        );
        assert!((value(&figure, "ELBO") - exact.elbo(m, s)).abs() < 1e-6, "{what}");
        assert!(
            (value(&figure, "KL(q ‖ p(z|x))") - exact.kl(m, s)).abs() < 1e-6,
            "{what}"
        );
        assert!(value(&figure, "ELBO + KL − log p(x)").abs() < 1e-6, "{what}");
    }
}

#[test]
fn the_gap_closes_when_q_is_the_posterior_and_fitting_finds_it() {
    let exact = GaussianModel { x: 0.5 };
    let (mean, var) = exact.posterior();
    let at_posterior = gap(&[&format!("q-mean={mean}"), &format!("q-std={}", var.sqrt())]);
    assert!(value(&at_posterior, "KL(q ‖ p(z|x))").abs() < 1e-9);
    assert!((value(&at_posterior, "ELBO") - exact.log_evidence()).abs() < 1e-9);

    // 100 gradient steps from q = the prior reach the posterior.
    let fitted = gap(&["fit-steps=100"]);
    assert!(value(&fitted, "KL(q ‖ p(z|x))") < 1e-6);
    assert!((value(&fitted, "q's mean") - mean).abs() < 1e-3);
    assert!((value(&fitted, "q's standard deviation") - var.sqrt()).abs() < 1e-3);
}

#[test]
fn no_gaussian_closes_the_gap_of_a_two_mode_posterior() {
    // The evidence by the trapezoidal rule over z, here:
    // p(x) = ∫ N(x; z, 2) (½ N(z; −2, 0.36) + ½ N(z; 2, 0.36)) dz.
    let x = 0.5;
    let (lo, hi, n) = (-12.0, 12.0, 200_000);
    let h = (hi - lo) / f64::from(n);
    let integrand = |z: f64| {
        let prior = 0.5 * log_normal(z, -2.0, 0.36).exp() + 0.5 * log_normal(z, 2.0, 0.36).exp();
        log_normal(x, z, 2.0).exp() * prior
    };
    let evidence: f64 = (0..=n)
        .map(|i| {
            let end = i == 0 || i == n;
            integrand(lo + h * f64::from(i)) * if end { 0.5 } else { 1.0 }
        })
        .sum::<f64>()
        * h;
    let fitted = gap(&["prior=two-modes", "fit-steps=200"]);
    assert!((value(&fitted, "log p(x)") - evidence.ln()).abs() < 1e-6);
    assert!(value(&fitted, "ELBO + KL − log p(x)").abs() < 1e-6);
    // The best Gaussian sits on one mode; the other's mass is the gap.
    assert!(value(&fitted, "KL(q ‖ p(z|x))") > 0.1);
    assert!(value(&fitted, "q's standard deviation") < 0.7);
}

#[test]
fn monte_carlo_shows_jensens_inequality() {
    let figure = gap(&["samples=20000"]);
    let (elbo, evidence) = (value(&figure, "ELBO"), value(&figure, "log p(x)"));
    let mean_log_w = value(&figure, "Monte Carlo mean of log w");
    let error = value(&figure, "its standard error");
    assert!(
        (mean_log_w - elbo).abs() < 4.0 * error,
        "{mean_log_w} against {elbo} ± {error}"
    );
    // log of the mean of w tends to log p(x) (E_q[w] = p(x)), far above the ELBO.
    let log_mean_w = value(&figure, "log of the mean of w");
    assert!((log_mean_w - evidence).abs() < 0.05, "{log_mean_w} against {evidence}");
    assert!(log_mean_w > mean_log_w + 1.0);
}

#[test]
fn a_bad_spread_is_refused() {
    let inputs = noisescope::figures::Inputs::shipped().unwrap();
    let job = noisescope::jobs::JobContext::foreground(false);
    let settings = [("q-std".to_owned(), "0".to_owned())];
    let error = noisescope::figures::figure(SceneId::ElboGap, &settings, &inputs, &job).unwrap_err();
    assert!(error.to_string().contains("q-std"), "{error}");
}
