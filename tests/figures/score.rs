//! Figures of the score chapter added with the first half of the theory:
//! Tweedie's formula against Bayes by importance sampling, written here.

use noisescope::diffusion::NoiseRng;
use noisescope::figures::{self, Inputs};
use noisescope::jobs::JobContext;

#[test]
fn tweedies_formula_is_the_posterior_mean_and_the_best_guess() {
    let inputs = Inputs::shipped().unwrap();
    let setup = figures::tweedie::Setup {
        particles: 5,
        ..Default::default()
    };
    let tweedie = figures::tweedie::compute(&setup, &inputs, &JobContext::foreground(false)).unwrap();
    // From the score and by Bayes per component: the same to rounding.
    assert!(tweedie.largest_gap() < 1e-9, "{}", tweedie.largest_gap());

    // E[x0|x_t] by self-normalised importance sampling: x0 ~ p_0, weighted by
    // q(x_t|x0) = N(√ᾱ x0, (1−ᾱ) I).
    let (a, var) = (tweedie.alpha_bar.sqrt(), 1.0 - tweedie.alpha_bar);
    let (draws, _) = inputs
        .mixture
        .sample(200_000, None, &mut NoiseRng::seed_from(11))
        .unwrap();
    let draws = draws
        .to_dtype(candle_core::DType::F64)
        .unwrap()
        .to_vec2::<f64>()
        .unwrap();
    for (x_t, guess) in tweedie.x_t.iter().zip(&tweedie.tweedie) {
        let log_w: Vec<f64> = draws
            .iter()
            .map(|x0| -((x_t[0] - a * x0[0]).powi(2) + (x_t[1] - a * x0[1]).powi(2)) / (2.0 * var))
            .collect();
        let top = log_w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = log_w.iter().map(|l| (l - top).exp()).collect();
        let total: f64 = w.iter().sum();
        let mean = [0, 1].map(|d| w.iter().zip(&draws).map(|(w, x0)| w * x0[d]).sum::<f64>() / total);
        let distance = (mean[0] - guess[0]).hypot(mean[1] - guess[1]);
        assert!(
            distance < 0.05,
            "x_t {x_t:?}: Tweedie {guess:?}, importance sampling {mean:?}"
        );
    }

    // The posterior mean is the least-squares guess: never worse than undoing
    // the scaling or ignoring x_t (up to the 2000 points' sampling error).
    for e in &tweedie.errors {
        assert!(e.posterior_mean <= e.naive * 1.01 + 1e-9, "{e:?}");
        assert!(e.posterior_mean <= e.data_mean * 1.01, "{e:?}");
    }
    let at_t = tweedie.errors_at_t;
    assert!(at_t.posterior_mean < 0.5 * at_t.naive.min(at_t.data_mean), "{at_t:?}");
}
